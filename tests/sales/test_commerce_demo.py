"""The commerce demo: products, a key-account price list, two quotes, an order with a payment plan, a payment
and an overdue instalment; built through the services, and only once."""

from decimal import Decimal as D

import pytest

from kehu.core import audit, demo
from kehu.sales import commerce_selectors
from kehu.sales.commerce_models import Order, Payment, PriceList, Product, Quote

pytestmark = pytest.mark.django_db


def test_the_commerce_demo_is_complete_and_idempotent():
    ctx = demo.build()
    org = ctx.organization
    assert Product.objects.filter(organization=org).count() == 8
    price_list = PriceList.objects.get(organization=org, tier="A")
    assert price_list.items.count() == 4
    quotes = Quote.objects.filter(organization=org)
    assert sorted(quotes.values_list("status", flat=True)) == ["accepted", "sent"]
    accepted = quotes.get(status="accepted")
    assert accepted.customer.tier == "A" and accepted.lines.filter(unit_price=D("17800.00")).exists()
    order = Order.objects.get(organization=org, quote=accepted)
    assert order.status == Order.Status.CONFIRMED
    assert order.received_total == Payment.objects.get(order=order).amount > 0
    assert order.outstanding == order.total - order.received_total
    rep = ctx.users["sales_rep"]
    overdue = commerce_selectors.instalment_list_for(actor=rep, overdue=True)
    assert [i.order_id for i in overdue] == [order.pk]

    again = demo.build()
    assert not [c for c in again.changes if c.startswith(("product", "price list", "quote", "order"))]
    assert Quote.objects.filter(organization=org).count() == 2
    assert Order.objects.filter(organization=org).count() == 1
    assert audit.verify() == []
