"""Opportunities, pipelines and stages in the isolation matrix: the API and the pages (the board's column
pages take a stage id, the administrators' pages a pipeline or a stage id)."""

from __future__ import annotations

from kehu.sales.models import Opportunity
from tests.isolation.registry import api_route, ui_page
from tests.sales.factories import make_opportunity, make_pipeline, make_stage


def make_owned_opportunity(tenant, owner) -> Opportunity:
    """An opportunity owned by `owner`, whatever their role: made through the service, then handed over
    directly (the marketer of the matrix has no sales access, so the service would refuse them as owner)."""
    opportunity = make_opportunity(tenant, tenant.admin)
    Opportunity.objects.filter(pk=opportunity.pk).update(owner=owner)
    opportunity.owner = owner
    return opportunity


api_route(
    list_url="/api/v1/opportunities/",
    detail_url="/api/v1/opportunities/{id}/",
    factory=make_opportunity,
    module="sales",
    detail_actions=("change-stage", "won", "lost", "restore", "history"),  # history: GET only (POST is 405)
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=make_owned_opportunity,
)
api_route(
    list_url="/api/v1/pipelines/",
    detail_url="/api/v1/pipelines/{id}/",
    factory=make_pipeline,
    module="sales",
    detail_actions=("reorder", "summary"),  # summary: GET only (POST is 405)
)
api_route(list_url="/api/v1/stages/", detail_url="/api/v1/stages/{id}/", factory=make_stage, module="sales")

ui_page(
    list_url_name="sales:opportunity_list",
    detail_url_name="sales:opportunity_detail",
    get_url_names=("sales:opportunity_edit", "sales:opportunity_quick_edit"),
    post_url_names=(
        "sales:opportunity_edit",
        "sales:opportunity_quick_edit",
        "sales:opportunity_move",
        "sales:opportunity_won",
        "sales:opportunity_lost",
        "sales:opportunity_delete",
        "sales:opportunity_restore",
    ),
    factory=make_opportunity,
    module="sales",
    post_data={"name": "changed by another organisation", "version": 1, "stage": 1, "reason": "x"},
)
ui_page(
    list_url_name="sales:opportunity_board",
    detail_url_name="sales:opportunity_board_column",
    factory=make_stage,
    module="sales",
)
ui_page(
    list_url_name="sales:pipeline_list",
    detail_url_name="sales:pipeline_detail",
    post_url_names=("sales:pipeline_detail", "sales:pipeline_delete", "sales:stage_create"),
    factory=make_pipeline,
    module="sales",
)
ui_page(
    list_url_name=None,
    detail_url_name="sales:stage_edit",
    post_url_names=("sales:stage_edit", "sales:stage_delete", "sales:stage_move"),
    factory=make_stage,
    module="sales",
)
ui_page(list_url_name="sales:opportunity_recycle_bin", detail_url_name=None, factory=make_opportunity, module="sales")
