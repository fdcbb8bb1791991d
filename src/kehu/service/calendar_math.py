"""Business-time arithmetic: pure functions over a `Calendar` value, no database.

A calendar has working periods per weekday (minutes after local midnight, 0-1440), holidays (no working
time) and make-up working days 调休 (a weekend day worked with the hours of a regular working day). Times
are aware datetimes; the arithmetic runs in UTC over period bounds computed in the calendar's time zone,
so zones with daylight saving time count real elapsed seconds (Asia/Shanghai has none).

    add_business_time(start, seconds, calendar)     the earliest instant with `seconds` of working time
                                                    after `start` (start itself for 0)
    business_seconds_between(a, b, calendar)        working seconds from a to b (negative when b < a)

A calendar without any working time raises NoWorkingTime instead of looping for ever; so does a search
that meets more than MAX_IDLE_DAYS consecutive days without working time (a calendar whose only working
time is a few make-up days that lie behind it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
MAX_IDLE_DAYS = 400  # more than a year without a working minute: the calendar has none left

Period = tuple[int, int]  # (start minute, end minute) after local midnight


class NoWorkingTime(ValueError):
    """The calendar has no working time (at all, or from this point on)."""


@dataclass(frozen=True)
class Calendar:
    time_zone: str = "Asia/Shanghai"
    weekly: Mapping[int, Sequence[Period]] = field(default_factory=dict)  # 0 = Monday
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days 调休

    def __post_init__(self) -> None:
        clean: dict[int, tuple[Period, ...]] = {}
        for weekday, periods in dict(self.weekly).items():
            if weekday not in range(7):
                raise ValueError(f"weekday {weekday} is not 0-6")
            clean[weekday] = normalise_periods(periods)
        object.__setattr__(self, "weekly", clean)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"a day cannot be a holiday and a make-up working day: {sorted(both)[0]}")
        ZoneInfo(self.time_zone)  # an unknown zone fails here, not in the middle of a sweep

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def makeup_periods(self) -> tuple[Period, ...]:
        """The hours of a make-up working day: those of the first weekday (Monday first) that has any."""
        for weekday in range(7):
            if self.weekly.get(weekday):
                return tuple(self.weekly[weekday])
        return ()

    @cached_property
    def has_working_time(self) -> bool:
        """Make-up days work a weekday's hours, so without weekly hours there is no working time at all."""
        return any(self.weekly.values())

    def periods_on(self, day: date) -> tuple[Period, ...]:
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.makeup_periods
        return tuple(self.weekly.get(day.weekday(), ()))

    def bounds_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working periods as UTC instants."""
        midnight = datetime(day.year, day.month, day.day)
        out = []
        for start, end in self.periods_on(day):
            out.append(
                (
                    (midnight + timedelta(minutes=start)).replace(tzinfo=self.tz).astimezone(UTC),
                    (midnight + timedelta(minutes=end)).replace(tzinfo=self.tz).astimezone(UTC),
                )
            )
        return out

    def working_seconds_per_week(self) -> int:
        return sum((end - start) * 60 for periods in self.weekly.values() for start, end in periods)


def normalise_periods(periods: Iterable[Sequence[int]]) -> tuple[Period, ...]:
    """Sorted periods; refuses an empty, reversed, out-of-day or overlapping one."""
    out = sorted((int(p[0]), int(p[1])) for p in periods)
    previous_end = -1
    for start, end in out:
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise ValueError(f"period {start}-{end} is not within one day")
        if start < previous_end:
            raise ValueError(f"period {start}-{end} overlaps the one before it")
        previous_end = end
    return tuple(out)


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def add_business_time(start: datetime, seconds: float, calendar: Calendar) -> datetime:
    """The earliest instant at which `seconds` of working time have passed since `start`.

    Starting outside working hours counts from the next opening; a result that lands exactly on the end
    of a period stays there (18:00, not the next morning). Returned in `start`'s time zone."""
    _check_aware(start, "start")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if seconds == 0:
        return start
    if not calendar.has_working_time:
        raise NoWorkingTime("the calendar has no working hours")
    remaining = timedelta(seconds=seconds)
    moment = start.astimezone(UTC)
    day = start.astimezone(calendar.tz).date()
    idle = 0
    while True:
        bounds = calendar.bounds_on(day)
        worked = False
        for period_start, period_end in bounds:
            if period_end <= moment:
                continue
            worked = True
            begin = max(period_start, moment)
            available = period_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        idle = 0 if worked else idle + 1
        if idle > MAX_IDLE_DAYS:
            raise NoWorkingTime(f"no working time in the {MAX_IDLE_DAYS} days after {day}")
        day += timedelta(days=1)


def business_seconds_between(a: datetime, b: datetime, calendar: Calendar) -> int:
    """Working seconds between `a` and `b` (whole seconds, rounded down); negative when `b` is before `a`."""
    _check_aware(a, "a")
    _check_aware(b, "b")
    if b < a:
        return -business_seconds_between(b, a, calendar)
    a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
    day = a.astimezone(calendar.tz).date()
    last = b.astimezone(calendar.tz).date()
    total = timedelta()
    while day <= last:
        for period_start, period_end in calendar.bounds_on(day):
            begin, end = max(period_start, a_utc), min(period_end, b_utc)
            if end > begin:
                total += end - begin
        day += timedelta(days=1)
    return int(total.total_seconds())


def next_working_instant(moment: datetime, calendar: Calendar) -> datetime:
    """`moment` if it lies in working time, else the next opening (for "the clock starts at ...")."""
    _check_aware(moment, "moment")
    if not calendar.has_working_time:
        raise NoWorkingTime("the calendar has no working hours")
    at = moment.astimezone(UTC)
    day = moment.astimezone(calendar.tz).date()
    for _ in range(MAX_IDLE_DAYS + 1):
        for period_start, period_end in calendar.bounds_on(day):
            if period_end > at:
                return max(period_start, at).astimezone(moment.tzinfo)
        day += timedelta(days=1)
    raise NoWorkingTime(f"no working time in the {MAX_IDLE_DAYS} days after {moment.date()}")


DEFAULT_WEEKLY: dict[int, tuple[Period, ...]] = {d: ((9 * 60, 18 * 60),) for d in range(5)}  # Mon-Fri 09:00-18:00
