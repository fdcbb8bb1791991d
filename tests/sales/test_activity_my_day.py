"""My day and the calendar cut days in the organisation's time zone."""

import zoneinfo
from datetime import date, datetime, timedelta

import pytest

from kehu.core.errors import ValidationFailed
from kehu.sales import activity_selectors as selectors
from kehu.sales import activity_services as services
from tests.customers.factories import make_customer
from tests.sales.activity_factories import make_activity

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 7, 0, tzinfo=SHANGHAI)  # 2026-03-09 23:00 UTC: "today" differs by zone


def at(day: int, hour: int, minute: int = 0, tz=SHANGHAI) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


@pytest.fixture
def customer(tenant_a, rep):
    return make_customer(tenant_a, rep)


def subjects(activities) -> list[str]:
    return [a.subject for a in activities]


def test_buckets_follow_the_organisations_day(tenant_a, rep, customer):
    assert tenant_a.org.time_zone == "Asia/Shanghai"
    make_activity(tenant_a, rep, customer=customer, subject="early", starts_at=at(10, 6))
    make_activity(tenant_a, rep, customer=customer, subject="last week", starts_at=at(2, 9))
    make_activity(tenant_a, rep, customer=customer, subject="morning", starts_at=at(10, 10))
    make_activity(tenant_a, rep, customer=customer, subject="late", starts_at=at(10, 23, 59))
    make_activity(tenant_a, rep, customer=customer, subject="tomorrow", starts_at=at(11, 0, 30))
    make_activity(tenant_a, rep, customer=customer, subject="in a week", starts_at=at(17, 12))
    make_activity(tenant_a, rep, customer=customer, subject="too far", starts_at=at(18, 12))
    make_activity(tenant_a, rep, customer=customer, subject="task", kind="task", due_at=at(10, 18))
    services.activity_log(actor=rep, subject="called at six", customer=customer, done_at=at(10, 6))
    services.activity_log(actor=rep, subject="called yesterday", customer=customer, done_at=at(9, 23))
    colleague = tenant_a.users["sales_rep_2"]
    make_activity(
        tenant_a, colleague, customer=make_customer(tenant_a, colleague), subject="not mine", starts_at=at(10, 9)
    )

    day = selectors.my_day_for(actor=rep, now=NOW)

    assert day.today == date(2026, 3, 10)
    assert subjects(day.overdue) == ["last week", "early"]
    assert subjects(day.due_today) == ["morning", "task", "late"]
    assert subjects(day.done_today) == ["called at six"]
    assert subjects(day.upcoming) == ["tomorrow", "in a week"]


def test_in_another_zone_the_same_instants_fall_on_other_days(tenant_a, rep, customer):
    tenant_a.org.time_zone = "America/New_York"
    tenant_a.org.save(update_fields=["time_zone"])
    rep.refresh_from_db()
    make_activity(tenant_a, rep, customer=customer, subject="morning", starts_at=at(10, 10))  # 21:00 on the 9th in NY
    make_activity(tenant_a, rep, customer=customer, subject="late", starts_at=at(10, 23, 59))  # 10:59 on the 10th in NY

    day = selectors.my_day_for(actor=rep, now=NOW)  # 18:00 on the 9th in New York

    assert day.today == date(2026, 3, 9)
    assert subjects(day.due_today) == ["morning"]
    assert subjects(day.upcoming) == ["late"]


def test_the_api_list_of_my_day_has_the_same_buckets(tenant_a, rep, customer):
    make_activity(tenant_a, rep, customer=customer, subject="early", starts_at=at(10, 6))
    make_activity(tenant_a, rep, customer=customer, subject="late", starts_at=at(10, 23, 59))
    make_activity(tenant_a, rep, customer=customer, subject="tomorrow", starts_at=at(11, 9))
    rows = selectors.my_day_page_for(actor=rep, now=NOW).items
    _today, _start, tomorrow, _end = selectors.my_day_bounds(tenant_a.org, NOW)
    assert [(a.subject, selectors.bucket_of(a, now=NOW, tomorrow=tomorrow)) for a in rows] == [
        ("early", "overdue"),
        ("late", "today"),
        ("tomorrow", "upcoming"),
    ]


def test_the_month_grid_starts_on_monday_and_places_activities_on_local_days(tenant_a, rep, customer):
    make_activity(tenant_a, rep, customer=customer, subject="late on the 10th", starts_at=at(10, 23, 30))
    make_activity(tenant_a, rep, customer=customer, subject="task due the 20th", kind="task", due_at=at(20, 18))
    cancelled = make_activity(tenant_a, rep, customer=customer, subject="called off", starts_at=at(12, 9))
    services.activity_cancel(actor=rep, activity=cancelled)
    make_activity(
        tenant_a, rep, customer=customer, subject="next month", starts_at=datetime(2026, 4, 2, 9, tzinfo=SHANGHAI)
    )

    cal = selectors.calendar_for(actor=rep, view="month", anchor=date(2026, 3, 15), now=NOW)

    assert cal.start == date(2026, 2, 23) and cal.start.weekday() == 0
    assert cal.end == date(2026, 4, 6) and len(cal.weeks) == 6
    by_day = {d.day: subjects(d.items) for d in cal.days}
    assert by_day[date(2026, 3, 10)] == ["late on the 10th"]  # 15:30 UTC, still the 10th in Shanghai
    assert by_day[date(2026, 3, 20)] == ["task due the 20th"]
    assert by_day[date(2026, 3, 12)] == []  # cancelled ones are left out
    assert by_day[date(2026, 4, 2)] == ["next month"]  # shown greyed in the trailing week
    assert not next(d for d in cal.days if d.day == date(2026, 4, 2)).in_range
    assert cal.previous == date(2026, 2, 1) and cal.next == date(2026, 4, 1)
    assert next(d for d in cal.days if d.is_today).day == date(2026, 3, 10)


def test_week_and_day_views(tenant_a, rep, customer):
    make_activity(tenant_a, rep, customer=customer, subject="wed call", starts_at=at(11, 14, 30))
    week = selectors.calendar_for(actor=rep, view="week", anchor=date(2026, 3, 12), now=NOW)
    assert week.start == date(2026, 3, 9) and week.end == date(2026, 3, 16)
    assert subjects(week.days[2].items) == ["wed call"]
    assert week.previous == date(2026, 3, 5) and week.next == date(2026, 3, 19)
    day = selectors.calendar_for(actor=rep, view="day", anchor=date(2026, 3, 11), now=NOW)
    hours = dict(day.hours)
    assert subjects(hours[14]) == ["wed call"] and hours[8] == [] and 18 in hours


def test_a_manager_sees_the_teams_calendar_a_rep_only_their_own(tenant_a, rep, customer):
    manager, colleague = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    make_activity(tenant_a, rep, customer=customer, subject="rep's", starts_at=at(11, 9))
    make_activity(
        tenant_a, colleague, customer=make_customer(tenant_a, colleague), subject="colleague's", starts_at=at(11, 10)
    )
    everyone = selectors.calendar_for(actor=manager, view="day", anchor=date(2026, 3, 11), everyone=True, now=NOW)
    assert subjects(everyone.days[0].items) == ["rep's", "colleague's"]
    one = selectors.calendar_for(actor=manager, view="day", anchor=date(2026, 3, 11), owner=colleague, now=NOW)
    assert subjects(one.days[0].items) == ["colleague's"]
    # A rep asking for everyone still only sees what their scope allows.
    theirs = selectors.calendar_for(actor=rep, view="day", anchor=date(2026, 3, 11), everyone=True, now=NOW)
    assert subjects(theirs.days[0].items) == ["rep's"]
    assert selectors.sees_colleagues(manager) and not selectors.sees_colleagues(rep)


def test_my_day_needs_a_bounded_number_of_queries(tenant_a, rep, customer, django_assert_max_num_queries):
    for i in range(15):
        make_activity(tenant_a, rep, customer=customer, starts_at=NOW + timedelta(hours=i * 9 - 30))
    with django_assert_max_num_queries(4):
        day = selectors.my_day_for(actor=rep, now=NOW)
        [a.link_label for bucket in (day.overdue, day.due_today, day.upcoming) for a in bucket]


def test_a_managers_day_checks_its_items_without_a_query_each(tenant_a, customer, django_assert_max_num_queries):
    """The edit checks of a team-scoped user read the owner's team: it comes with the activities (at
    2,000,000 activities a manager's my-day page made 345 team lookups before)."""
    from kehu.core.permissions import can

    manager = tenant_a.users["sales_manager"]
    for i in range(12):
        make_activity(tenant_a, manager, customer=customer, starts_at=NOW + timedelta(hours=i * 9 - 30))
    with django_assert_max_num_queries(5):
        day = selectors.my_day_for(actor=manager, now=NOW)
        items = [a for bucket in (day.overdue, day.due_today, day.upcoming) for a in bucket]
        assert items and all(can(manager, "edit", a) for a in items)


def test_the_api_pages_my_day_bucket_after_bucket(tenant_a, rep, customer, django_assert_max_num_queries):
    """Planned soonest first (overdue, today, upcoming), then done today latest first; a page ends anywhere
    and the cursor carries on in the same or the next bucket; at most two queries a page."""
    for subject, when in (("o1", at(9, 9)), ("o2", at(10, 6)), ("t1", at(10, 12)), ("u1", at(12, 9))):
        make_activity(tenant_a, rep, customer=customer, subject=subject, starts_at=when)
    for subject, when in (("d1", at(10, 1)), ("d2", at(10, 3))):
        done = make_activity(tenant_a, rep, customer=customer, subject=subject, starts_at=when)
        services.activity_complete(actor=rep, activity=done, done_at=when)
    make_activity(tenant_a, rep, customer=customer, subject="next month", starts_at=at(30, 9))
    make_activity(
        tenant_a, tenant_a.users["sales_manager"], customer=customer, subject="manager's", starts_at=at(10, 9)
    )
    seen, cursor = [], None
    while True:
        with django_assert_max_num_queries(2):
            page = selectors.my_day_page_for(actor=rep, now=NOW, cursor=cursor, limit=3)
        _today, _start, tomorrow, _end = selectors.my_day_bounds(tenant_a.org, NOW)
        seen += [(a.subject, selectors.bucket_of(a, now=NOW, tomorrow=tomorrow)) for a in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == [
        ("o1", "overdue"),
        ("o2", "overdue"),
        ("t1", "today"),
        ("u1", "upcoming"),
        ("d2", "done_today"),
        ("d1", "done_today"),
    ]
    assert subjects(selectors.my_day_page_for(actor=rep, now=NOW, bucket="today").items) == ["t1"]
    assert subjects(selectors.my_day_page_for(actor=rep, now=NOW, bucket="done_today").items) == ["d2", "d1"]
    with pytest.raises(ValidationFailed):
        selectors.my_day_page_for(actor=rep, now=NOW, bucket="someday")
    with pytest.raises(ValidationFailed):
        selectors.my_day_page_for(actor=rep, now=NOW, cursor="bm90IGEgY3Vyc29y")


def test_my_own_activities_are_what_visible_to_shows_me_as_owner(tenant_a, customer):
    """own_for skips visible_to's OR over linked records' owners; for one's own activities the two agree,
    whatever the role's scope (a deleted activity or one of a deleted customer is in neither)."""
    from kehu.sales.activity_models import Activity

    other_customer = make_customer(tenant_a, tenant_a.users["sales_rep_2"])
    for key in ("sales_rep", "sales_manager", "administrator"):
        user = tenant_a.users[key]
        for target in (customer, other_customer):
            make_activity(tenant_a, user, customer=target, starts_at=NOW)
        gone = make_activity(tenant_a, user, customer=customer, starts_at=NOW)
        Activity.objects.filter(pk=gone.pk).update(deleted_at=NOW)
        expected = set(Activity.objects.visible_to(user).filter(owner=user).values_list("pk", flat=True))
        assert set(Activity.objects.own_for(user).values_list("pk", flat=True)) == expected and expected
