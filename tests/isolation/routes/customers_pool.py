"""The public pool 公海, duplicates/merge and recycle-bin purge routes in the isolation matrix."""

from __future__ import annotations

from tests.customers.factories import make_customer, make_deleted_customer, make_pool_customer
from tests.isolation.registry import api_route, ui_page

# List only: pool customers of another organisation are never listed (claim/release/purge are detail
# actions of /api/v1/customers/, registered in customers.py).
api_route(list_url="/api/v1/pool/", detail_url=None, factory=make_pool_customer, module="customers")

ui_page(
    list_url_name="customers:pool",
    detail_url_name=None,
    post_url_names=("customers:claim",),
    factory=make_pool_customer,
    module="customers",
)
ui_page(
    list_url_name="customers:duplicates",
    detail_url_name=None,
    post_url_names=("customers:release",),
    factory=make_customer,
    module="customers",
)
ui_page(
    list_url_name="customers:recycle_bin",
    detail_url_name=None,
    post_url_names=("customers:purge",),
    factory=make_deleted_customer,
    module="customers",
)
