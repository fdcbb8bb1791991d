"""A rep quotes a customer in the browser: picks the customer, adds a product line at the customer's tier
price, marks the quote sent, records the acceptance, turns it into an order, confirms it, records a payment
and sees the outstanding balance on the order and on the customer's timeline."""

from __future__ import annotations

import os
from decimal import Decimal as D

import pytest
from django.urls import reverse

from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Order, Quote
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_customer
from tests.sales.commerce_factories import make_price_list, make_product

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("KEHU_SCREENSHOTS")  # a folder: save screenshots there for a look


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_rep_quotes_orders_and_records_a_payment(page, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="浏览器报价有限公司", tier="A")
    product = make_product(tenant_a, sku="KH-CRM", name="客户管理系统", price=D("19800.00"), tax_rate=D("13"))
    key_accounts = make_price_list(tenant_a, tier="A", is_active=True)
    services.price_list_set_price(actor=tenant_a.admin, price_list=key_accounts, product=product, price=D("17800.00"))
    sign_in(page, rep)

    page.goto(reverse("sales:quote_create"))
    page.fill("#customer-search", "浏览器报价")
    page.locator(f"#id_customer option[value='{customer.pk}']").wait_for(state="attached")
    page.select_option("#id_customer", str(customer.pk))
    page.fill("#id_title", "CRM 项目报价")
    page.get_by_test_id("save").click()
    page.wait_for_selector("[data-testid=add-line]")
    quote = Quote.objects.get(title="CRM 项目报价")

    page.select_option("[data-testid=add-line] select[name=product]", str(product.pk))
    page.fill("[data-testid=add-line] input[name=quantity]", "2")
    page.get_by_test_id("save-line").click()
    page.wait_for_selector("[data-testid=lines] tbody tr[data-line]")
    assert page.get_by_test_id("total").inner_text() == "¥40,228.00"  # 2 × 17,800 + 13%
    shot(page, "quote-draft")

    page.get_by_test_id("send-menu").click()
    page.get_by_test_id("mark-sent").click()
    page.get_by_test_id("accept").click()
    page.get_by_test_id("create-order").click()
    page.wait_for_selector("[data-testid=order-number]")
    order = Order.objects.get(quote=quote)
    page.get_by_test_id("confirm").click()
    page.wait_for_selector("[data-testid=add-payment]")
    page.fill("[data-testid=add-payment] input[name=amount]", "20000")
    page.get_by_test_id("save-payment").click()
    page.wait_for_selector("[data-testid=payments] tr[data-payment]")
    assert page.get_by_test_id("balance-outstanding").inner_text() == "¥20,228.00"
    shot(page, "order")

    page.goto(reverse("customers:detail", args=[customer.pk]))
    timeline = page.get_by_test_id("timeline").inner_text()
    assert order.number in timeline and "¥20,228.00" in timeline
    shot(page, "customer")

    page.goto(reverse("sales:quote_print", args=[quote.pk]))
    assert "肆万零贰佰贰拾捌元整" in page.get_by_test_id("amount-in-words").inner_text()
    shot(page, "print")
