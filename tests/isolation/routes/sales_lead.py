"""Leads 线索 in the isolation matrix: leads (in their owner's scope), web forms, assignment rules, lead
sources (organisation configuration), and the pages of leads, lead imports and the lead administration."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from kehu.core.import_models import ImportJob
from kehu.sales.lead_assignment import eligible
from kehu.sales.lead_models import Lead
from tests.customers.field_factories import make_field
from tests.isolation.registry import api_route, ui_page
from tests.sales.lead_factories import make_lead, make_rule, make_source, make_webform


def make_owned_lead(tenant, owner) -> Lead:
    """A lead owned by `owner`. The matrix's owners include colleagues without access to sales (the
    marketer), who cannot be given a lead through the service: theirs is written directly."""
    if eligible(owner, tenant.org.pk):
        return make_lead(tenant, owner)
    return Lead.objects.create(organization=tenant.org, owner=owner, created_by=tenant.admin, name="越界线索")


def make_lead_import_job(tenant, owner=None) -> ImportJob:
    owner = owner or tenant.users["sales_rep"]
    stored = default_storage.save(
        f"imports/{tenant.org.pk}/leads.csv", ContentFile("姓名,电话\n隔离,13800138000\n".encode())
    )
    return ImportJob.objects.create(
        organization=tenant.org,
        owner=owner,
        created_by=owner,
        updated_by=owner,
        record_type="sales.lead",
        file=stored,
        original_name="leads.csv",
        file_format="csv",
        encoding="utf-8",
        delimiter=",",
        headers=["姓名", "电话"],
        mapping={"0": "name", "1": "phone"},
    )


api_route(
    list_url="/api/v1/leads/",
    detail_url="/api/v1/leads/{id}/",
    factory=make_lead,
    module="sales",
    detail_actions=("restore", "assign", "matches", "convert"),  # matches is GET only: a POST answers 405
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=make_owned_lead,
)
api_route(
    list_url="/api/v1/web-forms/",
    detail_url="/api/v1/web-forms/{id}/",
    factory=make_webform,
    module="sales",
    detail_actions=("new-address",),
    patch_data={"name": "changed by another organisation", "version": 1},
)
api_route(
    list_url="/api/v1/assignment-rules/",
    detail_url="/api/v1/assignment-rules/{id}/",
    factory=make_rule,
    module="sales",
    detail_actions=("move",),
    patch_data={"name": "changed by another organisation", "version": 1},
)
api_route(
    list_url="/api/v1/lead-sources/",
    detail_url="/api/v1/lead-sources/{id}/",
    factory=make_source,
    module="sales",
    patch_data={"label": "changed by another organisation"},
)

ui_page(
    list_url_name="sales:lead_list",
    detail_url_name="sales:lead_detail",
    get_url_names=("sales:lead_edit", "sales:lead_convert"),
    post_url_names=(
        "sales:lead_edit",
        "sales:lead_status",
        "sales:lead_assign",
        "sales:lead_convert",
        "sales:lead_delete",
        "sales:lead_restore",
    ),
    factory=make_lead,
    module="sales",
)
ui_page(
    list_url_name="sales:lead_imports",
    detail_url_name="sales:lead_import_detail",
    get_url_names=("sales:lead_import_progress", "sales:lead_import_errors"),
    post_url_names=(
        "sales:lead_import_mapping",
        "sales:lead_import_dry_run",
        "sales:lead_import_run",
        "sales:lead_import_resume",
        "sales:lead_import_cancel",
    ),
    factory=make_lead_import_job,
    module="sales",
)
ui_page(
    list_url_name="sales:webform_list",
    detail_url_name="sales:webform_edit",
    post_url_names=("sales:webform_edit", "sales:webform_new_address", "sales:webform_delete"),
    factory=make_webform,
    module="sales",
)
ui_page(
    list_url_name="sales:rule_list",
    detail_url_name="sales:rule_edit",
    post_url_names=("sales:rule_edit", "sales:rule_move", "sales:rule_delete"),
    factory=make_rule,
    module="sales",
)
ui_page(
    list_url_name="sales:source_list",
    detail_url_name=None,  # edited in place on the list: POST only
    post_url_names=("sales:source_edit", "sales:source_delete"),
    factory=make_source,
    post_data={"label": "changed by another organisation"},
    module="sales",
)
ui_page(
    list_url_name="sales:lead_fields",
    detail_url_name="sales:lead_field_edit",
    post_url_names=(
        "sales:lead_field_edit",
        "sales:lead_field_toggle",
        "sales:lead_field_move",
        "sales:lead_field_delete",
    ),
    factory=lambda tenant: make_field(tenant, record_type="sales.lead"),
    module="sales",
)
