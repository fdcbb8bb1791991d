"""Vendor support access in the browser: an administrator grants it, platform staff enter a read-only
support session from /platform/, see the banner and the organisation's customers, and end it."""

from __future__ import annotations

import os

import pytest

from kehu.accounts.models import SupportGrant, User
from kehu.core.models import AuditEntry
from tests.browser.test_shell import sign_in
from tests.conftest import PASSWORD
from tests.customers.factories import make_customer

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("KEHU_SCREENSHOTS")  # a folder: save what the pages looked like


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_an_administrator_grants_access_and_staff_read_in_a_support_session(new_page, tenant_a):
    make_customer(tenant_a, name="支持会话测试有限公司")
    admin_page = new_page(locale="en-US")
    sign_in(admin_page, tenant_a.admin)
    admin_page.goto("/admin/support/")
    admin_page.fill("input[name=hours]", "2")
    admin_page.fill("textarea[name=reason]", "Ticket #77: the import page hangs")
    admin_page.locator("[data-testid=support-grant-form] button[type=submit]").click()
    admin_page.wait_for_selector("[data-testid=support-revoke]")
    shot(admin_page, "support-admin")
    grant = SupportGrant.objects.dangerously_all_organizations().get(organization=tenant_a.org)
    assert grant.hours == 2 and grant.in_force

    staff = User.objects.create_superuser("ops@vendor.test", PASSWORD, name="Vendor ops")
    page = new_page(locale="en-US")
    page.goto("/platform/login/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    page.goto("/platform/accounts/supportgrant/")
    page.get_by_text("Enter support session").first.click()
    page.get_by_test_id("support-enter").click()

    banner = page.get_by_test_id("support-banner")
    banner.wait_for()
    assert tenant_a.org.name in banner.inner_text()
    page.goto("/customers/")
    assert "支持会话测试有限公司" in page.content()
    shot(page, "support-session")
    assert AuditEntry.objects.filter(organization=tenant_a.org, action="support.access", actor=staff).exists()

    page.get_by_test_id("support-exit").click()
    page.wait_for_url("**/platform/accounts/supportgrant/")
    assert AuditEntry.objects.filter(organization=tenant_a.org, action="support.session_end").exists()
    page.goto("/customers/")
    assert "支持会话测试有限公司" not in page.content()
