"""/api/v1/forecast/ and /api/v1/quotas/ end to end: numbers, scope, errors, versions, query counts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kehu.sales.forecast_models import Quota
from tests.api.support import all_ids, assert_error
from tests.sales.forecast_factories import make_deleted_quota, make_open, make_quota, make_won

pytestmark = pytest.mark.django_db

FORECAST = "/api/v1/forecast/"
QUOTAS = "/api/v1/quotas/"


@pytest.fixture
def pipeline(tenant_a, tenant_b):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_open(tenant_a, rep, amount="100000", probability=60, close=date(2026, 4, 10))
    make_open(tenant_a, rep, amount="50000", probability=80, close=date(2026, 6, 10))
    make_open(tenant_a, rep2, amount="10000", probability=50, close=date(2026, 5, 10))
    make_won(tenant_a, rep, amount="40000", closed_at=datetime(2026, 5, 2, 3, 0, tzinfo=UTC))
    make_quota(tenant_a, rep, amount="80000", start=date(2026, 4, 1), kind="quarter")
    make_open(tenant_b, tenant_b.users["sales_rep"], amount="999999", probability=100, close=date(2026, 4, 10))
    return rep, rep2


def test_the_forecast_by_rep(pipeline, tenant_a, api):
    rep, rep2 = pipeline

    body = api(tenant_a.admin).get(f"{FORECAST}?period=quarter&start=2026-Q2").json()

    assert body["period"] == {"kind": "quarter", "start": "2026-04-01", "end": "2026-06-30", "label": "2026 Q2"}
    assert body["currency"] == "CNY" and body["commit_threshold"] == 70 and body["next"] is None
    lines = {row["owner"]: row for row in body["results"]}
    mine = lines[rep.pk]
    assert mine["owner_name"] == str(rep) and mine["team"] == tenant_a.teams["east"].pk
    assert mine["quota"] == "80000.00" and mine["won"] == "40000.00" and mine["attainment"] == "50.0"
    assert mine["weighted"] == "100000.00" and mine["commit"] == "50000.00" and mine["best_case"] == "150000.00"
    assert mine["open_count"] == 2 and mine["won_count"] == 1
    assert lines[rep2.pk]["quota"] is None and lines[rep2.pk]["attainment"] is None
    assert body["total"]["best_case"] == "160000.00"  # nothing of the other organisation
    assert [m["month"] for m in body["months"]] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    assert [m["won"] for m in body["months"]] == ["0.00", "40000.00", "0.00"]
    assert [m["quota"] for m in body["months"]] == ["26666.66", "26666.66", "26666.68"]


def test_the_forecast_by_team_and_by_month_with_a_commit_threshold(pipeline, tenant_a, api):
    client = api(tenant_a.users["sales_manager"])

    by_team = client.get(f"{FORECAST}?start=2026-05-01&group_by=team&commit_threshold=50").json()
    teams = {row["team"]: row for row in by_team["results"]}
    assert teams[tenant_a.teams["east"].pk]["team_name"] == "Sales East"
    assert teams[tenant_a.teams["east"].pk]["commit"] == "160000.00"  # 60%, 80% and 50% are all ≥ 50
    assert by_team["commit_threshold"] == 50

    by_month = client.get(f"{FORECAST}?period=month&start=2026-05&group_by=month").json()
    assert [row["month"] for row in by_month["results"]] == ["2026-05-01"]
    assert by_month["results"][0]["weighted"] == "5000.00"


def test_a_rep_gets_their_own_line_and_a_team_filter_outside_scope_fails_on_its_field(pipeline, tenant_a, api):
    rep, _ = pipeline
    client = api(rep)

    body = client.get(f"{FORECAST}?start=2026-Q2").json()
    assert [row["owner"] for row in body["results"]] == [rep.pk]
    assert body["total"]["best_case"] == "150000.00"

    error = assert_error(client.get(f"{FORECAST}?team={tenant_a.teams['east'].pk}"), 400, "validation_failed")
    assert "team" in error["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=week", "period"),
        ("start=2026-13", "start"),
        ("start=tomorrow", "start"),
        ("group_by=customer", "group_by"),
        ("commit_threshold=101", "commit_threshold"),
        ("commit_threshold=x", "commit_threshold"),
        ("currency=yuan", "currency"),
        ("team=999999", "team"),
    ],
)
def test_bad_forecast_parameters_fail_on_their_field(query, field, tenant_a, api):
    error = assert_error(api(tenant_a.admin).get(f"{FORECAST}?{query}"), 400, "validation_failed")
    assert field in error["fields"], error


def test_roles_without_sales_get_403(tenant_a, api):
    assert_error(api(tenant_a.users["marketer"]).get(FORECAST), 403, "permission_denied")
    assert_error(api(tenant_a.users["marketer"]).get(QUOTAS), 403, "permission_denied")


def test_the_forecast_needs_the_same_queries_for_many_opportunities(tenant_a, api, django_assert_max_num_queries):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.users["sales_manager"])
    make_open(tenant_a, rep, amount="1", probability=10, close=date(2026, 4, 1))
    client.get(f"{FORECAST}?start=2026-Q2")
    with django_assert_max_num_queries(10) as captured:
        assert client.get(f"{FORECAST}?start=2026-Q2").status_code == 200
    for n in range(10):
        make_open(tenant_a, rep, amount="1", probability=10, close=date(2026, 4, 1 + n))
        make_won(tenant_a, tenant_a.users["sales_rep_2"], amount="1", closed_at=datetime(2026, 5, 1 + n, tzinfo=UTC))
    with django_assert_max_num_queries(len(captured.captured_queries)):
        body = client.get(f"{FORECAST}?start=2026-Q2").json()
    assert body["total"]["open_count"] == 11 and body["total"]["won_count"] == 10


# Quotas -----------------------------------------------------------------------------------------------


def test_a_manager_creates_reads_changes_and_deletes_a_quota(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.users["sales_manager"])

    response = client.post(
        QUOTAS,
        {"user": rep.pk, "period_kind": "quarter", "period_start": "2026-04-01", "amount": "300000"},
        format="json",
    )
    assert response.status_code == 201, response.content
    quota = response.json()
    assert quota["user"]["id"] == rep.pk and quota["period_label"] == "2026 Q2" and quota["currency"] == "CNY"
    url = f"{QUOTAS}{quota['id']}/"
    assert client.get(url).json()["amount"] == "300000.00"

    changed = client.patch(url, {"amount": "350000", "version": 1}, format="json")
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert_error(client.patch(url, {"amount": "1", "version": 1}, format="json"), 409, "version_conflict")
    assert_error(client.patch(url, {"amount": "1"}, format="json"), 400, "validation_failed")

    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404, "not_found")
    restored = client.post(f"{url}restore/")
    assert restored.status_code == 200 and restored.json()["amount"] == "350000.00"


def test_quota_input_errors_name_their_fields(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.admin)
    make_quota(tenant_a, rep, start=date(2026, 4, 1))

    base = {"user": rep.pk, "period_kind": "month", "period_start": "2026-05-01", "amount": "1"}
    cases = [
        ({"period_start": "2026-04-01"}, "period_start", "quota_exists"),
        ({"period_start": "2026-04-15"}, "period_start", "validation_failed"),
        ({"amount": "-1"}, "amount", "validation_failed"),
        ({"currency": "12"}, "currency", "validation_failed"),
        ({"user": 999999}, "user", "validation_failed"),
        ({"user": None}, "user", "validation_failed"),
    ]
    for change, field, code in cases:
        data = {k: v for k, v in {**base, **change}.items() if v is not None}
        error = assert_error(client.post(QUOTAS, data, format="json"), 400, code)
        assert field in error["fields"], (data, error)


def test_reps_read_their_own_quotas_and_cannot_set_any(tenant_a, tenant_b, api):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    mine, theirs = make_quota(tenant_a, rep), make_quota(tenant_a, rep2)
    other_org = make_quota(tenant_b)
    client = api(rep)

    assert all_ids(client, QUOTAS) == [mine.pk]
    assert_error(client.get(f"{QUOTAS}{theirs.pk}/"), 404, "not_found")
    assert_error(client.get(f"{QUOTAS}{other_org.pk}/"), 404, "not_found")
    assert_error(
        client.post(
            QUOTAS, {"user": rep.pk, "period_kind": "month", "period_start": "2026-04-01", "amount": "1"}, format="json"
        ),
        403,
        "permission_denied",
    )
    assert_error(
        client.patch(f"{QUOTAS}{mine.pk}/", {"amount": "1", "version": 1}, format="json"), 403, "permission_denied"
    )
    manager = api(tenant_a.users["sales_manager"])
    data = {"user": tenant_b.users["sales_rep"].pk, "period_kind": "month", "period_start": "2026-04-01", "amount": "1"}
    error = assert_error(manager.post(QUOTAS, data, format="json"), 400, "validation_failed")
    assert "user" in error["fields"]  # another organisation's rep fails like a missing one


def test_quota_list_filters(tenant_a, api):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    april = make_quota(tenant_a, rep, start=date(2026, 4, 1))
    july = make_quota(tenant_a, rep, start=date(2026, 7, 1))
    quarter = make_quota(tenant_a, rep2, start=date(2026, 4, 1), kind=Quota.Period.QUARTER)
    admin_quota = make_quota(tenant_a, tenant_a.admin, start=date(2026, 4, 1))
    make_deleted_quota(tenant_a, rep, start=date(2026, 5, 1))
    client = api(tenant_a.admin)

    assert set(all_ids(client, f"{QUOTAS}?user={rep.pk}")) == {april.pk, july.pk}
    assert set(all_ids(client, f"{QUOTAS}?start=2026-04-01&end=2026-07-01")) == {april.pk, quarter.pk, admin_quota.pk}
    assert set(all_ids(client, f"{QUOTAS}?period_kind=quarter")) == {quarter.pk}
    assert set(all_ids(client, f"{QUOTAS}?team={tenant_a.teams['east'].pk}")) == {april.pk, july.pk, quarter.pk}
    assert_error(client.get(f"{QUOTAS}?start=soon"), 400, "validation_failed")


def test_the_quota_list_needs_a_bounded_number_of_queries(tenant_a, api, django_assert_max_num_queries):
    client = api(tenant_a.users["sales_manager"])
    for month in (4, 5, 6):
        make_quota(tenant_a, tenant_a.users["sales_rep"], start=date(2026, month, 1))
        make_quota(tenant_a, tenant_a.users["sales_rep_2"], start=date(2026, month, 1))
    with django_assert_max_num_queries(6):
        body = client.get(QUOTAS).json()
    assert len(body["results"]) == 6


def test_the_schema_documents_both_routes(tenant_a, api):
    schema = api(tenant_a.admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/forecast/" in text and "/api/v1/quotas/{id}/restore/" in text
    assert "commit_threshold" in text and "group_by" in text
