"""Activities 跟进 in the isolation matrix. An activity is in scope when its owner is, or the owner of the
customer it is about (see sales/activity_models.py): the owned factory makes both the same colleague, so
the matrix's "listed exactly when can(view)" check covers the usual case; tests/sales covers the rest."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kehu.core.permissions import can
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_customer
from tests.isolation.registry import api_route, ui_page
from tests.sales.activity_factories import make_activity


def _owned(tenant, owner):
    """An activity owned by `owner` on a customer of `owner`. A colleague without sales (the marketer)
    cannot be given one, so theirs is one they kept after moving to another role."""
    if can(owner, "view", Activity):
        return make_activity(tenant, owner, customer=make_customer(tenant, owner))
    activity = make_activity(tenant, tenant.admin, customer=make_customer(tenant, owner))
    Activity.objects.filter(pk=activity.pk).update(owner=owner)
    activity.owner = owner
    return activity


def _due_today(tenant):
    """An activity of the administrator in the next minutes (so it is on their "my day")."""
    return make_activity(tenant, tenant.admin, starts_at=timezone.now() + timedelta(minutes=5))


api_route(
    list_url="/api/v1/activities/",
    detail_url="/api/v1/activities/{id}/",
    factory=make_activity,
    module="sales",
    detail_actions=("complete", "cancel", "reopen", "restore"),
    patch_data={"subject": "changed by another organisation", "version": 1},
    owned_factory=_owned,
)
api_route(
    list_url="/api/v1/my-day/",
    detail_url=None,  # list only: one's own day
    factory=_due_today,
    module="sales",
)

ui_page(
    list_url_name="sales:activity_list",
    detail_url_name="sales:activity_detail",
    get_url_names=("sales:activity_edit",),
    post_url_names=(
        "sales:activity_edit",
        "sales:activity_complete",
        "sales:activity_cancel",
        "sales:activity_reopen",
        "sales:activity_delete",
        "sales:activity_restore",
    ),
    factory=make_activity,
    module="sales",
    post_data={"subject": "changed by another organisation", "kind": "call", "version": 1},
)
