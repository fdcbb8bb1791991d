import pytest
from django.urls import reverse

from kehu.core import demo
from kehu.customers.models import Customer

pytestmark = pytest.mark.browser


def sign_in(page, email, password):
    page.goto(reverse("accounts:login"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("[data-testid=login-form] button[type=submit]").click()
    page.wait_for_selector("[data-testid=nav]")


def test_screens(page, transactional_db):
    ctx = demo.build()
    sign_in(page, ctx.users["sales_manager"].email, ctx.password)
    page.goto(reverse("customers:list"))
    page.screenshot(path="/tmp/cust-list.png", full_page=True)
    c = Customer.objects.get(name="上海云帆贸易有限公司")
    page.goto(reverse("customers:detail", args=[c.pk]))
    page.screenshot(path="/tmp/cust-detail.png", full_page=True)
    page.goto(reverse("customers:edit", args=[c.pk]))
    page.fill("input[name=phone]", "12345")
    page.get_by_test_id("save").click()
    page.screenshot(path="/tmp/cust-form-error.png", full_page=True)
    page.goto(reverse("customers:list") + "?search=华")
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path="/tmp/cust-list-mobile.png", full_page=True)
