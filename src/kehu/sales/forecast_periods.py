"""Forecast periods: a month, a quarter or a year, as its kind and first day, in the organisation's calendar.

Dates of opportunities (expected close) are calendar dates; times (closed at) are stored in UTC and fall
into a month by the organisation's time zone, so a deal won at 00:30 on 1 April in Shanghai counts for
April although it is still 31 March in UTC.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed
from kehu.sales.forecast_models import period_label

KINDS = ("month", "quarter", "year")
MONTHS = {"month": 1, "quarter": 3, "year": 12}
MIN_YEAR, MAX_YEAR = 1970, 2999

_START = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?|[Qq](?P<quarter>[1-4])))?$")


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str  # month, quarter or year
    start: date  # its first day

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind == "year":
            return cls(kind, date(day.year, 1, 1))
        if kind == "quarter":
            return cls(kind, quarter_start(day))
        return cls("month", date(day.year, day.month, 1))

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.start, MONTHS[self.kind])

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    @property
    def months(self) -> list[date]:
        return [add_months(self.start, n) for n in range(MONTHS[self.kind])]

    @property
    def label(self) -> str:
        return period_label(self.kind, self.start)

    @property
    def param(self) -> str:
        """The `start` query parameter that names this period again."""
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.year}-{self.start.month:02d}"

    def shifted(self, steps: int) -> Period:
        return Period(self.kind, add_months(self.start, steps * MONTHS[self.kind]))

    def bounds(self, tz: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
        """The period as an aware [start, end) range of times in `tz`."""
        return datetime.combine(self.start, time(), tzinfo=tz), datetime.combine(self.end, time(), tzinfo=tz)


def organization_tz(organization: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(organization, "time_zone", "") or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def today_for(organization: Any) -> date:
    """Today in the organisation's time zone (the server's date may already be tomorrow or still yesterday)."""
    return timezone.now().astimezone(organization_tz(organization)).date()


def parse_period(kind: Any, start: Any, *, organization: Any) -> Period:
    """The period of `kind` (default quarter) that contains `start`: "2026-05-17", "2026-05", "2026-Q2" or
    "2026" (default: today in the organisation's time zone). Bad input fails on the field that holds it."""
    kind = (kind or "quarter").strip() if isinstance(kind, str) else "quarter"
    if kind not in KINDS:
        message = _("Choose month, quarter or year.")
        raise ValidationFailed(message, fields={"period": [message]})
    if not start:
        return Period.containing(kind, today_for(organization))
    text = start.strip() if isinstance(start, str) else ""
    match = _START.match(text)
    day = None
    if match:
        year = int(match["year"])
        month = int(match["month"] or 1)
        if match["quarter"]:
            month = (int(match["quarter"]) - 1) * 3 + 1
        try:
            day = date(year, month, int(match["day"] or 1))
        except ValueError:
            day = None
    if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
        message = _("Enter a date like 2026-04-01, a month like 2026-04, a quarter like 2026-Q2 or a year like 2026.")
        raise ValidationFailed(message, fields={"start": [message]})
    return Period.containing(kind, day)
