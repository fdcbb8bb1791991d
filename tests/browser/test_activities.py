"""A rep's day in the browser: "my day" lists an overdue call, one click marks it done (htmx, no reload),
the customer's page shows it on the timeline, and the month calendar opens the activity."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.sales.activity_models import Activity
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_customer
from tests.sales.activity_factories import make_activity

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("KEHU_SCREENSHOTS")  # a folder: keep screenshots of the pages for a person to look at


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_a_rep_completes_an_overdue_call_from_my_day(page, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="上海云帆贸易有限公司")
    call = make_activity(
        tenant_a, rep, customer=customer, subject="回访报价", starts_at=timezone.now() - timedelta(hours=3)
    )
    make_activity(
        tenant_a, rep, customer=customer, subject="上门拜访", kind="visit", starts_at=timezone.now() + timedelta(days=2)
    )
    sign_in(page, rep)
    page.get_by_test_id("nav").get_by_role("link", name="我的一天").click()
    overdue = page.get_by_test_id("bucket-overdue")
    overdue.get_by_text("回访报价").wait_for()
    shot(page, "my_day")

    row = overdue.locator(f"[data-activity='{call.pk}']")
    row.get_by_test_id("complete").click()
    page.locator(f"[data-activity='{call.pk}'][data-status=done]").wait_for()
    call.refresh_from_db()
    assert call.status == Activity.Status.DONE
    customer.refresh_from_db()
    assert customer.last_contacted_at is not None

    page.goto(reverse("customers:detail", args=[customer.pk]))
    page.locator("[data-testid=timeline] [data-kind='activity.call']").get_by_text("回访报价").wait_for()
    assert "上门拜访" in page.get_by_test_id("activity-panel").inner_text()
    shot(page, "customer")

    page.goto(reverse("sales:activity_calendar"))
    page.get_by_test_id("calendar-month").locator(f"[data-activity='{call.pk}']").click()
    page.get_by_test_id("activity-subject").wait_for()
    assert "回访报价" in page.get_by_test_id("activity-subject").inner_text()
    page.goto(reverse("sales:activity_calendar") + "?view=week")
    shot(page, "calendar_week")
    page.goto(reverse("sales:activity_calendar"))
    shot(page, "calendar_month")
    if SHOTS:
        page.goto(reverse("sales:activity_list"))
        shot(page, "list")
        page.goto(reverse("sales:activity_create") + f"?customer={customer.pk}")
        shot(page, "form")
