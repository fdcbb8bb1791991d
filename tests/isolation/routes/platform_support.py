"""Vendor support access grants in the isolation matrix: the API and the administrator's page."""

from __future__ import annotations

from kehu.accounts import support_services
from kehu.accounts.models import SupportGrant
from tests.isolation.registry import api_route, ui_page


def make_support_grant(tenant) -> SupportGrant:
    """An active grant of `tenant` (an organisation has one open grant at a time: end the last one first)."""
    for grant in SupportGrant.objects.dangerously_all_organizations().filter(
        organization=tenant.org, ended_at__isnull=True
    ):
        support_services.support_grant_revoke(actor=tenant.admin, grant=grant)
    return support_services.support_grant_create(actor=tenant.admin, hours=2, reason="Isolation probe")


api_route(
    list_url="/api/v1/support-grants/",
    detail_url="/api/v1/support-grants/{id}/",
    factory=make_support_grant,
    module="platform",
    detail_actions=("revoke",),
)

ui_page(
    list_url_name="admin_area:support",
    detail_url_name=None,
    post_url_names=("admin_area:support_revoke",),
    factory=make_support_grant,
    module="platform",
)
