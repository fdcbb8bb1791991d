"""Organisation-editable option lists: customer tiers, lifecycle stages, ticket types, ...

One mechanism for every "editable list" of the CRM. A module registers a list (`register`) with its
built-in options (the TextChoices it always had) and a check whether a key is in use; an administrator
then adds, renames, reorders and deactivates options per organisation (`option_*` services, the pages in
`choice_list_views.py`, `/api/v1/choice-options/`). Records keep storing the option's key, which never
changes, so existing data stays valid and filters, saved views, SLA policies and price lists that name a
key keep working.

Reads (`options`, `choices`, `label`, `validate`, `match`) see the built-in options even before an
organisation edits anything: the rows are materialised on the first edit (or when the list is opened for
editing). Built-ins without a label of their own read in the reader's language.

Every list page reads these lists, so one query loads all lists of an organisation and the result is kept
in Django's cache until an option of the organisation changes (kehu.core.org_cache: the e-mail intake
reads the ticket types for every message), and for the rest of the request (`ChoiceListCacheMiddleware`)
or job (`with cached():`) without asking the cache again. Writes drop the cached lists of their
organisation.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from kehu.core import audit, modules, org_cache
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.permissions import Policy, can, register_policy

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LABEL_MAX_LENGTH = 50


@dataclass(frozen=True)
class ChoiceList:
    key: str  # e.g. "customer_tier"
    module: str  # whose administrators edit it, and who may read it
    label: str | Promise  # "Customer tiers"
    builtins: Callable[[], Sequence[tuple[str, Any]]]  # (key, lazy label), the code's defaults
    key_max_length: int = 20  # the width of the columns that store the key
    help_text: str | Promise = ""


_registry: dict[str, ChoiceList] = {}
_usages: dict[str, list[Callable[[int, str], bool]]] = {}


def register(spec: ChoiceList) -> ChoiceList:
    _registry[spec.key] = spec
    return spec


def register_usage(list_key: str, in_use: Callable[[int, str], bool]) -> None:
    """`in_use(organization_id, key)` answers whether some record stores the key (customers their tier,
    price lists and SLA policies too): a used option can only be deactivated, never deleted."""
    _usages.setdefault(list_key, []).append(in_use)


def in_use(organization_id: int, list_key: str, key: str) -> bool:
    return any(check(organization_id, key) for check in _usages.get(list_key, []))


def get_list(key: str) -> ChoiceList:
    try:
        return _registry[key]
    except KeyError as exc:
        raise NotFound() from exc


def all_lists() -> list[ChoiceList]:
    return list(_registry.values())


def builtin_label(list_key: str, key: str) -> str:
    spec = _registry.get(list_key)
    if spec is None:
        return key
    return str(dict(spec.builtins()).get(key, key))


def administered_lists_for(actor: Any) -> list[ChoiceList]:
    return [spec for spec in _registry.values() if can(actor, "administer", spec.module)]


# Reads -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    key: str
    custom_label: str
    default_label: Any  # the built-in's lazy label, or None
    builtin: bool
    is_active: bool
    position: int
    pk: int | None = None

    @property
    def label(self) -> str:
        return self.custom_label or (str(self.default_label) if self.default_label is not None else self.key)


_cache: ContextVar[dict[int, dict[str, list[Option]]] | None] = ContextVar("kehu_choice_lists", default=None)
_labels_cache: ContextVar[dict[tuple[int, str, str], dict[str, str]] | None] = ContextVar(
    "kehu_choice_list_labels", default=None
)


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Keep the lists read inside the block (one request, one job run)."""
    if _cache.get() is not None:  # nested: the outer block's cache serves
        yield
        return
    token, labels_token = _cache.set({}), _labels_cache.set({})
    try:
        yield
    finally:
        _labels_cache.reset(labels_token)
        _cache.reset(token)


CONFIG = "choice_lists"  # the org_cache name


def _forget(organization_id: int) -> None:
    cache = _cache.get()
    if cache is not None:
        cache.pop(organization_id, None)
    org_cache.changed(CONFIG, organization_id)
    labels_cache = _labels_cache.get()
    if labels_cache is not None:
        for key in [k for k in labels_cache if k[0] == organization_id]:
            del labels_cache[key]


def _load(organization_id: int) -> dict[str, list[Option]]:
    from kehu.core.choice_list_models import ChoiceOption

    rows: dict[str, list[Any]] = {}
    for row in ChoiceOption.objects.filter(organization_id=organization_id).order_by("position", "id"):
        rows.setdefault(row.list_key, []).append(row)
    lists: dict[str, list[Option]] = {}
    for spec in _registry.values():
        defaults = dict(spec.builtins())
        stored = rows.get(spec.key, [])
        options = [
            Option(
                key=r.key,
                custom_label=r.label,
                default_label=defaults.get(r.key),
                builtin=r.builtin,
                is_active=r.is_active,
                position=r.position,
                pk=r.pk,
            )
            for r in stored
        ]
        seen = {o.key for o in options}
        # Built-ins an organisation never edited (or that a newer version added): active, after the rest.
        start = max((o.position for o in options), default=-1) + 1
        for offset, (key, label) in enumerate((k, v) for k, v in spec.builtins() if k not in seen):
            options.append(Option(key, "", label, True, True, start + offset))
        lists[spec.key] = options
    return lists


def lists_for(organization_id: int) -> dict[str, list[Option]]:
    """Every list of the organisation (one query, or none when the request already read them)."""
    cache = _cache.get()
    if cache is not None and organization_id in cache:
        return cache[organization_id]
    lists = org_cache.get(CONFIG, organization_id, lambda: _load(organization_id))
    if cache is not None:
        cache[organization_id] = lists
    return lists


def options(organization_id: int, list_key: str, *, include_inactive: bool = True) -> list[Option]:
    """The options of one list of the organisation, in order."""
    get_list(list_key)
    found = lists_for(organization_id).get(list_key, [])
    return found if include_inactive else [o for o in found if o.is_active]


def choices(organization_id: int, list_key: str, *, current: str = "") -> list[tuple[str, str]]:
    """(key, label) of the active options for a form or filter; a record's inactive `current` value stays
    selectable (marked) so that editing the record does not change it behind the user's back."""
    result = []
    for option in options(organization_id, list_key):
        if option.is_active:
            result.append((option.key, option.label))
        elif current and option.key == current:
            result.append((option.key, _("%(label)s (inactive)") % {"label": option.label}))
    return result


def labels(organization_id: int, list_key: str) -> dict[str, str]:
    """key -> label of every option, inactive ones too (old records keep showing theirs). Kept with the
    request's lists (per language): a list page asks for two labels per row."""
    cache = _labels_cache.get()
    key = (organization_id, list_key, translation.get_language() or "")
    if cache is not None and key in cache:
        return cache[key]
    found = {o.key: o.label for o in options(organization_id, list_key)}
    if cache is not None and _cache.get() is not None:
        cache[key] = found
    return found


def label(organization_id: int, list_key: str, key: str) -> str:
    """The label of `key` (the key itself for a value the list does not know, "" for no value)."""
    if not key:
        return ""
    return labels(organization_id, list_key).get(key, key)


def default(organization_id: int, list_key: str, preferred: str = "") -> str:
    """`preferred` when it is active, else the first active option ("" for an empty list)."""
    active = [o.key for o in options(organization_id, list_key, include_inactive=False)]
    if preferred in active:
        return preferred
    return active[0] if active else ""


def validate(organization_id: int, list_key: str, value: Any, *, field: str, current: str = "") -> str:
    """`value` if it is an active option of the list (or the record's unchanged `current` value); else a
    ValidationFailed naming `field` and the options to choose from."""
    value = "" if value is None else str(value).strip()
    if value == "" or value == current:
        return value
    active = options(organization_id, list_key, include_inactive=False)
    if any(o.key == value for o in active):
        return value
    message = _("“%(value)s” is not an active option. Choose one of: %(options)s.") % {
        "value": value,
        "options": ", ".join(f"{o.key} ({o.label})" if o.label != o.key else o.key for o in active),
    }
    raise ValidationFailed(message, fields={field: [message]})


def fold(text: str) -> str:
    """Comparable form of a key or label: NFKC (full-width brackets and letters as typed in Chinese
    input methods), case and runs of white space ignored."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


def lookup_table(organization_id: int, list_key: str, *, include_inactive: bool = False) -> dict[str, str]:
    """Folded text -> key for reading the list back from a spreadsheet: each option's key, its label, and
    a built-in's label in every language of the site (a sheet in English for an organisation working in
    Chinese). Build it once per import, then `table.get(fold(cell))`."""
    found = options(organization_id, list_key, include_inactive=include_inactive)
    table: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for option in found:
                if option.default_label is not None:
                    table.setdefault(fold(str(option.default_label)), option.key)
    for option in found:  # the organisation's own names win over the built-in ones
        table[fold(option.label)] = option.key
    for option in found:
        table[fold(option.key)] = option.key
    return table


def match(organization_id: int, list_key: str, text: str) -> str | None:
    """The key of the active option that `text` names (its key or a label), or None."""
    return lookup_table(organization_id, list_key).get(fold(text)) if fold(text) else None


# Permissions -----------------------------------------------------------------------------------------


class ChoiceOptionPolicy(Policy):
    """Anyone who may view the list's module reads its options; its administrators change them."""

    def can(self, actor: Any, action: str, target: Any) -> bool:
        if isinstance(target, models.Model):
            spec = _registry.get(target.list_key)  # type: ignore[attr-defined]
            if spec is None or target.organization_id != actor.organization_id:  # type: ignore[attr-defined]
                return False
            if not modules.is_enabled(actor.organization, spec.module):
                return False
            needed = "view" if action == "view" else "administer"
            return needed in actor.grant_for(spec.module).actions
        if action == "view":
            return True
        return bool(administered_lists_for(actor))


def _option_saved_or_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Writes outside the option services too (test data, an organisation's deletion).
    _forget(instance.organization_id)


def _register_policy() -> None:
    from django.db.models.signals import post_delete, post_save

    from kehu.core.choice_list_models import ChoiceOption

    register_policy(ChoiceOption, ChoiceOptionPolicy())
    post_save.connect(_option_saved_or_deleted, sender=ChoiceOption, dispatch_uid="kehu-choice-option-saved")
    post_delete.connect(_option_saved_or_deleted, sender=ChoiceOption, dispatch_uid="kehu-choice-option-deleted")


_register_policy()


# Writes ----------------------------------------------------------------------------------------------


def _require_admin(actor: Any, spec: ChoiceList) -> None:
    if not can(actor, "administer", spec.module):
        raise PermissionDenied()


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def ensure_seeded(organization_id: int, list_key: str | None = None) -> None:
    """Write rows for the built-in options the organisation has none for (its lists as `options` shows
    them), so that they can be renamed, reordered and listed with ids. Idempotent."""
    from kehu.core.choice_list_models import ChoiceOption

    keys = [list_key] if list_key else list(_registry)
    existing = set(
        ChoiceOption.objects.filter(organization_id=organization_id, list_key__in=keys).values_list("list_key", "key")
    )
    if all((key, code) in existing for key in keys for code, _label in _registry[key].builtins()):
        return  # the usual case: one query
    current = _load(organization_id)
    missing = [
        ChoiceOption(
            organization_id=organization_id,
            list_key=key,
            key=option.key,
            builtin=True,
            position=option.position,
            is_active=option.is_active,
        )
        for key in keys
        for option in current[key]
        if (key, option.key) not in existing
    ]
    if missing:
        ChoiceOption.objects.bulk_create(missing, ignore_conflicts=True)
        _forget(organization_id)


def option_list_for(*, actor: Any, list_key: str | None = None) -> Any:
    """The organisation's option rows the actor may read (of one list, or of every list), in order."""
    from kehu.core.choice_list_models import ChoiceOption

    qs = ChoiceOption.objects.visible_to(actor)
    if list_key:
        qs = qs.filter(list_key=list_key)
    return qs.order_by("list_key", "position", "id")


def option_get_for(*, actor: Any, pk: Any) -> Any:
    qs = option_list_for(actor=actor)
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


def _check_label(option: Any, spec: ChoiceList) -> None:
    from kehu.core.choice_list_models import ChoiceOption

    option.label = (option.label or "").strip()
    if not option.label and not option.builtin:
        raise _fail("label", _("Enter a label."))
    if len(option.label) > LABEL_MAX_LENGTH:
        raise _fail("label", _("At most %(n)d characters.") % {"n": LABEL_MAX_LENGTH})
    shown = fold(option.display_label)
    others = ChoiceOption.objects.filter(organization_id=option.organization_id, list_key=spec.key).exclude(
        pk=option.pk
    )
    if any(fold(other.display_label) == shown for other in others):
        raise _fail("label", _("Another option of this list has this label."))


def _save(option: Any) -> None:
    try:
        with transaction.atomic():
            option.save()
    except IntegrityError as exc:  # a concurrent create of the same key
        raise _fail("key", _("An option with this key already exists.")) from exc


@transaction.atomic
def option_create(*, actor: Any, list_key: str, label: str, key: str = "", is_active: bool = True) -> Any:
    """Add an option to one of the organisation's lists; the key (stored on records, used by the API and
    imports) is made up when not given and never changes."""
    from kehu.core.choice_list_models import ChoiceOption

    spec = get_list(list_key)
    _require_admin(actor, spec)
    org = actor.organization_id
    ensure_seeded(org, list_key)
    key = (key or "").strip() or f"o_{secrets.token_hex(4)}"
    if len(key) > spec.key_max_length or not KEY_RE.fullmatch(key):
        raise _fail(
            "key",
            _("Use letters, digits, - and _, starting with a letter or digit (at most %(n)d).")
            % {"n": spec.key_max_length},
        )
    if ChoiceOption.objects.filter(organization_id=org, list_key=list_key, key__iexact=key).exists():
        raise _fail("key", _("An option with this key already exists."))
    last = ChoiceOption.objects.filter(organization_id=org, list_key=list_key).aggregate(m=Max("position"))["m"]
    option = ChoiceOption(
        organization_id=org,
        list_key=list_key,
        key=key,
        label=label,
        is_active=is_active,
        position=0 if last is None else last + 1,
    )
    _check_label(option, spec)
    _save(option)
    _forget(org)
    audit.record(
        actor=actor,
        action="choice_option.create",
        target=option,
        changes={"list": list_key, "key": option.key, "label": option.label},
    )
    return option


@transaction.atomic
def option_update(*, actor: Any, option: Any, data: dict[str, Any]) -> Any:
    """Rename (an empty label gives a built-in its own translated name back) or (de)activate an option.
    Its key never changes: records store it."""
    spec = get_list(option.list_key)
    _require_admin(actor, spec)
    unknown = set(data) - {"label", "is_active"}
    if unknown:
        raise _fail(sorted(unknown)[0], _("This field cannot be changed."))
    before = {"label": option.label, "is_active": option.is_active}
    for name, value in data.items():
        setattr(option, name, value)
    if "is_active" in data and not option.is_active:
        others = [o for o in options(option.organization_id, spec.key, include_inactive=False) if o.key != option.key]
        if not others:
            raise _fail("is_active", _("A list needs at least one active option."))
    _check_label(option, spec)
    changes = audit.diff(before, {"label": option.label, "is_active": option.is_active})
    if changes:
        _save(option)
        _forget(option.organization_id)
        audit.record(actor=actor, action="choice_option.update", target=option, changes=changes)
    return option


@transaction.atomic
def option_move(*, actor: Any, option: Any, offset: int) -> Any:
    """Move an option one place up (offset -1) or down (+1) in its list."""
    from kehu.core.choice_list_models import ChoiceOption

    spec = get_list(option.list_key)
    _require_admin(actor, spec)
    ensure_seeded(option.organization_id, spec.key)
    rows = list(
        ChoiceOption.objects.select_for_update()
        .filter(organization_id=option.organization_id, list_key=spec.key)
        .order_by("position", "id")
    )
    index = next(i for i, row in enumerate(rows) if row.pk == option.pk)
    target = index + (-1 if offset < 0 else 1)
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
        for position, row in enumerate(rows):
            if row.position != position:
                row.position = position
                row.save(update_fields=["position"])
        _forget(option.organization_id)
        audit.record(
            actor=actor,
            action="choice_option.move",
            target=option,
            changes={"position": {"before": index, "after": target}},
        )
        option.position = target
    return option


@transaction.atomic
def option_delete(*, actor: Any, option: Any) -> None:
    """Remove an option that no record uses. Built-in options and options in use are deactivated instead:
    records keep their key and go on showing its label."""
    spec = get_list(option.list_key)
    _require_admin(actor, spec)
    if option.builtin:
        raise _fail("key", _("Built-in options cannot be deleted; deactivate it instead."))
    if in_use(option.organization_id, spec.key, option.key):
        raise _fail("key", _("Records use this option; deactivate it instead."))
    audit.record(
        actor=actor,
        action="choice_option.delete",
        target=option,
        changes={"list": spec.key, "key": option.key, "label": option.label},
    )
    option.delete()
    _forget(option.organization_id)
