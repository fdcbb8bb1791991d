"""The forecast page and the quota pages: they render what the selectors compute, forms keep what was typed
and name the field in error, conflicts keep the user's input, and scope is 404."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.sales.forecast_models import Quota
from tests.sales.forecast_factories import make_deleted_quota, make_open, make_quota, make_won

pytestmark = pytest.mark.django_db

FORECAST = reverse("sales:forecast")
QUOTAS = reverse("sales:quotas")


def login(client, user, language="en"):
    user.language = language  # English pages: the texts asserted below are the source strings
    user.save(update_fields=["language"])
    client.force_login(user)
    return client


def html(response):
    return response.content.decode()


@pytest.fixture
def pipeline(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_open(tenant_a, rep, amount="150000", probability=60, close=date(2026, 4, 10))
    make_open(tenant_a, rep2, amount="20000", probability=80, close=date(2026, 5, 10))
    make_won(tenant_a, rep, amount="45000", closed_at=datetime(2026, 5, 2, 3, 0, tzinfo=UTC))
    make_quota(tenant_a, rep, amount="90000", start=date(2026, 4, 1), kind="quarter")
    return rep, rep2


def test_the_manager_sees_the_team_table_and_the_chart(client, tenant_a, pipeline):
    rep, rep2 = pipeline
    response = login(client, tenant_a.users["sales_manager"]).get(FORECAST, {"period": "quarter", "start": "2026-Q2"})

    assert response.status_code == 200
    body = html(response)
    assert 'data-testid="period-label">2026 Q2<' in body
    assert f'data-owner="{rep.pk}"' in body and f'data-owner="{rep2.pk}"' in body
    assert f'data-subtotal="{tenant_a.teams["east"].pk}"' in body and 'data-testid="forecast-total"' in body
    assert "¥90,000" in body and "¥45,000" in body and "50.0%" in body  # quota, won, attainment
    assert "¥106,000" in body  # weighted: 150000 × 60% + 20000 × 80%
    assert 'name="team"' in body  # managers filter by team
    assert 'data-testid="empty"' not in body
    # The chart: ECharts from our static files, the data through json_script, the inline script with the nonce.
    assert "/static/vendor/echarts/echarts.min.js" in body
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in body
    data = json.loads(
        re.search(r'<script id="forecast-chart-data" type="application/json">(.*?)</script>', body).group(1)
    )
    assert data["labels"] == ["2026-04", "2026-05", "2026-06"]
    series = {s["key"]: s for s in data["series"]}
    assert series["won"]["data"] == [0.0, 45000.0, 0.0]
    assert series["quota"]["data"] == [30000.0, 30000.0, 30000.0]
    assert series["weighted"]["data"] == [90000.0, 16000.0, 0.0]
    assert series["quota"]["name"] == "Quota" and data["symbol"] == "¥" and data["compact"] is False


def test_chinese_pages_count_in_wan(client, tenant_a, pipeline):
    response = login(client, tenant_a.users["sales_manager"], language="zh-hans").get(FORECAST, {"start": "2026-Q2"})
    body = html(response)
    assert "销售预测" in body
    assert "¥10.6万" in body and "¥9万" in body  # weighted 106,000 and the quota 90,000
    assert 'title="¥106,000.00"' in body  # the exact amount on hover


def test_a_rep_sees_only_their_line_and_no_team_filter(client, tenant_a, pipeline):
    rep, rep2 = pipeline
    body = html(login(client, rep).get(FORECAST, {"start": "2026-Q2"}))
    assert f'data-owner="{rep.pk}"' in body and f'data-owner="{rep2.pk}"' not in body
    assert 'name="team"' not in body
    assert "¥20,000" not in body


def test_the_team_filter_and_period_navigation(client, tenant_a, pipeline):
    rep, _rep2 = pipeline
    east = tenant_a.teams["east"]
    c = login(client, tenant_a.admin)
    body = html(c.get(FORECAST, {"start": "2026-05-20", "period": "month", "team": east.pk}))
    assert 'data-testid="period-label">2026-05<' in body
    assert f"team={east.pk}" in body and "start=2026-04" in body and "start=2026-06" in body
    assert f'data-owner="{rep.pk}"' in body and f'data-owner="{tenant_a.admin.pk}"' not in body


def test_an_empty_period_shows_the_empty_state(client, tenant_a):
    body = html(login(client, tenant_a.users["sales_manager"]).get(FORECAST, {"start": "2031-Q1"}))
    assert 'data-testid="empty"' in body and "No opportunities close in 2031 Q1" in body


def test_bad_filters_are_explained_not_a_500(client, tenant_a):
    c = login(client, tenant_a.users["sales_manager"])
    response = c.get(FORECAST, {"period": "week", "team": "999", "commit_threshold": "200"})
    assert response.status_code == 200
    body = html(response)
    assert 'data-testid="filter-errors"' in body
    assert "Team:" in body and "Period:" in body and "Commit from probability (%):" in body
    body = html(c.get(FORECAST, {"start": "soon"}))
    assert "Starting: Enter a date like 2026-04-01" in body


def test_the_nav_shows_the_forecast_to_sales_roles_only(client, tenant_a):
    assert FORECAST in html(login(client, tenant_a.users["sales_rep"]).get(reverse("home")))
    client.logout()
    assert FORECAST not in html(login(client, tenant_a.users["marketer"]).get(reverse("home")))
    assert login(client, tenant_a.users["marketer"]).get(FORECAST).status_code == 403


# Quotas -----------------------------------------------------------------------------------------------


def test_a_manager_sets_the_teams_quotas_in_one_grid(client, tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    april = make_quota(tenant_a, rep, amount="1000", start=date(2026, 4, 1))
    c = login(client, tenant_a.users["sales_manager"])

    page = html(c.get(QUOTAS, {"quarter": "2026-Q2"}))
    assert f'name="q-{rep.pk}-202604"' in page and f'name="q-{rep2.pk}-202606"' in page
    assert 'value="1000.00"' in page and 'data-testid="save"' in page

    response = c.post(
        QUOTAS,
        {
            "quarter": "2026-Q2",
            f"q-{rep.pk}-202604": "1500",
            f"v-{rep.pk}-202604": str(april.version),
            f"q-{rep2.pk}-202605": "2000",
            f"q-{rep2.pk}-202606": "2500.50",
        },
    )

    assert response.status_code == 302 and "quarter=2026-Q2" in response["Location"]
    live = {(q.owner_id, q.period_start): q.amount for q in Quota.objects.filter(deleted_at__isnull=True)}
    assert live == {
        (rep.pk, date(2026, 4, 1)): Decimal("1500.00"),
        (rep2.pk, date(2026, 5, 1)): Decimal("2000.00"),
        (rep2.pk, date(2026, 6, 1)): Decimal("2500.50"),
    }


def test_a_grid_error_keeps_what_was_typed(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    c = login(client, tenant_a.users["sales_manager"])
    response = c.post(QUOTAS, {"quarter": "2026-Q2", f"q-{rep.pk}-202604": "-5", f"q-{rep.pk}-202605": "777"})
    assert response.status_code == 200
    body = html(response)
    assert f'data-testid="error-q-{rep.pk}-202604"' in body and 'value="777"' in body
    assert not Quota.objects.exists()


def test_a_grid_conflict_keeps_the_input_and_saving_again_overwrites(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    april = make_quota(tenant_a, rep, amount="1000", start=date(2026, 4, 1))
    c = login(client, tenant_a.users["sales_manager"])
    from kehu.sales.forecast_services import quota_update

    quota_update(actor=tenant_a.admin, quota=april, expected_version=1, data={"amount": Decimal("1111")})
    posted = {"quarter": "2026-Q2", f"q-{rep.pk}-202604": "3000", f"v-{rep.pk}-202604": "1"}

    response = c.post(QUOTAS, posted)

    assert response.status_code == 409
    body = html(response)
    assert 'data-testid="version-conflict"' in body and 'value="3000"' in body
    assert Quota.objects.get(pk=april.pk).amount == Decimal("1111.00")
    assert c.post(QUOTAS, {**posted, f"v-{rep.pk}-202604": "2"}).status_code == 302
    assert Quota.objects.get(pk=april.pk).amount == Decimal("3000.00")


def test_a_rep_sees_their_quotas_read_only(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    quota = make_quota(tenant_a, rep, amount="4321", start=date(2026, 4, 1))
    make_quota(tenant_a, tenant_a.users["sales_rep_2"], amount="9876", start=date(2026, 4, 1))
    c = login(client, rep)

    body = html(c.get(QUOTAS, {"quarter": "2026-Q2"}))
    assert "¥4,321" in body and "¥9,876" not in body and 'data-testid="save"' not in body
    assert c.post(QUOTAS, {"quarter": "2026-Q2"}).status_code == 403
    detail = c.get(reverse("sales:quota_edit", args=[quota.pk]))
    assert detail.status_code == 200 and 'data-testid="quota-form"' not in html(detail)
    assert c.post(reverse("sales:quota_edit", args=[quota.pk]), {"amount": "1", "version": 1}).status_code == 403


def test_create_a_quarterly_quota_from_any_month_of_the_quarter(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    c = login(client, tenant_a.users["sales_manager"])
    assert c.get(reverse("sales:quota_create")).status_code == 200

    response = c.post(
        reverse("sales:quota_create"),
        {"user": rep.pk, "period_kind": "quarter", "period": "2026-05", "amount": "600000", "currency": ""},
    )

    assert response.status_code == 302, html(response)
    quota = Quota.objects.get(owner=rep)
    assert (quota.period_kind, quota.period_start, quota.currency) == ("quarter", date(2026, 4, 1), "CNY")
    again = c.post(
        reverse("sales:quota_create"), {"user": rep.pk, "period_kind": "quarter", "period": "2026-06", "amount": "5"}
    )
    assert again.status_code == 200
    body = html(again)
    assert "already has a quota for 2026 Q2" in body and 'value="5"' in body


def test_create_form_names_the_bad_fields(client, tenant_a):
    c = login(client, tenant_a.users["sales_manager"])
    response = c.post(
        reverse("sales:quota_create"),
        {"user": tenant_a.users["marketer"].pk, "period_kind": "month", "period": "someday", "amount": "abc"},
    )
    body = html(response)
    for field in ("user", "period", "amount"):
        assert f'data-testid="error-{field}"' in body


def test_edit_conflict_delete_and_restore(client, tenant_a):
    quota = make_quota(tenant_a, amount="1000", start=date(2026, 4, 1))
    c = login(client, tenant_a.users["sales_manager"])
    url = reverse("sales:quota_edit", args=[quota.pk])
    assert 'value="1000.00"' in html(c.get(url))

    assert c.post(url, {"amount": "2000", "currency": "CNY", "version": 1}).status_code == 302
    stale = c.post(url, {"amount": "3000", "currency": "CNY", "version": 1})
    assert stale.status_code == 409
    assert 'data-testid="version-conflict"' in html(stale) and 'value="3000"' in html(stale)
    assert Quota.objects.get(pk=quota.pk).amount == Decimal("2000.00")

    assert c.post(reverse("sales:quota_delete", args=[quota.pk])).status_code == 302
    assert c.get(url).status_code == 404
    bin_page = html(c.get(reverse("sales:quota_recycle_bin")))
    assert f'data-quota="{quota.pk}"' in bin_page
    assert c.post(reverse("sales:quota_restore", args=[quota.pk])).status_code == 302
    assert Quota.objects.get(pk=quota.pk).deleted_at is None


def test_quota_pages_of_another_scope_are_404(client, tenant_a):
    theirs = make_quota(tenant_a, tenant_a.users["sales_rep_2"], start=date(2026, 4, 1))
    deleted = make_deleted_quota(tenant_a, tenant_a.users["sales_rep_2"], start=date(2026, 5, 1))
    c = login(client, tenant_a.users["sales_rep"])
    assert c.get(reverse("sales:quota_edit", args=[theirs.pk])).status_code == 404
    assert c.post(reverse("sales:quota_delete", args=[theirs.pk])).status_code == 404
    assert c.post(reverse("sales:quota_restore", args=[deleted.pk])).status_code == 404
    assert 'data-testid="empty"' in html(c.get(reverse("sales:quota_recycle_bin")))
