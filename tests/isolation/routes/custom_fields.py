"""Custom field definitions and saved views (kehu.core) in the isolation matrix: API and pages."""

from __future__ import annotations

from tests.customers.field_factories import make_field, make_view
from tests.isolation.registry import api_route, ui_page

api_route(
    list_url="/api/v1/custom-fields/",
    detail_url="/api/v1/custom-fields/{id}/",
    factory=make_field,
    module="platform",
    patch_data={"label": "changed by another organisation"},
)
api_route(
    list_url="/api/v1/saved-views/",
    detail_url="/api/v1/saved-views/{id}/",
    # Shared, so that every role of the organisation lists it: the matrix then means something for all.
    factory=lambda tenant: make_view(tenant, shared=True),
    module="platform",
    detail_actions=("default",),
)

ui_page(
    list_url_name="customers:custom_fields",
    detail_url_name="customers:custom_field_edit",
    post_url_names=(
        "customers:custom_field_edit",
        "customers:custom_field_toggle",
        "customers:custom_field_move",
        "customers:custom_field_delete",
    ),
    factory=make_field,
    module="customers",
)
ui_page(
    list_url_name="customers:list",
    detail_url_name=None,  # a view opens as the list's query string: POST only
    post_url_names=(
        "customers:saved_view_edit",
        "customers:saved_view_delete",
        "customers:saved_view_default",
    ),
    factory=lambda tenant: make_view(tenant, shared=True),
    module="customers",
)

# The sales lists' saved views (sales/list_views.py): the same generic pages, one set per list.
for _prefix, _record_type, _list in (
    ("sales:lead_saved_view", "sales.lead", "sales:lead_list"),
    ("sales:opportunity_saved_view", "sales.opportunity", "sales:opportunity_list"),
    ("sales:quote_saved_view", "sales.quote", "sales:quote_list"),
    ("sales:order_saved_view", "sales.order", "sales:order_list"),
    ("sales:activity_saved_view", "sales.activity", "sales:activity_list"),
):
    ui_page(
        list_url_name=_list,
        detail_url_name=None,  # a view opens as the list's query string: POST only
        post_url_names=(f"{_prefix}_edit", f"{_prefix}_delete", f"{_prefix}_default"),
        factory=lambda tenant, record_type=_record_type: make_view(tenant, shared=True, record_type=record_type),
        module="sales",
    )
