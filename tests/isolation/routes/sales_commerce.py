"""Products, price lists, quotes, orders, payments and instalments in the isolation matrix.

Products and price lists are the organisation's catalogue (no data scope: every sales viewer reads all of
them); quotes and orders are in their owner's scope; lines, payments and instalments are in scope exactly
when their document is."""

from __future__ import annotations

from tests.isolation.registry import api_route, ui_page
from tests.sales.commerce_factories import (
    make_instalment,
    make_order,
    make_payment,
    make_price_list,
    make_product,
    make_quote,
)


def _quote_line(tenant, owner=None):
    return make_quote(tenant, owner).lines.get()


def _order_line(tenant, owner=None):
    return make_order(tenant, owner).lines.get()


api_route(
    list_url="/api/v1/products/",
    detail_url="/api/v1/products/{id}/",
    factory=make_product,
    module="sales",
    detail_actions=("restore", "price"),  # price: GET only (a POST answers 405)
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_product(tenant),
)
api_route(
    list_url="/api/v1/price-lists/",
    detail_url="/api/v1/price-lists/{id}/",
    factory=make_price_list,
    module="sales",
    detail_actions=("restore", "set-price"),
    patch_data={"name": "changed by another organisation", "version": 1},
)
api_route(
    list_url="/api/v1/quotes/",
    detail_url="/api/v1/quotes/{id}/",
    factory=make_quote,
    module="sales",
    detail_actions=("restore", "send", "accept", "reject", "revise", "create-order"),
    patch_data={"title": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_quote(tenant, owner),
)
api_route(
    list_url="/api/v1/quote-lines/",
    detail_url="/api/v1/quote-lines/{id}/",
    factory=_quote_line,
    module="sales",
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=_quote_line,
)
api_route(
    list_url="/api/v1/orders/",
    detail_url="/api/v1/orders/{id}/",
    factory=make_order,
    module="sales",
    detail_actions=("restore", "confirm", "fulfil", "cancel"),
    patch_data={"title": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_order(tenant, owner),
)
api_route(
    list_url="/api/v1/order-lines/",
    detail_url="/api/v1/order-lines/{id}/",
    factory=_order_line,
    module="sales",
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=_order_line,
)
api_route(
    list_url="/api/v1/payments/",
    detail_url="/api/v1/payments/{id}/",
    factory=make_payment,
    module="sales",
    detail_actions=("restore",),
    patch_data={"note": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_payment(tenant, owner=owner),
)
api_route(
    list_url="/api/v1/instalments/",
    detail_url="/api/v1/instalments/{id}/",
    factory=make_instalment,
    module="sales",
    patch_data={"note": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_instalment(tenant, owner=owner),
)

ui_page(
    list_url_name="sales:product_list",
    detail_url_name="sales:product_edit",
    post_url_names=("sales:product_edit", "sales:product_toggle", "sales:product_delete", "sales:product_restore"),
    factory=make_product,
    module="sales",
)
ui_page(
    list_url_name="sales:price_list_list",
    detail_url_name="sales:price_list_detail",
    post_url_names=(
        "sales:price_list_detail",
        "sales:price_list_set_price",
        "sales:price_list_delete",
        "sales:price_list_restore",
    ),
    factory=make_price_list,
    module="sales",
)
ui_page(
    list_url_name="sales:quote_list",
    detail_url_name="sales:quote_detail",
    get_url_names=("sales:quote_edit", "sales:quote_print"),
    post_url_names=(
        "sales:quote_edit",
        "sales:quote_line_add",
        "sales:quote_send",
        "sales:quote_accept",
        "sales:quote_reject",
        "sales:quote_revise",
        "sales:quote_create_order",
        "sales:quote_delete",
        "sales:quote_restore",
    ),
    factory=make_quote,
    module="sales",
    post_data={"title": "changed by another organisation", "name": "x", "quantity": "1", "unit_price": "1"},
)
ui_page(
    list_url_name=None,
    detail_url_name="sales:quote_line_edit",
    post_url_names=("sales:quote_line_edit", "sales:quote_line_delete"),
    factory=_quote_line,
    module="sales",
    post_data={"name": "changed by another organisation", "quantity": "1", "version": "1"},
)
ui_page(
    list_url_name="sales:order_list",
    detail_url_name="sales:order_detail",
    get_url_names=("sales:order_edit", "sales:order_print"),
    post_url_names=(
        "sales:order_edit",
        "sales:order_line_add",
        "sales:order_confirm",
        "sales:order_fulfil",
        "sales:order_cancel",
        "sales:order_delete",
        "sales:order_restore",
        "sales:payment_add",
        "sales:instalment_add",
    ),
    factory=make_order,
    module="sales",
    post_data={"title": "changed by another organisation", "amount": "1", "due_date": "2026-01-01"},
)
ui_page(
    list_url_name=None,
    detail_url_name="sales:order_line_edit",
    post_url_names=("sales:order_line_edit", "sales:order_line_delete"),
    factory=_order_line,
    module="sales",
    post_data={"name": "changed by another organisation", "quantity": "1", "version": "1"},
)
ui_page(
    list_url_name="sales:payment_list",
    detail_url_name="sales:payment_edit",
    post_url_names=("sales:payment_edit", "sales:payment_delete", "sales:payment_restore"),
    factory=make_payment,
    module="sales",
    post_data={"amount": "1", "version": "1"},
)
ui_page(
    list_url_name=None,
    detail_url_name="sales:instalment_edit",
    post_url_names=("sales:instalment_edit", "sales:instalment_delete"),
    factory=make_instalment,
    module="sales",
    post_data={"amount": "1", "due_date": "2026-01-01", "version": "1"},
)
