"""The commerce API end to end: products and price lists, a quote from creation to its order, payments
and instalments; 400 with field names, 404 outside the scope, 409 on stale versions, bounded queries."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest

from kehu.accounts.models import User
from kehu.sales import commerce_services as services
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer
from tests.sales.commerce_factories import (
    make_instalment,
    make_order,
    make_payment,
    make_price_list,
    make_product,
    make_quote,
)
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db
API = "/api/v1"


# Products and price lists ------------------------------------------------------------------------------------


def test_products_crud_and_permissions(tenant_a, api):
    admin, rep = api(tenant_a.admin), api(tenant_a.users["sales_rep"])
    data = {"sku": "KH-CRM-1", "name": "客户管理系统 标准版", "unit": "套", "price": "19800.00", "tax_rate": "13"}
    assert_error(rep.post(f"{API}/products/", data, format="json"), 403, "permission_denied")
    response = admin.post(f"{API}/products/", data, format="json")
    assert response.status_code == 201, response.content
    product = response.json()
    assert (product["price"], product["currency"], product["is_active"], product["version"]) == (
        "19800.00",
        "CNY",
        True,
        1,
    )
    assert rep.get(f"{API}/products/{product['id']}/").status_code == 200  # reps read the catalogue

    error = assert_error(admin.post(f"{API}/products/", data, format="json"), 400, "validation_failed")
    assert "sku" in error["fields"]
    error = assert_error(
        admin.post(f"{API}/products/", {**data, "sku": "X", "price": "-1"}, format="json"), 400, "validation_failed"
    )
    assert "price" in error["fields"]
    error = assert_error(
        admin.post(f"{API}/products/", {**data, "sku": "Y", "tax_rate": "101"}, format="json"), 400, "validation_failed"
    )
    assert "tax_rate" in error["fields"]

    url = f"{API}/products/{product['id']}/"
    response = admin.patch(url, {"version": 1, "is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_error(admin.patch(url, {"version": 1, "name": "旧版本"}, format="json"), 409, "version_conflict")
    assert product["id"] not in all_ids(admin, f"{API}/products/?active=true")
    assert product["id"] in all_ids(admin, f"{API}/products/?search=crm-1")
    assert admin.delete(url).status_code == 204
    assert_error(admin.get(url), 404, "not_found")
    assert admin.post(f"{url}restore/").status_code == 200
    assert admin.get(url).status_code == 200


def test_product_price_for_a_customer(tenant_a, api):
    product = make_product(tenant_a, price=D("100.00"))
    tier_a = make_price_list(tenant_a, tier="A", is_active=True)
    client = api(tenant_a.admin)
    response = client.post(
        f"{API}/price-lists/{tier_a.pk}/set-price/", {"product": product.pk, "price": "80.00"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["items"] == [
        {"product": {"id": product.pk, "name": product.name}, "sku": product.sku, "price": "80.00"}
    ]
    vip, ordinary = make_customer(tenant_a, tier="A"), make_customer(tenant_a, tier="B")
    body = client.get(f"{API}/products/{product.pk}/price/?customer={vip.pk}").json()
    assert (body["price"], body["source"], body["price_list"]["id"]) == ("80.00", "price_list", tier_a.pk)
    body = client.get(f"{API}/products/{product.pk}/price/?customer={ordinary.pk}").json()
    assert (body["price"], body["source"]) == ("100.00", "product")
    body = client.get(f"{API}/products/{product.pk}/price/?customer={ordinary.pk}&currency=USD").json()
    assert body["price"] is None
    assert_error(client.get(f"{API}/products/{product.pk}/price/"), 400, "validation_failed")
    response = client.post(
        f"{API}/price-lists/{tier_a.pk}/set-price/", {"product": 999999, "price": "1"}, format="json"
    )
    assert "product" in assert_error(response, 400, "validation_failed")["fields"]
    response = api(tenant_a.users["sales_manager"]).post(
        f"{API}/price-lists/{tier_a.pk}/set-price/", {"product": product.pk, "price": "1"}, format="json"
    )
    assert_error(response, 403, "permission_denied")


# Quotes ------------------------------------------------------------------------------------------------------


def test_a_quote_from_creation_to_its_order(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)
    customer = make_customer(tenant_a, rep, tier="A")
    contact = make_contact(tenant_a, customer)
    product = make_product(tenant_a, price=D("19800.00"), tax_rate=D("13"))
    response = client.post(
        f"{API}/quotes/",
        {
            "customer": customer.pk,
            "contact": contact.pk,
            "title": "CRM 采购",
            "discount_percent": "5",
            "lines": [
                {"product": product.pk, "quantity": "2"},
                {"name": "实施服务", "quantity": "10", "unit": "人天", "unit_price": "1500.00", "tax_rate": "6"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    quote = response.json()
    assert quote["owner"]["id"] == rep.pk and quote["status"] == "draft" and quote["revision"] == 1
    assert [line["amount"] for line in quote["lines"]] == ["39600.00", "15000.00"]
    # 54600 − 5% (2730) = 51870; tax 37620 × 13% + 14250 × 6% = 4890.60 + 855.00
    assert (quote["subtotal"], quote["discount_total"], quote["tax_total"], quote["total"]) == (
        "54600.00",
        "2730.00",
        "5745.60",
        "57615.60",
    )
    url = f"{API}/quotes/{quote['id']}/"

    response = client.post(
        f"{API}/quote-lines/",
        {"quote": quote["id"], "name": "培训", "quantity": "1", "unit_price": "2000"},
        format="json",
    )
    assert response.status_code == 201, response.content
    line = response.json()
    assert_error(
        client.patch(f"{API}/quote-lines/{line['id']}/", {"version": 9, "quantity": "2"}, format="json"),
        409,
        "version_conflict",
    )
    response = client.patch(f"{API}/quote-lines/{line['id']}/", {"version": 1, "quantity": "2"}, format="json")
    assert response.json()["amount"] == "4000.00"
    assert client.delete(f"{API}/quote-lines/{line['id']}/").status_code == 204
    assert client.get(url).json()["total"] == "57615.60"

    version = client.get(url).json()["version"]
    assert_error(client.patch(url, {"version": version - 1, "title": "x"}, format="json"), 409, "version_conflict")
    assert_error(client.post(f"{url}accept/", {}, format="json"), 400, "invalid_transition")
    response = client.post(f"{url}send/", {"email": False, "version": version}, format="json")
    assert response.status_code == 200 and response.json()["emailed_to"] == ""
    assert_error(
        client.post(
            f"{API}/quote-lines/",
            {"quote": quote["id"], "name": "x", "quantity": "1", "unit_price": "1"},
            format="json",
        ),
        400,
        "not_editable",
    )
    response = client.post(f"{url}accept/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "accepted"

    response = client.post(f"{url}create-order/", {}, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["quote"]["id"], order["total"], order["status"], order["outstanding"]) == (
        quote["id"],
        "57615.60",
        "draft",
        "57615.60",
    )
    assert_error(client.post(f"{url}create-order/", {}, format="json"), 400, "quote_already_ordered")


def test_quote_input_errors_name_their_fields(tenant_a, api):
    client = api(tenant_a.admin)
    assert (
        "customer" in assert_error(client.post(f"{API}/quotes/", {}, format="json"), 400, "validation_failed")["fields"]
    )
    response = client.post(f"{API}/quotes/", {"customer": 2_000_000_000}, format="json")
    assert "customer" in assert_error(response, 400, "validation_failed")["fields"]
    customer = make_customer(tenant_a)
    response = client.post(
        f"{API}/quotes/",
        {"customer": customer.pk, "lines": [{"name": "x", "quantity": "0", "unit_price": "1"}]},
        format="json",
    )
    assert "lines.0.quantity" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.post(
        f"{API}/quotes/", {"customer": customer.pk, "lines": [{"name": "x", "quantity": "1"}]}, format="json"
    )
    assert "lines.0.unit_price" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.post(
        f"{API}/quotes/",
        {"customer": customer.pk, "issue_date": "2026-05-01", "valid_until": "2026-04-01"},
        format="json",
    )
    assert "valid_until" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.post(f"{API}/quotes/", {"customer": customer.pk, "currency": "人民币"}, format="json")
    assert "currency" in assert_error(response, 400, "validation_failed")["fields"]
    other_contact = make_contact(tenant_a)
    response = client.post(f"{API}/quotes/", {"customer": customer.pk, "contact": other_contact.pk}, format="json")
    assert "contact" in assert_error(response, 400, "validation_failed")["fields"]


def test_another_organisations_customer_is_an_unknown_id(tenant_a, tenant_b, api):
    theirs = make_customer(tenant_b)
    response = api(tenant_a.admin).post(f"{API}/quotes/", {"customer": theirs.pk}, format="json")
    error = assert_error(response, 400, "validation_failed")
    assert "customer" in error["fields"]


def test_quote_from_an_opportunity_over_the_api(tenant_a, api):
    opportunity = make_opportunity(tenant_a)
    response = api(tenant_a.admin).post(f"{API}/quotes/", {"opportunity": opportunity.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["customer"]["id"], body["opportunity"]["id"], body["title"]) == (
        opportunity.customer_id,
        opportunity.pk,
        opportunity.name,
    )
    listed = all_ids(api(tenant_a.admin), f"{API}/quotes/?opportunity={opportunity.pk}")
    assert listed == [body["id"]]


def test_revise_reject_and_revisions_in_the_list(tenant_a, api):
    client = api(tenant_a.admin)
    quote = make_quote(tenant_a)
    services.quote_send(actor=tenant_a.admin, quote=quote, email=False)
    response = client.post(f"{API}/quotes/{quote.pk}/reject/", {"reason": "预算不足"}, format="json")
    assert response.json()["rejection_reason"] == "预算不足"
    response = client.post(f"{API}/quotes/{quote.pk}/revise/", {}, format="json")
    assert response.status_code == 201
    revision = response.json()
    assert (revision["number"], revision["revision"], revision["previous"], revision["display_number"]) == (
        quote.number,
        2,
        quote.pk,
        f"{quote.number} v2",
    )
    assert all_ids(client, f"{API}/quotes/") == [revision["id"]]
    assert set(all_ids(client, f"{API}/quotes/?all_revisions=true")) == {quote.pk, revision["id"]}
    assert client.get(f"{API}/quotes/{quote.pk}/").json()["is_current"] is False


def test_another_reps_quote_is_not_found(tenant_a, api):
    theirs = make_quote(tenant_a, tenant_a.users["sales_rep_2"])
    client = api(tenant_a.users["sales_rep"])
    assert_error(client.get(f"{API}/quotes/{theirs.pk}/"), 404, "not_found")
    assert_error(client.post(f"{API}/quotes/{theirs.pk}/send/", {"email": False}, format="json"), 404, "not_found")
    line = theirs.lines.get()
    assert_error(
        client.patch(f"{API}/quote-lines/{line.pk}/", {"version": 1, "quantity": "9"}, format="json"), 404, "not_found"
    )
    response = client.post(
        f"{API}/quote-lines/", {"quote": theirs.pk, "name": "x", "quantity": "1", "unit_price": "1"}, format="json"
    )
    assert "quote" in assert_error(response, 400, "validation_failed")["fields"]
    assert theirs.pk not in all_ids(api(tenant_a.users["sales_rep"]), f"{API}/quotes/")
    assert theirs.pk in all_ids(api(tenant_a.users["sales_manager"]), f"{API}/quotes/")


def test_a_rep_cannot_delete(tenant_a, api):
    quote = make_quote(tenant_a)
    assert_error(api(tenant_a.users["sales_rep"]).delete(f"{API}/quotes/{quote.pk}/"), 403, "permission_denied")
    client = api(tenant_a.users["sales_manager"])
    assert client.delete(f"{API}/quotes/{quote.pk}/").status_code == 204
    assert client.post(f"{API}/quotes/{quote.pk}/restore/").status_code == 200


# Orders, payments, instalments ------------------------------------------------------------------------------


def test_order_life_cycle_and_payments(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)
    customer = make_customer(tenant_a, rep)
    response = client.post(
        f"{API}/orders/",
        {
            "customer": customer.pk,
            "lines": [{"name": "硬件", "quantity": "4", "unit_price": "2500.00", "tax_rate": "13"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    order = response.json()
    url = f"{API}/orders/{order['id']}/"
    assert order["total"] == "11300.00"
    response = client.post(f"{API}/payments/", {"order": order["id"], "amount": "100"}, format="json")
    assert "order" in assert_error(response, 400, "invalid_transition")["fields"]
    assert_error(
        client.post(f"{url}confirm/", {"version": order["version"] + 1}, format="json"), 409, "version_conflict"
    )
    assert client.post(f"{url}confirm/", {"version": order["version"]}, format="json").json()["status"] == "confirmed"

    for amount in ("0", "-1"):
        response = client.post(f"{API}/payments/", {"order": order["id"], "amount": amount}, format="json")
        assert "amount" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.post(f"{API}/payments/", {"order": order["id"], "amount": "11300.01"}, format="json")
    assert "amount" in assert_error(response, 400, "exceeds_outstanding")["fields"]
    response = client.post(
        f"{API}/payments/",
        {"order": order["id"], "amount": "5000", "method": "alipay", "reference": "2026051200001"},
        format="json",
    )
    assert response.status_code == 201, response.content
    payment = response.json()
    assert (payment["amount"], payment["currency"], payment["order"]["number"]) == ("5000.00", "CNY", order["number"])
    body = client.get(url).json()
    assert (body["received_total"], body["outstanding"]) == ("5000.00", "6300.00")
    assert_error(client.post(f"{url}cancel/", {}, format="json"), 400, "has_payments")
    assert_error(client.delete(f"{API}/payments/{payment['id']}/"), 403, "permission_denied")  # reps do not delete
    assert all_ids(client, f"{API}/payments/?customer={customer.pk}") == [payment["id"]]
    assert all_ids(client, f"{API}/payments/?method=cash") == []

    totals = client.get(f"{API}/orders/customer-totals/?customer={customer.pk}").json()
    assert totals == [
        {"currency": "CNY", "orders": 1, "ordered": "11300.00", "received": "5000.00", "outstanding": "6300.00"}
    ]
    assert client.post(f"{url}fulfil/", {}, format="json").json()["status"] == "fulfilled"


def test_instalments_over_the_api(tenant_a, api):
    client = api(tenant_a.admin)
    today = services.organization_today(tenant_a.org)
    order = make_order(tenant_a, confirmed=True)
    response = client.post(
        f"{API}/instalments/",
        {"order": order.pk, "due_date": str(today - datetime.timedelta(days=3)), "amount": "500"},
        format="json",
    )
    assert response.status_code == 201, response.content
    first = response.json()
    assert (first["status"], first["overdue"], first["covered"]) == ("overdue", True, "0.00")
    response = client.post(
        f"{API}/instalments/", {"order": order.pk, "due_date": str(today), "amount": "700"}, format="json"
    )
    assert "amount" in assert_error(response, 400, "exceeds_total")["fields"]
    assert all_ids(client, f"{API}/instalments/?overdue=true") == [first["id"]]
    make_payment(tenant_a, order, amount=D("500"))
    assert all_ids(client, f"{API}/instalments/?overdue=true") == []
    assert client.get(f"{API}/instalments/{first['id']}/").json()["status"] == "paid"
    assert_error(
        client.patch(f"{API}/instalments/{first['id']}/", {"version": 5, "amount": "1"}, format="json"),
        409,
        "version_conflict",
    )
    assert client.delete(f"{API}/instalments/{first['id']}/").status_code == 204


# Query counts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "make", "limit"),
    [
        ("quotes", lambda t, rep: make_quote(t, rep), 5),
        ("orders", lambda t, rep: make_order(t, rep), 5),
        ("payments", lambda t, rep: make_payment(t, owner=rep), 6),
        ("instalments", lambda t, rep: make_instalment(t, owner=rep), 5),
        ("products", lambda t, rep: make_product(t), 4),
    ],
)
def test_lists_need_a_bounded_number_of_queries(url, make, limit, tenant_a, api, django_assert_max_num_queries):
    rep = tenant_a.users["sales_rep"]
    for _ in range(12):
        make(tenant_a, rep)
    # A fresh user per request, as with session auth: organisation and role load once each, then the page.
    client = api(User.objects.get(pk=rep.pk))
    with django_assert_max_num_queries(limit):
        response = client.get(f"{API}/{url}/?limit=50")
    assert len(response.json()["results"]) == 12
