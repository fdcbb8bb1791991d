"""Products, price lists, numbering, quote and order life cycles, payments and instalments, through the
services (the API and the pages call the same ones)."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.urls import reverse

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.customers import merge
from kehu.sales import commerce_pricing, commerce_selectors
from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import CommerceSequence, Order, Payment, Product, Quote
from tests.customers.factories import make_contact, make_customer
from tests.sales.commerce_factories import (
    make_accepted_quote,
    make_instalment,
    make_order,
    make_payment,
    make_price_list,
    make_product,
    make_quote,
)
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db


def audited(action: str, target) -> bool:
    return AuditEntry.objects.filter(action=action, target_id=str(target.pk)).exists()


# Products and price lists ------------------------------------------------------------------------------------


def test_product_sku_is_unique_per_organisation(tenant_a, tenant_b):
    product = make_product(tenant_a, sku="KH-001")
    assert audited("product.create", product)
    make_product(tenant_b, sku="KH-001")  # another organisation may use the same SKU
    with pytest.raises(ValidationFailed) as caught:
        make_product(tenant_a, sku="KH-001")
    assert "sku" in caught.value.fields
    services.product_delete(actor=tenant_a.admin, product=product)
    with pytest.raises(ValidationFailed) as caught:
        make_product(tenant_a, sku="KH-001")
    assert "recycle bin" in caught.value.fields["sku"][0] or "回收站" in caught.value.fields["sku"][0]


def test_catalogue_is_read_by_sales_and_changed_by_administrators_only(tenant_a):
    product = make_product(tenant_a)
    rep, manager, marketer = (tenant_a.users[k] for k in ("sales_rep", "sales_manager", "marketer"))
    assert can(rep, "view", product) and can(manager, "view", product)
    assert not can(marketer, "view", product)  # no sales access
    assert not can(rep, "edit", product) and not can(manager, "create", Product)
    with pytest.raises(PermissionDenied):
        services.product_update(actor=manager, product=product, expected_version=None, data={"price": D("1")})


def test_deactivating_keeps_the_product_but_refuses_new_lines(tenant_a):
    product = make_product(tenant_a)
    services.product_update(actor=tenant_a.admin, product=product, expected_version=1, data={"is_active": False})
    assert audited("product.deactivate", product)
    quote = make_quote(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.line_add(actor=tenant_a.admin, document=quote, product=product, quantity=D("1"))
    assert "product" in caught.value.fields


def test_product_version_conflict(tenant_a):
    product = make_product(tenant_a)
    services.product_update(actor=tenant_a.admin, product=product, expected_version=1, data={"name": "新名称"})
    stale = Product.objects.get(pk=product.pk)
    stale.version = 1
    with pytest.raises(VersionConflict):
        services.product_update(actor=tenant_a.admin, product=stale, expected_version=1, data={"name": "再改"})


def test_price_for_picks_the_tier_list_then_the_general_list_then_the_product(tenant_a):
    product = make_product(tenant_a, price=D("100.00"), currency="CNY")
    general = make_price_list(tenant_a, currency="CNY", is_active=True)
    tier_a = make_price_list(tenant_a, currency="CNY", tier="A", is_active=True)
    usd = make_price_list(tenant_a, currency="USD", is_active=True)
    services.price_list_set_price(actor=tenant_a.admin, price_list=general, product=product, price=D("95.00"))
    services.price_list_set_price(actor=tenant_a.admin, price_list=tier_a, product=product, price=D("88.00"))
    key_account, ordinary = make_customer(tenant_a, tier="A"), make_customer(tenant_a, tier="C")

    assert commerce_pricing.price_for(product=product, customer=key_account, currency="CNY").price == D("88.00")
    assert commerce_pricing.price_for(product=product, customer=ordinary, currency="CNY").price == D("95.00")
    assert commerce_pricing.price_for(product=product, customer=ordinary, currency="USD") is None
    services.price_list_set_price(actor=tenant_a.admin, price_list=usd, product=product, price=D("14.00"))
    assert commerce_pricing.price_for(product=product, customer=ordinary, currency="USD").price == D("14.00")
    services.price_list_set_price(actor=tenant_a.admin, price_list=general, product=product, price=None)
    quoted = commerce_pricing.price_for(product=product, customer=ordinary, currency="CNY")
    assert (quoted.price, quoted.source) == (D("100.00"), "product")
    services.price_list_update(
        actor=tenant_a.admin, price_list=tier_a, expected_version=None, data={"is_active": False}
    )
    assert commerce_pricing.price_for(product=product, customer=key_account, currency="CNY").price == D("100.00")
    assert AuditEntry.objects.filter(action="price_list.set_price", target_id=str(general.pk)).count() == 2


def test_one_active_price_list_per_currency_and_tier(tenant_a):
    make_price_list(tenant_a, currency="CNY", tier="B", is_active=True)
    with pytest.raises(ValidationFailed) as caught:
        make_price_list(tenant_a, currency="CNY", tier="B", is_active=True)
    assert "tier" in caught.value.fields
    make_price_list(tenant_a, currency="CNY", tier="B", is_active=False)  # an inactive one may wait


def test_a_line_takes_the_customers_price_and_the_products_details(tenant_a):
    product = make_product(tenant_a, price=D("100.00"), tax_rate=D("13"), unit="台")
    tier_b = make_price_list(tenant_a, tier="B", is_active=True)
    services.price_list_set_price(actor=tenant_a.admin, price_list=tier_b, product=product, price=D("90.00"))
    quote = make_quote(tenant_a, customer=make_customer(tenant_a, tier="B"), lines=[])
    line = services.line_add(actor=tenant_a.admin, document=quote, product=product, quantity=D("3"))
    assert (line.unit_price, line.tax_rate, line.unit, line.sku, line.name) == (
        D("90.00"),
        D("13"),
        "台",
        product.sku,
        product.name,
    )
    quote.refresh_from_db()
    assert (quote.subtotal, quote.tax_total, quote.total) == (D("270.00"), D("35.10"), D("305.10"))
    usd = make_quote(tenant_a, currency="USD", lines=[])
    with pytest.raises(ValidationFailed) as caught:
        services.line_add(actor=tenant_a.admin, document=usd, product=product, quantity=D("1"))
    assert "unit_price" in caught.value.fields


# Numbering --------------------------------------------------------------------------------------------------


def test_numbers_run_per_organisation_and_year(tenant_a, tenant_b):
    year = services.organization_today(tenant_a.org).year
    first, second = make_quote(tenant_a), make_quote(tenant_a)
    assert (first.number, second.number) == (f"Q-{year}-0001", f"Q-{year}-0002")
    assert make_quote(tenant_b).number == f"Q-{year}-0001"
    assert make_order(tenant_a).number == f"SO-{year}-0001"
    last_year = make_quote(tenant_a, issue_date=datetime.date(year - 1, 12, 31))
    assert last_year.number == f"Q-{year - 1}-0001"


def test_a_failed_creation_gives_its_number_back(tenant_a):
    year = services.organization_today(tenant_a.org).year
    with pytest.raises(ValidationFailed):
        make_quote(tenant_a, lines=[{"name": "坏行", "quantity": D("1")}])  # no unit price: refused
    assert make_quote(tenant_a).number == f"Q-{year}-0001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_never_share_a_number(tenant_a):
    """Eight threads create quotes at once (each its own connection and transaction)."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memorydb", ":memory:")):
        pytest.skip("an in-memory SQLite database is private to one connection")
    customer = make_customer(tenant_a)
    numbers, failures = [], []

    def create() -> None:
        try:
            quote = services.quote_create(actor=tenant_a.admin, customer=customer)
            numbers.append(quote.number)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(set(numbers)) == 8
    year = services.organization_today(tenant_a.org).year
    assert CommerceSequence.objects.get(organization=tenant_a.org, kind="quote", year=year).last == 8


# Quotes -----------------------------------------------------------------------------------------------------


def test_quote_from_an_opportunity_takes_its_customer_contact_currency_and_owner(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    contact = make_contact(tenant_a, customer, email="buyer@example.com")
    opportunity = make_opportunity(tenant_a, rep, customer=customer, contact=contact, currency="USD")
    quote = services.quote_create(actor=tenant_a.admin, opportunity=opportunity)
    assert (quote.customer, quote.contact, quote.currency, quote.owner, quote.title) == (
        customer,
        contact,
        "USD",
        rep,
        opportunity.name,
    )
    assert quote.valid_until == quote.issue_date + datetime.timedelta(days=30)
    assert audited("quote.create", quote)
    with pytest.raises(ValidationFailed):
        services.quote_create(actor=tenant_a.admin, opportunity=opportunity, customer=make_customer(tenant_a))


def test_a_rep_cannot_quote_a_customer_outside_their_scope(tenant_a):
    other = make_customer(tenant_a, tenant_a.users["sales_rep_2"])
    with pytest.raises(NotFound):
        services.quote_create(actor=tenant_a.users["sales_rep"], customer=other)


def test_quote_owner_falls_back_to_the_creator_for_a_pool_customer(tenant_a):
    from tests.customers.factories import make_pool_customer

    rep = tenant_a.users["sales_rep"]
    quote = services.quote_create(actor=rep, customer=make_pool_customer(tenant_a))
    assert quote.owner == rep


def test_quote_status_transitions(tenant_a):
    admin = tenant_a.admin
    quote = make_quote(tenant_a)
    for refused in (services.quote_accept, services.quote_reject, services.quote_revise):
        with pytest.raises(ValidationFailed) as caught:
            refused(actor=admin, quote=quote)
        assert caught.value.code == "invalid_transition"
    assert services.quote_send(actor=admin, quote=quote, email=False) == ""
    assert quote.status == Quote.Status.SENT and quote.sent_at
    with pytest.raises(ValidationFailed):
        services.quote_send(actor=admin, quote=quote, email=False)
    with pytest.raises(ValidationFailed) as caught:
        services.line_add(actor=admin, document=quote, name="晚了", quantity=D("1"), unit_price=D("1"))
    assert caught.value.code == "not_editable"
    services.quote_reject(actor=admin, quote=quote, reason="价格太高")
    assert (quote.status, quote.rejection_reason) == (Quote.Status.REJECTED, "价格太高")
    with pytest.raises(ValidationFailed):
        services.quote_accept(actor=admin, quote=quote)
    assert audited("quote.send", quote) and audited("quote.reject", quote)


def test_an_empty_quote_cannot_be_sent(tenant_a):
    with pytest.raises(ValidationFailed):
        services.quote_send(actor=tenant_a.admin, quote=make_quote(tenant_a, lines=[]), email=False)


def test_a_stale_version_is_a_conflict(tenant_a):
    quote = make_quote(tenant_a)
    with pytest.raises(VersionConflict):
        services.quote_send(actor=tenant_a.admin, quote=quote, expected_version=quote.version + 5, email=False)
    with pytest.raises(VersionConflict):
        services.quote_update(actor=tenant_a.admin, quote=quote, expected_version=99, data={"title": "x"})


def test_an_expired_quote_cannot_be_accepted_and_the_job_expires_it(tenant_a):
    admin = tenant_a.admin
    today = services.organization_today(tenant_a.org)
    quote = make_quote(
        tenant_a, issue_date=today - datetime.timedelta(days=40), valid_until=today - datetime.timedelta(days=1)
    )
    services.quote_send(actor=admin, quote=quote, email=False)
    with pytest.raises(ValidationFailed) as caught:
        services.quote_accept(actor=admin, quote=quote)
    assert "valid_until" in caught.value.fields
    fresh = make_quote(tenant_a)
    services.quote_send(actor=admin, quote=fresh, email=False)

    from kehu.sales.commerce_tasks import quotes_expire

    assert quotes_expire.delay(tenant_a.org.pk).get() == 1
    assert quotes_expire.delay(tenant_a.org.pk).get() == 0  # idempotent
    quote.refresh_from_db()
    fresh.refresh_from_db()
    assert (quote.status, fresh.status) == (Quote.Status.EXPIRED, Quote.Status.SENT)
    assert audited("quote.expire", quote)


def test_revising_keeps_the_sent_version_readable(tenant_a):
    admin = tenant_a.admin
    quote = make_quote(tenant_a, discount_percent=D("5"))
    services.quote_send(actor=admin, quote=quote, email=False)
    revision = services.quote_revise(actor=admin, quote=quote)
    quote.refresh_from_db()
    assert (revision.number, revision.revision, revision.status) == (quote.number, 2, Quote.Status.DRAFT)
    assert revision.display_number == f"{quote.number} v2"
    assert revision.is_current and not quote.is_current and quote.status == Quote.Status.SENT
    assert [line.name for line in revision.lines.all()] == [line.name for line in quote.lines.all()]
    assert (revision.total, revision.discount_percent) == (quote.total, D("5"))
    # The earlier revision no longer changes.
    with pytest.raises(ValidationFailed):
        services.line_add(actor=admin, document=quote, name="x", quantity=D("1"), unit_price=D("1"))
    with pytest.raises(ValidationFailed):
        services.quote_accept(actor=admin, quote=quote)
    line = revision.lines.get()
    services.line_update(actor=admin, line=line, expected_version=line.version, data={"unit_price": D("450.00")})
    revision.refresh_from_db()
    quote.refresh_from_db()
    assert revision.total < quote.total
    # Deleting the new revision makes the earlier one current again; restoring swaps back.
    services.quote_delete(actor=admin, quote=revision)
    quote.refresh_from_db()
    assert quote.is_current
    with pytest.raises(ValidationFailed):  # only the latest revision goes to the bin
        services.quote_delete(actor=admin, quote=make_revised(tenant_a))
    revision.refresh_from_db()
    services.quote_restore(actor=admin, quote=revision)
    quote.refresh_from_db()
    assert revision.is_current and not quote.is_current


def make_revised(tenant):
    quote = make_quote(tenant)
    services.quote_send(actor=tenant.admin, quote=quote, email=False)
    services.quote_revise(actor=tenant.admin, quote=quote)
    quote.refresh_from_db()
    return quote


def test_quote_header_discount_recomputes_totals(tenant_a):
    quote = make_quote(
        tenant_a,
        lines=[
            {"name": "A", "quantity": D("1"), "unit_price": D("1000.00"), "tax_rate": D("13")},
            {
                "name": "B",
                "quantity": D("2"),
                "unit_price": D("250.00"),
                "tax_rate": D("6"),
                "discount_percent": D("10"),
            },
        ],
    )
    assert (quote.subtotal, quote.tax_total, quote.total) == (D("1450.00"), D("157.00"), D("1607.00"))
    services.quote_update(
        actor=tenant_a.admin, quote=quote, expected_version=quote.version, data={"discount_percent": D("10")}
    )
    quote.refresh_from_db()
    assert (quote.discount_total, quote.tax_total, quote.total) == (D("145.00"), D("141.30"), D("1446.30"))
    entry = AuditEntry.objects.filter(action="quote.update", target_id=str(quote.pk)).get()
    assert entry.changes["total"] == {"before": "1607.00", "after": "1446.30"}


def test_lines_are_validated_and_named_in_errors(tenant_a):
    with pytest.raises(ValidationFailed) as caught:
        make_quote(
            tenant_a,
            lines=[
                {"name": "ok", "quantity": D("1"), "unit_price": D("1")},
                {"name": "", "quantity": D("1"), "unit_price": D("1")},
            ],
        )
    assert "lines.1.name" in caught.value.fields
    quote = make_quote(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.line_add(actor=tenant_a.admin, document=quote, name="x", quantity=D("0"), unit_price=D("1"))
    assert "quantity" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.line_add(
            actor=tenant_a.admin,
            document=quote,
            name="x",
            quantity=D("1"),
            unit_price=D("1"),
            discount_percent=D("120"),
        )
    assert "discount_percent" in caught.value.fields


# Quote → order ----------------------------------------------------------------------------------------------


def test_an_accepted_quote_becomes_one_order(tenant_a):
    admin = tenant_a.admin
    with pytest.raises(ValidationFailed):
        services.order_create_from_quote(actor=admin, quote=make_quote(tenant_a))  # a draft
    quote = make_accepted_quote(tenant_a, discount_percent=D("2.5"))
    order = services.order_create_from_quote(actor=admin, quote=quote)
    assert (order.customer_id, order.owner_id, order.quote, order.currency) == (
        quote.customer_id,
        quote.owner_id,
        quote,
        quote.currency,
    )
    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (
        quote.subtotal,
        quote.discount_total,
        quote.tax_total,
        quote.total,
    )
    assert [(x.name, x.amount) for x in order.lines.all()] == [(x.name, x.amount) for x in quote.lines.all()]
    assert audited("order.create", order)
    with pytest.raises(ValidationFailed) as caught:
        services.order_create_from_quote(actor=admin, quote=quote)
    assert caught.value.code == "quote_already_ordered"
    assert Order.objects.filter(quote=quote).count() == 1


def test_order_status_transitions(tenant_a):
    admin = tenant_a.admin
    order = make_order(tenant_a)
    with pytest.raises(ValidationFailed):
        services.order_fulfil(actor=admin, order=order)
    services.order_confirm(actor=admin, order=order)
    with pytest.raises(ValidationFailed):  # lines are final once confirmed
        services.line_add(actor=admin, document=order, name="x", quantity=D("1"), unit_price=D("1"))
    services.order_fulfil(actor=admin, order=order)
    assert order.status == Order.Status.FULFILLED and order.fulfilled_at
    with pytest.raises(ValidationFailed):
        services.order_cancel(actor=admin, order=order)
    draft = make_order(tenant_a)
    services.order_cancel(actor=admin, order=draft)
    assert draft.status == Order.Status.CANCELLED and draft.outstanding == 0
    empty = make_order(tenant_a, lines=[])
    with pytest.raises(ValidationFailed):
        services.order_confirm(actor=admin, order=empty)


# Payments and instalments ------------------------------------------------------------------------------------


def test_payments_reduce_the_outstanding_balance(tenant_a):
    admin = tenant_a.admin
    order = make_order(tenant_a, confirmed=True)  # 1000 + 13% = 1130.00
    assert order.total == D("1130.00")
    with pytest.raises(ValidationFailed) as caught:
        services.payment_create(actor=admin, order=make_order(tenant_a), amount=D("10"))  # a draft
    assert "order" in caught.value.fields
    for amount in (D("0"), D("-5")):
        with pytest.raises(ValidationFailed) as caught:
            services.payment_create(actor=admin, order=order, amount=amount)
        assert "amount" in caught.value.fields
    first = make_payment(tenant_a, order, amount=D("500.00"), method=Payment.Method.BANK_TRANSFER, reference="HD001")
    order.refresh_from_db()
    assert (order.received_total, order.outstanding) == (D("500.00"), D("630.00"))
    with pytest.raises(ValidationFailed) as caught:
        services.payment_create(actor=admin, order=order, amount=D("630.01"))
    assert caught.value.code == "exceeds_outstanding" and "amount" in caught.value.fields
    make_payment(tenant_a, order, amount=D("630.00"))
    order.refresh_from_db()
    assert order.outstanding == D("0.00")
    services.payment_delete(actor=admin, payment=first)
    order.refresh_from_db()
    assert order.received_total == D("630.00")
    services.payment_restore(actor=admin, payment=Payment.objects.get(pk=first.pk))
    order.refresh_from_db()
    assert order.received_total == D("1130.00")
    assert audited("payment.create", first) and audited("payment.delete", first) and audited("payment.restore", first)
    with pytest.raises(ValidationFailed):
        services.order_cancel(actor=admin, order=order)
    with pytest.raises(ValidationFailed):
        services.payment_create(
            actor=admin,
            order=order,
            amount=D("1"),
            received_on=services.organization_today(tenant_a.org) + datetime.timedelta(days=2),
        )


def test_a_payment_correction_is_checked_against_the_balance(tenant_a):
    order = make_order(tenant_a, confirmed=True)
    payment = make_payment(tenant_a, order, amount=D("1000.00"))
    services.payment_update(
        actor=tenant_a.admin, payment=payment, expected_version=payment.version, data={"amount": D("1130.00")}
    )
    with pytest.raises(ValidationFailed):
        services.payment_update(
            actor=tenant_a.admin, payment=payment, expected_version=payment.version, data={"amount": D("1130.01")}
        )
    with pytest.raises(VersionConflict):
        services.payment_update(actor=tenant_a.admin, payment=payment, expected_version=1, data={"note": "x"})
    order.refresh_from_db()
    assert order.received_total == D("1130.00")


def test_payment_rights_follow_the_role(tenant_a):
    rep = tenant_a.users["sales_rep"]
    order = make_order(tenant_a, rep, confirmed=True)
    payment = services.payment_create(actor=rep, order=order, amount=D("100"))
    assert can(rep, "edit", payment) and not can(rep, "delete", payment)
    with pytest.raises(PermissionDenied):
        services.payment_delete(actor=rep, payment=payment)
    other_rep_order = make_order(tenant_a, tenant_a.users["sales_rep_2"], confirmed=True)
    with pytest.raises(NotFound):
        services.payment_create(actor=rep, order=other_rep_order, amount=D("1"))


def test_instalments_are_covered_in_due_date_order_and_overdue_when_not(tenant_a):
    admin = tenant_a.admin
    today = services.organization_today(tenant_a.org)
    order = make_order(tenant_a, confirmed=True)  # 1130.00
    past = make_instalment(tenant_a, order, amount=D("300.00"), due_date=today - datetime.timedelta(days=10))
    later_past = make_instalment(tenant_a, order, amount=D("300.00"), due_date=today - datetime.timedelta(days=1))
    future = make_instalment(tenant_a, order, amount=D("530.00"), due_date=today + datetime.timedelta(days=30))
    with pytest.raises(ValidationFailed) as caught:
        make_instalment(tenant_a, order, amount=D("0.01"))
    assert caught.value.code == "exceeds_total"
    make_payment(tenant_a, order, amount=D("400.00"))

    def states():
        rows = commerce_selectors.instalment_list_for(actor=admin, order=order)
        return {row.pk: commerce_selectors.instalment_state(row, today=today) for row in rows}

    got = states()
    assert (got[past.pk].status, got[past.pk].covered) == ("paid", D("300.00"))
    assert (got[later_past.pk].status, got[later_past.pk].covered) == ("overdue", D("100.00"))
    assert (got[future.pk].status, got[future.pk].covered) == ("due", D("0.00"))
    overdue = commerce_selectors.instalment_list_for(actor=admin, overdue=True)
    assert [row.pk for row in overdue] == [later_past.pk]
    make_payment(tenant_a, order, amount=D("250.00"))
    assert not commerce_selectors.instalment_list_for(actor=admin, overdue=True).exists()
    assert states()[future.pk].status == "partly_paid"


def test_customer_totals_per_currency(tenant_a):
    customer = make_customer(tenant_a)
    first = make_order(tenant_a, customer=customer, confirmed=True)
    make_order(tenant_a, customer=customer, confirmed=True)
    make_order(tenant_a, customer=customer)  # a draft is not ordered yet
    make_order(
        tenant_a,
        customer=customer,
        confirmed=True,
        currency="USD",
        lines=[{"name": "x", "quantity": D("1"), "unit_price": D("10.00")}],
    )
    make_payment(tenant_a, first, amount=D("1000.00"))
    totals = {
        row.currency: row for row in commerce_selectors.customer_totals_for(actor=tenant_a.admin, customer=customer)
    }
    assert (totals["CNY"].orders, totals["CNY"].ordered, totals["CNY"].received, totals["CNY"].outstanding) == (
        2,
        D("2260.00"),
        D("1000.00"),
        D("1260.00"),
    )
    assert totals["USD"].outstanding == D("10.00")
    assert commerce_selectors.customer_totals_for(actor=tenant_a.users["sales_rep_2"], customer=customer) == []


# Timeline and merge -----------------------------------------------------------------------------------------


def test_the_customer_timeline_shows_quotes_orders_and_payments(tenant_a):
    from kehu.customers.selectors import customer_timeline

    admin = tenant_a.admin
    customer = make_customer(tenant_a)
    quote = make_quote(tenant_a, customer=customer)
    services.quote_send(actor=admin, quote=quote, email=False)
    services.quote_accept(actor=admin, quote=quote)
    order = services.order_create_from_quote(actor=admin, quote=quote)
    services.order_confirm(actor=admin, order=order)
    make_payment(tenant_a, order, amount=D("200.00"))
    kinds = [item.kind for item in customer_timeline(actor=admin, customer=customer)]
    for kind in ("quote.sent", "quote.accepted", "order.created", "payment.received"):
        assert kind in kinds
    order_item = next(i for i in customer_timeline(actor=admin, customer=customer) if i.kind == "order.created")
    assert "¥200.00" in order_item.body and "¥860.00" in order_item.body  # received, outstanding
    marketer = tenant_a.users["marketer"]  # sees customers but not sales
    assert not any(i.module == "sales" for i in customer_timeline(actor=marketer, customer=customer))


def test_a_rep_sees_on_the_customers_page_no_colleagues_quotes_orders_or_payments(client, tenant_a):
    """The timeline skips a module whose rows do not exist (timeline.presence): rows that exist but are a
    colleague's are still filtered by the provider's own visibility, on the page and on "show older"."""
    from tests.customers.pages import customer_page

    rep, colleague = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]  # both scope "own" for sales
    customer = make_customer(tenant_a, rep)
    quote = make_quote(tenant_a, customer=customer)
    services.quote_send(actor=tenant_a.admin, quote=quote, email=False)
    order = make_order(tenant_a, customer=customer, confirmed=True)
    make_payment(tenant_a, order)
    for model, rows in ((Quote, {"pk": quote.pk}), (Order, {"pk": order.pk}), (Payment, {"order": order})):
        model.objects.filter(**rows).update(owner=colleague)
    kinds = ('data-kind="quote.sent"', 'data-kind="order.created"', 'data-kind="payment.received"')
    client.force_login(rep)
    body = customer_page(client, customer)
    assert 'data-testid="timeline"' in body
    assert not any(kind in body for kind in kinds)
    older = client.get(reverse("customers:timeline", args=[customer.pk]), headers={"HX-Request": "true"})
    assert not any(kind in older.content.decode() for kind in kinds)
    client.force_login(tenant_a.admin)
    body = customer_page(client, customer)
    assert all(kind in body for kind in kinds)


def test_the_timeline_reads_the_quotes_events_in_one_query_and_pages_them(tenant_a, django_assert_num_queries):
    admin = tenant_a.admin
    customer = make_customer(tenant_a)
    day = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
    at = {}  # quote -> its events' days (sent, accepted, rejected)
    for n, events in enumerate(((1, 9, None), (2, None, 8), (3, None, None), (4, 5, None))):
        quote = make_quote(tenant_a, customer=customer)
        stamps = [day + datetime.timedelta(days=d) if d else None for d in events]
        Quote.objects.filter(pk=quote.pk).update(sent_at=stamps[0], accepted_at=stamps[1], rejected_at=stamps[2])
        at[quote.pk] = stamps
    make_quote(tenant_a, customer=customer)  # a draft: nothing on the timeline
    expected = sorted(
        (
            (stamp, kind)
            for stamps in at.values()
            for stamp, kind in zip(stamps, ("sent", "accepted", "rejected"))
            if stamp
        ),
        reverse=True,
    )
    with django_assert_num_queries(3):  # quotes, orders, payments
        first = commerce_selectors.commerce_timeline(actor=admin, customer=customer, limit=3)
    assert [(i.at, i.kind) for i in first] == [(a, f"quote.{k}") for a, k in expected[:3]]
    older = commerce_selectors.commerce_timeline(actor=admin, customer=customer, limit=3, before=first[-1].at)
    assert [(i.at, i.kind) for i in older] == [(a, f"quote.{k}") for a, k in expected[3:6]]


def test_merging_customers_moves_quotes_and_orders_to_the_survivor(tenant_a):
    survivor, other = make_customer(tenant_a), make_customer(tenant_a)
    quote = make_quote(tenant_a, customer=other)
    order = make_order(tenant_a, customer=other, confirmed=True)
    make_payment(tenant_a, order)
    merge.customer_merge(actor=tenant_a.admin, survivor=survivor, others=[other])
    quote.refresh_from_db()
    order.refresh_from_db()
    assert quote.customer_id == order.customer_id == survivor.pk
    assert commerce_selectors.customer_totals_for(actor=tenant_a.admin, customer=survivor)[0].received == D("100.00")
    entry = AuditEntry.objects.get(action="customer.merge", target_id=str(survivor.pk))
    assert entry.changes["moved"]["sales.commerce"] == 2
