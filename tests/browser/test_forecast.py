"""The forecast page in a real browser: the manager sees the team's table and the ECharts chart renders
under the Content-Security-Policy (the inline script runs with its nonce, ECharts from our static files);
the quota grid saves what the manager types."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, today_for
from tests.browser.test_shell import sign_in
from tests.sales.forecast_factories import make_open, make_quota

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/kehu-browser-forecast.png"


def test_the_manager_sees_the_team_forecast_and_sets_a_quota(page, tenant_a):
    rep = tenant_a.users["sales_rep"]
    quarter = Period.containing("quarter", today_for(tenant_a.org))
    make_open(tenant_a, rep, amount="150000", probability=60, close=quarter.start)
    make_quota(tenant_a, rep, amount="100000", start=quarter.start)
    problems: list[str] = []
    # (The shell has no favicon: its 404 is the one "Failed to load resource" the console shows.)
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    sign_in(page, tenant_a.users["sales_manager"])
    page.get_by_test_id("nav").get_by_role("link", name="销售预测").click()
    page.wait_for_selector("#forecast-chart canvas")

    row = page.locator(f"tr[data-owner='{rep.pk}']")
    assert "¥9万" in row.inner_text() and "¥15万" in row.inner_text()  # weighted 90,000; best case 150,000
    assert page.locator("[data-testid=forecast-total]").is_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert not problems, problems  # no CSP violation, no script error

    page.get_by_test_id("quotas-link").click()
    second = quarter.months[1]
    page.fill(f"input[name='q-{rep.pk}-{second:%Y%m}']", "120000")
    page.get_by_test_id("save").click()
    page.wait_for_url(f"**{reverse('sales:quotas')}?*")
    assert Quota.objects.get(owner=rep, period_start=second, deleted_at__isnull=True).amount == Decimal("120000.00")
    assert Quota.objects.filter(owner=rep, period_start=date(quarter.start.year, quarter.start.month, 1)).exists()
