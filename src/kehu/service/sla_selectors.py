"""Reads of calendars, SLA policies, a ticket's clocks and the compliance report. Every read starts from
`visible_to(actor)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.service import calendar_math, sla_services
from kehu.service.models import BusinessCalendar, CalendarDay, SlaPolicy, Ticket, TicketSla


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Calendars and policies ------------------------------------------------------------------------------


def calendar_list_for(*, actor: Any) -> QuerySet[BusinessCalendar]:
    """The organisation's calendars. Every organisation has a default one: it is made on first look."""
    from kehu.core.permissions import can

    if (
        can(actor, "view", BusinessCalendar)
        and not BusinessCalendar.objects.filter(organization_id=actor.organization_id).exists()
    ):
        sla_services.ensure_default_calendar(actor.organization)
    return BusinessCalendar.objects.visible_to(actor).prefetch_related("periods")


def calendar_get_for(*, actor: Any, pk: Any) -> BusinessCalendar:
    return _get(BusinessCalendar.objects.visible_to(actor).prefetch_related("periods"), pk)


def calendar_day_list_for(*, actor: Any, calendar: Any = None, year: int | None = None) -> QuerySet[CalendarDay]:
    qs = CalendarDay.objects.visible_to(actor).select_related("calendar")
    if calendar is not None:
        qs = qs.filter(calendar_id=getattr(calendar, "pk", calendar))
    if year is not None:
        qs = qs.filter(date__year=year)
    return qs


def calendar_day_get_for(*, actor: Any, pk: Any) -> CalendarDay:
    return _get(calendar_day_list_for(actor=actor), pk)


def policy_list_for(*, actor: Any) -> QuerySet[SlaPolicy]:
    return (
        SlaPolicy.objects.visible_to(actor)
        .select_related("calendar", "reassign_to")
        .prefetch_related("targets")
        .order_by("is_default", "position", "id")
    )


def policy_get_for(*, actor: Any, pk: Any) -> SlaPolicy:
    return _get(policy_list_for(actor=actor), pk)


def weekly_hours(calendar: BusinessCalendar) -> list[dict[str, Any]]:
    """Per weekday (Monday first): its periods as "HH:MM" pairs, for pages and the API."""
    by_day: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    for period in calendar.periods.all():
        by_day[period.weekday].append((period.start_minute, period.end_minute))
    from kehu.service.sla_models import Weekday, minutes_label

    return [
        {
            "weekday": day,
            "label": Weekday(day).label,
            "periods": [(minutes_label(s), minutes_label(e)) for s, e in sorted(periods)],
        }
        for day, periods in by_day.items()
    ]


# A ticket's clocks ------------------------------------------------------------------------------------


@dataclass
class Clock:
    """One SLA clock as the ticket page shows it."""

    key: str  # "first_response" | "resolution"
    label: str
    due_at: datetime | None
    state: str  # "running" | "warning" | "overdue" | "paused" | "met" | "missed" | "none"
    seconds_left: int | None = None  # business seconds; negative when overdue

    @property
    def overdue(self) -> bool:
        return self.state in ("overdue", "missed")

    @property
    def left_label(self) -> str:
        if self.seconds_left is None:
            return ""
        return duration_label(abs(self.seconds_left))


def duration_label(seconds: int) -> str:
    """ "2 h 15 min", "3 d 4 h" (business time: a "day" here is 24 hours of it, rarely reached)."""
    minutes = max(int(seconds) // 60, 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


@dataclass
class TicketClocks:
    ticket: Any
    policy_name: str = ""
    paused: bool = False
    clocks: list[Clock] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return any(c.state != "none" for c in self.clocks)


def ticket_clocks(ticket: Ticket, *, now: datetime | None = None, state: TicketSla | None = None) -> TicketClocks:
    """The ticket's SLA clocks: time left (or overdue) in business time, paused, met or missed."""
    now = now or timezone.now()
    if state is None:
        state = TicketSla.objects.filter(ticket_id=ticket.pk).select_related("policy", "calendar").first()
    result = TicketClocks(ticket=ticket)
    if state is None:
        return result
    result.policy_name = state.policy.name if state.policy_id and state.policy else ""
    result.paused = state.paused_since is not None and ticket.status == Ticket.Status.PENDING
    # The organisation's calendars as the intake reads them (core/org_cache: no query while none changes).
    calendars = sla_services.organization_lookups(ticket.organization_id)[1] if state.calendar_id else None
    calendar = calendars.get(state.calendar) if calendars is not None else None

    def left(due: datetime) -> int | None:
        if calendar is None:
            return None
        try:
            return calendar_math.business_seconds_between(now, due, calendar)
        except calendar_math.NoWorkingTime:
            return None

    fr_due = ticket.first_response_due_at
    if fr_due is None:
        fr = Clock("first_response", _("First response"), None, "none")
    elif ticket.first_responded_at is not None:
        fr = Clock(
            "first_response", _("First response"), fr_due, "met" if ticket.first_responded_at <= fr_due else "missed"
        )
    elif ticket.status in sla_services.DONE:
        fr = Clock("first_response", _("First response"), fr_due, "none")
    else:
        seconds = left(fr_due)
        fr_state = (
            "overdue"
            if now >= fr_due
            else ("warning" if state.first_response_warn_at and now >= state.first_response_warn_at else "running")
        )
        fr = Clock("first_response", _("First response"), fr_due, fr_state, seconds)
    res_due = ticket.resolution_due_at
    if res_due is None:
        res = Clock("resolution", _("Resolution"), None, "none")
    elif ticket.status in sla_services.DONE:
        met = state.resolution_met
        res = Clock("resolution", _("Resolution"), res_due, "none" if met is None else ("met" if met else "missed"))
    elif state.paused_since is not None:
        res = Clock("resolution", _("Resolution"), res_due, "paused", left_at_pause(state, res_due, calendar))
    else:
        seconds = left(res_due)
        res_state = (
            "overdue"
            if now >= res_due
            else ("warning" if state.resolution_warn_at and now >= state.resolution_warn_at else "running")
        )
        res = Clock("resolution", _("Resolution"), res_due, res_state, seconds)
    result.clocks = [fr, res]
    return result


def left_at_pause(state: TicketSla, due: datetime, calendar: calendar_math.Calendar | None) -> int | None:
    """While paused, the time left stands still at what it was when the clock stopped."""
    if calendar is None or state.paused_since is None:
        return None
    try:
        return calendar_math.business_seconds_between(state.paused_since, due, calendar)
    except calendar_math.NoWorkingTime:
        return None


# Compliance report -------------------------------------------------------------------------------------


PERIODS = ("this_week", "last_week", "this_month", "last_month", "last_30_days", "custom")


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date  # inclusive
    tz: str

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=ZoneInfo(self.tz))

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=ZoneInfo(self.tz))


def period_for(
    key: str, *, tz: str, today: date | None = None, start: date | None = None, end: date | None = None
) -> Period:
    """A reporting period in the organisation's time zone (weeks start on Monday)."""
    today = today or timezone.localtime(timezone.now(), ZoneInfo(tz)).date()
    if key == "custom":
        if start is None or end is None or end < start:
            raise ValueError("custom periods need a start and an end after it")
        if (end - start).days > 366:
            raise ValueError("at most a year")
        return Period(key, start, end, tz)
    if key == "last_week":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(key, monday, monday + timedelta(days=6), tz)
    if key == "this_month":
        return Period(key, today.replace(day=1), today, tz)
    if key == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(key, last.replace(day=1), last, tz)
    if key == "last_30_days":
        return Period(key, today - timedelta(days=29), today, tz)
    monday = today - timedelta(days=today.weekday())
    return Period("this_week", monday, today, tz)


@dataclass
class ComplianceRow:
    key: Any
    label: str
    tickets: int = 0
    with_sla: int = 0
    first_response_met: int = 0
    first_response_missed: int = 0
    resolution_met: int = 0
    resolution_missed: int = 0

    @staticmethod
    def _pct(met: int, missed: int) -> float | None:
        total = met + missed
        return round(100 * met / total, 1) if total else None

    @property
    def first_response_pct(self) -> float | None:
        return self._pct(self.first_response_met, self.first_response_missed)

    @property
    def resolution_pct(self) -> float | None:
        return self._pct(self.resolution_met, self.resolution_missed)


def sla_compliance_for(
    *, actor: Any, period: Period, group_by: str = "owner", now: datetime | None = None
) -> list[ComplianceRow]:
    """Per agent (owner) or queue: of the visible tickets created in the period that have SLA targets,
    how many first responses and resolutions met their due date. A target still running is counted
    neither way; one past due and not reached counts as missed."""
    now = now or timezone.now()
    if group_by not in ("owner", "queue"):
        raise ValueError(group_by)
    tickets = Ticket.objects.visible_to(actor).filter(created_at__gte=period.since, created_at__lt=period.until)
    fr_missed = Q(sla__first_response_met=False) | Q(
        sla__first_response_met__isnull=True,
        first_responded_at__isnull=True,
        first_response_due_at__lt=now,
        status__in=[Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING],
    )
    res_missed = Q(sla__resolution_met=False) | Q(
        sla__resolution_met__isnull=True,
        resolution_due_at__lt=now,
        status__in=[Ticket.Status.NEW, Ticket.Status.OPEN],
        sla__paused_since__isnull=True,
    )
    field_name = f"{group_by}_id"
    aggregated = (
        tickets.order_by()
        .values(field_name)
        .annotate(
            tickets=Count("pk"),
            with_sla=Count("pk", filter=Q(first_response_due_at__isnull=False) | Q(resolution_due_at__isnull=False)),
            fr_met=Count("pk", filter=Q(sla__first_response_met=True)),
            fr_missed=Count("pk", filter=fr_missed),
            res_met=Count("pk", filter=Q(sla__resolution_met=True)),
            res_missed=Count("pk", filter=res_missed),
        )
    )
    rows = list(aggregated)
    labels = _labels(group_by, {r[field_name] for r in rows if r[field_name]}, actor)
    out = [
        ComplianceRow(
            key=r[field_name],
            label=labels.get(r[field_name], "") or (_("Unassigned") if group_by == "owner" else _("No queue")),
            tickets=r["tickets"],
            with_sla=r["with_sla"],
            first_response_met=r["fr_met"],
            first_response_missed=r["fr_missed"],
            resolution_met=r["res_met"],
            resolution_missed=r["res_missed"],
        )
        for r in rows
    ]
    out.sort(key=lambda row: (row.key is None, row.label))
    return out


def total_row(rows: list[ComplianceRow]) -> ComplianceRow:
    total = ComplianceRow(key="total", label=_("Total"))
    for row in rows:
        for name in (
            "tickets",
            "with_sla",
            "first_response_met",
            "first_response_missed",
            "resolution_met",
            "resolution_missed",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return total


def _labels(group_by: str, ids: set[int], actor: Any) -> dict[int, str]:
    if not ids:
        return {}
    if group_by == "owner":
        from kehu.accounts.models import User

        return {u.pk: str(u) for u in User.objects.filter(organization_id=actor.organization_id, pk__in=ids)}
    from kehu.service.models import Queue

    return {q.pk: q.name for q in Queue.objects.filter(organization_id=actor.organization_id, pk__in=ids)}
