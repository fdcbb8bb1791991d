"""Every read of tickets, their conversation, queues and canned replies. Each starts from `visible_to(actor)`:
a ticket outside the actor's organisation or view (ticket_visibility) is never returned, and asking for it
by id is NotFound."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kehu.core import custom_fields, search_backends
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.core.search import Hits, SearchHit, bounded_hits
from kehu.customers import timeline
from kehu.customers.models import Contact, Customer, Tag
from kehu.service.ticket_models import (
    FAR_FUTURE,
    OPEN_STATUSES,
    AgentStatus,
    CannedReply,
    Queue,
    ServiceSettings,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketTag,
    search_grams_sql,
)
from kehu.service.ticket_services import TICKET_TYPE

DEFAULT_ORDERING = "-updated_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX_LENGTH = 100
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
# The only sort keys a list accepts, each an expression: the sort parameter never reaches SQL unchecked.
# "Time left" is resolution_due_at / first_response_due_at ascending; tickets without a due date come last.
ORDERINGS = {
    "updated_at": lambda: F("updated_at"),
    "created_at": lambda: F("created_at"),
    "number": lambda: F("number"),
    "priority": lambda: Case(
        *[When(priority=key, then=Value(rank)) for key, rank in PRIORITY_RANK.items()],
        default=Value(1),
        output_field=IntegerField(),
    ),
    "resolution_due_at": lambda: Coalesce("resolution_due_at", Value(FAR_FUTURE)),
    "first_response_due_at": lambda: Coalesce("first_response_due_at", Value(FAR_FUTURE)),
}
ORDERING_FIELDS = tuple(ORDERINGS)
DATETIME_KEYS = ("updated_at", "created_at", "resolution_due_at", "first_response_due_at")
STATUS_FILTERS = (*Ticket.Status.values, "active")  # "active": new, open or pending


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Filters --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilters:
    search: str = ""
    status: str = ""
    priority: str = ""
    kind: str = ""
    channel: str = ""
    queue: int | None = None
    assignee: str = ""  # "", "me", "unassigned" or a user id
    customer: int | None = None
    tag: int | None = None
    # Custom fields: {"custom.<key>" | "custom.<key>.min|max": value} (kehu.core.custom_fields.filter_q).
    custom: dict = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> TicketFilters:
        data = data or {}
        values = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            if hasattr(value, "pk"):
                value = value.pk
            if value not in (None, ""):
                values[name] = str(value) if name == "assignee" else value
        return cls(**values)


def ticket_queryset_for(*, actor: Any, filters: TicketFilters | dict | None = None) -> QuerySet[Ticket]:
    """The visible tickets matching `filters`, unordered and unpaginated (callers bound it)."""
    if not isinstance(filters, TicketFilters):
        filters = TicketFilters.from_mapping(filters)
    # "Mine" needs no scope test (every scope covers one's own tickets); its OR branches made PostgreSQL scan
    # all of an agent's tickets for "my tickets" (benchmarks/RESULTS.md, service at scale).
    qs = Ticket.objects.own_for(actor) if filters.assignee == "me" else Ticket.objects.visible_to(actor)
    return _filtered(qs, actor=actor, filters=filters)


def ticket_parts_for(*, actor: Any, filters: TicketFilters | dict | None = None) -> list[QuerySet[Ticket]]:
    """ticket_queryset_for(actor, filters) as querysets whose union it is (they may overlap): one per branch of
    the actor's scope (TicketQuerySet.visible_parts), each with every filter, for a search that walks each part
    newest first by its own index (newest_search_ids). One part when the scope has no branches to split."""
    if not isinstance(filters, TicketFilters):
        filters = TicketFilters.from_mapping(filters)
    parts = [] if filters.assignee == "me" else Ticket.objects.visible_parts(actor)
    if len(parts) < 2:
        return [ticket_queryset_for(actor=actor, filters=filters)]
    return [_filtered(part, actor=actor, filters=filters) for part in parts]


def newest_search_ids(
    *, actor: Any, filters: TicketFilters, limit: int, older_than: tuple[datetime, int] | None = None
) -> list[int]:
    """The ids of the newest `limit` tickets of ticket_queryset_for(actor, filters) (by updated_at, then id;
    after `older_than` = (updated_at, id) when given), for a search of 1-2 characters (_searches_short_fragment).

    No trigram holds the fragments Chinese users type (发票), so a plain statement tests every candidate's row,
    and PostgreSQL misjudges how many match (48 estimated, 5,647 real for an agent's 发票): it collected all of an agent's
    tickets (50,000: the OR of their scope's branches) and sorted the matches, 100+ ms. So, as the customers'
    search does (kehu.core.search_backends.walk_then_index), each part of the actor's scope is walked newest
    first by its own index (ticket_org_updated, ticket_org_owner_updated, ticket_org_unassigned), a bounded
    number of rows, stopping at `limit` matches: a common fragment ends there. When a walk cannot decide (a
    rare fragment: few matches in what it saw), the part's newest matches come from the grams' index
    (_gram_index_ids; PostgreSQL), or from one statement for that part (SQLite)."""
    condition = _search_q(filters)
    parts = ticket_parts_for(actor=actor, filters=replace(filters, search=""))
    if older_than is not None:
        parts = [search_backends.older_than(part, older_than) for part in parts]
    found: list[tuple] = []
    for part in parts:
        try:
            found += search_backends.walk_then_index(
                part.order_by(),
                condition,
                limit=limit,
                fields=("pk", "updated_at"),
                index=lambda part=part: _gram_index_ids(part.order_by(), condition, filters, limit=limit),
            )
        except EmptyResultSet:  # a part no row can match (nothing visible, an empty list of ids)
            continue
    return _newest_ids(found, limit)


def newest_walked_ids(*, actor: Any, filters: TicketFilters, limit: int) -> tuple[list[int], bool]:
    """The search box's bounded form of newest_search_ids: each part of the actor's scope walked among its
    newest rows only (search_backends.newest_walked), never the unbounded statement; and whether the walks saw
    every row of their parts (else older matches may exist: the box links to the list). A rare fragment made
    the general statement walk the organisation's every ticket: 2.3 s at 1,000,000 for the administrator."""
    condition = _search_q(filters)
    found: list[tuple] = []
    complete = True
    for part in ticket_parts_for(actor=actor, filters=replace(filters, search="")):
        try:
            rows, seen_all = search_backends.newest_walked(part, condition, limit=limit)
        except EmptyResultSet:  # a part no row can match
            continue
        found += rows
        complete = complete and seen_all
    return _newest_ids(found, limit), complete


# The index step reads every ticket of the part whose grams hold the fragment (~3 us each: 4,187 in 11 ms at
# 1,000,000); past this many (estimated), walking the part's newest tickets by recency finds a page of so
# common a fragment sooner (RESULTS.md, ticketgrams).
GRAM_STEP_MOST = 6000


def _gram_index_ids(part: QuerySet[Ticket], condition: Q, filters: TicketFilters, *, limit: int) -> list[tuple]:
    """(id, updated_at) of the newest `limit` tickets of `part` (a part of the actor's scope) matching the
    search's `condition`, when the part's walk could not decide (walk_then_index's index step). PostgreSQL:
    the tickets whose subject, requester's name or email hold the 1-2 characters, by the GIN index over their
    grams (ticket_search_grams), and the bare number's ticket, then `condition` decides: the same tickets as the
    condition alone. Else (SQLite; or a fragment the planner expects in more than GRAM_STEP_MOST of the part's
    tickets: at 1,000,000 the first 2,000 rows walked may show none of one in 2% of the tickets) one statement
    for the part's newest matches, which its index serves by recency."""
    search = filters.search.strip()[:SEARCH_MAX_LENGTH]
    number = _bare_number(search)
    rows = search_backends.get_backend(part.db).gram_matches(
        part,
        search_grams_sql(Ticket._meta.db_table),
        search,
        fold="upper",  # as the grams are, and as icontains compares
        limit=limit,
        also=None if number is None else Q(number=number),
        exact=condition,
        most=GRAM_STEP_MOST,
    )
    if rows is None:
        rows = list(part.filter(condition).order_by("-updated_at", "-pk").values_list("pk", "updated_at")[:limit])
    return rows


def _newest_ids(rows: list[tuple], limit: int) -> list[int]:
    """The ids of the newest `limit` of (id, updated_at) rows that several parts found (a ticket once)."""
    newest = {pk: search_backends.as_datetime(updated_at) for pk, updated_at in rows}
    ordered = sorted(newest.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return [pk for pk, _ in ordered[:limit]]


def _ticket_key(search: str) -> int | None:
    """The number of a search for a ticket key ("#123"), else None."""
    return _bare_number(search) if search.startswith("#") else None


def _searches_short_fragment(filters: TicketFilters) -> bool:
    """Whether `filters` search the subjects, emails and names for 1-2 characters (发票, 张), which the trigram
    indexes cannot serve: newest_search_ids walks the newest tickets for them (then the grams' index). Longer
    fragments are one statement through the trigram indexes (migration service/0006), "#123" through the
    number's."""
    search = filters.search.strip()[:SEARCH_MAX_LENGTH]
    return bool(search) and _ticket_key(search) is None and len(search) < search_backends.MIN_TRIGRAM_LENGTH


def _filtered(qs: QuerySet[Ticket], *, actor: Any, filters: TicketFilters) -> QuerySet[Ticket]:
    if filters.status == "active":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    for name in ("priority", "kind", "channel"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.queue:
        qs = qs.filter(queue_id=filters.queue)
    if filters.customer:
        qs = qs.filter(customer_id=filters.customer)
    if filters.assignee == "me":
        qs = qs.filter(owner_id=actor.pk)
    elif filters.assignee == "unassigned":
        qs = qs.filter(owner__isnull=True)
    elif filters.assignee:
        qs = qs.filter(owner_id=int(filters.assignee))
    if filters.tag:
        links = TicketTag.objects.filter(
            organization_id=actor.organization_id, tag_id=filters.tag, ticket_id=OuterRef("pk")
        )
        qs = qs.filter(Exists(links))
    if filters.custom:
        definitions = custom_fields.definitions_for(actor.organization_id, TICKET_TYPE)
        qs = qs.filter(custom_fields.filter_q(definitions, filters.custom))
    search = _search_q(filters)
    return qs if search is None else qs.filter(search)


def _search_q(filters: TicketFilters) -> Q | None:
    """The search's condition: "#123" the number alone (by the unique index, not a scan of every subject);
    anything else a fragment of the subject, the requester's email or name (and a number typed bare)."""
    search = filters.search.strip()[:SEARCH_MAX_LENGTH]
    if not search:
        return None
    number = _ticket_key(search)
    if number is not None:
        return Q(number=number)
    q = (
        Q(subject__icontains=search)
        | Q(requester_email__icontains=search.lower())
        | Q(requester_name__icontains=search)
    )
    number = _bare_number(search)
    if number is not None:
        q |= Q(number=number)
    return q


def _bare_number(search: str) -> int | None:
    """The ticket number a search also means when it is a number, with or without "#" (_search_q). Decimal
    digits only: "²" is a digit to isdigit() that int() refuses (it raised: a 500 for a search)."""
    term = search.lstrip("#")
    return int(term) if term.isdecimal() and len(term) <= 9 else None


# Keyset pages ---------------------------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Any]
    ordering: str
    next_cursor: str | None = None
    previous_cursor: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def parse_ordering(value: str | None) -> tuple[str, bool]:
    value = (value or DEFAULT_ORDERING).strip()
    name = value.removeprefix("-")
    if name not in ORDERINGS:
        allowed = ", ".join(ORDERING_FIELDS)
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": allowed}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _encode(direction: str, ordering: str, value: Any, pk: int) -> str:
    value = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"d": direction, "o": ordering, "v": value, "i": pk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, ordering: str, name: str) -> tuple[str, Any, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, value, pk = payload["d"], payload["v"], int(payload["i"])
        if direction not in ("n", "p") or payload["o"] != ordering:
            raise ValueError("cursor of another list")
        if name in DATETIME_KEYS:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int) or isinstance(value, bool):
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


def keyset_page(
    qs: QuerySet,
    *,
    ordering: str | None,
    cursor: str | None,
    limit: int,
    fetch: Callable[[QuerySet, list[int]], dict[int, Any]] | None = None,
    keys: list[int] | None = None,
) -> Page:
    """Rows after (or, for a "previous" cursor, before) the cursor's row, in `ordering` then id; no COUNT.
    `fetch(qs, ids)` reads the page's rows by id ({id: row}, each with its `sort_key`); by default the models.
    `keys`: the ids of the `limit` + 1 rows after the cursor, in that order, when the caller found them (a
    search's walk, newest_search_ids): the page's rows are read by them."""
    name, descending = parse_ordering(ordering)
    ordering = f"-{name}" if descending else name
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    qs = qs.annotate(sort_key=ORDERINGS[name]())
    backwards = False
    if cursor:
        direction, value, pk = _decode(cursor, ordering, name)
        backwards = direction == "p"
        fetch_descending = descending != backwards
        op = "lt" if fetch_descending else "gt"
        qs = qs.filter(Q(**{f"sort_key__{op}": value}) | Q(sort_key=value, **{f"pk__{op}": pk}))
    else:
        fetch_descending = descending
    order = ("-sort_key", "-pk") if fetch_descending else ("sort_key", "pk")
    # Two steps: the page's ids in order first, then those rows with their relations. The first is answered
    # from an index alone when one holds the sort key and the scope's columns (ticket_active_due,
    # ticket_org_updated), so the database does not read the full row of every candidate it passes over.
    if keys is None:
        keys = list(qs.order_by(*order).values_list("pk", flat=True)[: limit + 1])
    keys = keys[: limit + 1]
    found = (fetch(qs, keys) if fetch else qs.order_by().in_bulk(keys)) if keys else {}
    rows = [found[pk] for pk in keys if pk in found]
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    page = Page(items=rows, ordering=ordering, limit=limit)
    if rows:
        first, last = rows[0], rows[-1]
        if backwards:
            page.next_cursor = _encode("n", ordering, last.sort_key, last.pk)
            page.previous_cursor = _encode("p", ordering, first.sort_key, first.pk) if has_more else None
        else:
            page.next_cursor = _encode("n", ordering, last.sort_key, last.pk) if has_more else None
            page.previous_cursor = _encode("p", ordering, first.sort_key, first.pk) if cursor else None
    return page


# Tickets --------------------------------------------------------------------------------------------------


def with_list_relations(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return qs.select_related("owner", "queue", "customer", "contact").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


class TicketRef:
    """The assignee, queue, customer or contact of a list row: id and name (and e-mail), what lists show."""

    __slots__ = ("email", "name", "pk")

    def __init__(self, pk: int, name: str, email: str = "") -> None:
        self.pk, self.name, self.email = pk, name, email

    def __str__(self) -> str:  # as User, Queue, Customer and Contact print themselves
        return self.name


class TagRef:
    """A tag of a list row (the pill's id, name and colour)."""

    __slots__ = ("colour", "name", "pk")

    def __init__(self, pk: int, name: str, colour: str) -> None:
        self.pk, self.name, self.colour = pk, name, colour


class _TagList(list):
    def all(self) -> list[Any]:  # read as the model's `ticket.tags.all()`
        return self


# The columns a list row reads (the list's cells and the API's ticket_data), and of the relations only their
# names (and the assignee's e-mail).
ROW_FIELDS = (
    "id",
    "organization_id",
    "number",
    "subject",
    "kind",
    "priority",
    "channel",
    "status",
    "requester_email",
    "requester_name",
    "owner_id",
    "queue_id",
    "customer_id",
    "contact_id",
    "assignment_reason",
    "assigned_at",
    "custom",
    "first_responded_at",
    "first_response_due_at",
    "resolution_due_at",
    "resolved_at",
    "closed_at",
    "last_customer_message_at",
    "follow_up_of_id",
    "version",
    "created_at",
    "updated_at",
)
_ROW_RELATED = ("owner__name", "owner__email", "queue__name", "customer__name", "contact__name")


class TicketRow:
    """A ticket of a list page read with values(): its columns and its relations' names, no model instances
    (a page of 50 built some 250 models with every column of their assignee, queue, customer and contact,
    a fifth of the list's Python). It answers what the list's cells (ticket_list_rows) and the API's
    ticket_data read from a Ticket, under the same names."""

    __slots__ = (*ROW_FIELDS, "sort_key", "owner", "queue", "customer", "contact", "tags", "custom_shown")

    def __init__(self, values: dict[str, Any]) -> None:
        for name in ROW_FIELDS:
            setattr(self, name, values[name])
        self.sort_key = values["sort_key"]
        owner = values["owner_id"]
        self.owner = None if owner is None else TicketRef(owner, values["owner__name"], values["owner__email"])
        queue, customer, contact = values["queue_id"], values["customer_id"], values["contact_id"]
        self.queue = None if queue is None else TicketRef(queue, values["queue__name"])
        self.customer = None if customer is None else TicketRef(customer, values["customer__name"])
        self.contact = None if contact is None else TicketRef(contact, values["contact__name"])
        self.tags = _TagList()

    @property
    def pk(self) -> int:
        return self.id

    key = Ticket.key
    is_open = Ticket.is_open
    kind_label = Ticket.kind_label


def _list_rows(organization_id: int) -> Callable[[QuerySet, list[int]], dict[int, TicketRow]]:
    def fetch(qs: QuerySet, ids: list[int]) -> dict[int, TicketRow]:
        rows = {
            v["id"]: TicketRow(v)
            for v in qs.order_by().filter(pk__in=ids).values(*ROW_FIELDS, *_ROW_RELATED, "sort_key")
        }
        links = (
            TicketTag.objects.filter(organization_id=organization_id, ticket_id__in=ids)
            .order_by("tag__name")
            .values_list("ticket_id", "tag_id", "tag__name", "tag__colour")
        )
        for ticket_id, tag_id, name, colour in links:
            row = rows.get(ticket_id)
            if row is not None:
                row.tags.append(TagRef(tag_id, name, colour))
        return rows

    return fetch


def ticket_list_for(
    *,
    actor: Any,
    filters: TicketFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One page of the tickets the actor sees: filtered, sorted on the whitelist, keyset-paginated (three
    queries: the page's ids, their rows with the names of assignee, queue, customer and contact, and their
    tags; a search for 1-2 characters first walks each part of the actor's scope: newest_search_ids). The items
    are TicketRow: read-only rows for lists and the API's list, not Ticket models."""
    if not isinstance(filters, TicketFilters):
        filters = TicketFilters.from_mapping(filters)
    ordering = ordering or DEFAULT_ORDERING
    qs = ticket_queryset_for(actor=actor, filters=filters)
    keys = _searched_page_ids(actor=actor, filters=filters, ordering=ordering, cursor=cursor, limit=limit)
    return keyset_page(
        qs, ordering=ordering, cursor=cursor, limit=limit, fetch=_list_rows(actor.organization_id), keys=keys
    )


def _searched_page_ids(
    *, actor: Any, filters: TicketFilters, ordering: str, cursor: str | None, limit: int
) -> list[int] | None:
    """The ids of a searched list page, newest first (the default order) and forward: the `limit` + 1 newest
    matches after the cursor (newest_search_ids). None when the page reads them itself (no search of
    1-2 characters, another order, a "previous" link: one statement, as before)."""
    name, descending = parse_ordering(ordering)
    if not _searches_short_fragment(filters) or (name, descending) != ("updated_at", True):
        return None
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    older_than = None
    if cursor:
        direction, value, pk = _decode(cursor, f"-{name}", name)
        if direction != "n":
            return None
        older_than = (value, pk)
    return newest_search_ids(actor=actor, filters=filters, limit=limit + 1, older_than=older_than)


def tickets_with_relations_for(*, actor: Any) -> QuerySet[Ticket]:
    return with_list_relations(Ticket.objects.visible_to(actor))


def ticket_get_for(*, actor: Any, pk: Any) -> Ticket:
    qs = Ticket.objects.visible_to(actor).select_related(
        "owner__team", "queue", "customer__owner", "contact", "created_by", "follow_up_of"
    )
    return _get(qs.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name"))), pk)


def ticket_customer_get_for(*, actor: Any, pk: Any) -> Ticket:
    """A visible ticket with its customer only (the ticket page's customer timeline box needs no more)."""
    return _get(Ticket.objects.visible_to(actor).select_related("customer__owner__team"), pk)


def ticket_side_get_for(*, actor: Any, pk: Any) -> Ticket:
    """A visible ticket with its customer and assignee (the ticket page's side panels: the panels ask whether
    the actor may see the ticket, which reads its assignee's team), in one query."""
    return _get(Ticket.objects.visible_to(actor).select_related("customer__owner__team", "owner__team"), pk)


def follow_ups_for(*, actor: Any, ticket: Ticket, limit: int = 20) -> list[Ticket]:
    """The tickets the actor sees that customers' replies opened after `ticket` was closed, oldest first."""
    qs = Ticket.objects.visible_to(actor).filter(organization_id=ticket.organization_id, follow_up_of_id=ticket.pk)
    return list(qs.order_by("created_at", "pk")[:limit])


def ticket_deleted_get_for(*, actor: Any, pk: Any) -> Ticket:
    return _get(Ticket.objects.in_recycle_bin_for(actor).select_related("owner__team", "queue"), pk)


def ticket_recycle_bin_for(*, actor: Any) -> QuerySet[Ticket]:
    return Ticket.objects.in_recycle_bin_for(actor).select_related("owner", "updated_by", "queue")


def tickets_for_bulk(*, actor: Any, ids: list[Any]) -> list[Ticket]:
    try:
        pks = [int(pk) for pk in ids][:MAX_PAGE_SIZE]
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(_("Select tickets from the list."), fields={"ids": [_("Invalid id.")]}) from exc
    return list(Ticket.objects.visible_to(actor).filter(pk__in=pks).select_related("owner__team").order_by("pk"))


def ticket_messages_for(*, actor: Any, ticket: Ticket) -> list[TicketMessage]:
    """The conversation, oldest first, with authors and files (two queries)."""
    if not can(actor, "view", ticket):
        raise NotFound()
    return list(
        TicketMessage.objects.filter(organization_id=ticket.organization_id, ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=TicketAttachment.objects.order_by("pk")))
        .order_by("created_at", "pk")
    )


def message_list_for(*, actor: Any, ticket: int | None = None) -> QuerySet[TicketMessage]:
    qs = TicketMessage.objects.visible_to(actor).select_related("author", "ticket").prefetch_related("attachments")
    if ticket is not None:
        qs = qs.filter(ticket_id=ticket)
    return qs


def message_get_for(*, actor: Any, pk: Any) -> TicketMessage:
    return _get(message_list_for(actor=actor), pk)


def attachment_get_for(*, actor: Any, pk: Any) -> TicketAttachment:
    return _get(TicketAttachment.objects.visible_to(actor).select_related("ticket"), pk)


# The ticket page's history (from the audit log) -----------------------------------------------------------


HISTORY_TITLES = {
    "ticket.create": gettext_noop("Created the ticket"),
    "ticket.update": gettext_noop("Changed the ticket"),
    "ticket.assign": gettext_noop("Assigned"),
    "ticket.status": gettext_noop("Changed the status"),
    "ticket.delete": gettext_noop("Moved to the recycle bin"),
    "ticket.restore": gettext_noop("Restored from the recycle bin"),
    "ticket.sla_breach": gettext_noop("SLA breached"),
    "ticket.follow_up": gettext_noop("Followed up by a new ticket"),
}
# What the audit log and the home page call the service module's actions (core.audit_labels) where the verb
# alone says too little: the ticket history's titles, messages, agents, calendars, queues and surveys.
AUDIT_LABELS = {
    **HISTORY_TITLES,
    "ticket.reply": gettext_noop("Replied to the customer"),
    "ticket.note": gettext_noop("Added an internal note"),
    "ticket.customer_message": gettext_noop("The customer wrote"),
    "agent.away": gettext_noop("Changed their availability"),
    "calendar.apply_holidays": gettext_noop("Applied the public holidays"),
    "queue.new_web_address": gettext_noop("Gave the queue a new web address"),
    "service.settings": gettext_noop("Changed the service settings"),
    "survey.answer": gettext_noop("Answered a satisfaction survey"),
    "survey.comment": gettext_noop("Commented on a satisfaction survey"),
}
SLA_TARGETS = {"first_response": gettext_noop("first response"), "resolution": gettext_noop("resolution")}


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    action: str
    title: str
    actor: str
    text: str


def ticket_history_for(*, actor: Any, ticket: Ticket, limit: int = 50) -> list[HistoryItem]:
    """The ticket's changes (not its messages, which the conversation shows), newest first: who assigned
    it and why, status changes, edits."""
    from kehu.accounts.models import User
    from kehu.service.ticket_assignment import reason_label

    if not can(actor, "view", ticket):
        raise NotFound()
    entries = list(
        AuditEntry.objects.filter(
            organization_id=ticket.organization_id,
            target_type="service.ticket",
            target_id=str(ticket.pk),
            action__in=list(HISTORY_TITLES),
        )
        .select_related("actor")
        .order_by("-created_at", "-seq")[:limit]
    )
    user_ids = set()
    for entry in entries:
        owner = (entry.changes or {}).get("owner")
        if isinstance(owner, dict):
            user_ids.update(v for v in (owner.get("before"), owner.get("after")) if v)
    users = {u.pk: str(u) for u in User.objects.filter(organization_id=ticket.organization_id, pk__in=user_ids)}
    statuses = dict(Ticket.Status.choices)
    items = []
    for entry in entries:
        changes = entry.changes or {}
        parts = []
        if entry.action == "ticket.assign":
            after = (changes.get("owner") or {}).get("after")
            parts.append(users.get(after, _("nobody")) if after else _("back to the queue"))
            if changes.get("reason"):
                parts.append(_("why: %(reason)s") % {"reason": reason_label(changes["reason"])})
        elif entry.action == "ticket.status":
            status = changes.get("status") or {}
            parts.append(f"{statuses.get(status.get('before'), '—')} → {statuses.get(status.get('after'), '—')}")
            if changes.get("why") == "customer_replied":
                parts.append(_("the customer replied"))
            elif changes.get("why") == "auto_close":
                parts.append(
                    _("closed automatically: no reply from the customer for %(days)s days")
                    % {"days": changes.get("days", "?")}
                )
        elif entry.action == "ticket.sla_breach":
            target = SLA_TARGETS.get(changes.get("target"))
            parts.append(_(target) if target else "")
        elif entry.action == "ticket.create" and changes.get("follow_up_of"):
            parts.append(_("follow-up of #%(number)s") % {"number": changes["follow_up_of"]})
        elif entry.action == "ticket.follow_up":
            parts.append(f"#{changes.get('number', '?')}")
        elif entry.action == "ticket.update":
            parts.append(", ".join(_field_label(name) for name in sorted(changes)))
        items.append(
            HistoryItem(
                at=entry.created_at,
                action=entry.action,
                title=_(HISTORY_TITLES[entry.action]),
                actor=str(entry.actor) if entry.actor else entry.actor_label,
                text=" · ".join(p for p in parts if p),
            )
        )
    return items


def _field_label(name: str) -> str:
    if name.startswith("custom."):
        return name.removeprefix("custom.")
    try:
        return str(Ticket._meta.get_field(name).verbose_name)
    except Exception:
        return name


# Beside the ticket: the customer ---------------------------------------------------------------------------


def customer_contacts_for(*, actor: Any, ticket: Ticket) -> list[Contact]:
    if not ticket.customer_id or not can(actor, "view", Contact):
        return []
    return list(
        Contact.objects.visible_to(actor).filter(customer_id=ticket.customer_id).order_by("-is_primary", "name")[:20]
    )


def past_tickets_for(*, actor: Any, ticket: Ticket, limit: int = 10) -> list[Ticket]:
    """The customer's (else the requester's) other tickets the actor sees, newest first: what the ticket page
    lists of them (number, subject, status, when), not their whole rows."""
    qs = Ticket.objects.visible_to(actor).exclude(pk=ticket.pk)
    if ticket.customer_id:
        qs = qs.filter(customer_id=ticket.customer_id)
    elif ticket.requester_email:
        qs = qs.filter(requester_email=ticket.requester_email)
    else:
        return []
    fields = ("id", "organization_id", "number", "subject", "status", "created_at")
    return list(qs.only(*fields).order_by("-created_at", "-pk")[:limit])


def customer_orders_for(*, actor: Any, ticket: Ticket, limit: int = 5) -> list[Any] | None:
    """The customer's orders, when the sales module has orders (topic "commerce") and the actor may see
    them; None when there is nothing to show a panel for."""
    if not ticket.customer_id or not apps.is_installed("kehu.sales"):
        return None
    try:
        order_model = apps.get_model("sales", "Order")
    except LookupError:
        return None
    if not can(actor, "view", order_model) or not hasattr(order_model.objects, "visible_to"):
        return None
    try:
        order_model._meta.get_field("customer")
    except Exception:
        return None
    return list(order_model.objects.visible_to(actor).filter(customer_id=ticket.customer_id).order_by("-pk")[:limit])


def customer_timeline_shown(*, actor: Any, ticket: Ticket) -> bool:
    """Whether the ticket page has a customer timeline to show (no query: the ticket carries its customer)."""
    return bool(ticket.customer_id and ticket.customer is not None and can(actor, "view", ticket.customer))


def customer_timeline_for(*, actor: Any, ticket: Ticket, limit: int = 10) -> list[timeline.TimelineItem]:
    if not customer_timeline_shown(actor=actor, ticket=ticket):
        return []
    return timeline.collect(actor=actor, customer=ticket.customer, limit=limit)


def customer_ticket_rows(organization_id: Any, customer_id: Any) -> QuerySet[Ticket]:
    """What customer_ticket_timeline can show at most (timeline.register's `exists`): the customer's tickets."""
    return Ticket.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


def customer_ticket_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The customer timeline's provider: one item per ticket the actor sees (when it was opened)."""
    qs = Ticket.objects.visible_to(actor).filter(customer_id=customer.pk)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    items = []
    for ticket in qs.select_related("owner", "created_by").order_by("-created_at", "-pk")[:limit]:
        items.append(
            timeline.TimelineItem(
                at=ticket.created_at,
                kind="ticket.create",
                title=_("Ticket #%(number)s: %(subject)s") % {"number": ticket.number, "subject": ticket.subject},
                actor=str(ticket.created_by) if ticket.created_by else ticket.requester_name or ticket.requester_email,
                body=" · ".join(
                    str(p)
                    for p in (
                        ticket.get_status_display(),
                        ticket.kind_label,
                        ticket.get_channel_display(),
                        ticket.owner,
                    )
                    if p
                ),
                url=ticket.get_absolute_url(),
                icon="headset",
                module="service",
            )
        )
    return items


# Global search ---------------------------------------------------------------------------------------------


def search_provider(*, actor: Any, query: str, limit: int = 10) -> Hits:
    """The newest matching tickets. For 1-2 characters, each part of the actor's scope is walked among its
    newest tickets only (newest_walked_ids); when that did not see them all, the group links to the list, which
    searches every ticket (as the quotes' and orders' groups do)."""
    filters = TicketFilters(search=query)
    qs = ticket_queryset_for(actor=actor, filters=filters).select_related("customer")
    complete = True
    if _searches_short_fragment(filters):
        ids, complete = newest_walked_ids(actor=actor, filters=filters, limit=limit)
        found = qs.in_bulk(ids)
        tickets = [found[pk] for pk in ids if pk in found]
    else:
        tickets = list(qs.order_by("-updated_at", "-pk")[:limit])
    hits = []
    for ticket in tickets:
        subtitle = " · ".join(
            p
            for p in (
                ticket.get_status_display(),
                ticket.customer.name if ticket.customer else "",
                ticket.requester_email,
            )
            if p
        )
        hits.append(SearchHit(title=str(ticket), subtitle=subtitle, url=ticket.get_absolute_url(), kind="ticket"))
    return bounded_hits(hits, complete=complete, list_url=reverse("service:ticket_list"), query=query)


# Queues, canned replies, agents ---------------------------------------------------------------------------


def queue_list_for(*, actor: Any) -> QuerySet[Queue]:
    return Queue.objects.visible_to(actor).select_related("manager").prefetch_related("members").order_by("name", "pk")


def queue_choices_for(*, actor: Any) -> list[tuple[int, str]]:
    """(id, name) of the queues the actor sees, for a filter: without the managers and members that
    queue_list_for reads for the queue pages."""
    return list(Queue.objects.visible_to(actor).order_by("name", "pk").values_list("pk", "name"))


def queue_get_for(*, actor: Any, pk: Any) -> Queue:
    return _get(queue_list_for(actor=actor), pk)


def queue_by_token(token: str) -> Queue | None:
    """The queue behind a public web-form address (platform-wide: the token is the secret)."""
    if not token or len(token) > 64:
        return None
    return (
        Queue.objects.dangerously_all_organizations()
        .select_related("organization")
        .filter(web_token=token, web_form_enabled=True, is_active=True)
        .first()
    )


def canned_list_for(*, actor: Any) -> QuerySet[CannedReply]:
    return CannedReply.objects.visible_to(actor).order_by("title", "pk")


def canned_get_for(*, actor: Any, pk: Any) -> CannedReply:
    return _get(canned_list_for(actor=actor), pk)


def assignee_choices_for(*, actor: Any) -> list[Any]:
    """Active colleagues who work on tickets: who a ticket can be assigned to."""
    from kehu.accounts.models import User

    users = User.objects.visible_to(actor).filter(is_active=True).select_related("role", "organization")
    # Active colleagues of one organisation with the same role get the same answer: ask once per role.
    by_role: dict[Any, bool] = {}
    chosen = []
    for user in users.order_by("name", "email"):
        if user.role_id not in by_role:
            by_role[user.role_id] = can(user, "edit", Ticket)
        if by_role[user.role_id]:
            chosen.append(user)
    return chosen


def assignee_refs_for(*, actor: Any) -> list[TicketRef]:
    """assignee_choices_for as (id, name) for the pages' pickers, without a User model per colleague (with
    their role and organisation: some 190 models on every list and ticket page of a manager). "May edit
    tickets" is asked once per role, of a user of that role in the actor's organisation."""
    from kehu.accounts.models import Role, User

    rows = (
        User.objects.visible_to(actor)
        .filter(is_active=True)
        .order_by("name", "email")
        .values_list("pk", "name", "role_id", "role__permissions")
    )
    by_role: dict[Any, bool] = {}
    chosen = []
    for pk, name, role_id, permissions in rows:
        if role_id not in by_role:
            probe = User(organization=actor.organization, is_active=True)
            if role_id is not None:
                probe.role = Role(pk=role_id, organization_id=actor.organization_id, permissions=permissions)
            by_role[role_id] = can(probe, "edit", Ticket)
        if by_role[role_id]:
            chosen.append(TicketRef(pk, name))
    return chosen


def agent_status_list_for(*, actor: Any) -> QuerySet[AgentStatus]:
    return AgentStatus.objects.visible_to(actor).select_related("user").order_by("user__name", "pk")


def agent_status_for(*, actor: Any) -> AgentStatus | None:
    return AgentStatus.objects.filter(organization_id=actor.organization_id, user_id=actor.pk).first()


def ticket_url_for_message(message: TicketMessage) -> str:
    return reverse("service:ticket_detail", args=[message.ticket_id]) + f"#message-{message.pk}"


def service_settings_for(*, organization_id: int) -> ServiceSettings:
    """The organisation's saved service settings, or the defaults (unsaved) when nobody saved them yet."""
    found = ServiceSettings.objects.filter(organization_id=organization_id).first()
    return found or ServiceSettings(organization_id=organization_id)
