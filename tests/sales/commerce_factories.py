"""Products, price lists, quotes, orders and payments made through the services, as a real user would."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Instalment, Order, Payment, PriceList, Product, Quote
from tests.customers.factories import make_customer

_seq = count(1)


def make_product(tenant: Any, **fields: Any) -> Product:
    n = next(_seq)
    fields.setdefault("sku", f"SKU-{n:05d}")
    fields.setdefault("name", f"测试产品 {n}")
    fields.setdefault("price", Decimal("100.00"))
    fields.setdefault("tax_rate", Decimal("13"))
    fields.setdefault("unit", "套")
    return services.product_create(actor=tenant.admin, **fields)


def make_price_list(tenant: Any, **fields: Any) -> PriceList:
    """Inactive unless asked: one active list per currency and tier, and tests make many."""
    fields.setdefault("name", f"价格表 {next(_seq)}")
    fields.setdefault("is_active", False)
    return services.price_list_create(actor=tenant.admin, **fields)


def make_quote(tenant: Any, owner: Any = None, *, customer: Any = None, lines: Any = None, **fields: Any) -> Quote:
    """A draft quote of `tenant` for `customer` (default: a new customer of `owner`, default the sales rep),
    with one free-text line unless `lines` is given. Created by the administrator; owned by the customer's
    owner."""
    customer = customer or make_customer(tenant, owner or tenant.users["sales_rep"])
    if lines is None:
        lines = [
            {"name": "实施服务", "quantity": Decimal("2"), "unit_price": Decimal("500.00"), "tax_rate": Decimal("6")}
        ]
    return services.quote_create(actor=tenant.admin, customer=customer, lines=lines, **fields)


def make_accepted_quote(tenant: Any, owner: Any = None, **fields: Any) -> Quote:
    quote = make_quote(tenant, owner, **fields)
    services.quote_send(actor=tenant.admin, quote=quote, email=False)
    return services.quote_accept(actor=tenant.admin, quote=quote).quote


def make_order(tenant: Any, owner: Any = None, *, confirmed: bool = False, **fields: Any) -> Order:
    customer = fields.pop("customer", None) or make_customer(tenant, owner or tenant.users["sales_rep"])
    fields.setdefault(
        "lines",
        [{"name": "软件许可", "quantity": Decimal("1"), "unit_price": Decimal("1000.00"), "tax_rate": Decimal("13")}],
    )
    order = services.order_create(actor=tenant.admin, customer=customer, **fields)
    if confirmed:
        services.order_confirm(actor=tenant.admin, order=order)
    return order


def make_payment(tenant: Any, order: Order | None = None, owner: Any = None, **fields: Any) -> Payment:
    order = order or make_order(tenant, owner, confirmed=True)
    fields.setdefault("amount", Decimal("100.00"))
    return services.payment_create(actor=tenant.admin, order=order, **fields)


def make_instalment(tenant: Any, order: Order | None = None, owner: Any = None, **fields: Any) -> Instalment:
    from kehu.sales.commerce_services import organization_today

    order = order or make_order(tenant, owner, confirmed=True)
    fields.setdefault("amount", Decimal("200.00"))
    fields.setdefault("due_date", organization_today(tenant.org))
    return services.instalment_create(actor=tenant.admin, order=order, **fields)
