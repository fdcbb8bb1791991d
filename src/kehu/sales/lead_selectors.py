"""Every read of leads and their configuration. Each starts from `visible_to(actor)`: a lead outside the
actor's organisation or data scope is never returned, and asking for it by id is NotFound."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kehu.core import audit_selectors, custom_fields
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.core.search import Hits, SearchHit
from kehu.core.search_backends import among, capped_ids
from kehu.customers.selectors import Page  # the lists' one page (and its capped_at)
from kehu.sales import search as sales_search
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSettings, LeadSource, WebForm

LEAD_TYPE = "sales.lead"  # the record type of custom fields (kehu.core.custom_fields)
ORDERING_FIELDS = ("updated_at", "created_at", "name", "score")
DEFAULT_ORDERING = "-updated_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX_LENGTH = 100
MIN_PHONE_DIGITS = 4
PHONE_QUERY_RE = re.compile(r"[\d\s\-+()（）]+")
UNASSIGNED = "none"  # the owner filter's value for leads nobody owns


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Sources ---------------------------------------------------------------------------------------------


def lead_sources_for(*, organization_id: int, include_inactive: bool = False) -> list[LeadSource]:
    qs = LeadSource.objects.filter(organization_id=organization_id)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return list(qs.order_by("position", "id"))


def source_choices(organization_id: int, *, include_inactive: bool = False) -> list[tuple[str, str]]:
    """(key, label) of the built-in sources, then the organisation's own, in the reader's language."""
    own = [
        (s.key, s.label) for s in lead_sources_for(organization_id=organization_id, include_inactive=include_inactive)
    ]
    return [(key, str(label)) for key, label in Lead.Source.choices] + own


def source_labels(organization_id: int) -> dict[str, str]:
    """key -> label of every source a lead of the organisation may carry (inactive ones too)."""
    return dict(source_choices(organization_id, include_inactive=True))


def lead_source_list_for(*, actor: Any) -> QuerySet[LeadSource]:
    return LeadSource.objects.visible_to(actor).order_by("position", "id")


def lead_source_get_for(*, actor: Any, pk: Any) -> LeadSource:
    return _get(lead_source_list_for(actor=actor), pk)


# Filters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilters:
    search: str = ""
    status: str = ""
    source: str = ""
    owner: str = ""  # a user id, or UNASSIGNED
    created_from: date | None = None
    created_to: date | None = None
    province: str = ""
    city: str = ""
    # Custom fields: {"custom.<key>" | "custom.<key>.min|max": value} (kehu.core.custom_fields.filter_q).
    custom: dict = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> LeadFilters:
        data = data or {}
        values = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            if hasattr(value, "pk"):
                value = value.pk
            if value not in (None, ""):
                values[name] = str(value) if name == "owner" else value
        return cls(**values)

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def search_filter(qs: QuerySet[Lead], query: str) -> QuerySet[Lead]:
    """The leads of `qs` matching `query`, every one of them (kehu/sales/search.py): a fragment of the name or
    company; from 3 characters, of the email too; 4+ digits of the phone. On PostgreSQL through the gram and
    trigram indexes."""
    return sales_search.filter_queryset(qs, query, sales_search.LEAD_SPEC)


def lead_queryset_for(*, actor: Any, filters: LeadFilters | dict | None = None) -> QuerySet[Lead]:
    """The visible leads matching `filters`, unordered and unpaginated (callers bound it)."""
    if not isinstance(filters, LeadFilters):
        filters = LeadFilters.from_mapping(filters)
    qs = Lead.objects.visible_to(actor)
    if filters.search.strip():
        qs = search_filter(qs, filters.search)
    for name in ("status", "source", "province", "city"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.owner == UNASSIGNED:
        qs = qs.filter(owner__isnull=True)
    elif filters.owner:
        try:
            qs = qs.filter(owner_id=int(filters.owner))
        except ValueError as exc:
            raise ValidationFailed(fields={"owner": [_("Choose an owner from the list.")]}) from exc
    if filters.created_from:
        qs = qs.filter(created_at__gte=_day_start(filters.created_from))
    if filters.created_to:
        qs = qs.filter(created_at__lt=_day_start(filters.created_to + timedelta(days=1)))
    if filters.custom:
        definitions = custom_fields.definitions_for(actor.organization_id, LEAD_TYPE)
        qs = qs.filter(custom_fields.filter_q(definitions, filters.custom))
    return qs


# Keyset pagination ------------------------------------------------------------------------------------


def parse_ordering(value: str | None) -> tuple[str, bool]:
    """("name", descending) from "name" / "-name"; anything off the whitelist is a validation error."""
    value = (value or DEFAULT_ORDERING).strip()
    name = value.removeprefix("-")
    if name not in ORDERING_FIELDS:
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": ", ".join(ORDERING_FIELDS)}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _encode_cursor(direction: str, ordering: str, obj: Any, name: str) -> str:
    value = getattr(obj, name)
    payload = {"d": direction, "o": ordering, "v": value.isoformat() if isinstance(value, datetime) else value}
    payload["i"] = obj.pk
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, ordering: str, name: str) -> tuple[str, Any, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, value, pk = payload["d"], payload["v"], int(payload["i"])
        if direction not in ("n", "p") or payload["o"] != ordering:
            raise ValueError("cursor of another list")
        if name in ("updated_at", "created_at"):
            value = datetime.fromisoformat(value)
        elif name == "score":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("bad value")
        elif not isinstance(value, str) or "\x00" in value:  # PostgreSQL refuses NUL in text parameters
            raise ValueError("bad value")
    except (
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        binascii.Error,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as exc:
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return direction, value, pk


def keyset_page(qs: QuerySet, *, ordering: str | None, cursor: str | None, limit: int) -> Page:
    """Rows after (or, for a "previous" cursor, before) the cursor's row, in `ordering` then id."""
    name, descending = parse_ordering(ordering)
    ordering = f"-{name}" if descending else name
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    backwards = False
    if cursor:
        direction, value, pk = _decode_cursor(cursor, ordering, name)
        backwards = direction == "p"
        fetch_descending = descending != backwards
        op = "lt" if fetch_descending else "gt"
        qs = qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk}))
    else:
        fetch_descending = descending
    order = (f"-{name}", "-pk") if fetch_descending else (name, "pk")
    rows = list(qs.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    page = Page(items=rows, ordering=ordering, limit=limit)
    if rows:
        if backwards:
            page.next_cursor = _encode_cursor("n", ordering, rows[-1], name)
            page.previous_cursor = _encode_cursor("p", ordering, rows[0], name) if has_more else None
        else:
            page.next_cursor = _encode_cursor("n", ordering, rows[-1], name) if has_more else None
            page.previous_cursor = _encode_cursor("p", ordering, rows[0], name) if cursor else None
    return page


# Leads ---------------------------------------------------------------------------------------------------


def leads_with_relations_for(*, actor: Any) -> QuerySet[Lead]:
    return Lead.objects.visible_to(actor).select_related("owner")


def lead_list_for(
    *,
    actor: Any,
    filters: LeadFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One page of the leads the actor may see: filtered, sorted on the whitelist, keyset-paginated (one
    query: the rows with their owners; a search adds one or two, see _search_page_ids)."""
    if not isinstance(filters, LeadFilters):
        filters = LeadFilters.from_mapping(filters)
    ordering = ordering or DEFAULT_ORDERING
    parse_ordering(ordering)  # off the whitelist: refused before any search
    qs = lead_queryset_for(actor=actor, filters=filters)
    if filters.search.strip():
        base = lead_queryset_for(actor=actor, filters=replace(filters, search=""))
        ids, capped_at = _search_page_ids(base, filters.search, ordering=ordering, cursor=cursor, limit=limit)
        if ids is not None:
            qs = among(base, ids)
        page = keyset_page(qs.select_related("owner"), ordering=ordering, cursor=cursor, limit=limit)
        page.capped_at = capped_at
        return page
    return keyset_page(qs.select_related("owner"), ordering=ordering, cursor=cursor, limit=limit)


def _search_page_ids(
    base: QuerySet, query: str, *, ordering: str, cursor: str | None, limit: int
) -> tuple[list[int] | None, int | None]:
    """The ids a searched page is cut from, and the cap when it cut the matches (else None). Newest first:
    the limit + 1 newest matches after the cursor, by the search module (a walk of the newest leads, then the
    gram and trigram indexes: core.search_backends.walk_then_index). The indexes alone read and sort every
    match of a fragment most leads hold (有限公司: 459 ms at 100,000 leads). None for a "previous" page, which
    reads upwards: the plain filter serves it. Any other order pages through the LIST_LIMIT newest matches
    (core.search_backends.capped_ids), as the customer list does with its most relevant (leads have no name
    index to rank by). A sales rep's walk reads their own rows by an owner-led index (sales/search.py)."""
    if parse_ordering(ordering) != ("updated_at", True):
        return capped_ids(lambda n: sales_search.search_ids(base, query, sales_search.LEAD_SPEC, limit=n))
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    if cursor:
        direction, value, pk = _decode_cursor(cursor, ordering, "updated_at")
        if direction != "n":
            return None, None
        base = base.filter(Q(updated_at__lt=value) | Q(updated_at=value, pk__lt=pk))
    return sales_search.search_ids(base, query, sales_search.LEAD_SPEC, limit=limit + 1), None


def lead_get_for(*, actor: Any, pk: Any) -> Lead:
    qs = Lead.objects.visible_to(actor).select_related(
        "owner__team", "created_by", "converted_customer", "converted_contact", "converted_opportunity", "web_form"
    )
    return _get(qs, pk)


def leads_for_bulk(*, actor: Any, ids: list[Any]) -> list[Lead]:
    """The visible leads among `ids` (others are silently not part of a bulk action)."""
    try:
        pks = [int(pk) for pk in ids][:MAX_PAGE_SIZE]
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(_("Select leads from the list."), fields={"ids": [_("Invalid id.")]}) from exc
    return list(Lead.objects.visible_to(actor).filter(pk__in=pks).select_related("owner__team").order_by("pk"))


def _recycle_bin(actor: Any) -> QuerySet[Lead]:
    from kehu.core.models import scope_filter

    if actor is None or not can(actor, "view", Lead):
        return Lead.objects.none()
    qs = Lead.objects.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
    return qs.filter(scope_filter(actor, actor.grant_for(Lead.module).scope))


def lead_recycle_bin_for(*, actor: Any) -> QuerySet[Lead]:
    """Deleted leads within the actor's organisation and data scope (what they may restore)."""
    return _recycle_bin(actor).select_related("owner", "updated_by")


def lead_deleted_get_for(*, actor: Any, pk: Any) -> Lead:
    return _get(_recycle_bin(actor).select_related("owner__team"), pk)


def owner_choices_for(*, actor: Any) -> list[Any]:
    """Active colleagues who may work with leads: the people a lead can be assigned to."""
    from kehu.accounts.models import User

    users = User.objects.visible_to(actor).filter(is_active=True).select_related("role", "organization")
    return [user for user in users.order_by("name", "email") if can(user, "view", Lead)]


def lead_settings_for(*, organization_id: int) -> LeadSettings:
    """The organisation's saved settings, or the defaults (unsaved) when nobody saved them yet."""
    found = LeadSettings.objects.filter(organization_id=organization_id).select_related("default_owner").first()
    return found or LeadSettings(organization_id=organization_id)


# Web forms and rules -----------------------------------------------------------------------------------


def webform_list_for(*, actor: Any) -> QuerySet[WebForm]:
    return WebForm.objects.visible_to(actor).order_by("name", "id")


def webform_get_for(*, actor: Any, pk: Any) -> WebForm:
    return _get(webform_list_for(actor=actor), pk)


def webform_public_get(*, token: str) -> WebForm | None:
    """The form behind a public address, or None (unknown token). Whether it is active and its organisation
    has sales enabled is the caller's question: both answer "not available" to the visitor."""
    if not token or len(token) > 64 or "\x00" in token:
        return None
    return WebForm.objects.dangerously_all_organizations().select_related("organization").filter(token=token).first()


def rule_list_for(*, actor: Any) -> QuerySet[AssignmentRule]:
    return AssignmentRule.objects.visible_to(actor).select_related("team", "user").order_by("position", "id")


def rule_get_for(*, actor: Any, pk: Any) -> AssignmentRule:
    return _get(rule_list_for(actor=actor), pk)


# History (the audit entries of one lead) ---------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str
    title: str
    actor: str
    icon: str
    body: str = ""
    changes: tuple[HistoryChange, ...] = ()


_TITLES = {
    "lead.create": (gettext_noop("Created the lead"), "plus-circle"),
    "lead.update": (gettext_noop("Changed the lead"), "pencil"),
    "lead.delete": (gettext_noop("Moved the lead to the recycle bin"), "trash"),
    "lead.restore": (gettext_noop("Restored the lead from the recycle bin"), "arrow-counterclockwise"),
    "lead.assign": (gettext_noop("Assigned the lead"), "person-check"),
    "lead.convert": (gettext_noop("Converted the lead"), "arrow-right-circle"),
    "lead.web_form": (gettext_noop("Submitted through a web form"), "globe"),
}

# What the audit log and the home page call the sales module's actions (core.audit_labels) where the verb
# alone says too little: the lead timeline's titles, the list-wide actions, web forms and price lists.
AUDIT_LABELS = {
    **{action: title for action, (title, _icon) in _TITLES.items()},
    "leads.export": gettext_noop("Exported leads"),
    "leads.import": gettext_noop("Imported leads"),
    "web_form.new_address": gettext_noop("Gave the web form a new address"),
    "price_list.set_price": gettext_noop("Set a price"),
}


def _display(name: str, value: Any, users: dict[int, str], sources: dict[str, str]) -> str:
    if value in (None, "", [], {}):
        return "—"
    if name == "owner":
        return users.get(value, f"#{value}")
    if name == "source":
        return sources.get(value, str(value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    try:
        model_field = Lead._meta.get_field(name)
    except FieldDoesNotExist:
        return str(value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, str) and model_field.get_internal_type() == "DateTimeField":
        try:
            return formats.date_format(timezone.localtime(datetime.fromisoformat(value)), "SHORT_DATETIME_FORMAT")
        except ValueError:
            return value
    return str(value)


def _label(name: str) -> str:
    if name.startswith("custom."):
        return name.removeprefix("custom.")
    try:
        return str(Lead._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _body(entry: AuditEntry) -> str:
    changes = entry.changes or {}
    parts = []
    if entry.action == "lead.assign":
        if changes.get("rule"):
            parts.append(_("By the rule “%(rule)s”.") % {"rule": changes["rule"]})
        elif changes.get("via") == "default":
            parts.append(_("To the fallback owner: no rule matched."))
        elif changes.get("via") == "reassign":
            parts.append(_("Nobody touched it for %(days)s days.") % {"days": changes.get("days", "?")})
    if entry.action == "lead.convert":
        for key, label in (("customer", _("Customer")), ("contact", _("Contact")), ("opportunity", _("Opportunity"))):
            if changes.get(key):
                parts.append(f"{label}: {changes[key]}")
    if entry.action == "lead.web_form" and changes.get("form"):
        parts.append(str(changes["form"]))
    return " ".join(parts)


def lead_history(*, actor: Any, lead: Lead, limit: int = 50) -> list[HistoryItem]:
    """The lead's audit entries, newest first: who changed what, who assigned it (and by which rule)."""
    if not can(actor, "view", lead):
        raise NotFound()
    entries = AuditEntry.objects.filter(
        organization_id=lead.organization_id, target_type="sales.lead", target_id=str(lead.pk)
    )
    entries = list(audit_selectors.for_timeline(entries).order_by("-created_at", "-seq")[:limit])
    owner_ids = set()
    for entry in entries:
        owner = (entry.changes or {}).get("owner")
        if isinstance(owner, dict):
            owner_ids.update(v for v in (owner.get("before"), owner.get("after")) if isinstance(v, int))
        elif isinstance(owner, int):
            owner_ids.add(owner)
    users = {}
    if owner_ids:
        from kehu.accounts.models import User

        users = {u.pk: str(u) for u in User.objects.filter(organization_id=lead.organization_id, pk__in=owner_ids)}
    sources = source_labels(lead.organization_id)
    items = []
    for entry in entries:
        template, icon = _TITLES.get(entry.action, (entry.action, "clock-history"))
        changes = tuple(
            HistoryChange(
                field=_label(name),
                before=_display(name, change.get("before"), users, sources),
                after=_display(name, change.get("after"), users, sources),
            )
            for name, change in sorted((entry.changes or {}).items())
            if isinstance(change, dict) and set(change) == {"before", "after"}
        )
        items.append(
            HistoryItem(
                at=entry.created_at,
                kind=entry.action,
                title=_(template),
                actor=str(entry.actor) if entry.actor else entry.actor_label,
                icon=icon,
                body=_body(entry),
                changes=changes,
            )
        )
    return items


# Global search and the customer timeline -------------------------------------------------------------------


def search_provider(*, actor: Any, query: str, limit: int = 10) -> Hits:
    """Leads for the global search box: a fragment of the name, company or email, or phone digits, newest
    first, every match (the search module: a walk of the newest leads, then the gram and trigram indexes),
    so the group has no link to the list; then what the hits show (one query)."""
    visible = Lead.objects.visible_to(actor)
    ids = sales_search.search_ids(visible, query, sales_search.LEAD_SPEC, limit=limit)
    fields = ("pk", "name", "company", "phone", "status")
    rows = {row[0]: row for row in visible.filter(pk__in=ids).values_list(*fields)}
    labels = dict(Lead.Status.choices)
    kind = _("Lead")
    return Hits(
        SearchHit(
            title=name,
            subtitle=" · ".join(part for part in (company, phone, str(labels.get(status, ""))) if part),
            url=reverse("sales:lead_detail", args=[pk]),
            kind=kind,
        )
        for pk, name, company, phone, status in (rows[pk] for pk in ids if pk in rows)
    )


def converted_rows(organization_id: Any, customer_id: Any) -> QuerySet[Lead]:
    """What customer_timeline can show at most (timeline.register's `exists`): the leads converted into it."""
    return Lead.objects.filter(organization_id=organization_id, converted_customer_id=customer_id)


def customer_timeline(*, actor: Any, customer: Any, limit: int, before: datetime | None = None) -> list[Any]:
    """The customer's timeline shows the leads that were converted into it (customers/timeline.py)."""
    from django.urls import reverse

    from kehu.customers import timeline

    qs = Lead.objects.visible_to(actor).filter(converted_customer_id=customer.pk, converted_at__isnull=False)
    if before is not None:
        qs = qs.filter(converted_at__lt=before)
    return [
        timeline.TimelineItem(
            at=lead.converted_at,
            kind="lead.convert",
            title=_("Converted from the lead %(name)s") % {"name": lead.name},
            body=lead.notes[:500],
            url=reverse("sales:lead_detail", args=[lead.pk]),
            icon="funnel",
            module="sales",
        )
        for lead in qs.order_by("-converted_at")[:limit]
    ]
