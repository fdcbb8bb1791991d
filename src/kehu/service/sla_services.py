"""Business calendars, SLA policies, and the SLA clocks of tickets.

Configuration (calendars, holidays, policies) changes through one function per action, each checking
`administer` in service, validating with field-named errors, saving with an optimistic-lock version and
writing its audit entry in the same transaction.

The clocks are driven by ticket events (kehu.service.ticket_hooks, wired in apps.py):

- created            pick the policy (first active rule matching the priority and the customer's tier,
                     else the default policy) and compute both due dates from the ticket's creation;
- priority_changed   pick the policy again and recompute from the creation (paused time kept);
- status_changed     pending, resolved and closed stop the resolution clock; back to new/open restarts
                     it and moves the due date by the business time it stood still;
- first_response / customer_replied / status_changed   record whether each target was met.

Due dates are always `creation + target + paused business time` in the policy's calendar, so a pause
moves them by exactly the paused business time and a recomputation never drifts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import F, Max
from django.db.models.signals import post_delete, post_save
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, choice_lists, org_cache
from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.services import require
from kehu.service import calendar_holidays
from kehu.service.calendar_math import (
    DEFAULT_WEEKLY,
    MINUTES_PER_DAY,
    Calendar,
    NoWorkingTime,
    add_business_time,
    business_seconds_between,
    normalise_periods,
)
from kehu.service.models import (
    BusinessCalendar,
    CalendarDay,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketSla,
    WorkingPeriod,
)

logger = logging.getLogger(__name__)

PRIORITIES = [p.value for p in Ticket.Priority]
MAX_TARGET_MINUTES = 366 * 24 * 60
RUNNING = (Ticket.Status.NEW, Ticket.Status.OPEN)  # the resolution clock runs
STOPPED = (Ticket.Status.PENDING, Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
DONE = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _save_versioned(instance: Any, *, expected_version: int | None, fields: list[str]) -> None:
    """Save `fields` only if nobody changed the row since `expected_version` was read (one UPDATE)."""
    model = type(instance)
    current = instance.version if expected_version is None else expected_version
    values = {model._meta.get_field(f).attname: getattr(instance, model._meta.get_field(f).attname) for f in fields}
    if any(f.name == "updated_at" for f in model._meta.fields):
        values["updated_at"] = timezone.now()
    updated = model.objects.filter(pk=instance.pk, version=current).update(**values, version=current + 1)
    if updated != 1:
        raise VersionConflict()
    instance.version = current + 1


def _check_version(instance: Any, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != instance.version:
        raise VersionConflict()


# Calendars -------------------------------------------------------------------------------------------


def _clean_name(name: Any, *, max_length: int = 100) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise _invalid("name", _("Enter a name."))
    if len(name) > max_length:
        raise _invalid("name", _("At most %(max)d characters.") % {"max": max_length})
    return name


def _clean_time_zone(value: Any) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    try:
        if not value or "/" not in value:
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _invalid("time_zone", _("Choose a time zone such as Asia/Shanghai.")) from exc
    return value


def clean_periods(periods: Iterable[Any]) -> list[tuple[int, int, int]]:
    """[(weekday, start minute, end minute)] from tuples or dicts; refuses overlaps and empty weeks."""
    out: list[tuple[int, int, int]] = []
    for item in periods:
        if isinstance(item, dict):
            item = (item.get("weekday"), item.get("start_minute"), item.get("end_minute"))
        try:
            weekday, start, end = (int(v) for v in item)
        except (TypeError, ValueError) as exc:
            raise _invalid("working_hours", _("Each working period needs a weekday, a start and an end.")) from exc
        if weekday not in range(7):
            raise _invalid("working_hours", _("A weekday is 0 (Monday) to 6 (Sunday)."))
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise _invalid("working_hours", _("A working period must end after it starts, within one day."))
        out.append((weekday, start, end))
    by_day: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in out:
        by_day.setdefault(weekday, []).append((start, end))
    for periods_of_day in by_day.values():
        try:
            normalise_periods(periods_of_day)
        except ValueError as exc:
            raise _invalid("working_hours", _("Working periods of one day must not overlap.")) from exc
    if not out:
        raise _invalid("working_hours", _("A calendar needs working hours on at least one weekday."))
    return sorted(out)


def _default_calendar_name(organization: Any) -> str:
    with translation.override(organization.language or "zh-hans"):
        return _("Working days")


def ensure_default_calendar(organization: Any) -> BusinessCalendar:
    """The organisation's default calendar, created on first need: Monday to Friday 09:00-18:00 in the
    organisation's time zone, no holidays (the administrator applies the public holidays in one click)."""
    calendar = BusinessCalendar.objects.filter(organization_id=organization.pk, is_default=True).first()
    return calendar if calendar is not None else _create_default_calendar(organization)


@transaction.atomic
def _create_default_calendar(organization: Any) -> BusinessCalendar:
    name = _default_calendar_name(organization)
    if BusinessCalendar.objects.filter(organization_id=organization.pk, name=name).exists():
        calendar = BusinessCalendar.objects.filter(organization_id=organization.pk, name=name).first()
        BusinessCalendar.objects.filter(pk=calendar.pk).update(is_default=True)
        sla_config_changed(organization.pk)
        calendar.is_default = True
        return calendar
    calendar = BusinessCalendar.objects.create(
        organization_id=organization.pk, name=name, time_zone=organization.time_zone or "Asia/Shanghai", is_default=True
    )
    _write_periods(calendar, [(d, s, e) for d, periods in DEFAULT_WEEKLY.items() for s, e in periods])
    sla_config_changed(organization.pk)
    audit.record(actor=None, actor_label="Kehu", action="calendar.create", target=calendar, changes={"default": True})
    return calendar


def _write_periods(calendar: BusinessCalendar, periods: list[tuple[int, int, int]]) -> None:
    WorkingPeriod.objects.filter(calendar=calendar).delete()
    WorkingPeriod.objects.bulk_create(
        [
            WorkingPeriod(
                organization_id=calendar.organization_id, calendar=calendar, weekday=d, start_minute=s, end_minute=e
            )
            for d, s, e in periods
        ]
    )


def _periods_of(calendar: BusinessCalendar) -> list[tuple[int, int, int]]:
    return list(
        WorkingPeriod.objects.filter(calendar=calendar)
        .order_by("weekday", "start_minute")
        .values_list("weekday", "start_minute", "end_minute")
    )


def _name_taken(model: Any, organization_id: int, name: str, exclude_pk: Any = None) -> bool:
    qs = model.objects.filter(organization_id=organization_id, name=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _set_only_default(model: Any, instance: Any) -> None:
    model.objects.filter(organization_id=instance.organization_id, is_default=True).exclude(pk=instance.pk).update(
        is_default=False
    )


@transaction.atomic
def calendar_create(
    *,
    actor: Any,
    name: str,
    time_zone: str | None = None,
    is_default: bool = False,
    working_hours: Iterable[Any] | None = None,
) -> BusinessCalendar:
    require(actor, "create", BusinessCalendar)
    name = _clean_name(name)
    if _name_taken(BusinessCalendar, actor.organization_id, name):
        raise _invalid("name", _("A calendar with this name already exists."))
    time_zone = _clean_time_zone(time_zone or actor.organization.time_zone)
    periods = (
        clean_periods(working_hours)
        if working_hours is not None
        else [(d, s, e) for d, ps in DEFAULT_WEEKLY.items() for s, e in ps]
    )
    calendar = BusinessCalendar(organization_id=actor.organization_id, name=name, time_zone=time_zone)
    if not BusinessCalendar.objects.filter(organization_id=actor.organization_id, is_default=True).exists():
        is_default = True  # the first calendar is the default
    if is_default:
        _set_only_default(BusinessCalendar, calendar)
    calendar.is_default = is_default
    calendar.save()
    _write_periods(calendar, periods)
    sla_config_changed(calendar.organization_id)
    audit.record(
        actor=actor,
        action="calendar.create",
        target=calendar,
        changes={"name": name, "time_zone": time_zone, "default": is_default, "working_hours": periods},
    )
    return calendar


@transaction.atomic
def calendar_update(
    *, actor: Any, calendar: BusinessCalendar, expected_version: int | None, data: dict[str, Any]
) -> BusinessCalendar:
    require(actor, "edit", calendar)
    _check_version(calendar, expected_version)
    unknown = sorted(set(data) - {"name", "time_zone", "is_default", "working_hours"})
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={n: [_("This field cannot be set here.")] for n in unknown},
        )
    changes: dict[str, Any] = {}
    fields: list[str] = []
    if "name" in data:
        name = _clean_name(data["name"])
        if name != calendar.name:
            if _name_taken(BusinessCalendar, calendar.organization_id, name, calendar.pk):
                raise _invalid("name", _("A calendar with this name already exists."))
            changes["name"] = {"before": calendar.name, "after": name}
            calendar.name = name
            fields.append("name")
    if "time_zone" in data:
        tz = _clean_time_zone(data["time_zone"])
        if tz != calendar.time_zone:
            changes["time_zone"] = {"before": calendar.time_zone, "after": tz}
            calendar.time_zone = tz
            fields.append("time_zone")
    if "is_default" in data and bool(data["is_default"]) != calendar.is_default:
        if not data["is_default"]:
            raise _invalid("is_default", _("Make another calendar the default instead."))
        _set_only_default(BusinessCalendar, calendar)
        calendar.is_default = True
        changes["is_default"] = {"before": False, "after": True}
        fields.append("is_default")
    if "working_hours" in data:
        periods = clean_periods(data["working_hours"])
        before = _periods_of(calendar)
        if periods != before:
            _write_periods(calendar, periods)
            changes["working_hours"] = {"before": before, "after": periods}
    if not changes:
        return calendar
    _save_versioned(calendar, expected_version=expected_version, fields=fields)
    sla_config_changed(calendar.organization_id)
    audit.record(actor=actor, action="calendar.update", target=calendar, changes=changes)
    return calendar


@transaction.atomic
def calendar_delete(*, actor: Any, calendar: BusinessCalendar) -> None:
    require(actor, "delete", calendar)
    if calendar.is_default:
        raise ValidationFailed(_("The default calendar cannot be deleted: make another calendar the default first."))
    used = list(SlaPolicy.objects.filter(calendar=calendar).values_list("name", flat=True)[:5])
    if used:
        raise ValidationFailed(
            _("SLA policies use this calendar: %(names)s. Choose another calendar for them first.")
            % {"names": ", ".join(used)}
        )
    audit.record(actor=actor, action="calendar.delete", target=calendar, changes={"name": calendar.name})
    sla_config_changed(calendar.organization_id)
    calendar.delete()


def _clean_day(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "date" in data:
        value = data["date"]
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                value = None
        if not isinstance(value, date):
            raise _invalid("date", _("Enter a date such as 2026-10-01."))
        out["date"] = value
    if "kind" in data:
        if data["kind"] not in CalendarDay.Kind.values:
            raise _invalid("kind", _("Choose a holiday or a make-up working day."))
        out["kind"] = data["kind"]
    if "name" in data:
        name = (data["name"] or "").strip()
        if len(name) > 100:
            raise _invalid("name", _("At most %(max)d characters.") % {"max": 100})
        out["name"] = name
    return out


@transaction.atomic
def calendar_day_create(
    *, actor: Any, calendar: BusinessCalendar, date: Any, kind: str = CalendarDay.Kind.HOLIDAY, name: str = ""
) -> CalendarDay:
    require(actor, "edit", calendar)
    values = _clean_day({"date": date, "kind": kind, "name": name})
    if CalendarDay.objects.filter(calendar=calendar, date=values["date"]).exists():
        raise _invalid("date", _("This date is already in the calendar: edit it instead."))
    day = CalendarDay.objects.create(organization_id=calendar.organization_id, calendar=calendar, **values)
    sla_config_changed(calendar.organization_id)
    audit.record(
        actor=actor,
        action="calendar_day.create",
        target=day,
        changes={"calendar": calendar.pk, "date": values["date"], "kind": values["kind"], "name": values["name"]},
    )
    return day


@transaction.atomic
def calendar_day_update(
    *, actor: Any, day: CalendarDay, expected_version: int | None, data: dict[str, Any]
) -> CalendarDay:
    """Edit a holiday or make-up day. An edited day becomes the administrator's own (applying the public
    holidays again keeps it) and is no longer provisional."""
    require(actor, "edit", day)
    _check_version(day, expected_version)
    unknown = sorted(set(data) - {"date", "kind", "name"})
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={n: [_("This field cannot be set here.")] for n in unknown},
        )
    values = _clean_day(data)
    if (
        "date" in values
        and values["date"] != day.date
        and CalendarDay.objects.filter(calendar_id=day.calendar_id, date=values["date"]).exists()
    ):
        raise _invalid("date", _("This date is already in the calendar: edit it instead."))
    before = audit.snapshot(day, ["date", "kind", "name", "source", "provisional"])
    for key, value in values.items():
        setattr(day, key, value)
    day.source, day.provisional = CalendarDay.Source.MANUAL, False
    changes = audit.diff(before, audit.snapshot(day, ["date", "kind", "name", "source", "provisional"]))
    if not changes:
        return day
    _save_versioned(day, expected_version=expected_version, fields=["date", "kind", "name", "source", "provisional"])
    sla_config_changed(day.organization_id)
    audit.record(actor=actor, action="calendar_day.update", target=day, changes=changes)
    return day


@transaction.atomic
def calendar_day_delete(*, actor: Any, day: CalendarDay) -> None:
    require(actor, "delete", day)
    audit.record(
        actor=actor,
        action="calendar_day.delete",
        target=day,
        changes={"calendar": day.calendar_id, "date": day.date, "kind": day.kind},
    )
    sla_config_changed(day.organization_id)
    day.delete()


@dataclass(frozen=True)
class HolidaysApplied:
    year: int
    added: int
    updated: int
    kept: int  # days the administrator edited, left as they are
    removed: int
    provisional: bool


@transaction.atomic
def calendar_apply_cn_holidays(*, actor: Any, calendar: BusinessCalendar, year: int) -> HolidaysApplied:
    """Write the shipped Chinese public holidays and make-up days of `year` into `calendar`.

    Idempotent: days it wrote before are brought up to date (a provisional year replaced by the official
    one), days it wrote that the schedule no longer has are removed, and days the administrator added or
    edited by hand are kept as they are."""
    require(actor, "edit", calendar)
    schedule = calendar_holidays.cn_schedule(int(year)) if str(year).isdigit() else None
    if schedule is None:
        years = ", ".join(str(y) for y in calendar_holidays.available_years())
        raise _invalid("year", _("Kehu has public holidays for: %(years)s.") % {"years": years})
    english = (actor.organization.language or "").startswith("en")
    existing = {
        d.date: d for d in CalendarDay.objects.filter(calendar=calendar, date__year=schedule.year).select_for_update()
    }
    added = updated = kept = removed = 0
    scheduled_dates = set()
    for item in schedule.days:
        scheduled_dates.add(item.date)
        name = (item.name_en or item.name) if english else item.name
        day = existing.get(item.date)
        if day is None:
            CalendarDay.objects.create(
                organization_id=calendar.organization_id,
                calendar=calendar,
                date=item.date,
                kind=item.kind,
                name=name,
                source=CalendarDay.Source.CN_OFFICIAL,
                provisional=schedule.provisional,
            )
            added += 1
        elif day.source != CalendarDay.Source.CN_OFFICIAL:
            kept += 1
        elif (day.kind, day.name, day.provisional) != (item.kind, name, schedule.provisional):
            CalendarDay.objects.filter(pk=day.pk).update(
                kind=item.kind, name=name, provisional=schedule.provisional, version=F("version") + 1
            )
            updated += 1
    stale = [
        d.pk for d in existing.values() if d.source == CalendarDay.Source.CN_OFFICIAL and d.date not in scheduled_dates
    ]
    if stale:
        removed = CalendarDay.objects.filter(pk__in=stale).delete()[0]
    sla_config_changed(calendar.organization_id)
    result = HolidaysApplied(schedule.year, added, updated, kept, removed, schedule.provisional)
    audit.record(
        actor=actor,
        action="calendar.apply_holidays",
        target=calendar,
        changes={
            "year": schedule.year,
            "added": added,
            "updated": updated,
            "kept": kept,
            "removed": removed,
            "provisional": schedule.provisional,
        },
    )
    return result


def load_calendar(calendar: BusinessCalendar) -> Calendar:
    """The pure calendar value of a stored calendar (two queries)."""
    days = CalendarDay.objects.filter(calendar=calendar).values_list("date", "kind")
    return _calendar_value(calendar.time_zone, _periods_of(calendar), days)


def _calendar_value(
    time_zone: str, periods: Iterable[tuple[int, int, int]], days: Iterable[tuple[date, str]]
) -> Calendar:
    """A Calendar from (weekday, start, end) periods in order and (date, kind) days."""
    weekly: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in periods:
        weekly.setdefault(weekday, []).append((start, end))
    holidays, workdays = set(), set()
    for day, kind in days:
        (workdays if kind == CalendarDay.Kind.WORKDAY else holidays).add(day)
    return Calendar(time_zone=time_zone, weekly=weekly, holidays=frozenset(holidays), workdays=frozenset(workdays))


# SLA policies ----------------------------------------------------------------------------------------


POLICY_FIELDS = (
    "name",
    "description",
    "is_active",
    "is_default",
    "priorities",
    "tiers",
    "calendar",
    "warning_percent",
    "notify_queue_manager",
    "notify_team_manager",
    "reassign",
    "reassign_to",
    "raise_priority",
    "targets",
)


def _clean_choice_list(field: str, value: Any, allowed: list[str]) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or any(v not in allowed for v in value):
        raise _invalid(field, _("Choose from: %(values)s.") % {"values": ", ".join(allowed)})
    return [v for v in allowed if v in value]


def _clean_minutes(field: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError) as exc:
        raise _invalid(field, _("Enter a whole number of minutes.")) from exc
    if not 1 <= minutes <= MAX_TARGET_MINUTES:
        raise _invalid(field, _("Enter 1 to %(max)d minutes.") % {"max": MAX_TARGET_MINUTES})
    return minutes


def clean_targets(value: Any) -> dict[str, tuple[int | None, int | None]]:
    """{priority: (first response minutes, resolution minutes)} from a dict or a list of dicts."""
    if value is None:
        return {}
    if isinstance(value, dict):
        items = [{"priority": k, **(v if isinstance(v, dict) else {})} for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _invalid("targets", _("Give the targets per priority."))
    out: dict[str, tuple[int | None, int | None]] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("priority") not in PRIORITIES:
            raise _invalid("targets", _("Choose from: %(values)s.") % {"values": ", ".join(PRIORITIES)})
        priority = item["priority"]
        if priority in out:
            raise _invalid("targets", _("Each priority may appear once."))
        fr = _clean_minutes(f"targets.{priority}.first_response_minutes", item.get("first_response_minutes"))
        res = _clean_minutes(f"targets.{priority}.resolution_minutes", item.get("resolution_minutes"))
        if fr is not None and res is not None and res < fr:
            raise _invalid(
                f"targets.{priority}.resolution_minutes",
                _("The resolution target cannot be shorter than the first-response target."),
            )
        if fr is not None or res is not None:
            out[priority] = (fr, res)
    return out


def _clean_policy(policy: SlaPolicy, data: dict[str, Any], actor: Any) -> dict[str, Any]:
    """Set the validated values of `data` on `policy`; return the cleaned targets (or None if not given)."""
    from kehu.accounts.models import User

    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={n: [_("This field cannot be set here.")] for n in unknown},
        )
    if "name" in data:
        policy.name = _clean_name(data["name"])
        if _name_taken(SlaPolicy, policy.organization_id, policy.name, policy.pk):
            raise _invalid("name", _("An SLA policy with this name already exists."))
    if "description" in data:
        description = (data["description"] or "").strip()
        if len(description) > 255:
            raise _invalid("description", _("At most %(max)d characters.") % {"max": 255})
        policy.description = description
    for flag in ("is_active", "is_default", "notify_queue_manager", "notify_team_manager", "raise_priority"):
        if flag in data:
            setattr(policy, flag, bool(data[flag]))
    if "priorities" in data:
        policy.priorities = _clean_choice_list("priorities", data["priorities"], PRIORITIES)
    if "tiers" in data:
        # Any tier of the organisation's list (kehu.core.choice_lists), in the list's order.
        policy.tiers = _clean_choice_list(
            "tiers", data["tiers"], list(choice_lists.labels(actor.organization_id, "customer_tier"))
        )
    if "calendar" in data:
        calendar = data["calendar"]
        if calendar is not None and not isinstance(calendar, BusinessCalendar):
            calendar = BusinessCalendar.objects.filter(organization_id=actor.organization_id, pk=calendar).first()
            if calendar is None:
                raise _invalid("calendar", _("No such calendar."))
        if calendar is not None and calendar.organization_id != actor.organization_id:
            raise _invalid("calendar", _("No such calendar."))
        policy.calendar = calendar
    if "warning_percent" in data:
        try:
            pct = int(data["warning_percent"])
        except (TypeError, ValueError):
            pct = -1
        if not 0 <= pct <= 99:
            raise _invalid("warning_percent", _("Enter 0 (no warning) to 99 percent."))
        policy.warning_percent = pct
    if "reassign" in data:
        reassign = data["reassign"] or ""
        if reassign not in SlaPolicy.Reassign.values:
            raise _invalid("reassign", _("Choose how to reassign."))
        policy.reassign = reassign
    if "reassign_to" in data:
        user = data["reassign_to"]
        if user is not None and not isinstance(user, User):
            user = User.objects.filter(organization_id=actor.organization_id, pk=user).first()
            if user is None:
                raise _invalid("reassign_to", _("No such colleague."))
        if user is not None and (user.organization_id != actor.organization_id or not user.is_active):
            raise _invalid("reassign_to", _("Choose an active colleague."))
        policy.reassign_to = user
    if policy.reassign == SlaPolicy.Reassign.USER and policy.reassign_to_id is None:
        raise _invalid("reassign_to", _("Choose the colleague who takes over breached tickets."))
    if policy.reassign != SlaPolicy.Reassign.USER:
        policy.reassign_to = None
    return {"targets": clean_targets(data["targets"])} if "targets" in data else {}


def _write_targets(policy: SlaPolicy, targets: dict[str, tuple[int | None, int | None]]) -> None:
    getattr(policy, "_prefetched_objects_cache", {}).pop("targets", None)
    SlaTarget.objects.filter(policy=policy).delete()
    SlaTarget.objects.bulk_create(
        [
            SlaTarget(
                organization_id=policy.organization_id,
                policy=policy,
                priority=priority,
                first_response_minutes=fr,
                resolution_minutes=res,
            )
            for priority, (fr, res) in targets.items()
        ]
    )


def targets_of(policy: SlaPolicy) -> dict[str, tuple[int | None, int | None]]:
    return {t.priority: (t.first_response_minutes, t.resolution_minutes) for t in policy.targets.all()}


def _policy_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    snap = audit.snapshot(policy, [f for f in POLICY_FIELDS if f != "targets"])
    snap["targets"] = {k: list(v) for k, v in targets_of(policy).items()} if policy.pk else {}
    return snap


@transaction.atomic
def sla_policy_create(*, actor: Any, **data: Any) -> SlaPolicy:
    require(actor, "create", SlaPolicy)
    if "name" not in data:
        data["name"] = ""
    policy = SlaPolicy(organization_id=actor.organization_id)
    extra = _clean_policy(policy, data, actor)
    last = SlaPolicy.objects.filter(organization_id=actor.organization_id).aggregate(m=Max("position"))["m"]
    policy.position = (last or 0) + 1
    if policy.is_default:
        _set_only_default(SlaPolicy, policy)
    policy.save()
    _write_targets(policy, extra.get("targets", {}))
    sla_config_changed(policy.organization_id)
    audit.record(actor=actor, action="sla_policy.create", target=policy, changes=_policy_snapshot(policy))
    return policy


@transaction.atomic
def sla_policy_update(
    *, actor: Any, policy: SlaPolicy, expected_version: int | None, data: dict[str, Any]
) -> SlaPolicy:
    """Change a policy. Tickets keep the due dates they were given; the new targets apply to tickets
    created (or re-prioritised) from now on."""
    require(actor, "edit", policy)
    _check_version(policy, expected_version)
    before = _policy_snapshot(policy)
    extra = _clean_policy(policy, data, actor)
    if policy.is_default:
        _set_only_default(SlaPolicy, policy)
    if "targets" in extra:
        _write_targets(policy, extra["targets"])
    after = _policy_snapshot(policy)
    changes = audit.diff(before, after)
    if not changes:
        return policy
    fields = [f for f in POLICY_FIELDS if f != "targets"]
    _save_versioned(policy, expected_version=expected_version, fields=fields)
    sla_config_changed(policy.organization_id)
    audit.record(actor=actor, action="sla_policy.update", target=policy, changes=changes)
    return policy


@transaction.atomic
def sla_policy_delete(*, actor: Any, policy: SlaPolicy) -> None:
    """Delete a policy. Tickets it gave due dates keep them (their SLA row forgets the policy)."""
    require(actor, "delete", policy)
    audit.record(actor=actor, action="sla_policy.delete", target=policy, changes={"name": policy.name})
    sla_config_changed(policy.organization_id)
    policy.delete()


@transaction.atomic
def sla_policy_move(*, actor: Any, policy: SlaPolicy, direction: str) -> SlaPolicy:
    """Move a rule one place up or down in the order (first match wins)."""
    require(actor, "edit", policy)
    if direction not in ("up", "down"):
        raise _invalid("direction", _("Move up or down."))
    rules = list(
        SlaPolicy.objects.filter(organization_id=policy.organization_id, is_default=False)
        .select_for_update()
        .order_by("position", "id")
    )
    ids = [p.pk for p in rules]
    if policy.pk not in ids:
        return policy
    index = ids.index(policy.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return policy
    rules[index], rules[other] = rules[other], rules[index]
    for position, rule in enumerate(rules, start=1):
        if rule.position != position:
            SlaPolicy.objects.filter(pk=rule.pk).update(position=position, version=F("version") + 1)
    policy.refresh_from_db()
    sla_config_changed(policy.organization_id)
    audit.record(actor=actor, action="sla_policy.move", target=policy, changes={"direction": direction})
    return policy


def active_policies(organization_id: int) -> list[SlaPolicy]:
    """The organisation's active policies in the order policy_for tries them, with their targets."""
    return list(
        SlaPolicy.objects.filter(organization_id=organization_id, is_active=True)
        .select_related("calendar")
        .prefetch_related("targets")
        .order_by("is_default", "position", "id")
    )


def policy_for(
    *, organization_id: int, priority: str, tier: str, policies: list[SlaPolicy] | None = None
) -> SlaPolicy | None:
    """The first active rule (by order) whose priorities and tiers match, else the active default policy."""
    if policies is None:
        policies = active_policies(organization_id)
    for policy in policies:
        if policy.is_default or not policy.is_active:
            continue
        if (not policy.priorities or priority in policy.priorities) and (not policy.tiers or tier in policy.tiers):
            return policy
    return next((p for p in policies if p.is_default and p.is_active), None)


# The clocks of a ticket --------------------------------------------------------------------------------


class CalendarCache:
    """Stored calendars as pure values, read once per run (a sweep meets the same few calendars often).
    `by_id` and `defaults` (organisation id -> its default calendar) fill it beforehand."""

    def __init__(
        self, *, by_id: dict[int, Calendar] | None = None, defaults: dict[int, BusinessCalendar] | None = None
    ) -> None:
        self._by_id: dict[int, Calendar] = dict(by_id or {})
        self._default: dict[int, BusinessCalendar] = dict(defaults or {})

    def default_for(self, organization: Any) -> BusinessCalendar:
        if organization.pk not in self._default:
            self._default[organization.pk] = ensure_default_calendar(organization)
        return self._default[organization.pk]

    def default_for_ticket(self, ticket: Ticket) -> BusinessCalendar:
        """default_for the ticket's organisation, without reading the organisation when it is known."""
        if ticket.organization_id in self._default:
            return self._default[ticket.organization_id]
        return self.default_for(ticket.organization)

    def get(self, calendar: BusinessCalendar) -> Calendar:
        if calendar.pk not in self._by_id:
            self._by_id[calendar.pk] = load_calendar(calendar)
        return self._by_id[calendar.pk]


# The sweep's policies and calendars, read once per run, for the SLA hook while the sweep's escalations go
# through the ticket services (sla_recompute_many would otherwise read them once per batch).
_shared_lookups: ContextVar[tuple[list[SlaPolicy], CalendarCache] | None] = ContextVar(
    "kehu_sla_shared_lookups", default=None
)


@contextmanager
def shared_lookups(*, policies: list[SlaPolicy], calendars: CalendarCache) -> Iterator[None]:
    """Within the block, sla_recompute chooses among `policies` (the organisation's active ones, in order)
    and reads calendars from `calendars` instead of loading them again."""
    token = _shared_lookups.set((policies, calendars))
    try:
        yield
    finally:
        _shared_lookups.reset(token)


# An organisation's policies and calendars, kept in Django's cache until they change (kehu.core.org_cache): the
# e-mail intake starts and syncs a clock for every message, and read them every time (about 8 statements).
SLA_CONFIG = "sla"


def sla_config_changed(organization_id: int) -> None:
    """Policies, their targets, calendars, working hours or calendar days of the organisation changed (call
    in the change's transaction): clocks started after the commit read them again."""
    org_cache.changed(SLA_CONFIG, organization_id)


@dataclass(frozen=True)
class _OrganizationLookups:
    policies: list[SlaPolicy]
    default_calendar: BusinessCalendar | None
    calendars: dict[int, Calendar]


def _load_lookups(organization_id: int) -> _OrganizationLookups:
    """The active policies with their targets and calendars, and every calendar of the organisation as a pure
    value (five queries, once per change)."""
    stored = list(BusinessCalendar.objects.filter(organization_id=organization_id).order_by("pk"))
    periods: dict[int, list[tuple[int, int, int]]] = {}
    for calendar_id, *period in (
        WorkingPeriod.objects.filter(organization_id=organization_id)
        .order_by("calendar_id", "weekday", "start_minute")
        .values_list("calendar_id", "weekday", "start_minute", "end_minute")
    ):
        periods.setdefault(calendar_id, []).append(tuple(period))
    days: dict[int, list[tuple[date, str]]] = {}
    for calendar_id, day, kind in CalendarDay.objects.filter(organization_id=organization_id).values_list(
        "calendar_id", "date", "kind"
    ):
        days.setdefault(calendar_id, []).append((day, kind))
    return _OrganizationLookups(
        policies=active_policies(organization_id),
        default_calendar=next((c for c in stored if c.is_default), None),
        calendars={c.pk: _calendar_value(c.time_zone, periods.get(c.pk, []), days.get(c.pk, [])) for c in stored},
    )


def organization_lookups(organization_id: int) -> tuple[list[SlaPolicy], CalendarCache]:
    """The organisation's active policies (in policy_for's order) and a CalendarCache holding its calendars:
    from the sweep's shared_lookups when it set them for this organisation, else from the cache."""
    shared = _shared_lookups.get()
    if shared is not None and shared[0] and all(p.organization_id == organization_id for p in shared[0]):
        return shared
    found = org_cache.get(SLA_CONFIG, organization_id, lambda: _load_lookups(organization_id))
    defaults = {organization_id: found.default_calendar} if found.default_calendar is not None else {}
    return found.policies, CalendarCache(by_id=found.calendars, defaults=defaults)


def _config_saved_or_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Writes outside the services above too (test factories, the demo data, an organisation's deletion).
    sla_config_changed(instance.organization_id)


for _model in (SlaPolicy, SlaTarget, BusinessCalendar, WorkingPeriod, CalendarDay):
    post_save.connect(_config_saved_or_deleted, sender=_model, dispatch_uid=f"kehu-sla-config-saved-{_model.__name__}")
    post_delete.connect(
        _config_saved_or_deleted, sender=_model, dispatch_uid=f"kehu-sla-config-deleted-{_model.__name__}"
    )


def _tier_of(ticket: Ticket) -> str:
    if ticket.customer_id is None:
        return ""
    customer = ticket.customer
    return (customer.tier or "") if customer is not None else ""


def _state_for(ticket: Ticket) -> TicketSla:
    state = TicketSla.objects.filter(ticket_id=ticket.pk).first()
    return state or TicketSla(organization_id=ticket.organization_id, ticket=ticket)


def assign_policy(
    state: TicketSla,
    ticket: Ticket,
    *,
    policies: list[SlaPolicy] | None = None,
    calendars: CalendarCache | None = None,
    tier: str | None = None,
) -> None:
    """Pick the ticket's policy and copy its targets and calendar onto the SLA row (nothing saved).
    `tier`: the customer's tier when the caller knows it (else it is read)."""
    calendars = calendars or CalendarCache()
    policy = policy_for(
        organization_id=ticket.organization_id,
        priority=ticket.priority,
        tier=_tier_of(ticket) if tier is None else tier,
        policies=policies,
    )
    state.policy = policy
    if policy is None:
        state.first_response_minutes = state.resolution_minutes = None
        state.calendar = None
        return
    fr, res = targets_of(policy).get(ticket.priority, (None, None))
    state.first_response_minutes, state.resolution_minutes = fr, res
    state.warning_percent = policy.warning_percent
    state.calendar = policy.calendar or calendars.default_for_ticket(ticket)


def compute_due(state: TicketSla, ticket: Ticket, calendar: Calendar | None) -> None:
    """Both due dates and warning times from the ticket's creation, the targets and the paused time, and
    the sweep's next look (nothing saved)."""
    start = ticket.created_at
    pct = state.warning_percent or 0
    ticket.first_response_due_at = ticket.resolution_due_at = None
    state.first_response_warn_at = state.resolution_warn_at = None
    if calendar is not None:
        try:
            if state.first_response_minutes:
                seconds = state.first_response_minutes * 60
                ticket.first_response_due_at = add_business_time(start, seconds, calendar)
                if pct:
                    state.first_response_warn_at = add_business_time(start, seconds * pct / 100, calendar)
            if state.resolution_minutes:
                seconds = state.resolution_minutes * 60
                paused = state.paused_seconds or 0
                ticket.resolution_due_at = add_business_time(start, seconds + paused, calendar)
                if pct:
                    state.resolution_warn_at = add_business_time(start, seconds * pct / 100 + paused, calendar)
        except NoWorkingTime:
            logger.warning("SLA calendar %s of ticket %s has no working time", state.calendar_id, ticket.pk)
            ticket.first_response_due_at = ticket.resolution_due_at = None
    state.next_check_at = next_check(state, ticket)


def first_response_running(ticket: Ticket) -> bool:
    return ticket.first_responded_at is None and ticket.status not in DONE and ticket.first_response_due_at is not None


def resolution_running(state: TicketSla, ticket: Ticket) -> bool:
    return ticket.status in RUNNING and state.paused_since is None and ticket.resolution_due_at is not None


def _pending_event(
    warn_at: datetime | None, warned: datetime | None, due: datetime, breached: datetime | None
) -> datetime | None:
    if breached is not None:
        return None
    if warned is None and warn_at is not None and warn_at < due:
        return warn_at
    return due


def next_check(state: TicketSla, ticket: Ticket) -> datetime | None:
    """When the sweep must look next: the earliest warning or breach still to come of a running clock."""
    events = []
    if first_response_running(ticket):
        events.append(
            _pending_event(
                state.first_response_warn_at,
                state.first_response_warned_at,
                ticket.first_response_due_at,
                state.first_response_breached_at,
            )
        )
    if resolution_running(state, ticket):
        events.append(
            _pending_event(
                state.resolution_warn_at,
                state.resolution_warned_at,
                ticket.resolution_due_at,
                state.resolution_breached_at,
            )
        )
    events = [e for e in events if e is not None]
    return min(events) if events else None


def _record_outcomes(state: TicketSla, ticket: Ticket, now: datetime) -> None:
    if state.first_response_met is None and ticket.first_responded_at and ticket.first_response_due_at:
        state.first_response_met = ticket.first_responded_at <= ticket.first_response_due_at
    if ticket.status in DONE:
        if ticket.resolution_due_at and state.resolution_met is None:
            resolved_at = ticket.resolved_at or ticket.closed_at or now
            # The due date already holds every pause before the resolution.
            state.resolution_met = resolved_at <= ticket.resolution_due_at
    else:
        state.resolution_met = None  # reopened: in progress again


def _reconcile_pause(state: TicketSla, ticket: Ticket, calendar: Calendar | None, now: datetime) -> bool:
    """Stop the resolution clock in a stopped status, restart it in a running one. True if the paused time
    grew (the due dates must be recomputed)."""
    if ticket.status in STOPPED:
        if state.paused_since is None:
            state.paused_since = now
        return False
    if state.paused_since is None:
        return False
    if calendar is not None and now > state.paused_since:
        state.paused_seconds = (state.paused_seconds or 0) + max(
            business_seconds_between(state.paused_since, now, calendar), 0
        )
    state.paused_since = None
    return True


def _save(state: TicketSla, ticket: Ticket, *, new: bool = False) -> None:
    state.save(force_insert=new)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due_at=ticket.first_response_due_at, resolution_due_at=ticket.resolution_due_at
    )


# savepoint=False: inside the ticket service's transaction (the usual caller) a savepoint is two statements
# for nothing; an error here aborts the whole change anyway.
@transaction.atomic(savepoint=False)
def sla_start(*, ticket: Ticket, now: datetime | None = None, new: bool = False) -> TicketSla:
    """A new ticket: choose its policy and set its due dates (ticket event "created"). `new`: the ticket was
    just created, so it has no SLA row yet (inserted without looking)."""
    now = now or timezone.now()
    policies, calendars = organization_lookups(ticket.organization_id)
    state = TicketSla(organization_id=ticket.organization_id, ticket=ticket) if new else _state_for(ticket)
    assign_policy(state, ticket, policies=policies, calendars=calendars)
    calendar = calendars.get(state.calendar) if state.calendar else None
    _reconcile_pause(state, ticket, calendar, now)
    compute_due(state, ticket, calendar)
    _record_outcomes(state, ticket, now)
    state.next_check_at = next_check(state, ticket)
    _save(state, ticket, new=new)
    return state


def sla_recompute(*, ticket: Ticket, now: datetime | None = None) -> TicketSla:
    """The priority changed: choose the policy again and recompute from the creation. Warnings and
    breaches already escalated stay recorded (once per ticket and target)."""
    return sla_recompute_many(tickets=[ticket], now=now)[0]


# What a recomputation changes on the SLA row: (column, PostgreSQL type) for bulk_set.
_RECOMPUTED = [
    ("policy_id", "bigint"),
    ("calendar_id", "bigint"),
    ("first_response_minutes", "integer"),
    ("resolution_minutes", "integer"),
    ("warning_percent", "smallint"),
    ("first_response_warn_at", "timestamptz"),
    ("resolution_warn_at", "timestamptz"),
    ("first_response_met", "boolean"),
    ("resolution_met", "boolean"),
    ("next_check_at", "timestamptz"),
    ("updated_at", "timestamptz"),
]
_DUE = [("first_response_due_at", "timestamptz"), ("resolution_due_at", "timestamptz")]


def _tiers(tickets: Sequence[Ticket]) -> dict[int, str]:
    """The customers' tiers of `tickets`, by customer id, in one query."""
    from kehu.customers.models import Customer

    ids = {t.customer_id for t in tickets if t.customer_id}
    if not ids:
        return {}
    return {pk: tier or "" for pk, tier in Customer.objects.filter(pk__in=ids).values_list("pk", "tier")}


@transaction.atomic
def sla_recompute_many(*, tickets: Sequence[Ticket], now: datetime | None = None) -> list[TicketSla]:
    """sla_recompute for several tickets (the SLA sweep's raised priorities): the SLA rows, the customers'
    tiers, each organisation's policies and the calendars are read once, and the new clocks are written with
    one statement per 500 tickets."""
    now = now or timezone.now()
    states = {s.ticket_id: s for s in TicketSla.objects.filter(ticket_id__in=[t.pk for t in tickets])}
    lookups: dict[int, tuple[list[SlaPolicy], CalendarCache]] = {}
    tiers = _tiers(tickets)
    results, changed = [], []
    for ticket in tickets:
        state = states.get(ticket.pk)
        if state is None:
            results.append(sla_start(ticket=ticket, now=now))
            continue
        org_id = ticket.organization_id
        if org_id not in lookups:
            lookups[org_id] = organization_lookups(org_id)
        policies, calendars = lookups[org_id]
        assign_policy(state, ticket, policies=policies, calendars=calendars, tier=tiers.get(ticket.customer_id, ""))
        calendar = calendars.get(state.calendar) if state.calendar else None
        compute_due(state, ticket, calendar)
        _record_outcomes(state, ticket, now)
        state.next_check_at = next_check(state, ticket)
        state.updated_at = now
        results.append(state)
        changed.append((state, ticket))
    bulk_set(
        TicketSla,
        "ticket_id",
        _RECOMPUTED,
        [(ticket.pk, *(getattr(state, column) for column, _t in _RECOMPUTED)) for state, ticket in changed],
    )
    bulk_set(Ticket, "id", _DUE, [(ticket.pk, *(getattr(ticket, c) for c, _t in _DUE)) for _s, ticket in changed])
    return results


def bulk_set(model: Any, pk_column: str, columns: list[tuple[str, str]], rows: list[tuple]) -> None:
    """UPDATE many rows to different values in one statement per 500 rows: `WITH v AS (VALUES ...) UPDATE
    ... FROM v` (PostgreSQL, and SQLite 3.33+). Django's bulk_update builds a CASE per row and field,
    which cost seconds per thousand rows here. `columns` are (column, PostgreSQL type) pairs; `rows`
    are (pk, value, ...) tuples; datetimes are adapted for the database as the ORM would."""
    if not rows:
        return
    table = model._meta.db_table
    postgres = connection.vendor == "postgresql"
    cast = (lambda t: f"%s::{t}") if postgres else (lambda t: "%s")
    placeholder = "(" + ", ".join([cast("bigint"), *(cast(t) for _c, t in columns)]) + ")"
    names = ", ".join(["pk_", *(c for c, _t in columns)])
    sets = ", ".join(f"{c} = v.{c}" for c, _t in columns)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            params = [adapt(v) if isinstance(v, datetime) else v for row in chunk for v in row]
            cursor.execute(
                f"WITH v({names}) AS (VALUES {', '.join([placeholder] * len(chunk))}) "  # noqa: S608 - names from code
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{pk_column} = v.pk_",
                params,
            )


@transaction.atomic(savepoint=False)  # see sla_start
def sla_sync(*, ticket: Ticket, now: datetime | None = None) -> TicketSla:
    """Bring the clocks in line with the ticket's status and answers (events "status_changed",
    "first_response", "customer_replied"): pause or restart the resolution clock, record met targets.
    Nothing is written when nothing changed (a customer's reply to an open ticket)."""
    now = now or timezone.now()
    state = TicketSla.objects.filter(ticket_id=ticket.pk).select_related("calendar").first()
    if state is None:
        return sla_start(ticket=ticket, now=now)
    before = _clock_values(state, ticket)
    calendar = organization_lookups(ticket.organization_id)[1].get(state.calendar) if state.calendar else None
    if _reconcile_pause(state, ticket, calendar, now):
        compute_due(state, ticket, calendar)
    _record_outcomes(state, ticket, now)
    state.next_check_at = next_check(state, ticket)
    if _clock_values(state, ticket) != before:
        _save(state, ticket)
    return state


# The SLA row's columns that the clocks set (its updated_at is the time of the last change).
_CLOCK_FIELDS = [f.attname for f in TicketSla._meta.concrete_fields if f.name != "updated_at"]


def _clock_values(state: TicketSla, ticket: Ticket) -> tuple:
    return (*(getattr(state, name) for name in _CLOCK_FIELDS), ticket.first_response_due_at, ticket.resolution_due_at)


def on_ticket_event(ticket: Ticket, event: str, **info: Any) -> None:
    """The ticket_hooks callback (`callback(ticket, event, **info)`): every event the SLA clocks care
    about. `info["at"]`, when given, is when it happened (a first reply's time)."""
    if getattr(ticket, "pk", None) is None:
        return
    at = info.get("at") if isinstance(info.get("at"), datetime) else None
    if event == "created":
        sla_start(ticket=ticket, now=at, new=True)
    elif event == "priority_changed":
        sla_recompute(ticket=ticket, now=at)
    elif event in ("status_changed", "first_response", "customer_replied"):
        sla_sync(ticket=ticket, now=at)


def on_tickets_event(event: str, items: Sequence[tuple[Ticket, dict[str, Any]]]) -> None:
    """The batch form of on_ticket_event (ticket_hooks): raised priorities are recomputed together."""
    if event != "priority_changed":
        for ticket, info in items:
            on_ticket_event(ticket, event, **info)
        return
    by_moment: dict[datetime | None, list[Ticket]] = {}
    for ticket, info in items:
        if getattr(ticket, "pk", None) is not None:
            at = info.get("at") if isinstance(info.get("at"), datetime) else None
            by_moment.setdefault(at, []).append(ticket)
    for at, tickets in by_moment.items():
        sla_recompute_many(tickets=tickets, now=at)


def calendar_get_for_update(*, actor: Any, pk: Any) -> BusinessCalendar:
    try:
        return BusinessCalendar.objects.visible_to(actor).get(pk=int(pk))
    except (ValueError, TypeError, BusinessCalendar.DoesNotExist) as exc:
        raise NotFound() from exc
