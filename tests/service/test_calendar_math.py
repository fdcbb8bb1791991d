"""Business-time arithmetic (kehu.service.calendar_math): pure functions, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kehu.service.calendar_holidays import available_years, cn_schedule
from kehu.service.calendar_math import (
    DEFAULT_WEEKLY,
    Calendar,
    NoWorkingTime,
    add_business_time,
    business_seconds_between,
    next_working_instant,
)

SH = ZoneInfo("Asia/Shanghai")
HOUR = 3600


def at(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def cal(**kwargs) -> Calendar:
    kwargs.setdefault("weekly", DEFAULT_WEEKLY)
    return Calendar(time_zone="Asia/Shanghai", **kwargs)


# 2026-03-02 is a Monday.
def test_within_one_working_day():
    assert add_business_time(at(2026, 3, 2, 10), 2 * HOUR, cal()) == at(2026, 3, 2, 12)


def test_starting_before_hours_counts_from_the_opening():
    assert add_business_time(at(2026, 3, 2, 7, 30), HOUR, cal()) == at(2026, 3, 2, 10)


def test_starting_after_hours_counts_from_the_next_morning():
    assert add_business_time(at(2026, 3, 2, 20), HOUR, cal()) == at(2026, 3, 3, 10)


def test_landing_exactly_on_closing_time_stays_there():
    assert add_business_time(at(2026, 3, 2, 9), 9 * HOUR, cal()) == at(2026, 3, 2, 18)
    assert add_business_time(at(2026, 3, 2, 9), 9 * HOUR + 1, cal()) == at(2026, 3, 3, 9) + timedelta(seconds=1)


def test_across_the_weekend():
    # Friday 17:00 + 2 h: one hour on Friday, one on Monday.
    assert add_business_time(at(2026, 3, 6, 17), 2 * HOUR, cal()) == at(2026, 3, 9, 10)
    # Saturday: counts from Monday 09:00.
    assert add_business_time(at(2026, 3, 7, 11), 30 * 60, cal()) == at(2026, 3, 9, 9, 30)


def test_zero_seconds_is_the_start_itself_even_outside_hours():
    assert add_business_time(at(2026, 3, 7, 11), 0, cal()) == at(2026, 3, 7, 11)


def test_holidays_are_skipped():
    c = cal(holidays=frozenset({date(2026, 3, 3), date(2026, 3, 4)}))
    assert add_business_time(at(2026, 3, 2, 17), 2 * HOUR, c) == at(2026, 3, 5, 10)


def test_a_make_up_working_day_on_a_saturday_counts():
    c = cal(workdays=frozenset({date(2026, 3, 7)}))
    assert add_business_time(at(2026, 3, 6, 17), 2 * HOUR, c) == at(2026, 3, 7, 10)
    assert business_seconds_between(at(2026, 3, 7, 0), at(2026, 3, 8, 0), c) == 9 * HOUR


def test_several_periods_a_day_skip_the_lunch_break():
    weekly = {d: ((9 * 60, 12 * 60), (13 * 60, 18 * 60)) for d in range(5)}
    c = Calendar(weekly=weekly)
    assert add_business_time(at(2026, 3, 2, 11), 2 * HOUR, c) == at(2026, 3, 2, 14)
    assert business_seconds_between(at(2026, 3, 2, 11), at(2026, 3, 2, 14), c) == 2 * HOUR


def test_round_the_clock_calendar():
    c = Calendar(weekly={d: ((0, 1440),) for d in range(7)})
    start = at(2026, 3, 7, 23)
    assert add_business_time(start, 3 * HOUR, c) == at(2026, 3, 8, 2)
    assert business_seconds_between(start, at(2026, 3, 8, 2), c) == 3 * HOUR


def test_spring_festival_2026_with_its_make_up_days():
    schedule = cn_schedule(2026)
    c = cal(
        holidays=frozenset(d.date for d in schedule.holidays), workdays=frozenset(d.date for d in schedule.workdays)
    )
    # Friday 13 Feb 17:00 + 2 h: 1 h on Friday, 1 h on Saturday 14 Feb (a make-up working day 调休).
    assert add_business_time(at(2026, 2, 13, 17), 2 * HOUR, c) == at(2026, 2, 14, 10)
    # Saturday 14 Feb 17:00 + 2 h: the holiday runs 15-23 Feb, so Tuesday 24 Feb 10:00.
    assert add_business_time(at(2026, 2, 14, 17), 2 * HOUR, c) == at(2026, 2, 24, 10)
    # National Day: 30 Sep 17:00 + 2 h -> Thursday 8 Oct 10:00 (1-7 Oct off).
    assert add_business_time(at(2026, 9, 30, 17), 2 * HOUR, c) == at(2026, 10, 8, 10)
    # New Year: Sunday 4 Jan 2026 is a working day.
    assert business_seconds_between(at(2026, 1, 1), at(2026, 1, 5), c) == 9 * HOUR


def test_results_keep_the_callers_time_zone_and_utc_inputs_work():
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    due = add_business_time(start, HOUR, cal())
    assert due.tzinfo is UTC
    assert due == at(2026, 3, 2, 10)


def test_shanghai_has_no_daylight_saving_time():
    # A whole year of weekdays: every working day is exactly 9 hours, whatever the date.
    c = cal()
    total = business_seconds_between(at(2026, 1, 1), at(2027, 1, 1), c)
    weekdays = sum(1 for n in range(365) if (date(2026, 1, 1) + timedelta(days=n)).weekday() < 5)
    assert total == weekdays * 9 * HOUR


def test_a_zone_with_daylight_saving_counts_real_elapsed_time():
    berlin = ZoneInfo("Europe/Berlin")
    c = Calendar(time_zone="Europe/Berlin", weekly={d: ((0, 1440),) for d in range(7)})
    # 29 March 2026: clocks go forward at 02:00, so that calendar day has 23 hours.
    a = datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    b = datetime(2026, 3, 30, 0, 0, tzinfo=berlin)
    assert business_seconds_between(a, b, c) == 23 * HOUR
    assert add_business_time(a, 23 * HOUR, c) == b


def test_between_is_the_inverse_of_add():
    c = cal(holidays=frozenset({date(2026, 3, 4)}), workdays=frozenset({date(2026, 3, 7)}))
    start = at(2026, 3, 2, 16, 20)
    for seconds in (1, 59, HOUR, 7 * HOUR, 25 * HOUR, 100 * HOUR):
        due = add_business_time(start, seconds, c)
        assert business_seconds_between(start, due, c) == seconds


def test_between_is_signed_and_zero_outside_hours():
    c = cal()
    assert business_seconds_between(at(2026, 3, 2, 12), at(2026, 3, 2, 10), c) == -2 * HOUR
    assert business_seconds_between(at(2026, 3, 7, 10), at(2026, 3, 8, 20), c) == 0


def test_a_calendar_without_working_time_is_a_clear_error_not_a_loop():
    empty = Calendar(weekly={})
    with pytest.raises(NoWorkingTime):
        add_business_time(at(2026, 3, 2, 10), HOUR, empty)
    with pytest.raises(NoWorkingTime):
        next_working_instant(at(2026, 3, 2, 10), empty)
    # Only make-up days and no weekday hours: still no working time (make-up days work a weekday's hours).
    with pytest.raises(NoWorkingTime):
        add_business_time(at(2026, 3, 2, 10), HOUR, Calendar(weekly={}, workdays=frozenset({date(2026, 3, 7)})))


def test_holidays_covering_every_working_day_for_a_long_time_end_in_an_error():
    # Every day for two years is a holiday: the search gives up instead of looping for ever.
    start = date(2026, 1, 1)
    holidays = frozenset(start + timedelta(days=n) for n in range(800))
    with pytest.raises(NoWorkingTime):
        add_business_time(at(2026, 1, 1, 10), HOUR, cal(holidays=holidays))


def test_invalid_input_is_refused():
    with pytest.raises(ValueError):
        add_business_time(datetime(2026, 3, 2, 10), HOUR, cal())  # naive
    with pytest.raises(ValueError):
        add_business_time(at(2026, 3, 2, 10), -1, cal())
    with pytest.raises(ValueError):
        Calendar(weekly={0: ((600, 540),)})
    with pytest.raises(ValueError):
        Calendar(weekly={0: ((540, 720), (700, 800))})
    with pytest.raises(ValueError):
        cal(holidays=frozenset({date(2026, 3, 7)}), workdays=frozenset({date(2026, 3, 7)}))


def test_next_working_instant():
    assert next_working_instant(at(2026, 3, 7, 10), cal()) == at(2026, 3, 9, 9)
    assert next_working_instant(at(2026, 3, 9, 10), cal()) == at(2026, 3, 9, 10)


def test_the_shipped_schedules_are_consistent():
    assert {2026, 2027} <= set(available_years())
    for year in (2026, 2027):
        schedule = cn_schedule(year)
        names = {d.name for d in schedule.holidays}
        assert {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"} <= names
        for day in schedule.workdays:
            assert day.date.weekday() >= 5, f"{day.date} is a make-up working day but not a weekend day"
        assert all(d.date.year == year for d in schedule.days)
    assert cn_schedule(2026).provisional is False
    assert cn_schedule(2027).provisional is True
    assert len(cn_schedule(2026).holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert cn_schedule(1999) is None
