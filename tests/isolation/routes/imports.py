"""Import jobs in the isolation matrix: the API (/api/v1/imports/) and the import wizard's pages."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from kehu.core.import_models import ImportJob
from tests.isolation.registry import api_route, ui_page

CSV = "客户名称,电话\n隔离测试公司,13800138000\n".encode()


def make_import_job(tenant, owner=None) -> ImportJob:
    """A job uploaded by `owner` (default: the sales rep). Made directly, so that it can also belong to a
    role that may no longer import (the marketer): visibility must not depend on the right to import."""
    owner = owner or tenant.users["sales_rep"]
    stored = default_storage.save(f"imports/{tenant.org.pk}/probe.csv", ContentFile(CSV))
    return ImportJob.objects.create(
        organization=tenant.org,
        owner=owner,
        created_by=owner,
        updated_by=owner,
        record_type="customers",
        file=stored,
        original_name="probe.csv",
        file_format="csv",
        encoding="utf-8",
        delimiter=",",
        headers=["客户名称", "电话"],
        mapping={"0": "name", "1": "phone"},
    )


api_route(
    list_url="/api/v1/imports/",
    detail_url="/api/v1/imports/{id}/",
    factory=make_import_job,
    module="platform",
    detail_actions=("dry-run", "run", "resume", "cancel", "errors"),
    patch_data={"policy": "update"},
    owned_factory=make_import_job,
)

ui_page(
    list_url_name="customers:imports",
    detail_url_name="customers:import_detail",
    get_url_names=("customers:import_progress", "customers:import_errors"),
    post_url_names=(
        "customers:import_mapping",
        "customers:import_dry_run",
        "customers:import_run",
        "customers:import_resume",
        "customers:import_cancel",
    ),
    factory=make_import_job,
    module="customers",
)
