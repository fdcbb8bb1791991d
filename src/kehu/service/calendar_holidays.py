"""The Chinese public holiday schedule shipped with Kehu (fixtures/calendar_cn_holidays.json).

`cn_schedule(year)` reads one year as a list of days; the service `calendar_apply_cn_holidays` writes them
into a calendar, where the administrator can edit them (an edited day is theirs: applying again keeps it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "fixtures" / "calendar_cn_holidays.json"


@dataclass(frozen=True)
class ScheduledDay:
    date: date
    kind: str  # "holiday" | "workday"
    name: str
    name_en: str


@dataclass(frozen=True)
class YearSchedule:
    year: int
    provisional: bool
    source: str
    days: tuple[ScheduledDay, ...]

    @property
    def holidays(self) -> list[ScheduledDay]:
        return [d for d in self.days if d.kind == "holiday"]

    @property
    def workdays(self) -> list[ScheduledDay]:
        return [d for d in self.days if d.kind == "workday"]


@cache
def _data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def available_years() -> list[int]:
    return sorted(int(y) for y in _data()["years"])


def cn_schedule(year: int) -> YearSchedule | None:
    """The year's holidays (every date of each range) and make-up working days, or None when not shipped."""
    raw = _data()["years"].get(str(year))
    if raw is None:
        return None
    days: list[ScheduledDay] = []
    for item in raw["holidays"]:
        day, last = date.fromisoformat(item["from"]), date.fromisoformat(item["to"])
        while day <= last:
            days.append(ScheduledDay(day, "holiday", item["name"], item.get("name_en", item["name"])))
            day += timedelta(days=1)
    for item in raw["workdays"]:
        days.append(ScheduledDay(date.fromisoformat(item["date"]), "workday", item["name"], item.get("name_en", "")))
    days.sort(key=lambda d: d.date)
    return YearSchedule(
        year=year, provisional=bool(raw.get("provisional")), source=raw.get("source", ""), days=tuple(days)
    )
