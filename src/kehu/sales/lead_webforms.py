"""Web-to-lead forms: the administrator's services (create, change, delete, a new address), and what the
public page needs (the form behind an address, the per-IP rate limit, the submission).

A form asks for lead fields the administrator chose, in their order and with their labels; a valid
submission creates a lead (source: the form's source, normally "web_form") that goes through the
assignment rules like every other lead. The visitor is not a user: the lead's audit entry names the form
and records the visitor's IP.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, custom_fields, modules
from kehu.core.custom_field_models import FieldType
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.services import require
from kehu.sales.lead_models import Lead, WebForm
from kehu.sales.lead_selectors import LEAD_TYPE, webform_public_get
from kehu.sales.lead_services import SystemActor, check_source, create_lead

# The lead fields a form may ask for (besides the lead's custom fields, "custom.<key>").
FORM_FIELDS = ("name", "company", "title", "phone", "email", "province", "city", "industry", "notes")
DEFAULT_FIELDS = [
    {"field": "name", "label": "", "required": True},
    {"field": "company", "label": "", "required": False},
    {"field": "phone", "label": "", "required": True},
    {"field": "email", "label": "", "required": False},
    {"field": "notes", "label": "", "required": False},
]
WEBFORM_FIELDS = (
    "name",
    "title",
    "intro",
    "fields",
    "submit_label",
    "thank_you",
    "source",
    "is_active",
    "embed_origins",
)
LABEL_MAX = 100
MAX_ORIGINS = 10
ORIGIN_RE = re.compile(r"^https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")
DEFAULT_THANK_YOU = gettext_lazy("Thank you! We have received your details and will be in touch soon.")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def field_label(field: str, organization_id: int) -> str:
    """The label a form field shows when the administrator gave none: the lead field's name."""
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        for definition in custom_fields.definitions_for(organization_id, LEAD_TYPE):
            if definition.key == key:
                return definition.label
        return key
    return str(Lead._meta.get_field(field).verbose_name).capitalize()


def field_choices(organization_id: int) -> list[tuple[str, str]]:
    """(field, label) of everything a form may ask for: the lead fields, then the lead custom fields."""
    choices = [(name, str(Lead._meta.get_field(name).verbose_name).capitalize()) for name in FORM_FIELDS]
    # A user field names a colleague: nothing a visitor could fill in.
    choices += [
        (d.param, d.label)
        for d in custom_fields.definitions_for(organization_id, LEAD_TYPE)
        if d.field_type != FieldType.USER
    ]
    return choices


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def clean_form_fields(organization_id: int, fields: Any) -> list[dict[str, Any]]:
    """The fields of a form as stored: known, each once, the name always asked and required, and a phone or
    an email asked (a lead nobody can reach is no lead)."""
    if not isinstance(fields, list | tuple) or not fields:
        raise _fail("fields", _("Choose the fields the form asks for."))
    known = {name for name, _label in field_choices(organization_id)}
    cleaned: list[dict[str, Any]] = []
    for item in fields:
        if not isinstance(item, dict):
            raise _fail("fields", _("Each field needs a field name, a label and whether it is required."))
        name = str(item.get("field") or "").strip()
        if name not in known:
            raise _fail("fields", _("Unknown field %(field)s.") % {"field": name or "—"})
        if any(c["field"] == name for c in cleaned):
            raise _fail("fields", _("The field %(field)s is on the form twice.") % {"field": name})
        label = str(item.get("label") or "").strip()
        if len(label) > LABEL_MAX:
            raise _fail("fields", _("A label has at most %(n)d characters.") % {"n": LABEL_MAX})
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise _fail("fields", _("Say true or false for required."))
        cleaned.append({"field": name, "label": label, "required": required or name == "name"})
    names = {c["field"] for c in cleaned}
    if "name" not in names:
        raise _fail("fields", _("The form must ask for the name."))
    if not names & {"phone", "email"}:
        raise _fail("fields", _("The form must ask for a phone number or an email address."))
    for definition in custom_fields.definitions_for(organization_id, LEAD_TYPE):
        askable = definition.field_type != FieldType.USER
        if askable and definition.required and definition.default is None and definition.param not in names:
            raise _fail(
                "fields",
                _("Every lead needs the field %(label)s: put it on the form.") % {"label": definition.label},
            )
        if definition.param in names and definition.required:
            next(c for c in cleaned if c["field"] == definition.param)["required"] = True
    return cleaned


def clean_origins(value: Any) -> str:
    if value in (None, ""):
        return ""
    origins = [o.strip().rstrip("/").lower() for o in str(value).split()]
    origins = list(dict.fromkeys(o for o in origins if o))
    if len(origins) > MAX_ORIGINS:
        raise _fail("embed_origins", _("At most %(n)d sites.") % {"n": MAX_ORIGINS})
    for origin in origins:
        if not ORIGIN_RE.fullmatch(origin):
            raise _fail(
                "embed_origins",
                _("%(origin)s is not a site address such as https://www.example.com.") % {"origin": origin},
            )
    return " ".join(origins)


def _check(form: WebForm) -> None:
    form.name = (form.name or "").strip()
    if not form.name:
        raise _fail("name", _("Enter a name."))
    for name, limit in (("name", 100), ("title", 200), ("submit_label", 50)):
        value = (getattr(form, name) or "").strip()
        if len(value) > limit:
            raise _fail(name, _("At most %(n)d characters.") % {"n": limit})
        setattr(form, name, value)
    for name in ("intro", "thank_you"):
        value = (getattr(form, name) or "").strip()
        if len(value) > 5000:
            raise _fail(name, _("At most %(n)d characters.") % {"n": 5000})
        setattr(form, name, value)
    if not isinstance(form.is_active, bool):
        raise _fail("is_active", _("Say true or false."))
    form.fields = clean_form_fields(form.organization_id, form.fields)
    check_source(form.organization_id, form.source)
    form.embed_origins = clean_origins(form.embed_origins)


def _recorded(form: WebForm) -> dict[str, Any]:
    return {name: getattr(form, name) for name in WEBFORM_FIELDS}


def _check_fields(data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - set(WEBFORM_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


@transaction.atomic
def webform_create(*, actor: Any, **data: Any) -> WebForm:
    require(actor, "create", WebForm)
    _check_fields(data)
    data.setdefault("fields", [dict(f) for f in DEFAULT_FIELDS])
    data.setdefault("source", Lead.Source.WEB_FORM)
    form = WebForm(organization_id=actor.organization_id, created_by=actor, token=new_token(), **data)
    _check(form)
    form.save()
    audit.record(actor=actor, action="web_form.create", target=form, changes=_recorded(form))
    return form


@transaction.atomic
def webform_update(*, actor: Any, form: WebForm, expected_version: int | None, data: dict[str, Any]) -> WebForm:
    require(actor, "edit", form)
    _check_fields(data)
    if expected_version is not None and expected_version != form.version:
        raise VersionConflict()
    before = _recorded(form)
    for name, value in data.items():
        setattr(form, name, value)
    _check(form)
    changes = audit.diff(before, _recorded(form))
    if not changes:
        return form
    now = timezone.now()
    updated = WebForm.objects.filter(pk=form.pk, version=form.version).update(
        **{name: getattr(form, name) for name in WEBFORM_FIELDS}, version=form.version + 1, updated_at=now
    )
    if updated != 1:
        raise VersionConflict()
    form.version, form.updated_at = form.version + 1, now
    audit.record(actor=actor, action="web_form.update", target=form, changes=changes)
    return form


@transaction.atomic
def webform_new_address(*, actor: Any, form: WebForm) -> WebForm:
    """A new public address (the old one stops working at once): for a form whose address leaked to spammers."""
    require(actor, "edit", form)
    form.token = new_token()
    form.version += 1
    form.updated_at = timezone.now()
    form.save(update_fields=["token", "version", "updated_at"])
    audit.record(actor=actor, action="web_form.new_address", target=form)
    return form


@transaction.atomic
def webform_delete(*, actor: Any, form: WebForm) -> None:
    """Forms are configuration: deleting one is for good (audited); its address stops working and the
    leads it brought stay."""
    require(actor, "delete", form)
    audit.record(actor=actor, action="web_form.delete", target=form, changes={"name": form.name})
    form.delete()


# The public page -------------------------------------------------------------------------------------------


def public_form_for(token: str) -> WebForm | None:
    """The active form behind a public address whose organisation has sales enabled; else None (the visitor
    sees "not available" either way, and learns nothing about licences)."""
    form = webform_public_get(token=token)
    if form is None or not form.is_active or not modules.is_enabled(form.organization, "sales"):
        return None
    return form


def _rate() -> tuple[int, int]:
    count, _slash, seconds = str(getattr(settings, "KEHU_WEB_FORM_RATE", "10/600")).partition("/")
    return int(count), int(seconds or 600)


def rate_limited(ip: str | None) -> bool:
    """Count a submission from `ip`; True once it sent more than the allowed number in the window
    (KEHU_WEB_FORM_RATE, "10/600": ten per ten minutes). A fixed window in the shared cache (Redis in
    production), so every web process counts together."""
    limit, window = _rate()
    key = f"kehu:webform:ip:{ip or 'unknown'}"
    if cache.add(key, 1, timeout=window):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return False
    return count > limit


@transaction.atomic
def webform_submit(*, form: WebForm, data: dict[str, Any], ip: str | None) -> Lead:
    """A visitor's valid submission becomes a lead of the form's organisation, assigned by the rules (no
    rule and no fallback owner: unassigned, under "Unassigned" in the lists of the administrators)."""
    fields: dict[str, Any] = {"source": form.source}
    custom: dict[str, Any] = {}
    for item in form.fields:
        name = item["field"]
        if name not in data:
            continue
        if name.startswith("custom."):
            custom[name.removeprefix("custom.")] = data[name]
        else:
            fields[name] = data[name]
    fields["custom"] = custom
    actor = SystemActor(_("Web form: %(name)s") % {"name": form.name}, ip=ip)
    lead = create_lead(organization_id=form.organization_id, actor=actor, fields=fields, web_form=form)
    WebForm.objects.filter(pk=form.pk).update(
        submission_count=F("submission_count") + 1, last_submission_at=timezone.now()
    )
    return lead
