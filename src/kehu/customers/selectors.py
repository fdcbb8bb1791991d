"""Every read of customers, contacts and tags. Each starts from `visible_to(actor)`: a record outside the
actor's organisation or data scope is never returned, and asking for it by id is NotFound."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import FieldDoesNotExist
from django.db.models import CharField, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kehu.core import audit_selectors, choice_lists, custom_fields
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry, owner_in_scope
from kehu.core.permissions import can
from kehu.core.search import SearchHit
from kehu.core.search_backends import among, capped_ids
from kehu.customers import search as customer_search
from kehu.customers import timeline
from kehu.customers.list_columns import CUSTOMER_TYPE
from kehu.customers.models import STAGES, TIERS, Contact, Customer, CustomerTag, Tag
from kehu.customers.normalize import phone_search_digits

# The only columns a list may be sorted by: the sort parameter never reaches SQL unchecked.
ORDERING_FIELDS = ("updated_at", "created_at", "name", "tier")
DEFAULT_ORDERING = "-updated_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX_LENGTH = 100
PHONE_QUERY_RE = re.compile(r"[\d\s\-+()（）]+")
MIN_PHONE_DIGITS = 4


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Filters and search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFilters:
    search: str = ""
    kind: str = ""
    tier: str = ""
    stage: str = ""
    source: str = ""
    tag: int | None = None
    owner: int | None = None
    province: str = ""
    city: str = ""
    # Custom fields: {"custom.<key>" | "custom.<key>.min|max": value} (kehu.core.custom_fields.filter_q).
    custom: dict = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> CustomerFilters:
        data = data or {}
        values = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            if hasattr(value, "pk"):
                value = value.pk
            if value not in (None, ""):
                values[name] = value
        return cls(**values)


def customer_queryset_for(
    *, actor: Any, filters: CustomerFilters | dict | None = None, base: QuerySet[Customer] | None = None
) -> QuerySet[Customer]:
    """The visible customers matching `filters`, unordered and unpaginated (callers bound it). `base`
    replaces `visible_to(actor)` for a selector that already bounds the rows (the public pool)."""
    if not isinstance(filters, CustomerFilters):
        filters = CustomerFilters.from_mapping(filters)
    qs = Customer.objects.visible_to(actor) if base is None else base
    if filters.search.strip():  # search: customers/search.py (every match, unbounded: exports, bulk)
        qs = customer_search.filter_queryset(qs, filters.search)
    for name in ("kind", "tier", "stage", "source", "province", "city"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.owner:
        qs = qs.filter(owner_id=filters.owner)
    if filters.custom:
        definitions = custom_fields.definitions_for(actor.organization_id, CUSTOMER_TYPE)
        qs = qs.filter(custom_fields.filter_q(definitions, filters.custom))
    if filters.tag:
        qs = qs.filter(
            Exists(
                CustomerTag.objects.filter(
                    organization_id=actor.organization_id, tag_id=filters.tag, customer_id=OuterRef("pk")
                )
            )
        )
    return qs


# Keyset pagination ----------------------------------------------------------------------------------


@dataclass
class Page:
    """One page of a keyset-paginated list: no COUNT, and the cursors are opaque strings."""

    items: list[Any]
    ordering: str
    next_cursor: str | None = None
    previous_cursor: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    extra: dict[str, Any] = field(default_factory=dict)
    # A searched list in another order than newest first pages through at most this many matches, and the
    # search found more (core.search_backends.capped_ids): the page and the API say so. None otherwise.
    capped_at: int | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def parse_ordering(value: str | None) -> tuple[str, bool]:
    """("name", descending) from "name" / "-name"; anything off the whitelist is a validation error."""
    value = (value or DEFAULT_ORDERING).strip()
    name = value.removeprefix("-")
    if name not in ORDERING_FIELDS:
        allowed = ", ".join(ORDERING_FIELDS)
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": allowed}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _cursor_value(obj: Any, name: str) -> Any:
    value = getattr(obj, name)
    return value.isoformat() if isinstance(value, datetime) else value


def _encode_cursor(direction: str, ordering: str, obj: Any, name: str) -> str:
    payload = {"d": direction, "o": ordering, "v": _cursor_value(obj, name), "i": obj.pk}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _as_is(rows: list) -> list:
    return rows


def _decode_cursor(cursor: str, ordering: str, name: str) -> tuple[str, Any, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        direction, value, pk = payload["d"], payload["v"], int(payload["i"])
        if direction not in ("n", "p") or payload["o"] != ordering:
            raise ValueError("cursor of another list")
        if name in ("updated_at", "created_at"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str) or "\x00" in value:  # PostgreSQL refuses NUL in text parameters
            raise ValueError("bad value")
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return direction, value, pk


def keyset_page(
    qs: QuerySet, *, ordering: str, cursor: str | None, limit: int, wrap: Callable[[list], list] = _as_is
) -> Page:
    """Rows after (or, for a "previous" cursor, before) the cursor's row, in `ordering` then id. `wrap` turns
    the fetched rows into the page's items (CustomerRow.page_items for a values() queryset)."""
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
    rows = wrap(list(qs.order_by(*order)[: limit + 1]))
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


# Customers ------------------------------------------------------------------------------------------


class TagRow(NamedTuple):
    pk: int
    name: str
    colour: str


class CustomerRow:
    """A customer of the list page read with values(): what the list's cells (customers/list_columns.py) read,
    without a model instance per customer and per owner and the tags' prefetch (a third of the page's time
    at 50 rows). The labels are the model's own properties; `owner` is the owner's name (str(User))."""

    VALUES = (
        "id",
        "organization_id",
        "kind",
        "name",
        "short_name",
        "tier",
        "stage",
        "source",
        "industry",
        "phone",
        "email",
        "province",
        "city",
        "district",
        "next_follow_up_at",
        "last_contacted_at",
        "updated_at",
        "created_at",
        "custom",
        "owner_id",
        "owner__name",
        "owner__email",
    )
    _KINDS = dict(Customer.Kind.choices)
    _SOURCES = dict(Customer.Source.choices)

    tier_label = Customer.tier_label
    stage_label = Customer.stage_label
    region = Customer.region

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.pk = values["id"]
        self.owner = (values["owner__name"] or values["owner__email"]) if values["owner_id"] else None
        self.tag_rows: list[TagRow] = []

    def get_kind_display(self) -> str:
        return str(self._KINDS.get(self.kind, self.kind))

    def get_source_display(self) -> str:
        return str(self._SOURCES.get(self.source, self.source))

    @classmethod
    def page_items(cls, values: list[dict[str, Any]]) -> list[CustomerRow]:
        """The rows of `values` with their tags by name (one query, as the model's prefetch made)."""
        rows = [cls(v) for v in values]
        if rows:
            by_pk = {row.pk: row for row in rows}
            links = (
                CustomerTag.objects.filter(customer_id__in=list(by_pk))
                .order_by("tag__name")
                .values_list("customer_id", "tag_id", "tag__name", "tag__colour")
            )
            for customer_id, pk, name, colour in links:
                by_pk[customer_id].tag_rows.append(TagRow(pk, name, colour))
        return rows


def _with_list_relations(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    return qs.select_related("owner").prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))


def customers_with_relations_for(*, actor: Any) -> QuerySet[Customer]:
    """Customers the actor may open (their scope and the public pool) with what an API item shows (owner,
    tags) loaded up front."""
    from kehu.customers.pool_selectors import customers_visible_or_pool_for

    return _with_list_relations(customers_visible_or_pool_for(actor))


def customer_list_for(
    *,
    actor: Any,
    filters: CustomerFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    as_rows: bool = False,
) -> Page:
    """One page of the customers the actor may see: filtered, sorted on the whitelist, keyset-paginated
    (two queries: the rows with their owners, and their tags; a search adds one to three). With `as_rows` the
    items are CustomerRow (the list page's cells), else Customer instances with owner and tags."""
    relations, wrap = (_as_rows, CustomerRow.page_items) if as_rows else (_with_list_relations, _as_is)
    # --- search (customers/search.py): the page's candidates come from the search backend ---------------
    if not isinstance(filters, CustomerFilters):
        filters = CustomerFilters.from_mapping(filters)
    if filters.search.strip():
        base = customer_queryset_for(actor=actor, filters=replace(filters, search=""))
        ids, capped_at = _search_page_ids(
            base, filters.search, ordering=ordering or DEFAULT_ORDERING, cursor=cursor, limit=limit
        )
        qs = relations(among(base, ids))
        page = keyset_page(qs, ordering=ordering or DEFAULT_ORDERING, cursor=cursor, limit=limit, wrap=wrap)
        page.capped_at = capped_at
        return page
    # --- end search -----------------------------------------------------------------------------------
    qs = relations(customer_queryset_for(actor=actor, filters=filters))
    return keyset_page(qs, ordering=ordering or DEFAULT_ORDERING, cursor=cursor, limit=limit, wrap=wrap)


def _as_rows(qs: QuerySet[Customer]) -> QuerySet:
    return qs.values(*CustomerRow.VALUES)


def _search_page_ids(
    base: QuerySet, query: str, *, ordering: str, cursor: str | None, limit: int
) -> tuple[list[int], int | None]:
    """The ids a searched list page is cut from, and the cap when it cut the matches (else None). Newest
    first (the default), the search itself pages: each page asks for the `limit` + 1 newest matches after the
    cursor, so every match is reachable. In any other order, the list pages through the LIST_LIMIT most
    relevant matches (core.search_backends.capped_ids, the one cap of every searched list)."""
    name, descending = parse_ordering(ordering)
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    if (name, descending) != ("updated_at", True):
        return capped_ids(lambda n: customer_search.search_ids(base, query, limit=n))
    if not cursor:
        return customer_search.search_ids(base, query, limit=limit + 1, rank=False), None
    direction, value, pk = _decode_cursor(cursor, ordering, name)
    if direction == "n":
        older = base.filter(Q(updated_at__lt=value) | Q(updated_at=value, pk__lt=pk))
        return customer_search.search_ids(older, query, limit=limit + 1, rank=False), None
    # A previous page reads upwards: the nearest LIST_LIMIT newer matches hold it (keyset_page takes them).
    newer = base.filter(Q(updated_at__gt=value) | Q(updated_at=value, pk__gt=pk))
    return customer_search.search_ids(newer, query, limit=customer_search.LIST_LIMIT, rank=False), None


def customer_get_for(*, actor: Any, pk: Any, tags: bool = True, timeline_presence: bool = False) -> Customer:
    """`tags=False`: without reading its tags (the parts of its page loaded after it do not show them).
    `timeline_presence`: with which timeline providers have rows for it (timeline.presence), in the same query."""
    if actor is None or not can(actor, "view", Customer):
        raise NotFound()
    live = Customer.objects.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
    qs = live.select_related("owner__team", "created_by")
    if timeline_presence:
        qs = qs.annotate(**timeline.presence(actor, pk))
    if tags:
        qs = qs.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    customer = _get(qs, pk)
    # What the actor may open: their scope (visible_to's scope_filter) or the public pool, exactly
    # customers_visible_or_pool_for's rows, asked of the row read instead of in the statement.
    scope = actor.grant_for(Customer.module).scope
    if customer.owner_id is not None and not owner_in_scope(actor, scope, customer.owner_id):
        raise NotFound()
    return customer


def customers_for_bulk(*, actor: Any, ids: list[Any]) -> list[Customer]:
    """The visible customers among `ids` (others are silently not part of a bulk action)."""
    try:
        pks = [int(pk) for pk in ids][:MAX_PAGE_SIZE]
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(_("Select customers from the list."), fields={"ids": [_("Invalid id.")]}) from exc
    qs = Customer.objects.visible_to(actor).filter(pk__in=pks).select_related("owner__team")
    return list(qs.prefetch_related("tags").order_by("pk"))


def customer_duplicates_for(
    *, actor: Any, customer: Customer | None = None, name: str = "", phone: str = "", email: str = "", limit: int = 10
) -> list[Customer]:
    """Visible customers that share the normalised phone, the normalised email or the exact name."""
    if customer is not None:
        name, phone, email = customer.name, customer.phone_normalized, customer.email_normalized
    # Each branch repeats the organisation and the live-row condition, so that it matches its own partial
    # index (organization, name / phone / email) on SQLite too, which does not distribute the outer AND.
    live = {"organization_id": actor.organization_id, "deleted_at__isnull": True}
    q = Q()
    if name:
        q |= Q(name=name, **live)
    if phone:
        q |= Q(phone_normalized=phone, **live)
    if email:
        q |= Q(email_normalized=email, **live)
    if not q:
        return []
    # Owners prefetched, not joined: usually nothing matches, and then the join only cost its compilation.
    qs = Customer.objects.visible_to(actor).filter(q).prefetch_related("owner")
    if customer is not None:
        qs = qs.exclude(pk=customer.pk)
    # Sorted here, not in SQL: unordered, each condition is an index look-up on (organization, name /
    # phone / email) and the matches are few; with ORDER BY updated_at SQLite walked the recency index
    # instead (0.3 s per create and per detail page at 100,000 customers; benchmarks/RESULTS.md).
    rows = list(qs.order_by()[: limit * 20])
    rows.sort(key=lambda c: (c.updated_at, c.pk), reverse=True)
    return rows[:limit]


def customer_recycle_bin_for(*, actor: Any) -> QuerySet[Customer]:
    return Customer.objects.in_recycle_bin_for(actor).select_related("owner", "updated_by")


def customer_deleted_get_for(*, actor: Any, pk: Any) -> Customer:
    return _get(Customer.objects.in_recycle_bin_for(actor).select_related("owner__team"), pk)


def owner_choices_for(*, actor: Any) -> list[Any]:
    """Active colleagues who may work with customers: the people a customer can be assigned to."""
    from kehu.accounts.models import User

    users = User.objects.visible_to(actor).filter(is_active=True).select_related("role", "organization")
    return [user for user in users.order_by("name", "email") if can(user, "view", Customer)]


def owner_options_for(*, actor: Any) -> list[tuple[int, str]]:
    """(pk, label) of owner_choices_for's colleagues, for the list pages' selects, without three model instances
    per colleague: whether a colleague may view customers depends on their role alone (and on the
    organisation's modules, the same for all of them), so `can` is asked once per role, of a stand-in user."""
    from kehu.accounts.models import Role, User

    rows = (
        User.objects.visible_to(actor)
        .filter(is_active=True)
        .order_by("name", "email")
        .values_list("pk", "name", "email", "role_id", "role__permissions")
    )
    allowed: dict[int | None, bool] = {}
    options = []
    for pk, name, email, role_id, permissions in rows:
        if role_id not in allowed:
            role = Role(pk=role_id, organization_id=actor.organization_id, permissions=permissions or {})
            stand_in = User(organization=actor.organization, role=role if role_id else None, is_active=True)
            allowed[role_id] = can(stand_in, "view", Customer)
        if allowed[role_id]:
            options.append((pk, name or email))
    return options


# Contacts and tags -------------------------------------------------------------------------------------


def contact_list_for(*, actor: Any, customer: Customer | int | None = None, search: str = "") -> QuerySet[Contact]:
    qs = Contact.objects.visible_to(actor).select_related("customer")
    if customer is not None:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    search = search.strip()[:SEARCH_MAX_LENGTH]
    if search:
        q = Q(name__icontains=search) | Q(email_normalized__contains=search.lower())
        digits = phone_search_digits(search)
        if PHONE_QUERY_RE.fullmatch(search) and len(digits) >= MIN_PHONE_DIGITS:
            q |= Q(phone_normalized__contains=digits)
        qs = qs.filter(q)
    return qs


def customer_contacts_for(*, actor: Any, customer: Customer) -> list[Contact]:
    """The customer's contacts that the actor may see, in the model's order (primary first, then by name).
    They are read once per customer instance, and a view loads its customer afresh for each request. The page,
    its note box and the activity panel's log form share them."""
    memo = customer.__dict__.setdefault("_contacts_for", {})
    if actor.pk not in memo:
        # The customer is at hand: its row answers the scope, no join to read it again with every contact.
        contacts = list(Contact.objects.visible_of(actor, customer))
        for contact in contacts:
            contact.customer = customer
        memo[actor.pk] = contacts
    return memo[actor.pk]


def contact_get_for(*, actor: Any, pk: Any) -> Contact:
    return _get(Contact.objects.visible_to(actor).select_related("customer__owner__team"), pk)


def tag_list_for(*, actor: Any) -> QuerySet[Tag]:
    return Tag.objects.visible_to(actor).order_by("name")


def tag_get_for(*, actor: Any, pk: Any) -> Tag:
    return _get(tag_list_for(actor=actor), pk)


def tags_by_ids_for(*, actor: Any, ids: list[Any]) -> list[Tag]:
    """Tags of the actor's organisation by id; an unknown id is a validation error on "tags"."""
    try:
        pks = {int(pk) for pk in ids}
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(_("Choose existing tags."), fields={"tags": [_("Choose existing tags.")]}) from exc
    tags = list(tag_list_for(actor=actor).filter(pk__in=pks))
    if len(tags) != len(pks):
        raise ValidationFailed(_("Choose existing tags."), fields={"tags": [_("Choose existing tags.")]})
    return tags


# Timeline --------------------------------------------------------------------------------------------


_TITLES = {
    "customer.create": (gettext_noop("Created the customer"), "plus-circle"),
    "customer.update": (gettext_noop("Changed the customer"), "pencil"),
    "customer.delete": (gettext_noop("Moved the customer to the recycle bin"), "trash"),
    "customer.restore": (gettext_noop("Restored the customer from the recycle bin"), "arrow-counterclockwise"),
    "customer.assign": (gettext_noop("Transferred the customer"), "person-check"),
    "customer.tag_add": (gettext_noop("Added tags"), "tag"),
    "customer.tag_remove": (gettext_noop("Removed tags"), "tag"),
    "contact.create": (gettext_noop("Added the contact %(name)s"), "person-plus"),
    "contact.update": (gettext_noop("Changed the contact %(name)s"), "person-gear"),
    "contact.delete": (gettext_noop("Removed the contact %(name)s"), "person-x"),
    "contact.restore": (gettext_noop("Restored the contact %(name)s"), "person-check"),
}


def _title(action: str, label: str) -> tuple[str, str]:
    template, icon = _TITLES.get(action, (action, "clock-history"))
    # The table holds source strings; translate now, in the reader's language.
    text = _(template)
    return (text % {"name": label} if "%(name)s" in text else text), icon


# Fields that hold a key of the organisation's editable lists (kehu.core.choice_lists): shown by its label.
_LISTED = {(Customer, "tier"): TIERS, (Customer, "stage"): STAGES}


def _display(model: type, name: str, value: Any, users: dict[int, str], organization_id: int) -> str:
    if value in (None, "", [], {}):
        return "—"
    if name == "owner":
        return users.get(value, f"#{value}")
    if (model, name) in _LISTED and isinstance(value, str):
        return choice_lists.label(organization_id, _LISTED[(model, name)], value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a field that no longer exists shows its stored value
        return str(value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str) and model_field.get_internal_type() == "DateTimeField":
        try:
            return formats.date_format(timezone.localtime(datetime.fromisoformat(value)), "SHORT_DATETIME_FORMAT")
        except ValueError:
            return value
    return str(value)


def _label(model: type, name: str) -> str:
    if name.startswith("custom."):  # a custom field: its key (labels may change; the key never does)
        return name.removeprefix("custom.")
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def audit_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The audit entries of the customer and of its contacts (deleted ones too), newest first."""
    # The contacts' ids (audit targets are text) as a subquery: one statement, not two.
    contact_ids = (
        Contact.objects.filter(organization_id=customer.organization_id, customer=customer)
        .annotate(target=Cast("pk", CharField()))
        .values("target")
    )
    qs = AuditEntry.objects.filter(organization_id=actor.organization_id).filter(
        Q(target_type="customers.customer", target_id=str(customer.pk))
        | Q(target_type="customers.contact", target_id__in=contact_ids)
    )
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    entries = list(audit_selectors.for_timeline(qs).order_by("-created_at", "-seq")[:limit])
    owner_ids = set()
    for entry in entries:
        owner = (entry.changes or {}).get("owner")
        if isinstance(owner, dict):
            owner_ids.update(v for v in (owner.get("before"), owner.get("after")) if v)
    users = {}
    if owner_ids:
        from kehu.accounts.models import User

        users = {u.pk: str(u) for u in User.objects.filter(organization_id=actor.organization_id, pk__in=owner_ids)}
    items = []
    for entry in entries:
        model = Contact if entry.target_type == "customers.contact" else Customer
        title, icon = _title(entry.action, entry.target_label)
        changes = tuple(
            timeline.TimelineChange(
                field=_label(model, name),
                before=_display(model, name, change.get("before"), users, actor.organization_id),
                after=_display(model, name, change.get("after"), users, actor.organization_id),
            )
            for name, change in sorted((entry.changes or {}).items())
            if isinstance(change, dict) and set(change) == {"before", "after"}
        )
        items.append(
            timeline.TimelineItem(
                at=entry.created_at,
                kind=entry.action,
                title=title,
                actor=str(entry.actor) if entry.actor else entry.actor_label,
                icon=icon,
                changes=changes,
                body=AUDIT_BODIES[entry.action](entry.changes or {}) if entry.action in AUDIT_BODIES else "",
            )
        )
    return items


def customer_timeline(
    *, actor: Any, customer: Customer, limit: int = 50, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """Everything that happened to the customer, from every module the actor may see, newest first."""
    if not can(actor, "view", customer):
        raise NotFound()
    return timeline.collect(actor=actor, customer=customer, limit=limit, before=before)


# Global search ---------------------------------------------------------------------------------------


def search_provider(*, actor: Any, query: str, limit: int = 10) -> list[SearchHit]:
    """Customers (most relevant first), then the matching contacts of the customers found, for the global
    search box. Both come from the search backend (customers/search.py): three to five queries whatever
    the size of the organisation."""
    hits = []
    base = Customer.objects.visible_to(actor)
    # A few more candidates than shown: their contacts fill the remaining places.
    ids = customer_search.search_ids(base, query, limit=max(limit, customer_search.BOX_LIMIT) * 3)
    # Only what a hit shows (not the notes, custom values and search columns of ten customers).
    by_id = base.only("name", "short_name", "phone", "province", "city", "district").in_bulk(ids[:limit])
    for customer in (by_id[pk] for pk in ids[:limit] if pk in by_id):
        subtitle = " · ".join(part for part in (customer.short_name, customer.phone, customer.region) if part)
        hits.append(SearchHit(title=customer.name, subtitle=subtitle, url=customer.get_absolute_url(), kind="customer"))
    remaining = limit - len(hits)
    if remaining > 0 and ids:
        candidates = (
            Contact.objects.visible_to(actor)
            .filter(customer_id__in=ids)
            .select_related("customer")
            .only("name", "title", "phone", "phone_normalized", "email_normalized", "customer", "customer__name")
        )
        contacts = [c for c in candidates.order_by("-updated_at", "-pk") if customer_search.contact_matches(c, query)]
        for contact in contacts[:remaining]:
            subtitle = " · ".join(part for part in (contact.customer.name, contact.title, contact.phone) if part)
            hits.append(
                SearchHit(
                    title=contact.name,
                    subtitle=subtitle,
                    url=reverse("customers:detail", args=[contact.customer_id]),
                    kind="contact",
                )
            )
    return hits


# Public pool 公海, merge and purge (customers/pool.py, merge.py): their timeline titles, and a line of
# text from the entry's stored values (a release reason, the merged records) in the reader's language.
_TITLES.update(
    {
        "customer.claim": (gettext_noop("Claimed from the public pool"), "box-arrow-in-down"),
        "customer.release": (gettext_noop("Released to the public pool"), "box-arrow-up"),
        "customer.auto_return": (gettext_noop("Returned to the public pool automatically"), "hourglass-bottom"),
        "customer.merge": (gettext_noop("Merged duplicates into this customer"), "union"),
        "customer.merged_into": (gettext_noop("Merged into another customer"), "sign-merge-right"),
        "customer.purge": (gettext_noop("Deleted for good from the recycle bin"), "x-octagon"),
    }
)
# What the audit log and the home page call these actions (core.audit_labels): the timeline's titles that
# name no record, and the list-wide actions.
AUDIT_LABELS = {
    **{action: title for action, (title, _icon) in _TITLES.items() if "%(" not in title},
    "customers.export": gettext_noop("Exported customers"),
    "customers.import": gettext_noop("Imported customers"),
    "customers.pool_settings": gettext_noop("Changed the public pool rules"),
}
AUDIT_BODIES: dict[str, Any] = {}
