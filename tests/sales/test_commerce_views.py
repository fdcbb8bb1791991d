"""The commerce pages end to end, in English (Accept-Language: en): a product, a quote built line by line,
sent, accepted and turned into an order, payments and instalments, the print view, the lists."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from django.urls import reverse

from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Order, Payment, PriceList, Product, Quote
from tests.customers.factories import make_contact, make_customer
from tests.customers.pages import customer_page
from tests.sales.commerce_factories import (
    make_instalment,
    make_order,
    make_payment,
    make_product,
    make_quote,
)

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def page(response) -> str:
    return response.content.decode()


def test_products_page_create_keep_input_and_deactivate(tenant_a, as_user):
    client = as_user(tenant_a.admin)
    response = client.get(reverse("sales:product_list"), **EN)
    assert response.status_code == 200 and 'data-testid="empty"' in page(response)
    data = {
        "sku": "KH-1",
        "name": "客户管理系统",
        "unit": "套",
        "price": "19800",
        "currency": "CNY",
        "tax_rate": "13",
        "is_active": "on",
    }
    response = client.post(reverse("sales:product_create"), data, **EN)
    assert response.status_code == 302
    product = Product.objects.get(sku="KH-1")
    response = client.post(reverse("sales:product_create"), {**data, "name": "重复的 SKU"}, **EN)
    assert response.status_code == 200
    html = page(response)
    assert "Another product already has this SKU." in html and "重复的 SKU" in html  # the input is kept
    response = client.get(reverse("sales:product_list"), **EN)
    assert "¥19,800.00" in page(response) and "客户管理系统" in page(response)
    client.post(reverse("sales:product_toggle", args=[product.pk]), {"version": product.version}, **EN)
    product.refresh_from_db()
    assert not product.is_active
    assert "Deactivated" in page(client.get(reverse("sales:product_list") + "?active=0", **EN))


def test_a_rep_reads_products_but_cannot_change_them(tenant_a, as_user):
    product = make_product(tenant_a)
    client = as_user(tenant_a.users["sales_rep"])
    assert client.get(reverse("sales:product_create"), **EN).status_code == 403
    response = client.get(reverse("sales:product_edit", args=[product.pk]), **EN)
    assert response.status_code == 200 and 'data-testid="product-readonly"' in page(response)
    assert client.post(reverse("sales:product_edit", args=[product.pk]), {"name": "x", "version": 1}).status_code == 403


def test_price_list_page_sets_prices(tenant_a, as_user):
    client = as_user(tenant_a.admin)
    product = make_product(tenant_a)
    response = client.post(
        reverse("sales:price_list_create"),
        {"name": "A 类客户价", "currency": "CNY", "tier": "A", "is_active": "on"},
        **EN,
    )
    assert response.status_code == 302
    price_list = PriceList.objects.get(organization=tenant_a.org, name="A 类客户价")
    response = client.post(
        reverse("sales:price_list_set_price", args=[price_list.pk]), {"product": product.pk, "price": "88.50"}, **EN
    )
    assert response.status_code == 302
    html = page(client.get(reverse("sales:price_list_detail", args=[price_list.pk]), **EN))
    assert "¥88.50" in html and product.name in html
    assert "1" in page(client.get(reverse("sales:price_list_list"), **EN))


def test_a_quote_built_in_the_browser(tenant_a, as_user):
    rep = tenant_a.users["sales_rep"]
    client = as_user(rep)
    customer = make_customer(tenant_a, rep, name="上海云帆贸易有限公司")
    contact = make_contact(tenant_a, customer, name="王经理")
    product = make_product(tenant_a, price=D("19800.00"), tax_rate=D("13"))

    create_url = reverse("sales:quote_create") + f"?customer={customer.pk}"
    html = page(client.get(create_url, **EN))
    assert "上海云帆贸易有限公司" in html and "王经理" in html
    response = client.post(
        create_url,
        {
            "fixed_customer": customer.pk,
            "title": "CRM 采购",
            "contact": contact.pk,
            "currency": "CNY",
            "discount_percent": "120",
        },
        **EN,
    )
    assert response.status_code == 200  # 120% is refused, the title is kept
    assert "CRM 采购" in page(response) and 'data-testid="error-discount_percent"' in page(response)
    response = client.post(
        create_url, {"fixed_customer": customer.pk, "title": "CRM 采购", "contact": contact.pk, "currency": "CNY"}, **EN
    )
    assert response.status_code == 302
    quote = Quote.objects.get(title="CRM 采购")
    assert (quote.owner, quote.contact) == (rep, contact)

    add = reverse("sales:quote_line_add", args=[quote.pk])
    response = client.post(add, {"product": product.pk, "quantity": "2"}, **EN)
    assert response.status_code == 302
    response = client.post(add, {"name": "实施服务", "quantity": "abc", "unit_price": "1500"}, **EN)
    assert response.status_code == 400 and "实施服务" in page(response)
    response = client.post(add, {"name": "实施服务", "quantity": "10", "unit": "人天"}, **EN)
    assert response.status_code == 400 and "Enter a unit price." in page(response)
    client.post(
        add, {"name": "实施服务", "quantity": "10", "unit": "人天", "unit_price": "1500", "tax_rate": "6"}, **EN
    )
    quote.refresh_from_db()
    assert quote.total == D("39600.00") * D("1.13") + D("15000.00") * D("1.06")

    line = quote.lines.get(name="实施服务")
    edit = reverse("sales:quote_line_edit", args=[line.pk])
    assert "人天" in page(client.get(edit, **EN))
    response = client.post(edit, {"name": "实施服务", "quantity": "8", "unit": "人天", "version": line.version}, **EN)
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.quantity, line.unit_price, line.tax_rate) == (D("8"), D("1500.00"), D("6"))  # empty kept the values
    response = client.post(edit, {"name": "过期", "quantity": "9", "version": "1"}, **EN)
    assert "Someone else changed this record" in page(response) and "过期" in page(response)

    html = page(client.get(reverse("sales:quote_detail", args=[quote.pk]), **EN))
    assert quote.number in html and "¥57,468.00" in html
    printed = page(client.get(reverse("sales:quote_print", args=[quote.pk]), **EN))
    assert tenant_a.org.name in printed and "上海云帆贸易有限公司" in printed and "¥57,468.00" in printed
    assert "人民币伍万柒仟肆佰陆拾捌元整" in printed and "@media print" in printed and 'nonce="' in printed

    client.post(reverse("sales:quote_send", args=[quote.pk]), {"mode": "mark", "version": quote.version + 4}, **EN)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DRAFT  # a stale version: refused with a message
    response = client.post(reverse("sales:quote_send", args=[quote.pk]), {"mode": "mark"}, follow=True, **EN)
    assert "The quote was marked sent." in page(response)
    client.post(reverse("sales:quote_accept", args=[quote.pk]), **EN)
    response = client.post(reverse("sales:quote_create_order", args=[quote.pk]), follow=True, **EN)
    order = Order.objects.get(quote=quote)
    assert response.redirect_chain[-1][0] == reverse("sales:order_detail", args=[order.pk])
    response = client.post(reverse("sales:quote_create_order", args=[quote.pk]), follow=True, **EN)
    assert "already has the order" in page(response)


def test_revising_from_the_page(tenant_a, as_user):
    client = as_user(tenant_a.admin)
    quote = make_quote(tenant_a)
    services.quote_send(actor=tenant_a.admin, quote=quote, email=False)
    response = client.post(
        reverse("sales:quote_revise", args=[quote.pk]), {"version": quote.version}, follow=True, **EN
    )
    revision = Quote.objects.get(number=quote.number, revision=2)
    assert response.redirect_chain[-1][0] == reverse("sales:quote_detail", args=[revision.pk])
    html = page(client.get(reverse("sales:quote_detail", args=[quote.pk]), **EN))
    assert 'data-testid="earlier-revision"' in html and f"{quote.number} v2" in html


def test_order_page_payments_and_instalments(tenant_a, as_user):
    rep = tenant_a.users["sales_rep"]
    client = as_user(rep)
    order = make_order(tenant_a, rep)
    detail = reverse("sales:order_detail", args=[order.pk])
    assert "Confirm the order to record payments" in page(client.get(detail, **EN))
    client.post(reverse("sales:order_confirm", args=[order.pk]), {"version": order.version}, **EN)
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED

    add = reverse("sales:payment_add", args=[order.pk])
    response = client.post(add, {"amount": "2000", "method": "bank_transfer", "reference": "HD-9"}, **EN)
    assert response.status_code == 400
    html = page(response)
    assert "more than the outstanding balance of ¥1,130.00" in html and "HD-9" in html
    response = client.post(add, {"amount": "0", "method": "cash"}, **EN)
    assert "Enter an amount greater than zero." in page(response)
    response = client.post(add, {"amount": "130", "method": "wechat_pay", "received_on": ""}, **EN)
    assert response.status_code == 302
    today = services.organization_today(tenant_a.org)
    response = client.post(
        reverse("sales:instalment_add", args=[order.pk]),
        {"due_date": str(today - datetime.timedelta(days=5)), "amount": "500"},
        **EN,
    )
    assert response.status_code == 302
    html = page(client.get(detail, **EN))
    assert "¥130.00" in html and "¥1,000.00" in html and 'data-state="overdue"' in html

    payments = page(client.get(reverse("sales:payment_list"), **EN))
    assert order.number in payments and "WeChat Pay" in payments
    overdue = page(client.get(reverse("sales:payment_list") + "?tab=planned&overdue=1", **EN))
    assert order.number in overdue and "Overdue" in overdue
    other = page(
        as_user(tenant_a.users["sales_rep_2"]).get(reverse("sales:payment_list") + "?tab=planned&overdue=1", **EN)
    )
    assert order.number not in other and "Nothing is overdue." in other


def test_payment_edit_and_delete_to_the_recycle_bin(tenant_a, as_user):
    client = as_user(tenant_a.users["sales_manager"])
    order = make_order(tenant_a, confirmed=True)
    payment = make_payment(tenant_a, order, amount=D("100"))
    edit = reverse("sales:payment_edit", args=[payment.pk])
    response = client.post(
        edit,
        {"amount": "150", "method": "cash", "received_on": str(payment.received_on), "version": payment.version},
        **EN,
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.received_total == D("150.00")
    client.post(reverse("sales:payment_delete", args=[payment.pk]), **EN)
    order.refresh_from_db()
    assert order.received_total == D("0.00")
    assert "¥150.00" in page(client.get(reverse("sales:commerce_recycle_bin"), **EN))
    client.post(reverse("sales:payment_restore", args=[payment.pk]), **EN)
    assert Payment.objects.get(pk=payment.pk).deleted_at is None


def test_customer_page_shows_the_transaction_history(tenant_a, as_user):
    client = as_user(tenant_a.admin)
    customer = make_customer(tenant_a)
    order = make_order(tenant_a, customer=customer, confirmed=True)
    make_payment(tenant_a, order, amount=D("30.00"))
    html = customer_page(client, customer, **EN)
    assert f"Order {order.number} created" in html and "outstanding ¥1,100.00" in html
    assert "Payment of ¥30.00 received" in html
    history = page(client.get(reverse("sales:order_list") + f"?customer={customer.pk}", **EN))
    assert "Transaction history" in history and order.number in history
    assert 'data-testid="outstanding">¥1,100.00' in history


def test_lists_filter_sort_and_stay_bounded(tenant_a, as_user, django_assert_max_num_queries):
    client = as_user(tenant_a.admin)
    for _ in range(8):
        make_quote(tenant_a)
        make_order(tenant_a)
    for name in ("sales:quote_list", "sales:order_list"):
        client.get(reverse(name), **EN)  # warm-up
        with django_assert_max_num_queries(12):
            response = client.get(reverse(name) + "?ordering=-total", **EN)
        assert response.status_code == 200
    assert "No quotes match these filters." in page(client.get(reverse("sales:quote_list") + "?status=accepted", **EN))
    response = client.get(reverse("sales:quote_list") + "?ordering=notes", **EN)
    assert response.status_code == 200 and "Sort by one of" in page(response)
    response = client.get(reverse("sales:quote_list") + "?limit=3", **EN)
    assert 'data-testid="next-page"' in page(response)


def test_customer_picker_options(tenant_a, as_user):
    make_customer(tenant_a, name="杭州西湖科技有限公司")
    client = as_user(tenant_a.admin)
    html = page(client.get(reverse("sales:commerce_customer_options") + "?q=西湖", **EN))
    assert "杭州西湖科技有限公司" in html
    assert "No customer matches." in page(client.get(reverse("sales:commerce_customer_options") + "?q=不存在的", **EN))
    response = client.post(reverse("sales:quote_create"), {"customer": "999999999", "currency": "CNY"}, **EN)
    assert response.status_code == 200 and 'data-testid="error-customer"' in page(response)


def test_nav_has_the_commerce_pages(tenant_a, as_user):
    html = page(as_user(tenant_a.users["sales_rep"]).get("/", **EN))
    for name in ("sales:quote_list", "sales:order_list", "sales:payment_list", "sales:product_list"):
        assert f'href="{reverse(name)}"' in html
    html = page(as_user(tenant_a.users["marketer"]).get("/", **EN))
    assert reverse("sales:quote_list") not in html


def test_instalment_edit_page(tenant_a, as_user):
    instalment = make_instalment(tenant_a)
    client = as_user(tenant_a.admin)
    url = reverse("sales:instalment_edit", args=[instalment.pk])
    assert client.get(url, **EN).status_code == 200
    response = client.post(
        url, {"due_date": str(instalment.due_date), "amount": "99999", "version": instalment.version}, **EN
    )
    assert response.status_code == 200 and "more than the order total" in page(response)
