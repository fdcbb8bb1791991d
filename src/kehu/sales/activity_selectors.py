"""Reads of activities: lists, one record, "my day", the calendar, the customer timeline, and the choices
the forms offer. Every read starts from `visible_to(actor)`. Days are the organisation's days: "today",
the calendar's grid and the list's date filters are cut in the organisation's time zone.
"""

from __future__ import annotations

import base64
import binascii
import calendar as pycalendar
import json
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Case, F, Q, QuerySet, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.permissions import Scope
from kehu.customers import timeline
from kehu.customers.models import Customer
from kehu.sales.activity_models import Activity, scope_owner_ids
from kehu.sales.models import Lead, Opportunity

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ORDERING_FIELDS = ("scheduled_at", "created_at", "updated_at")
DEFAULT_ORDERING = "-scheduled_at"
# Rows per bucket on the "my day" page (the API pages through everything). Building the rows is most of the
# page's Python: 100 a bucket meant up to 400 rows (1.1–2 s p95 under load, benchmarks/RESULTS.md); a full
# bucket links to the activity list, which pages.
MY_DAY_BUCKET_LIMIT = 25
UPCOMING_DAYS = 7
CALENDAR_LIMIT = 1000  # activities on one calendar page (a month of a large team)
MONTH_CELL_ITEMS = 3
CHOICES_LIMIT = 100
RECYCLE_BIN_LIMIT = 100
RELATED = ("owner", "customer", "contact", "lead", "opportunity")
LINKS = ("customer", "contact", "lead", "opportunity")


def org_timezone(organization: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(organization, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def day_start(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Records ---------------------------------------------------------------------------------------------------


def activity_list_for(*, actor: Any) -> QuerySet[Activity]:
    """The activities the actor may see, with what a row shows loaded up front."""
    return Activity.objects.visible_to(actor).select_related(*RELATED)


def activity_get_for(*, actor: Any, pk: Any) -> Activity:
    return _get(activity_list_for(actor=actor).select_related("created_by", "updated_by", "owner__team"), pk)


def activity_recycle_bin_for(*, actor: Any) -> QuerySet[Activity]:
    return Activity.objects.in_recycle_bin_for(actor).select_related(*RELATED, "updated_by")


def activity_deleted_get_for(*, actor: Any, pk: Any) -> Activity:
    return _get(activity_recycle_bin_for(actor=actor), pk)


def activities_for(
    *,
    actor: Any,
    customer: Customer | int | None = None,
    lead: Lead | int | None = None,
    opportunity: Opportunity | int | None = None,
    contact: Any = None,
) -> QuerySet[Activity]:
    """The visible activities of one customer, lead, opportunity or contact (for their pages): newest
    first by when they are due. Give exactly the record(s) to filter by. A customer given as the instance the
    caller read is asked for with what its row says (ActivityQuerySet.visible_on_customer: its page's timeline
    and panel), an id through the general rule."""
    if isinstance(customer, Customer):
        qs = Activity.objects.visible_on_customer(actor, customer).select_related(*RELATED)
        customer = None
    else:
        qs = activity_list_for(actor=actor)
    for name, record in (("customer", customer), ("lead", lead), ("opportunity", opportunity), ("contact", contact)):
        if record is not None:
            qs = qs.filter(**{f"{name}_id": getattr(record, "pk", record)})
    return qs.order_by("-scheduled_at", "-pk")


# Lists -----------------------------------------------------------------------------------------------------


@dataclass
class ActivityFilters:
    kind: str = ""
    status: str = ""
    owner: int | None = None
    customer: int | None = None
    contact: int | None = None
    lead: int | None = None
    opportunity: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    search: str = ""

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> ActivityFilters:
        data = data or {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v not in (None, "")})

    def __bool__(self) -> bool:
        return any(getattr(self, name) not in (None, "", False) for name in self.__dataclass_fields__)


def activity_queryset_for(*, actor: Any, filters: ActivityFilters | dict | None = None, now: Any = None) -> QuerySet:
    if not isinstance(filters, ActivityFilters):
        filters = ActivityFilters.from_mapping(filters)
    qs = activity_list_for(actor=actor)
    for name in ("kind", "status"):
        if getattr(filters, name):
            qs = qs.filter(**{name: getattr(filters, name)})
    for name in ("owner", "customer", "contact", "lead", "opportunity"):
        if getattr(filters, name):
            qs = qs.filter(**{f"{name}_id": getattr(filters, name)})
    tz = org_timezone(actor.organization)
    if filters.date_from:
        qs = qs.filter(scheduled_at__gte=day_start(filters.date_from, tz))
    if filters.date_to:
        qs = qs.filter(scheduled_at__lt=day_start(filters.date_to + timedelta(days=1), tz))
    if filters.overdue:
        qs = qs.filter(status=Activity.Status.PLANNED, scheduled_at__lt=now or timezone.now())
    if filters.search.strip():
        text = filters.search.strip()
        qs = qs.filter(Q(subject__icontains=text) | Q(customer__name__icontains=text))
    return qs


@dataclass
class Page:
    """One keyset page: no COUNT; cursors are opaque."""

    items: list[Any]
    ordering: str
    next_cursor: str | None = None
    previous_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def parse_ordering(value: str | None) -> tuple[str, bool]:
    value = (value or DEFAULT_ORDERING).strip()
    name = value.removeprefix("-")
    if name not in ORDERING_FIELDS:
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": ", ".join(ORDERING_FIELDS)}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _encode(direction: str, ordering: str, obj: Any, name: str) -> str:
    payload = {"d": direction, "o": ordering, "v": getattr(obj, name).isoformat(), "i": obj.pk}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str) -> tuple[str, datetime, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, value, pk = payload["d"], datetime.fromisoformat(payload["v"]), int(payload["i"])
        if direction not in ("n", "p") or payload["o"] != ordering:
            raise ValueError("a cursor of another list")
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return direction, value, pk


def activity_page_for(
    *,
    actor: Any,
    filters: ActivityFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One page of the list (UI): filtered, sorted on the whitelist, keyset-paginated, one query."""
    name, descending = parse_ordering(ordering)
    ordering = f"-{name}" if descending else name
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    qs = activity_queryset_for(actor=actor, filters=filters)
    backwards = False
    fetch_descending = descending
    if cursor:
        direction, value, pk = _decode(cursor, ordering)
        backwards = direction == "p"
        fetch_descending = descending != backwards
        op = "lt" if fetch_descending else "gt"
        qs = qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk}))
    order = (f"-{name}", "-pk") if fetch_descending else (name, "pk")
    rows = list(qs.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    page = Page(items=rows, ordering=ordering)
    if rows:
        if backwards:
            page.next_cursor = _encode("n", ordering, rows[-1], name)
            page.previous_cursor = _encode("p", ordering, rows[0], name) if has_more else None
        else:
            page.next_cursor = _encode("n", ordering, rows[-1], name) if has_more else None
            page.previous_cursor = _encode("p", ordering, rows[0], name) if cursor else None
    return page


# My day ----------------------------------------------------------------------------------------------------


@dataclass
class MyDay:
    today: date
    now: datetime
    overdue: list[Activity]
    due_today: list[Activity]
    done_today: list[Activity]
    upcoming: list[Activity]
    limit: int = MY_DAY_BUCKET_LIMIT

    @property
    def upcoming_until(self) -> date:
        """The last day of the upcoming window (the activity list's date_to for "see all")."""
        return self.today + timedelta(days=UPCOMING_DAYS)

    @property
    def tomorrow(self) -> date:
        return self.today + timedelta(days=1)

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_today or self.done_today or self.upcoming)


def my_day_bounds(organization: Any, now: datetime) -> tuple[date, datetime, datetime, datetime]:
    """(today, start of today, start of tomorrow, end of the upcoming window) in the organisation's zone."""
    tz = org_timezone(organization)
    today = timezone.localtime(now, tz).date()
    start = day_start(today, tz)
    tomorrow = day_start(today + timedelta(days=1), tz)
    return today, start, tomorrow, day_start(today + timedelta(days=1 + UPCOMING_DAYS), tz)


MY_DAY_BUCKETS = ("overdue", "today", "upcoming", "done_today")


def _my_own(actor: Any) -> QuerySet[Activity]:
    """The actor's own activities with what a row shows (and the edit check reads: the owner's team)."""
    return Activity.objects.own_for(actor).select_related(*RELATED, "owner__team")


def _row_fields() -> tuple[str, ...]:
    """What "my day"'s rows read (activity_rows.py, the edit check): the activity whole; of the customer,
    contact, lead and opportunity what their names print and the edit check reads (owner, deletion). Those
    four came whole, every column, JSON and dates included, for up to 400 rows: a third of the page's Python.
    The owner is the actor (my_day_for puts it on each row), not joined."""
    return (
        *(f.name for f in Activity._meta.concrete_fields),
        *(f"{link}__{name}" for link in LINKS for name in ("name", "organization", "owner", "deleted_at")),
        "lead__company",
    )


def bucket_of(activity: Activity, *, now: datetime, tomorrow: datetime) -> str:
    if activity.status == Activity.Status.DONE:
        return "done_today"
    if activity.scheduled_at < now:
        return "overdue"
    return "today" if activity.scheduled_at < tomorrow else "upcoming"


def my_day_for(*, actor: Any, now: datetime | None = None) -> MyDay:
    """The actor's day, one query per bucket: overdue (planned, time passed), today (planned for the rest
    of today), done today, upcoming (the next seven days). Each is an ordered scan of the owner's index
    (act_org_owner_sched, act_org_owner_done), at most MY_DAY_BUCKET_LIMIT items."""
    now = now or timezone.now()
    today, start, tomorrow, window_end = my_day_bounds(actor.organization, now)
    # Every row's owner is the actor (loaded with its team by the auth backend): joining the owner and its
    # team again read two more objects of every column per row for nothing.
    mine = Activity.objects.own_for(actor).select_related(*LINKS).only(*_row_fields())
    planned = mine.filter(status=Activity.Status.PLANNED)
    cap = MY_DAY_BUCKET_LIMIT
    day = MyDay(
        limit=cap,
        today=today,
        now=now,
        overdue=list(planned.filter(scheduled_at__lt=now).order_by("scheduled_at", "pk")[:cap]),
        due_today=list(
            planned.filter(scheduled_at__gte=now, scheduled_at__lt=tomorrow).order_by("scheduled_at", "pk")[:cap]
        ),
        done_today=list(
            mine.filter(status=Activity.Status.DONE, done_at__gte=start, done_at__lte=now).order_by("-done_at", "-pk")[
                :cap
            ]
        ),
        upcoming=list(
            planned.filter(scheduled_at__gte=tomorrow, scheduled_at__lt=window_end).order_by("scheduled_at", "pk")[:cap]
        ),
    )
    for bucket in (day.overdue, day.due_today, day.done_today, day.upcoming):
        for activity in bucket:
            activity.owner = actor
    return day


def _my_day_cursor(stream: str, value: datetime, pk: int) -> str:
    raw = json.dumps({"s": stream, "v": value.isoformat(), "i": pk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _my_day_position(cursor: str) -> tuple[str, datetime, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        stream, value, pk = payload["s"], datetime.fromisoformat(payload["v"]), int(payload["i"])
        if stream not in ("planned", "done") or value.tzinfo is None:
            raise ValueError("a cursor of another list")
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error) as exc:  # JSON and UTF-8 errors too
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return stream, value, pk


def my_day_page_for(
    *,
    actor: Any,
    now: datetime | None = None,
    bucket: str = "",
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One keyset page of the actor's day, bucket after bucket (the API's /my-day/): the planned ones up to
    the end of the upcoming window soonest first (overdue, then today, then upcoming: consecutive ranges of
    one ordered scan of act_org_owner_sched), then what they finished today, latest first (act_org_owner_done).
    `bucket` keeps one of MY_DAY_BUCKETS. At most two queries a page.

    One query for both (`planned OR done today`, by time) could use neither index: PostgreSQL walked two
    years of the organisation's activities by time and filtered by owner (4–7 s at 2,000,000 activities)."""
    now = now or timezone.now()
    limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    _today, start, tomorrow, window_end = my_day_bounds(actor.organization, now)
    if bucket and bucket not in MY_DAY_BUCKETS:
        message = _("Choose one of: %(choices)s.") % {"choices": ", ".join(MY_DAY_BUCKETS)}
        raise ValidationFailed(message, fields={"bucket": [message]})
    lower, upper = {
        "overdue": (None, now),
        "today": (now, tomorrow),
        "upcoming": (tomorrow, window_end),
    }.get(bucket, (None, window_end))
    stream, value, pk = _my_day_position(cursor) if cursor else ("planned", None, None)
    mine = _my_own(actor)
    rows: list[Activity] = []
    if stream == "planned" and bucket != "done_today":
        planned = mine.filter(status=Activity.Status.PLANNED, scheduled_at__lt=upper)
        if lower is not None:
            planned = planned.filter(scheduled_at__gte=lower)
        if value is not None:
            planned = planned.filter(Q(scheduled_at__gt=value) | Q(scheduled_at=value, pk__gt=pk))
        rows = list(planned.order_by("scheduled_at", "pk")[: limit + 1])
        value = None
    if len(rows) <= limit and (not bucket or bucket == "done_today"):
        done = mine.filter(status=Activity.Status.DONE, done_at__gte=start, done_at__lte=now)
        if value is not None:
            done = done.filter(Q(done_at__lt=value) | Q(done_at=value, pk__lt=pk))
        rows += list(done.order_by("-done_at", "-pk")[: limit + 1 - len(rows)])
    page = Page(items=rows[:limit], ordering="my_day", extra={"now": now, "tomorrow": tomorrow})
    if len(rows) > limit:
        last = rows[limit - 1]
        if last.status == Activity.Status.DONE:
            page.next_cursor = _my_day_cursor("done", last.done_at, last.pk)
        else:
            page.next_cursor = _my_day_cursor("planned", last.scheduled_at, last.pk)
    return page


# Calendar --------------------------------------------------------------------------------------------------

CALENDAR_VIEWS = ("month", "week", "day")


@dataclass
class CalendarDay:
    day: date
    items: list[Activity] = field(default_factory=list)
    in_range: bool = True
    is_today: bool = False

    @property
    def shown(self) -> list[Activity]:
        return self.items[:MONTH_CELL_ITEMS]

    @property
    def more(self) -> int:
        return max(0, len(self.items) - MONTH_CELL_ITEMS)


@dataclass
class Calendar:
    view: str
    anchor: date
    start: date
    end: date  # exclusive
    today: date
    previous: date
    next: date
    days: list[CalendarDay]
    truncated: bool = False

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def weeks(self) -> list[list[CalendarDay]]:
        return [self.days[i : i + 7] for i in range(0, len(self.days), 7)]

    @property
    def hours(self) -> list[tuple[int, list[Activity]]]:
        """The day view: (hour, activities starting in that hour) for every hour that has one, and the
        working hours 8 to 18 always."""
        by_hour: dict[int, list[Activity]] = {}
        for activity in self.days[0].items if self.days else []:
            by_hour.setdefault(timezone.localtime(activity.calendar_at).hour, []).append(activity)
        hours = sorted(set(range(8, 19)) | set(by_hour))
        return [(hour, by_hour.get(hour, [])) for hour in hours]


def calendar_range(view: str, anchor: date) -> tuple[date, date, date, date]:
    """(first day shown, day after the last, previous anchor, next anchor). Weeks start on Monday."""
    if view == "day":
        return anchor, anchor + timedelta(days=1), anchor - timedelta(days=1), anchor + timedelta(days=1)
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=7), anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    last = first.replace(day=pycalendar.monthrange(first.year, first.month)[1])
    end = last + timedelta(days=7 - last.weekday())
    previous = (first - timedelta(days=1)).replace(day=1)
    following = last + timedelta(days=1)
    return start, end, previous, following


def calendar_for(
    *, actor: Any, view: str, anchor: date, owner: Any = None, everyone: bool = False, now: datetime | None = None
) -> Calendar:
    """The month, week or day around `anchor` in the organisation's zone: the actor's activities, or
    (managers) one colleague's (`owner`) or everyone's they may see (`everyone`). Cancelled ones are left
    out. Placed at their time, or a task without one at its due date."""
    if view not in CALENDAR_VIEWS:
        view = "month"
    tz = org_timezone(actor.organization)
    now = now or timezone.now()
    start, end, previous, following = calendar_range(view, anchor)
    lower, upper = day_start(start, tz), day_start(end, tz)
    qs = activity_list_for(actor=actor).exclude(status=Activity.Status.CANCELLED)
    if not everyone:
        qs = qs.filter(owner=owner or actor)
    qs = qs.filter(
        Q(starts_at__gte=lower, starts_at__lt=upper) | Q(starts_at__isnull=True, due_at__gte=lower, due_at__lt=upper)
    )
    rows = list(
        qs.annotate(
            calendar_time=Case(When(starts_at__isnull=False, then=F("starts_at")), default=F("due_at"))
        ).order_by("calendar_time", "pk")[: CALENDAR_LIMIT + 1]
    )
    today = timezone.localtime(now, tz).date()
    days = []
    cursor = start
    while cursor < end:
        in_range = view != "month" or cursor.month == anchor.month
        days.append(CalendarDay(day=cursor, in_range=in_range, is_today=cursor == today))
        cursor += timedelta(days=1)
    by_day = {d.day: d for d in days}
    for activity in rows[:CALENDAR_LIMIT]:
        local = timezone.localtime(activity.calendar_at, tz).date()
        if local in by_day:
            by_day[local].items.append(activity)
    return Calendar(
        view=view,
        anchor=anchor,
        start=start,
        end=end,
        today=today,
        previous=previous,
        next=following,
        days=days,
        truncated=len(rows) > CALENDAR_LIMIT,
    )


# Choices for forms and filters -----------------------------------------------------------------------------


def sees_colleagues(actor: Any) -> bool:
    """Does the actor's sales scope reach beyond their own records (a manager's team, the organisation)?"""
    scope = actor.grant_for(Activity.module).scope
    return scope == Scope.ORGANIZATION or (scope in (Scope.TEAM, Scope.TEAM_TREE) and actor.team_id is not None)


def owner_choices_for(*, actor: Any) -> list[Any]:
    """The active colleagues whose activities the actor's scope covers (the owner filter and the calendar's
    user picker), the actor first."""
    from kehu.accounts.models import User

    ids = scope_owner_ids(actor, actor.grant_for(Activity.module).scope)
    qs = User.objects.filter(organization_id=actor.organization_id, is_active=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    users = list(qs.order_by("name", "email"))
    return sorted(users, key=lambda u: u.pk != actor.pk)


def assignee_choices_for(*, actor: Any) -> list[Any]:
    """Whom the actor may give an activity to: active colleagues with sales (the actor first)."""
    from kehu.accounts.models import User
    from kehu.core.permissions import can

    users = User.objects.filter(organization_id=actor.organization_id, is_active=True).select_related(
        "role", "organization"
    )
    return sorted(
        (u for u in users.order_by("name", "email") if can(u, "view", Activity)), key=lambda u: u.pk != actor.pk
    )


def customer_choices_for(*, actor: Any, query: str = "", limit: int = CHOICES_LIMIT) -> list[Customer]:
    """Customers the actor may open (their scope and the public pool), recently changed first, whose name
    contains `query`."""
    from kehu.customers.pool_selectors import customers_visible_or_pool_for

    qs = customers_visible_or_pool_for(actor)
    query = (query or "").strip()[:100]
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(short_name__icontains=query))
    return list(qs.order_by("-updated_at", "-pk").only("pk", "name")[:limit])


def contact_choices_for(*, actor: Any, customer: Customer | int | None) -> list[Any]:
    from kehu.customers.selectors import contact_list_for, customer_contacts_for

    if not customer:
        return []
    if isinstance(customer, Customer):  # a customer's page: the contacts it has already read
        return customer_contacts_for(actor=actor, customer=customer)[:CHOICES_LIMIT]
    return list(contact_list_for(actor=actor, customer=customer).order_by("-is_primary", "name")[:CHOICES_LIMIT])


def opportunity_choices_for(*, actor: Any, customer: Customer | int | None = None) -> list[Opportunity]:
    qs = Opportunity.objects.visible_to(actor).filter(status=Opportunity.Status.OPEN).select_related("customer")
    if customer:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    return list(qs.order_by("-updated_at", "-pk")[:CHOICES_LIMIT])


def lead_choices_for(*, actor: Any) -> list[Lead]:
    qs = Lead.objects.visible_to(actor).exclude(status=Lead.Status.CONVERTED)
    return list(qs.order_by("-updated_at", "-pk")[:CHOICES_LIMIT])


def record_get_for(*, actor: Any, model: type, pk: Any) -> Any:
    """A customer, contact, lead or opportunity the actor may see, by id (a form's or the API's input)."""
    from kehu.customers import selectors as customer_selectors

    if model is Customer:
        return customer_selectors.customer_get_for(actor=actor, pk=pk)
    if model.__name__ == "Contact":
        return customer_selectors.contact_get_for(actor=actor, pk=pk)
    return _get(model.objects.visible_to(actor), pk)


def lead_get_for(*, actor: Any, pk: Any) -> Lead:
    return record_get_for(actor=actor, model=Lead, pk=pk)


def opportunity_get_for(*, actor: Any, pk: Any) -> Opportunity:
    return record_get_for(actor=actor, model=Opportunity, pk=pk)


# Timeline --------------------------------------------------------------------------------------------------


def _timeline_title(activity: Activity, tz: zoneinfo.ZoneInfo) -> str:
    kind = activity.get_kind_display()
    if activity.status == Activity.Status.DONE:
        return _("%(kind)s: %(subject)s") % {"kind": kind, "subject": activity.subject}
    if activity.status == Activity.Status.CANCELLED:
        return _("Cancelled %(kind)s: %(subject)s") % {"kind": kind, "subject": activity.subject}
    when = timezone.localtime(activity.scheduled_at, tz).strftime("%Y-%m-%d %H:%M")
    return _("Planned %(kind)s for %(when)s: %(subject)s") % {"kind": kind, "when": when, "subject": activity.subject}


def activity_rows(organization_id: Any, customer_id: Any) -> QuerySet[Activity]:
    """What activity_timeline can show at most (timeline.register's `exists`): the customer's live activities."""
    return Activity.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


_TIMELINE_FIELDS = (
    "kind",
    "subject",
    "status",
    "scheduled_at",
    "outcome",
    "notes",
    "owner__name",
    "owner__email",
    "contact__name",
)


def activity_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The customer's activities on its timeline: a done one when it happened, a planned or cancelled one
    when it was entered (its time is in the title)."""
    happened = Case(
        When(status=Activity.Status.DONE, starts_at__isnull=False, starts_at__lte=F("done_at"), then=F("starts_at")),
        When(status=Activity.Status.DONE, then=F("done_at")),
        default=F("created_at"),
    )
    # Only what an item shows is joined (the owner, the contact): not the customer at hand, its lead or opportunity.
    qs = Activity.objects.visible_on_customer(actor, customer).select_related("owner", "contact")
    # And only the columns an item shows: three tables' every column cost more Python than the query's SQL.
    qs = qs.only(*_TIMELINE_FIELDS).annotate(timeline_at=happened)
    if before is not None:
        qs = qs.filter(timeline_at__lt=before)
    tz = org_timezone(actor.organization)
    items = []
    for activity in qs.order_by("-timeline_at", "-pk")[:limit]:
        body = activity.outcome or activity.notes
        if activity.contact_id:
            body = f"{_('Contact')}: {activity.contact}\n{body}".strip()
        items.append(
            timeline.TimelineItem(
                at=activity.timeline_at,
                kind=f"activity.{activity.kind}",
                title=_timeline_title(activity, tz),
                actor=str(activity.owner) if activity.owner else "",
                body=body[:500],
                url=reverse("sales:activity_detail", args=[activity.pk]),
                icon=activity.icon,
                module="sales",
            )
        )
    return items
