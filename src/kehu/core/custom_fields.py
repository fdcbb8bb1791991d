"""Custom fields: typed fields an administrator adds to a record type, values in the record's JSON column.

One mechanism for every record type. A module registers its record types once (in its app's `ready()`):

    custom_fields.register_record_type("customers.customer", _("Customer"), Customer)

and then:

- **writes** — its services call `clean(organization, record_type, values, partial=..., current=...)`, which
  returns the record's complete, normalised, JSON-safe `custom` dict or raises `ValidationFailed` with
  one entry per bad field, named `custom.<key>` (unknown keys are refused, required fields enforced,
  defaults applied on create). The UI forms and the API both reach it through the services.
- **forms** — `form_fields(definitions, actor=...)` builds the form fields (named `custom.<key>`, so a
  service error lands next to its field), `form_initial(...)` and `form_values(...)` convert both ways.
- **lists** — `filter_form_fields(definitions)` and `filter_q(definitions, cleaned)` filter by values
  portably on SQLite and PostgreSQL (JSON key lookups `custom__<key>`): exact for selects, booleans and
  users; ranges for numbers, dates and times; contains for text. `display(...)` renders a value.
- **import/export and other helpers** — `definitions_for(organization, record_type)` returns the active
  definitions in display order (each has `.key`, `.label`, `.field_type`, `.required`, `.default`,
  `.options`, `.param` == "custom.<key>"); pass an import row's values (strings are fine) through
  `clean(...)` and write what it returns; export `record.custom.get(definition.key)` through
  `display(definition, value)` or as the raw JSON value.

Values as stored: text/long text/url/email/phone and single select as strings; integers as JSON integers;
decimals as JSON numbers (at most 15 significant digits, so they round-trip exactly); dates as
"YYYY-MM-DD"; date-times as UTC "YYYY-MM-DDTHH:MM:SSZ" (fixed width, so string comparison is time order);
booleans as true/false; users as the user's id; multi select as a list of options in the options' order.
An empty value is not stored (the key is absent).

The definitions' own services and selectors (definition_create, ..., definition_list_for) are below too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Lookup, Max, Q
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, org_cache
from kehu.core.custom_field_models import KEY_MAX_LENGTH, KEY_RE, SELECT_TYPES, CustomFieldDefinition, FieldType
from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require, validate

TEXT_MAX = 255
LONG_TEXT_MAX = 10_000
OPTION_MAX = 100
OPTIONS_MAX = 200
DECIMAL_DIGITS = 15
INTEGER_LIMIT = 2**53 - 1  # what a JavaScript client reads exactly
PHONE_RE = re.compile(r"^\+?[\d\s\-()（）.]{5,30}$")
CN_MOBILE_RE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
TRUE_WORDS = {"true", "1", "yes", "on", "y", "是"}
FALSE_WORDS = {"false", "0", "no", "off", "n", "否"}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

TEXT_TYPES = (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.URL, FieldType.EMAIL, FieldType.PHONE)
RANGE_TYPES = (FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME)
EXACT_TYPES = (FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT, FieldType.BOOLEAN, FieldType.USER)


# Record types ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordType:
    key: str  # "customers.customer"
    label: str | Promise
    model: type[models.Model]
    json_field: str = "custom"
    public_form: bool = False  # visitors fill in its fields marked `public` (e.g. the help centre's ticket form)

    @property
    def module(self) -> str:
        return getattr(self.model, "module", "platform")


_record_types: dict[str, RecordType] = {}


def register_record_type(
    key: str, label: str | Promise, model: type[models.Model], json_field: str = "custom", *, public_form: bool = False
) -> None:
    """Make `model` a record type that takes custom fields (values in its JSON column `json_field`);
    `public_form`: it has a public form on which fields marked `public` are offered to visitors."""
    _record_types[key] = RecordType(key=key, label=label, model=model, json_field=json_field, public_form=public_form)


def record_types() -> list[RecordType]:
    return list(_record_types.values())


def get_record_type(key: str) -> RecordType | None:
    return _record_types.get(key)


def record_types_for(actor: Any) -> list[RecordType]:
    """The record types whose records the actor may view (and so whose definitions they may read)."""
    return [rt for rt in _record_types.values() if can(actor, "view", rt.model)]


def administered_record_types_for(actor: Any) -> list[RecordType]:
    return [rt for rt in _record_types.values() if can(actor, "administer", rt.module)]


# Reads -----------------------------------------------------------------------------------------------


def public_definitions_for(organization: Any, record_type: str) -> list[Any]:
    """The active definitions of `record_type` marked for its public form, in display order."""
    return [d for d in definitions_for(organization, record_type) if d.public]


CONFIG = "custom_fields"  # the org_cache name


def definitions_changed(organization_id: int) -> None:
    """The organisation's definitions changed (call in the change's transaction)."""
    org_cache.changed(CONFIG, organization_id)


def _all_definitions(organization_id: int) -> list[Any]:
    """Every definition of the organisation not deleted, in display order: one query, then kept in Django's
    cache until one changes (kehu.core.org_cache; a ticket or lead created reads them every time)."""

    def load() -> list[Any]:
        qs = CustomFieldDefinition.objects.filter(organization_id=organization_id, deleted_at__isnull=True)
        return list(qs.order_by("position", "id"))

    return org_cache.get(CONFIG, organization_id, load)


def definitions_for(organization: Any, record_type: str, *, include_inactive: bool = False) -> list[Any]:
    """The organisation's definitions of `record_type`, in display order (active ones only by default).

    For import/export and any code that already checked the actor's access to the record type."""
    organization_id = getattr(organization, "pk", organization)
    return [
        d
        for d in _all_definitions(organization_id)
        if d.record_type == record_type and (include_inactive or d.is_active)
    ]


def definitions_by_type(organization: Any, record_types: list[str]) -> dict[str, list[Any]]:
    """definitions_for of several record types at once (a page showing a record and its children)."""
    organization_id = getattr(organization, "pk", organization)
    found: dict[str, list[Any]] = {record_type: [] for record_type in record_types}
    for definition in _all_definitions(organization_id):
        if definition.is_active and definition.record_type in found:
            found[definition.record_type].append(definition)
    return found


def _definition_saved_or_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Writes outside the definition services too (test data, an organisation's deletion).
    definitions_changed(instance.organization_id)


models.signals.post_save.connect(
    _definition_saved_or_deleted, sender=CustomFieldDefinition, dispatch_uid="kehu-custom-field-saved"
)
models.signals.post_delete.connect(
    _definition_saved_or_deleted, sender=CustomFieldDefinition, dispatch_uid="kehu-custom-field-deleted"
)


def definition_list_for(*, actor: Any, record_type: str | None = None) -> models.QuerySet:
    """Definitions the actor may read: of their organisation, of record types they may view."""
    allowed = [rt.key for rt in record_types_for(actor)]
    qs = CustomFieldDefinition.objects.visible_to(actor).filter(record_type__in=allowed)
    if record_type:
        qs = qs.filter(record_type=record_type)
    return qs.order_by("record_type", "position", "id")


def definition_get_for(*, actor: Any, pk: Any) -> CustomFieldDefinition:
    try:
        return definition_list_for(actor=actor).get(pk=int(pk))
    except (TypeError, ValueError, CustomFieldDefinition.DoesNotExist) as exc:
        raise NotFound() from exc


# Values ----------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A value's reason for being refused; `clean` names the field."""


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _Invalid(_("Enter text."))
    value = value.strip()
    if len(value) > limit:
        raise _Invalid(
            _("Enter at most %(limit)d characters (it has %(count)d).") % {"limit": limit, "count": len(value)}
        )
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid(_("Enter a whole number."))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        value = int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int):
        raise _Invalid(_("Enter a whole number."))
    if abs(value) > INTEGER_LIMIT:
        raise _Invalid(_("Enter a number between -%(limit)d and %(limit)d.") % {"limit": INTEGER_LIMIT})
    return value


def _decimal(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _Invalid(_("Enter a number."))
    try:
        number = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation as exc:
        raise _Invalid(_("Enter a number.")) from exc
    if not number.is_finite():
        raise _Invalid(_("Enter a number."))
    number = number.normalize()
    if len(number.as_tuple().digits) > DECIMAL_DIGITS or number.adjusted() >= DECIMAL_DIGITS:
        raise _Invalid(_("Enter a number with at most %(digits)d digits.") % {"digits": DECIMAL_DIGITS})
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            parsed = parse_date(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise _Invalid(_("Enter a date as YYYY-MM-DD."))
        value = parsed
    if not isinstance(value, date):
        raise _Invalid(_("Enter a date as YYYY-MM-DD."))
    return value.isoformat()


def _datetime(value: Any) -> str:
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise _Invalid(_("Enter a date and time as YYYY-MM-DDTHH:MM (with an optional time zone)."))
        value = parsed
    if not isinstance(value, datetime):
        raise _Invalid(_("Enter a date and time as YYYY-MM-DDTHH:MM (with an optional time zone)."))
    if timezone.is_naive(value):
        # A time without a zone is the organisation's local time (the active time zone).
        value = timezone.make_aware(value)
    return value.astimezone(UTC).strftime(DATETIME_FORMAT)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise _Invalid(_("Enter true or false."))


def _single(value: Any, options: list[str]) -> str:
    if not isinstance(value, str) or value.strip() not in options:
        raise _Invalid(_("Choose one of: %(options)s.") % {"options": ", ".join(options)})
    return value.strip()


def _multi(value: Any, options: list[str]) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise _Invalid(_("Choose a list of options."))
    chosen = {v.strip() for v in values}
    unknown = sorted(chosen - set(options))
    if unknown:
        raise _Invalid(
            _("Not an option: %(values)s. Choose from: %(options)s.")
            % {"values": ", ".join(unknown), "options": ", ".join(options)}
        )
    return [option for option in options if option in chosen]


def _user(value: Any, organization_id: int) -> int:
    from kehu.accounts.models import User

    if hasattr(value, "pk"):
        value = value.pk
    try:
        pk = _integer(value)
    except _Invalid as exc:
        raise _Invalid(_("Choose an active user of your organisation.")) from exc
    if not User.objects.filter(organization_id=organization_id, pk=pk, is_active=True).exists():
        raise _Invalid(_("Choose an active user of your organisation."))
    return pk


def _url(value: Any) -> str:
    value = _text(value, 500)
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        value = f"https://{value}"
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError as exc:
        raise _Invalid(_("Enter a web address such as https://example.com.")) from exc
    return value


def _email(value: Any) -> str:
    value = _text(value, 254).lower()
    try:
        EmailValidator()(value)
    except ValidationError as exc:
        raise _Invalid(_("Enter an email address such as name@example.com.")) from exc
    return value


def _phone(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _text(value, 40)
    if not PHONE_RE.fullmatch(value):
        raise _Invalid(_("Enter a phone number: digits, spaces, +, - and brackets only."))
    digits = re.sub(r"\D", "", value)
    if not 5 <= len(digits) <= 20:
        raise _Invalid(_("Enter a phone number of 5 to 20 digits."))
    mobile = CN_MOBILE_RE.fullmatch(("+" if value.startswith("+") else "") + digits)
    # +86 and bare 11-digit mobiles are the same number, as for the customers' own phone field.
    if mobile:
        return mobile.group(1)
    return ("+" if value.startswith("+") else "") + digits


def normalize_value(definition: Any, value: Any, organization_id: int) -> Any:
    """The stored form of `value` for `definition`, None for an empty value; raises _Invalid."""
    if _is_empty(value):
        return None
    kind = definition.field_type
    options = list(definition.options or [])
    if kind == FieldType.TEXT:
        return _text(value, TEXT_MAX)
    if kind == FieldType.LONG_TEXT:
        return _text(value, LONG_TEXT_MAX)
    if kind == FieldType.INTEGER:
        return _integer(value)
    if kind == FieldType.DECIMAL:
        return _decimal(value)
    if kind == FieldType.DATE:
        return _date(value)
    if kind == FieldType.DATETIME:
        return _datetime(value)
    if kind == FieldType.BOOLEAN:
        return _boolean(value)
    if kind == FieldType.SINGLE_SELECT:
        return _single(value, options)
    if kind == FieldType.MULTI_SELECT:
        return _multi(value, options) or None
    if kind == FieldType.USER:
        return _user(value, organization_id)
    if kind == FieldType.URL:
        return _url(value)
    if kind == FieldType.EMAIL:
        return _email(value)
    if kind == FieldType.PHONE:
        return _phone(value)
    raise _Invalid(_("This field has an unknown type."))


def clean(
    organization: Any,
    record_type: str,
    values: Any,
    *,
    partial: bool,
    current: dict[str, Any] | None = None,
    definitions: list[Any] | None = None,
) -> dict[str, Any]:
    """Validate and normalise `values` (a dict of key -> value) for a record of `record_type`.

    Returns the record's whole new `custom` dict: `current` (the stored values, None on create) with
    `values` applied, empty values removed. `partial=True` (PATCH) checks only the keys given;
    `partial=False` (create, or a form showing every field) also enforces required fields that were not
    given, and, on create (`current is None`), fills them from their defaults. Keys without an active
    definition are refused, except the stored value of an inactive field sent back unchanged.

    Raises ValidationFailed with fields {"custom.<key>": [reason]}.
    """
    organization_id = getattr(organization, "pk", organization)
    if values is None:
        values = {}
    if not isinstance(values, dict):
        message = _("Custom fields must be an object of field keys and values.")
        raise ValidationFailed(message, fields={"custom": [message]})
    current = dict(current or {}) if current is not None else None
    stored = current or {}
    if definitions is None:
        definitions = definitions_for(organization_id, record_type, include_inactive=True)
    by_key = {d.key: d for d in definitions}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None or not definition.is_active:
            if definition is not None and stored.get(key) == value:
                continue  # an inactive field's value, sent back as read: keep it
            reason = (
                _("This field is no longer in use.") if definition else _("There is no custom field with this key.")
            )
            errors[f"custom.{key}"] = [reason]
            continue
        if definition.field_type == FieldType.USER and value == stored.get(key) and value is not None:
            cleaned[key] = value  # a user who has left since stays as long as nobody changes the field
            continue
        try:
            normalised = normalize_value(definition, value, organization_id)
        except _Invalid as exc:
            errors[f"custom.{key}"] = [str(exc)]
            continue
        if normalised is None and definition.required:
            errors[f"custom.{key}"] = [_("This field is required.")]
            continue
        cleaned[key] = normalised
    if not partial:
        for definition in definitions:
            if not definition.is_active or definition.key in values:
                continue
            if current is None and definition.default is not None:
                cleaned[definition.key] = definition.default
            elif definition.required and _is_empty(stored.get(definition.key)):
                errors[definition.param] = [_("This field is required.")]
    if errors:
        labels = {d.param: d.label for d in definitions}
        message = "; ".join(f"{labels.get(name, name)}: {' '.join(reasons)}" for name, reasons in errors.items())
        raise ValidationFailed(message, fields=errors)
    result = dict(stored)
    for key, value in cleaned.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


# Display ---------------------------------------------------------------------------------------------


def users_for(
    organization: Any, definitions: Iterable[Any], records: Iterable[Any], json_field: str = "custom"
) -> dict:
    """{user id: name} for the user-type values of `records` (one query for a whole list page)."""
    from kehu.accounts.models import User

    keys = [d.key for d in definitions if d.field_type == FieldType.USER]
    if not keys:
        return {}
    ids = {getattr(r, json_field, {}).get(k) for r in records for k in keys}
    ids = {i for i in ids if isinstance(i, int)}
    if not ids:
        return {}
    organization_id = getattr(organization, "pk", organization)
    return {u.pk: str(u) for u in User.objects.filter(organization_id=organization_id, pk__in=ids)}


def display(definition: Any, value: Any, users: dict[int, str] | None = None) -> str:
    """A stored value as people read it ("" for none)."""
    if _is_empty(value):
        return ""
    kind = definition.field_type
    if kind == FieldType.BOOLEAN:
        return _("Yes") if value else _("No")
    if kind == FieldType.MULTI_SELECT and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if kind == FieldType.USER:
        return (users or {}).get(value, f"#{value}")
    if kind == FieldType.DATETIME and isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return formats.date_format(timezone.localtime(parsed), "Y-m-d H:i")
    if kind == FieldType.DECIMAL and isinstance(value, int | float):
        return format(Decimal(str(value)), "f")
    return str(value)


@dataclass(frozen=True)
class Shown:
    """One custom field of one record, ready for a template."""

    definition: Any
    value: Any
    text: str

    @property
    def is_link(self) -> bool:
        return self.definition.field_type in (FieldType.URL, FieldType.EMAIL, FieldType.PHONE) and bool(self.text)

    @property
    def href(self) -> str:
        kind = self.definition.field_type
        if kind == FieldType.EMAIL:
            return f"mailto:{self.value}"
        if kind == FieldType.PHONE:
            return f"tel:{self.value}"
        return str(self.value)


def shown(record: Any, definitions: list[Any], json_field: str = "custom") -> list[Shown]:
    """The record's values of `definitions`, for a detail page."""
    return shown_many([record], definitions, json_field)[0] if record is not None else []


def shown_many(records: list[Any], definitions: list[Any], json_field: str = "custom") -> list[list[Shown]]:
    """The values of `definitions` for each of `records` (user names in one query for all of them)."""
    if not records or not definitions:
        return [[] for _record in records]
    users = users_for(records[0].organization_id, definitions, records, json_field)
    out = []
    for record in records:
        values = getattr(record, json_field, None) or {}
        out.append([Shown(d, values.get(d.key), display(d, values.get(d.key), users)) for d in definitions])
    return out


# Forms -----------------------------------------------------------------------------------------------


def _user_choices(actor: Any, organization_id: int | None = None) -> list[tuple[Any, str]]:
    from kehu.accounts.models import User

    if actor is not None:
        users = User.objects.visible_to(actor)
    else:
        users = User.objects.filter(organization_id=organization_id)
    users = users.filter(is_active=True).order_by("name", "email")
    return [("", "—"), *((u.pk, str(u)) for u in users)]


def form_field(definition: Any, *, actor: Any = None, user_choices: list | None = None) -> forms.Field:
    """The form field for one definition, with the widget its type needs."""
    kind = definition.field_type
    options = [(o, o) for o in definition.options or []]
    common: dict[str, Any] = {
        "label": definition.label,
        "help_text": definition.help_text,
        "required": definition.required,
    }
    if kind == FieldType.LONG_TEXT:
        field: forms.Field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    elif kind == FieldType.INTEGER:
        field = forms.IntegerField(**common)
    elif kind == FieldType.DECIMAL:
        field = forms.DecimalField(**common)
    elif kind == FieldType.DATE:
        field = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    elif kind == FieldType.DATETIME:
        widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        field = forms.DateTimeField(widget=widget, **common)
    elif kind == FieldType.SINGLE_SELECT:
        field = forms.ChoiceField(choices=[("", "—"), *options], **common)
    elif kind == FieldType.MULTI_SELECT:
        field = forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
    elif kind == FieldType.BOOLEAN:
        # Yes / no / not set: a checkbox could not tell "no" from "nobody answered yet".
        choices = [("", "—"), ("true", gettext_lazy("Yes")), ("false", gettext_lazy("No"))]
        field = forms.ChoiceField(choices=choices, **common)
    elif kind == FieldType.USER:
        field = forms.TypedChoiceField(
            choices=user_choices if user_choices is not None else _user_choices(actor),
            coerce=int,
            empty_value=None,
            **common,
        )
    else:
        attrs = {
            FieldType.URL: {"inputmode": "url"},
            FieldType.EMAIL: {"inputmode": "email"},
            FieldType.PHONE: {"inputmode": "tel"},
        }.get(kind, {})
        field = forms.CharField(widget=forms.TextInput(attrs=attrs), **common)
    field.widget.attrs["data-custom-field"] = definition.key
    return field


def form_fields(
    definitions: list[Any], *, actor: Any = None, organization_id: int | None = None
) -> dict[str, forms.Field]:
    """{"custom.<key>": field} for the active definitions, in their order (user choices: the actor's
    colleagues, or the active users of `organization_id`)."""
    user_choices = None
    if any(d.field_type == FieldType.USER for d in definitions):
        user_choices = _user_choices(actor, organization_id)
    return {d.param: form_field(d, actor=actor, user_choices=user_choices) for d in definitions if d.is_active}


def form_initial(definitions: list[Any], values: dict[str, Any] | None, *, creating: bool = False) -> dict[str, Any]:
    """Form initial data from stored values (or, on a create form, from the defaults)."""
    values = values or {}
    initial = {}
    for d in definitions:
        value = d.default if creating else values.get(d.key)
        if value is None:
            continue
        if d.field_type == FieldType.DATETIME and isinstance(value, str):
            value = parse_datetime(value)
        elif d.field_type == FieldType.BOOLEAN:
            value = "true" if value else "false"
        initial[d.param] = value
    return initial


def form_values(definitions: list[Any], cleaned_data: dict[str, Any]) -> dict[str, Any]:
    """The `custom` values a service takes, from a valid form's cleaned data (every shown field)."""
    values = {}
    for d in definitions:
        if d.param not in cleaned_data:
            continue
        value = cleaned_data[d.param]
        if isinstance(value, Decimal):
            value = str(value)
        values[d.key] = value
    return values


# Filters ---------------------------------------------------------------------------------------------


class _Match(Lookup):
    """`custom__kehu_match=(key, value, in_array)`: the value at `key` equals `value` (or, with in_array,
    the list at `key` contains it).

    On PostgreSQL this is jsonb containment (`custom @> '{"key": value}'`), which the GIN index
    (jsonb_path_ops) serves; on SQLite, JSON_EXTRACT / json_each. Django's own JSON `contains` has no
    SQLite implementation, and `custom__key=value` cannot use the GIN index, hence this one lookup.
    Keys are checked against KEY_RE when a definition is saved, so they are safe inside a JSON path."""

    lookup_name = "kehu_match"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return self.rhs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        key, value, in_array = self.rhs
        if connection.vendor == "postgresql":
            return f"{lhs} @> %s::jsonb", [*lhs_params, json.dumps({key: [value] if in_array else value})]
        path = f'$."{key}"'
        if in_array:
            # `lhs` is the compiled column reference; the key and value travel as parameters.
            sql = f"EXISTS (SELECT 1 FROM json_each({lhs}, %s) AS kehu_item WHERE kehu_item.value = %s)"  # noqa: S608
            return sql, [*lhs_params, path, value]
        if isinstance(value, bool):
            value = int(value)  # JSON_EXTRACT answers true/false as 1/0
        return f"JSON_EXTRACT({lhs}, %s) = %s", [*lhs_params, path, value]


models.JSONField.register_lookup(_Match)


def filter_form_fields(definitions: list[Any], *, actor: Any = None) -> dict[str, forms.Field]:
    """Filter inputs for the active definitions: "custom.<key>" (exact or contains) or
    "custom.<key>.min" / "custom.<key>.max" (ranges)."""
    fields: dict[str, forms.Field] = {}
    user_choices = None
    for d in definitions:
        if not d.is_active:
            continue
        label = str(d.label)
        if d.field_type in TEXT_TYPES:
            fields[d.param] = forms.CharField(label=label, required=False, max_length=100)
        elif d.field_type in (FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT):
            choices = [("", format_lazy_any(label)), *((o, o) for o in d.options or [])]
            fields[d.param] = forms.ChoiceField(label=label, required=False, choices=choices)
        elif d.field_type == FieldType.BOOLEAN:
            choices = [("", format_lazy_any(label)), ("true", _("Yes")), ("false", _("No"))]
            fields[d.param] = forms.ChoiceField(label=label, required=False, choices=choices)
        elif d.field_type == FieldType.USER and actor is None:  # the API: any id (the filter matches or not)
            fields[d.param] = forms.IntegerField(label=label, required=False, min_value=1)
        elif d.field_type == FieldType.USER:
            if user_choices is None:
                user_choices = _user_choices(actor)
            choices = [("", format_lazy_any(label)), *user_choices[1:]]
            fields[d.param] = forms.TypedChoiceField(
                label=label, required=False, choices=choices, coerce=int, empty_value=None
            )
        elif d.field_type in (FieldType.INTEGER, FieldType.DECIMAL):
            for end, text in (("min", _("from")), ("max", _("to"))):
                fields[f"{d.param}.{end}"] = forms.DecimalField(label=f"{label} {text}", required=False)
        elif d.field_type in (FieldType.DATE, FieldType.DATETIME):
            for end, text in (("min", _("from")), ("max", _("to"))):
                fields[f"{d.param}.{end}"] = forms.DateField(
                    label=f"{label} {text}",
                    required=False,
                    widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                )
    return fields


def format_lazy_any(label: str) -> str:
    return _("Any %(field)s") % {"field": label}


def _bound(d: Any, value: Any, end: str) -> Any:
    if d.field_type in (FieldType.INTEGER, FieldType.DECIMAL):
        return _decimal(value)
    if d.field_type == FieldType.DATE:
        return value.isoformat()
    # A date range over date-times covers whole days of the active time zone.
    day = datetime.combine(value, time.min if end == "min" else time.max)
    if end == "max":
        day = day.replace(microsecond=0)
    return timezone.make_aware(day).astimezone(UTC).strftime(DATETIME_FORMAT)


def filter_q(definitions: list[Any], cleaned: dict[str, Any], json_field: str = "custom") -> Q:
    """The Q for the custom-field filters in `cleaned` (a valid filter form's data, or a saved view's)."""
    q = Q()
    for d in definitions:
        if not d.is_active:
            continue
        lookup = f"{json_field}__{d.key}"
        value = cleaned.get(d.param)
        if d.field_type in TEXT_TYPES and value:
            q &= Q(**{f"{lookup}__icontains": str(value)})
        elif d.field_type == FieldType.SINGLE_SELECT and value:
            q &= Q(**{f"{json_field}__kehu_match": (d.key, value, False)})
        elif d.field_type == FieldType.MULTI_SELECT and value:
            q &= Q(**{f"{json_field}__kehu_match": (d.key, value, True)})
        elif d.field_type == FieldType.BOOLEAN and value in ("true", "false"):
            q &= Q(**{f"{json_field}__kehu_match": (d.key, value == "true", False)})
        elif d.field_type == FieldType.USER and value:
            q &= Q(**{f"{json_field}__kehu_match": (d.key, int(value), False)})
        elif d.field_type in RANGE_TYPES:
            for end, op in (("min", "gte"), ("max", "lte")):
                bound = cleaned.get(f"{d.param}.{end}")
                if bound not in (None, ""):
                    if isinstance(bound, str):
                        bound = parse_date(bound) if d.field_type in (FieldType.DATE, FieldType.DATETIME) else bound
                    q &= Q(**{f"{lookup}__{op}": _bound(d, bound, end)})
    return q


def filter_params(definitions: list[Any]) -> list[str]:
    """Every query parameter the custom-field filters read."""
    return list(filter_form_fields(definitions))


def jsonable_filters(cleaned: dict[str, Any]) -> dict[str, Any]:
    """Filter values as a saved view stores them (and a query string carries them)."""
    out = {}
    for name, value in cleaned.items():
        if value in (None, "", []):
            continue
        if isinstance(value, date | datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    return out


class CustomFilterFormMixin:
    """For a list's filter form whose custom-field inputs are named "custom.<key>" (filter_form_fields)."""

    def filters(self) -> dict[str, Any]:
        """The valid filters, the custom ones gathered under "custom" (what the list selectors take)."""
        if not self.is_valid():  # type: ignore[attr-defined]
            return {}
        cleaned = self.cleaned_data  # type: ignore[attr-defined]
        data = {k: v for k, v in cleaned.items() if v not in (None, "") and not k.startswith("custom.")}
        custom = jsonable_filters({k: v for k, v in cleaned.items() if k.startswith("custom.")})
        if custom:
            data["custom"] = custom
        return data

    @property
    def custom_filter_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name.startswith("custom.")]  # type: ignore[attr-defined,index]


# Definition services ---------------------------------------------------------------------------------

DEFINITION_FIELDS = (
    "record_type", "key", "label", "field_type", "required", "default", "help_text", "options", "public"
)  # fmt: skip
UPDATE_FIELDS = (
    "label", "field_type", "required", "default", "help_text", "options", "is_active", "position", "public"
)  # fmt: skip


def _field_error(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {message}", fields={name: [message]})


def _clean_options(options: Any) -> list[str]:
    if options in (None, ""):
        return []
    if isinstance(options, str):
        options = options.splitlines()
    if not isinstance(options, list | tuple) or not all(isinstance(o, str) for o in options):
        raise _field_error("options", _("Enter the options as a list of texts."))
    cleaned = []
    for option in options:
        option = option.strip()
        if not option:
            continue
        if len(option) > OPTION_MAX:
            raise _field_error("options", _("An option has at most %(limit)d characters.") % {"limit": OPTION_MAX})
        if option in cleaned:
            raise _field_error("options", _("The option %(option)s appears twice.") % {"option": option})
        cleaned.append(option)
    if len(cleaned) > OPTIONS_MAX:
        raise _field_error("options", _("At most %(limit)d options.") % {"limit": OPTIONS_MAX})
    return cleaned


def _check_definition(definition: CustomFieldDefinition) -> None:
    """Everything the database cannot check: the key's shape, the options of a select, a valid default."""
    if get_record_type(definition.record_type) is None:
        raise _field_error("record_type", _("Choose a record type that takes custom fields."))
    if not KEY_RE.fullmatch(definition.key or "") or len(definition.key) > KEY_MAX_LENGTH:
        raise _field_error(
            "key",
            _(
                "Use lower-case letters, digits and single underscores, starting with a letter "
                "(at most %(limit)d characters), e.g. contract_value."
            )
            % {"limit": KEY_MAX_LENGTH},
        )
    definition.label = (definition.label or "").strip()
    if not definition.label:
        raise _field_error("label", _("Enter a label."))
    if definition.field_type not in FieldType.values:
        raise _field_error("field_type", _("Choose a field type."))
    definition.options = _clean_options(definition.options)
    if definition.field_type in SELECT_TYPES and not definition.options:
        raise _field_error("options", _("A select field needs at least one option."))
    if definition.field_type not in SELECT_TYPES:
        definition.options = []
    if definition.public and not get_record_type(definition.record_type).public_form:
        raise _field_error("public", _("Records of this type have no public form."))
    if definition.public and definition.field_type == FieldType.USER:
        raise _field_error("public", _("A user field cannot be on a public form: visitors do not know your staff."))
    if not _is_empty(definition.default):
        try:
            definition.default = normalize_value(definition, definition.default, definition.organization_id)
        except _Invalid as exc:
            raise _field_error("default", str(exc)) from exc
    else:
        definition.default = None
    validate(definition, exclude=["organization", "owner", "created_by", "updated_by"])


def _taken(definition: CustomFieldDefinition) -> bool:
    return (
        CustomFieldDefinition.objects.filter(
            organization_id=definition.organization_id, record_type=definition.record_type, key=definition.key
        )
        .exclude(pk=definition.pk)
        .exists()
    )


def values_exist(definition: CustomFieldDefinition) -> bool:
    """Does any record of the organisation (deleted ones too) hold a value for this field?"""
    record_type = get_record_type(definition.record_type)
    if record_type is None:
        return False
    manager = record_type.model._base_manager
    return manager.filter(
        organization_id=definition.organization_id, **{f"{record_type.json_field}__has_key": definition.key}
    ).exists()


@transaction.atomic
def definition_create(*, actor: Any, record_type: str, key: str, label: str, **fields: Any) -> CustomFieldDefinition:
    unknown = sorted(set(fields) - set(DEFINITION_FIELDS) - {"is_active", "position"})
    if unknown:
        raise ValidationFailed(fields={name: [_("This field cannot be set here.")] for name in unknown})
    definition = CustomFieldDefinition(
        organization_id=actor.organization_id,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        record_type=record_type,
        key=(key or "").strip(),
        label=label,
        **fields,
    )
    if get_record_type(record_type) is None:
        raise _field_error("record_type", _("Choose a record type that takes custom fields."))
    require(actor, "create", definition)
    _check_definition(definition)
    if "position" not in fields:
        last = CustomFieldDefinition.objects.filter(
            organization_id=actor.organization_id, record_type=record_type
        ).aggregate(m=Max("position"))["m"]
        definition.position = 0 if last is None else last + 1
    if _taken(definition):
        raise _field_error("key", _("A field with this key already exists for this record type."))
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError as exc:  # a concurrent create of the same key
        raise _field_error("key", _("A field with this key already exists for this record type.")) from exc
    recorded = {
        name: getattr(definition, name) for name in DEFINITION_FIELDS if not _is_empty(getattr(definition, name))
    }
    audit.record(actor=actor, action="custom_field.create", target=definition, changes=recorded)
    return definition


@transaction.atomic
def definition_update(
    *, actor: Any, definition: CustomFieldDefinition, expected_version: int | None, data: dict[str, Any]
) -> CustomFieldDefinition:
    """Change a definition. The key and record type never change (stored values are filed under them);
    the type changes only while no record holds a value for the field."""
    require(actor, "edit", definition)
    if "key" in data and data["key"] != definition.key:
        raise _field_error("key", _("The key cannot change once the field exists; add a new field instead."))
    if "record_type" in data and data["record_type"] != definition.record_type:
        raise _field_error("record_type", _("The record type cannot change."))
    data = {k: v for k, v in data.items() if k not in ("key", "record_type")}
    unknown = sorted(set(data) - set(UPDATE_FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: [_("This field cannot be set here.")] for name in unknown})
    if expected_version is not None and expected_version != definition.version:
        raise VersionConflict()
    type_changes = "field_type" in data and data["field_type"] != definition.field_type
    if type_changes and values_exist(definition):
        raise _field_error(
            "field_type",
            _("Records already hold values for this field, so its type cannot change. Add a new field instead."),
        )
    before = audit.snapshot(definition, data.keys())
    for name, value in data.items():
        setattr(definition, name, value)
    _check_definition(definition)
    changes = audit.diff(before, audit.snapshot(definition, data.keys()))
    if not changes:
        return definition
    updated = CustomFieldDefinition.objects.filter(pk=definition.pk, version=definition.version).update(
        **{name: getattr(definition, name) for name in changes},
        version=definition.version + 1,
        updated_at=timezone.now(),
        updated_by_id=actor.pk,
    )
    if updated != 1:
        raise VersionConflict()
    definition.version += 1
    definitions_changed(definition.organization_id)
    audit.record(actor=actor, action="custom_field.update", target=definition, changes=changes)
    return definition


@transaction.atomic
def definition_delete(*, actor: Any, definition: CustomFieldDefinition) -> None:
    """Remove a field that no record uses; one in use is deactivated instead (its values stay)."""
    require(actor, "delete", definition)
    if values_exist(definition):
        raise _field_error(
            "key",
            _("Records hold values for this field; deactivate it instead, so that their values are kept."),
        )
    audit.record(
        actor=actor,
        action="custom_field.delete",
        target=definition,
        changes={"key": definition.key, "record_type": definition.record_type},
    )
    definition.delete()


@transaction.atomic
def definition_move(*, actor: Any, definition: CustomFieldDefinition, offset: int) -> None:
    """Move a field up (offset -1) or down (+1) among the fields of its record type."""
    require(actor, "edit", definition)
    siblings = list(
        CustomFieldDefinition.objects.select_for_update()
        .filter(organization_id=definition.organization_id, record_type=definition.record_type)
        .order_by("position", "id")
    )
    index = next(i for i, d in enumerate(siblings) if d.pk == definition.pk)
    target = index + offset
    if not 0 <= target < len(siblings):
        return
    siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            CustomFieldDefinition.objects.filter(pk=sibling.pk).update(position=position)
    definitions_changed(definition.organization_id)
    audit.record(
        actor=actor,
        action="custom_field.move",
        target=definition,
        changes={"position": {"before": index, "after": target}},
    )
