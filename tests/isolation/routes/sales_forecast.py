"""Quotas and the forecast in the isolation matrix. A quota is in scope exactly when its rep is (the
quota's owner); the forecast lists one line per rep, keyed by the rep's id."""

from __future__ import annotations

from tests.isolation.registry import api_route, ui_page
from tests.sales.forecast_factories import forecast_owner, make_deleted_quota, make_owned_quota, make_quota

api_route(
    list_url="/api/v1/quotas/",
    detail_url="/api/v1/quotas/{id}/",
    factory=make_quota,
    module="sales",
    detail_actions=("restore",),
    patch_data={"amount": "1.00", "version": 1},
    owned_factory=make_owned_quota,
)
# Read-only, one page: the lines' "owner" ids must never include another organisation's users.
api_route(list_url="/api/v1/forecast/", detail_url=None, factory=forecast_owner, module="sales", id_key="owner")

ui_page(
    list_url_name="sales:quotas",
    detail_url_name="sales:quota_edit",
    post_url_names=("sales:quota_edit", "sales:quota_delete"),
    factory=make_quota,
    module="sales",
    post_data={"amount": "1.00", "currency": "CNY", "version": 1},
)
ui_page(
    list_url_name="sales:quota_recycle_bin",
    detail_url_name=None,
    post_url_names=("sales:quota_restore",),
    factory=make_deleted_quota,
    module="sales",
)
ui_page(list_url_name="sales:forecast", detail_url_name=None, factory=make_quota, module="sales")
