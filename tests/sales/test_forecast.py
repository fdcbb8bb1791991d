"""The forecast's numbers: weighted pipeline, commit, best case, won in the period (by the organisation's
time zone), quotas and attainment; who sees what; and a constant number of queries.

Won opportunities are set up with a queryset update of status/closed_at (see forecast_factories.make_won):
closing a deal through the stage services is another topic's; the forecast only reads those columns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kehu.accounts import services as account_services
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, parse_period
from kehu.sales.forecast_selectors import forecast_for
from kehu.sales.models import Opportunity
from tests.customers.factories import make_customer
from tests.sales.forecast_factories import make_open, make_quota, make_won

pytestmark = pytest.mark.django_db

Q2 = Period("quarter", date(2026, 4, 1))
D = Decimal


def line_of(forecast, user):
    return next(line for line in forecast.lines if line.owner is not None and line.owner.pk == user.pk)


def month_of(forecast, month):
    return next(m.figures for m in forecast.months if m.month == month)


@pytest.fixture
def reps(tenant_a):
    return tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]


def test_weighted_commit_and_best_case_of_open_opportunities_closing_in_the_period(tenant_a, reps):
    rep, rep2 = reps
    customer = make_customer(tenant_a, rep)
    make_open(tenant_a, rep, customer=customer, amount="100000", probability=60, close=date(2026, 4, 10))
    make_open(tenant_a, rep, customer=customer, amount="50000", probability=80, close=date(2026, 5, 20))
    make_open(tenant_a, rep, customer=customer, amount="20000", probability=70, close=date(2026, 6, 30))
    make_open(tenant_a, rep, customer=customer, amount="33.33", probability=33, close=date(2026, 6, 1))
    make_open(tenant_a, rep, customer=customer, amount="999", probability=90, close=date(2026, 7, 1))  # next quarter
    make_open(tenant_a, rep, customer=customer, amount="888", probability=90, close=date(2026, 3, 31))  # last quarter
    no_amount = make_opportunity_without_amount(tenant_a, rep, customer)
    make_open(tenant_a, rep2, amount="30000", probability=10, close=date(2026, 4, 1))
    lost = make_open(tenant_a, rep, customer=customer, amount="7777", probability=90, close=date(2026, 4, 2))
    deleted = make_open(tenant_a, rep, customer=customer, amount="6666", probability=90, close=date(2026, 4, 3))
    Opportunity.objects.filter(pk=lost.pk).update(status=Opportunity.Status.LOST)
    Opportunity.objects.filter(pk=deleted.pk).update(deleted_at=datetime(2026, 4, 4, tzinfo=UTC))

    forecast = forecast_for(actor=tenant_a.admin, period=Q2)

    mine = line_of(forecast, rep).figures
    # 100000 × 60% + 50000 × 80% + 20000 × 70% + 33.33 × 33% (10.9989 → 11.00)
    assert mine.weighted == D("114011.00")
    assert mine.commit == D("70000.00")  # 50000 (80%) + 20000 (70%, the threshold itself counts)
    assert mine.best_case == D("170033.33")
    assert mine.open_count == 5  # the one without an amount counts, adds nothing
    assert no_amount.amount is None
    assert line_of(forecast, rep2).figures.weighted == D("3000.00")
    assert forecast.total.weighted == D("117011.00")
    assert forecast.total.best_case == D("200033.33")
    assert month_of(forecast, date(2026, 4, 1)).weighted == D("63000.00")
    assert month_of(forecast, date(2026, 5, 1)).weighted == D("40000.00")
    assert month_of(forecast, date(2026, 6, 1)).weighted == D("14011.00")
    assert [m.month for m in forecast.months] == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]

    stricter = forecast_for(actor=tenant_a.admin, period=Q2, commit_threshold=80)
    assert line_of(stricter, rep).figures.commit == D("50000.00")
    everything = forecast_for(actor=tenant_a.admin, period=Q2, commit_threshold=0)
    assert line_of(everything, rep).figures.commit == D("170033.33")


def make_opportunity_without_amount(tenant, owner, customer):
    from tests.sales.factories import make_opportunity

    return make_opportunity(tenant, owner, customer=customer, probability=50, expected_close_date=date(2026, 4, 15))


def test_won_counts_in_the_month_it_was_won_in_the_organisations_time_zone(tenant_a, reps):
    rep, _ = reps
    assert tenant_a.org.time_zone == "Asia/Shanghai"
    customer = make_customer(tenant_a, rep)
    # 31 March 16:30 UTC is 1 April 00:30 in Shanghai: April, so Q2.
    make_won(tenant_a, rep, customer=customer, amount="1000", closed_at=datetime(2026, 3, 31, 16, 30, tzinfo=UTC))
    # 31 March 15:59 UTC is 23:59 on 31 March in Shanghai: Q1.
    make_won(tenant_a, rep, customer=customer, amount="2000", closed_at=datetime(2026, 3, 31, 15, 59, tzinfo=UTC))
    # 30 June 15:59 UTC is 23:59 on 30 June: June.
    make_won(tenant_a, rep, customer=customer, amount="4000", closed_at=datetime(2026, 6, 30, 15, 59, tzinfo=UTC))
    # 30 June 16:00 UTC is midnight on 1 July: Q3.
    make_won(tenant_a, rep, customer=customer, amount="8000", closed_at=datetime(2026, 6, 30, 16, 0, tzinfo=UTC))
    # Won opportunities count by when they were won, whatever their expected close date said.
    make_won(
        tenant_a,
        rep,
        customer=customer,
        amount="16000",
        closed_at=datetime(2026, 5, 5, 2, 0, tzinfo=UTC),
        expected_close_date=date(2025, 1, 1),
    )

    forecast = forecast_for(actor=tenant_a.admin, period=Q2)

    mine = line_of(forecast, rep).figures
    assert mine.won == D("21000.00")
    assert mine.won_count == 3
    assert mine.open_count == 0 and mine.weighted == 0  # won deals are not pipeline
    assert month_of(forecast, date(2026, 4, 1)).won == D("1000.00")
    assert month_of(forecast, date(2026, 5, 1)).won == D("16000.00")
    assert month_of(forecast, date(2026, 6, 1)).won == D("4000.00")
    march = forecast_for(actor=tenant_a.admin, period=Period("month", date(2026, 3, 1)))
    assert line_of(march, rep).figures.won == D("2000.00")
    july = forecast_for(actor=tenant_a.admin, period=Period("month", date(2026, 7, 1)))
    assert line_of(july, rep).figures.won == D("8000.00")


def test_won_months_follow_another_time_zone_too(tenant_a, reps):
    rep, _ = reps
    tenant_a.org.time_zone = "America/New_York"
    tenant_a.org.save(update_fields=["time_zone"])
    admin = type(tenant_a.admin).objects.select_related("organization").get(pk=tenant_a.admin.pk)
    # 1 May 02:00 UTC is still 30 April 22:00 in New York.
    make_won(tenant_a, rep, amount="500", closed_at=datetime(2026, 5, 1, 2, 0, tzinfo=UTC))

    forecast = forecast_for(actor=admin, period=Q2)

    assert month_of(forecast, date(2026, 4, 1)).won == D("500.00")
    assert month_of(forecast, date(2026, 5, 1)).won == 0


def test_attainment_is_won_over_quota_and_unknown_without_a_quota(tenant_a, reps):
    rep, rep2 = reps
    manager = tenant_a.users["sales_manager"]
    make_quota(tenant_a, rep, amount="100000", start=date(2026, 4, 1))
    make_quota(tenant_a, rep, amount="100000", start=date(2026, 5, 1))
    # A quarterly quota is spread over its months (the last one takes the cents left over)...
    make_quota(tenant_a, rep2, amount="100000", kind=Quota.Period.QUARTER, start=date(2026, 4, 1))
    # ...unless a month has its own.
    make_quota(tenant_a, rep2, amount="5000", start=date(2026, 6, 1))
    make_quota(tenant_a, rep, amount="777", start=date(2026, 7, 1))  # next quarter
    make_quota(tenant_a, rep, amount="1", start=date(2026, 6, 1), currency="USD")  # another currency: ignored
    make_won(tenant_a, rep, amount="50000", closed_at=datetime(2026, 4, 20, 4, 0, tzinfo=UTC))
    make_won(tenant_a, manager, amount="12345", closed_at=datetime(2026, 4, 20, 4, 0, tzinfo=UTC))

    forecast = forecast_for(actor=tenant_a.admin, period=Q2)

    assert line_of(forecast, rep).figures.quota == D("200000.00")
    assert line_of(forecast, rep).figures.attainment == D("25.0")
    assert line_of(forecast, rep2).figures.quota == D("71666.66")  # 33333.33 + 33333.33 + 5000
    assert line_of(forecast, rep2).figures.attainment == D("0.0")
    assert line_of(forecast, manager).figures.quota is None
    assert line_of(forecast, manager).figures.attainment is None
    assert forecast.total.quota == D("271666.66")
    assert month_of(forecast, date(2026, 4, 1)).quota == D("133333.33")
    assert month_of(forecast, date(2026, 6, 1)).quota == D("5000.00")

    june = forecast_for(actor=tenant_a.admin, period=Period("month", date(2026, 6, 1)))
    assert line_of(june, rep).figures.quota is None
    assert line_of(june, rep2).figures.quota == D("5000.00")
    may = forecast_for(actor=tenant_a.admin, period=Period("month", date(2026, 5, 1)))
    assert line_of(may, rep2).figures.quota == D("33333.33")
    # Over a year, the whole quarterly quota counts (no cent lost to the thirds).
    year = forecast_for(actor=tenant_a.admin, period=Period("year", date(2026, 1, 1)))
    assert line_of(year, rep).figures.quota == D("200777.00")
    in_dollars = forecast_for(actor=tenant_a.admin, period=Q2, currency="usd")
    assert line_of(in_dollars, rep).figures.quota == D("1.00")
    assert in_dollars.currency == "USD"


def test_a_rep_sees_their_own_line_a_manager_their_teams_another_organisation_nothing(tenant_a, tenant_b, reps):
    rep, rep2 = reps
    manager = tenant_a.users["sales_manager"]
    make_open(tenant_a, rep, amount="1000", probability=50, close=date(2026, 4, 1))
    make_open(tenant_a, rep2, amount="3000", probability=50, close=date(2026, 4, 1))
    make_open(tenant_a, manager, amount="5000", probability=50, close=date(2026, 4, 1))
    make_quota(tenant_a, rep2, amount="9000", start=date(2026, 4, 1))
    # Outside the manager's team tree: a rep of a team of their own at the top.
    north = account_services.team_create(actor=tenant_a.admin, name="North")
    outsider = account_services.user_create(
        actor=tenant_a.admin,
        organization=tenant_a.org,
        email="north@a.test",
        password="Kehu-test-pw-2026",
        role=tenant_a.role("sales_rep"),
        name="north rep",
        team=north,
    )
    make_open(tenant_a, outsider, amount="7000", probability=50, close=date(2026, 4, 1))
    make_open(tenant_b, tenant_b.users["sales_rep"], amount="100000", probability=100, close=date(2026, 4, 1))
    make_quota(tenant_b, tenant_b.users["sales_rep"], amount="100000", start=date(2026, 4, 1))

    as_rep = forecast_for(actor=rep, period=Q2)
    assert [line.owner for line in as_rep.lines] == [rep]
    assert as_rep.total.best_case == D("1000.00") and as_rep.total.quota is None

    as_manager = forecast_for(actor=manager, period=Q2)
    owners = {line.owner.pk for line in as_manager.lines}
    assert {rep.pk, rep2.pk, manager.pk} <= owners
    assert outsider.pk not in owners
    assert as_manager.total.best_case == D("9000.00")
    assert as_manager.total.quota == D("9000.00")
    teams = [block.team for block in as_manager.teams]
    assert teams == [tenant_a.teams["sales"], tenant_a.teams["east"]]
    east = as_manager.teams[1]
    assert {line.owner.pk for line in east.lines} == {rep.pk, rep2.pk}
    assert east.subtotal.best_case == D("4000.00")

    only_east = forecast_for(actor=manager, period=Q2, team=tenant_a.teams["east"])
    assert {line.owner.pk for line in only_east.lines} == {rep.pk, rep2.pk}
    assert only_east.total.best_case == D("4000.00")

    as_admin = forecast_for(actor=tenant_a.admin, period=Q2)
    assert as_admin.total.best_case == D("16000.00")  # the whole organisation, nothing of tenant_b
    assert as_admin.total.quota == D("9000.00")
    assert all(line.owner.organization_id == tenant_a.org.pk for line in as_admin.lines)

    with pytest.raises(PermissionDenied):
        forecast_for(actor=tenant_a.users["marketer"], period=Q2)


def test_unassigned_opportunities_have_their_own_line_for_the_whole_organisation(tenant_a, reps):
    rep, _ = reps
    opportunity = make_open(tenant_a, rep, amount="2500", probability=40, close=date(2026, 5, 1))
    Opportunity.objects.filter(pk=opportunity.pk).update(owner=None)

    forecast = forecast_for(actor=tenant_a.admin, period=Q2)

    unassigned = [line for line in forecast.lines if line.owner is None]
    assert len(unassigned) == 1 and unassigned[0].figures.weighted == D("1000.00")
    assert forecast.lines[-1] is unassigned[0]
    assert forecast_for(actor=rep, period=Q2).total.open_count == 0


def test_other_currencies_are_left_out_and_counted(tenant_a, reps):
    rep, _ = reps
    make_open(tenant_a, rep, amount="1000", probability=50, close=date(2026, 4, 1))
    make_open(tenant_a, rep, amount="2000", probability=50, close=date(2026, 4, 1), currency="USD")
    make_won(tenant_a, rep, amount="3000", currency="USD", closed_at=datetime(2026, 4, 2, tzinfo=UTC))

    forecast = forecast_for(actor=tenant_a.admin, period=Q2)

    assert forecast.currency == "CNY"
    assert forecast.total.best_case == D("1000.00") and forecast.total.won == 0
    assert forecast.other_currencies == {"USD": 2}
    assert not forecast.is_empty


def test_an_empty_period_is_empty_but_still_lists_the_reps(tenant_a, reps):
    rep, rep2 = reps
    make_quota(tenant_a, rep, amount="1000", start=date(2026, 4, 1))

    forecast = forecast_for(actor=tenant_a.users["sales_manager"], period=Q2)

    assert forecast.is_empty
    assert {rep.pk, rep2.pk} <= {line.owner.pk for line in forecast.lines}
    assert forecast.total.quota == D("1000.00")


def test_the_commit_threshold_must_be_a_probability(tenant_a):
    with pytest.raises(ValidationFailed) as caught:
        forecast_for(actor=tenant_a.admin, period=Q2, commit_threshold=101)
    assert "commit_threshold" in caught.value.fields


def test_the_forecast_runs_a_fixed_number_of_queries(tenant_a, reps, django_assert_max_num_queries):
    rep, rep2 = reps
    manager = (
        type(rep).objects.select_related("organization", "role", "team").get(pk=tenant_a.users["sales_manager"].pk)
    )
    customer = make_customer(tenant_a, rep)
    for n in range(3):
        make_open(tenant_a, rep, customer=customer, amount="1000", probability=50, close=date(2026, 4, 1 + n))
    make_quota(tenant_a, rep, amount="1000", start=date(2026, 4, 1))
    forecast_for(actor=manager, period=Q2)  # warm-up
    with django_assert_max_num_queries(8) as few:
        forecast_for(actor=manager, period=Q2)
    for n in range(12):
        owner = rep if n % 2 else rep2
        make_open(tenant_a, owner, customer=customer, amount="1000", probability=50, close=date(2026, 5, 1 + n))
        make_won(tenant_a, owner, customer=customer, amount="10", closed_at=datetime(2026, 6, 1 + n, tzinfo=UTC))
    make_quota(tenant_a, rep2, amount="1000", kind=Quota.Period.QUARTER, start=date(2026, 4, 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        forecast = forecast_for(actor=manager, period=Q2)
    assert forecast.total.open_count == 15 and forecast.total.won_count == 12


@pytest.mark.parametrize(
    ("kind", "start", "expected"),
    [
        ("quarter", "2026-05-17", Period("quarter", date(2026, 4, 1))),
        ("quarter", "2026-Q4", Period("quarter", date(2026, 10, 1))),
        ("month", "2026-02", Period("month", date(2026, 2, 1))),
        ("year", "2026", Period("year", date(2026, 1, 1))),
        ("year", "2026-q3", Period("year", date(2026, 1, 1))),
        (None, "2026-12-31", Period("quarter", date(2026, 10, 1))),
    ],
)
def test_periods_are_parsed_and_normalised(kind, start, expected, tenant_a):
    period = parse_period(kind, start, organization=tenant_a.org)
    assert period == expected


def test_a_period_knows_its_months_end_and_neighbours():
    assert Q2.months == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
    assert Q2.last_day == date(2026, 6, 30) and Q2.end == date(2026, 7, 1)
    assert Q2.shifted(-2) == Period("quarter", date(2025, 10, 1))
    assert Q2.label == "2026 Q2" and Q2.param == "2026-Q2"
    assert Period("month", date(2026, 12, 1)).shifted(1) == Period("month", date(2027, 1, 1))
    assert len(Period("year", date(2026, 1, 1)).months) == 12


@pytest.mark.parametrize(
    ("kind", "start", "field"),
    [
        ("week", "2026-01", "period"),
        ("month", "2026-13", "start"),
        ("month", "soon", "start"),
        ("year", "0001", "start"),
    ],
)
def test_bad_periods_fail_on_their_field(kind, start, field, tenant_a):
    with pytest.raises(ValidationFailed) as caught:
        parse_period(kind, start, organization=tenant_a.org)
    assert field in caught.value.fields
