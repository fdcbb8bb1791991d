"""The shell as a person uses it: sign in, navigate, switch language, see only what the role allows,
invite a colleague who then joins."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from kehu.accounts.models import User
from kehu.core import modules
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/kehu-browser-home.png"


def zh(text: str) -> str:
    """What the Chinese interface shows for an English source string."""
    with translation.override("zh-hans"):
        return translation.gettext(text)


def sign_in(page, user: User, password: str = PASSWORD) -> None:
    page.goto(reverse("accounts:login"))
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", password)
    page.locator("[data-testid=login-form] button[type=submit]").click()
    page.wait_for_selector("[data-testid=nav]")


def nav_modules(page) -> set[str]:
    return set(
        page.locator("[data-testid=nav] .kehu-nav-section").evaluate_all("els => els.map(e => e.dataset.module)")
    )


def module_has_nav(key: str) -> bool:
    """Whether a module (maybe still being built) has a navigation item that resolves."""
    try:
        module = modules.get(key)
    except KeyError:
        return False
    for item in module.nav:
        try:
            reverse(item.url_name)
            return True
        except NoReverseMatch:
            continue
    return False


def test_the_administrator_signs_in_and_sees_the_navigation(page, tenant_a):
    sign_in(page, tenant_a.admin)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert tenant_a.admin.name in page.get_by_test_id("greeting").inner_text()
    nav = page.get_by_test_id("nav")
    assert "platform" in nav_modules(page)
    users_link = nav.locator(f"a[href='{reverse('admin_area:users')}']")
    assert users_link.inner_text().strip() == zh("Users")
    assert nav.locator(f"a[href='{reverse('audit:list')}']").is_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)

    users_link.click()
    page.wait_for_url(re.compile(re.escape(reverse("admin_area:users"))))
    assert page.locator("h1").first.inner_text().strip() == zh("Users")
    assert tenant_a.users["sales_rep"].email in page.locator("#users-table").inner_text()


def test_a_wrong_password_keeps_the_user_out(page, tenant_a):
    page.goto(reverse("accounts:login"))
    page.fill("input[name=email]", tenant_a.admin.email)
    page.fill("input[name=password]", "not-the-password")
    page.locator("[data-testid=login-form] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("nav").count() == 0
    assert page.locator("input[name=email]").input_value() == tenant_a.admin.email  # keeps what was typed


def test_the_language_switches_to_english_and_back(page, tenant_a):
    sign_in(page, tenant_a.admin)
    users_href = f"[data-testid=nav] a[href='{reverse('admin_area:users')}']"
    switch = page.get_by_test_id("switch-language")
    assert switch.inner_text().strip() == "English"

    with page.expect_navigation():
        switch.click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator(users_href).inner_text().strip() == "Users"
    assert "Administration" in page.get_by_test_id("nav").text_content()
    assert page.get_by_test_id("switch-language").inner_text().strip() == "中文"
    page.goto("/")  # the choice sticks to the user, not only to this page
    assert page.locator("html").get_attribute("lang") == "en"
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.language == "en"

    with page.expect_navigation():
        page.get_by_test_id("switch-language").click()
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.locator(users_href).inner_text().strip() == zh("Users")
    assert page.get_by_test_id("switch-language").inner_text().strip() == "English"


def test_the_navigation_shows_only_what_the_role_allows(new_page, tenant_a):
    admin_page = new_page()
    sign_in(admin_page, tenant_a.admin)
    assert "platform" in nav_modules(admin_page)

    rep_page = new_page()
    sign_in(rep_page, tenant_a.users["sales_rep"])
    rep_modules = nav_modules(rep_page)
    assert "platform" not in rep_modules  # no Administration section
    assert rep_page.locator(f"a[href='{reverse('admin_area:users')}']").count() == 0
    assert not rep_modules & {"service", "marketing"}  # the sales rep's role has no grant there
    # Typing the address does not help either.
    response = rep_page.goto(reverse("admin_area:users"))
    assert response.status in (403, 404)
    assert rep_page.get_by_text(tenant_a.users["analyst"].email).count() == 0

    agent_page = new_page()
    sign_in(agent_page, tenant_a.users["service_agent"])
    agent_modules = nav_modules(agent_page)
    assert not agent_modules & {"platform", "sales", "marketing", "analytics"}
    if module_has_nav("customers"):
        assert "customers" in agent_modules  # read access to the whole organisation's customers
        assert "customers" in rep_modules
    if module_has_nav("sales"):
        assert "sales" in rep_modules


def test_a_disabled_module_leaves_the_navigation(new_page, tenant_a):
    shown = [m.key for m in modules.licensable_modules() if module_has_nav(m.key)]
    if not shown:
        pytest.skip("no licensable module has navigation items yet")
    page = new_page()
    sign_in(page, tenant_a.admin)
    assert set(shown) <= nav_modules(page)
    from kehu.accounts.services import organization_update

    organization_update(actor=tenant_a.admin, organization=tenant_a.org, data={"enabled_modules": []})
    page.reload()
    assert not set(shown) & nav_modules(page)
    assert "platform" in nav_modules(page)  # the platform is always on


def test_an_administrator_invites_a_colleague_who_joins(new_page, tenant_a, smtp_server):
    admin_page = new_page()
    sign_in(admin_page, tenant_a.admin)
    admin_page.goto(reverse("admin_area:users"))
    admin_page.get_by_test_id("invite").click()
    admin_page.fill("input[name=email]", "xiaohong@a.test")
    admin_page.fill("input[name=name]", "李小红")
    admin_page.select_option("select[name=role]", str(tenant_a.role("service_agent").pk))
    admin_page.select_option("select[name=team]", str(tenant_a.teams["sales"].pk))
    admin_page.locator("form button[type=submit]").click()
    admin_page.get_by_test_id("invited").wait_for()
    link = admin_page.get_by_test_id("invitation-link").input_value()
    assert link.startswith(admin_page.url.split("/admin/")[0])

    invited = User.objects.get(email="xiaohong@a.test")
    assert not invited.is_active and invited.role.key == "service_agent" and invited.team == tenant_a.teams["sales"]
    mail = smtp_server.wait_for(1)
    assert len(mail) == 1 and mail[0]["X-RcptTo"] == "xiaohong@a.test"
    assert link in smtp_server.body(mail[0])

    colleague = new_page()  # another browser profile: not signed in
    colleague.goto(link)
    colleague.fill("input[name=name]", "李小红")
    colleague.fill("input[name=password1]", "Hong-pw-2026!")
    colleague.fill("input[name=password2]", "Hong-pw-2026!")
    colleague.locator("[data-testid=invitation-form] button[type=submit]").click()
    colleague.wait_for_selector("[data-testid=nav]")
    assert "李小红" in colleague.get_by_test_id("greeting").inner_text()
    assert "platform" not in nav_modules(colleague)
    invited.refresh_from_db()
    assert invited.is_active and invited.check_password("Hong-pw-2026!")
