import pytest
from tests.browser.test_shell import sign_in

pytestmark = pytest.mark.browser


def test_overflow(new_page, tenant_a):
    page = new_page(locale="en-US")
    sign_in(page, tenant_a.admin)
    page.set_viewport_size({"width": 390, "height": 800})
    for url in ["/admin/users/", f"/admin/roles/{tenant_a.role('sales_manager').pk}/", "/audit/", "/admin/organization/", "/admin/teams/"]:
        page.goto(url)
        print(url, page.evaluate("document.documentElement.scrollWidth"))
        print(page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-responsive, .overflow-auto')).slice(0,8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""))
