"""The platform's routes in the isolation matrix: users, teams, roles, API tokens, the audit log."""

from __future__ import annotations

from uuid import uuid4

from kehu.accounts import services
from kehu.accounts.models import ApiToken, Role, Team, User
from kehu.core import audit
from kehu.core.models import AuditEntry
from tests.conftest import PASSWORD
from tests.isolation.registry import api_route, exempt_api, ui_page


def _uid() -> str:
    return uuid4().hex[:8]


def make_user(tenant) -> User:
    slug = tenant.admin.email.split("@")[1]
    return services.user_create(
        actor=tenant.admin,
        organization=tenant.org,
        email=f"probe-{_uid()}@{slug}",
        password=PASSWORD,
        role=tenant.role("sales_rep"),
        name="Isolation probe",
        team=tenant.teams["east"],
    )


def make_team(tenant) -> Team:
    return services.team_create(actor=tenant.admin, name=f"Probe {_uid()}", parent=tenant.teams["sales"])


def make_role(tenant) -> Role:
    return services.role_create(
        actor=tenant.admin,
        name=f"Probe {_uid()}",
        permissions={"customers": {"actions": ["view"], "scope": "own"}},
    )


def make_token(tenant) -> ApiToken:
    token, _raw = services.token_create(actor=tenant.users["sales_rep"], name="probe", scope="write")
    return token


def make_audit_entry(tenant) -> AuditEntry:
    return audit.record(actor=tenant.admin, action="test.isolation_probe", target=tenant.admin)


api_route(
    list_url="/api/v1/users/",
    detail_url="/api/v1/users/{id}/",
    factory=make_user,
    module="platform",
    detail_actions=("deactivate", "reactivate"),
)
api_route(list_url="/api/v1/teams/", detail_url="/api/v1/teams/{id}/", factory=make_team, module="platform")
api_route(
    list_url="/api/v1/roles/",
    detail_url="/api/v1/roles/{id}/",
    factory=make_role,
    module="platform",
    detail_actions=("copy",),
)
api_route(list_url="/api/v1/tokens/", detail_url="/api/v1/tokens/{id}/", factory=make_token, module="platform")
api_route(list_url="/api/v1/audit-entries/", detail_url=None, factory=make_audit_entry, module="platform")

exempt_api("me/", "the signed-in user's own profile: takes no id, returns nothing of anyone else")
exempt_api("^.*$", "the JSON 404 for unknown paths under /api/v1/")

# The organisation administrator's pages, and the tokens on one's own profile page.
ui_page(
    list_url_name="admin_area:users",
    detail_url_name="admin_area:user_edit",
    post_url_names=(
        "admin_area:user_edit",
        "admin_area:user_deactivate",
        "admin_area:user_reactivate",
        "admin_area:user_reset_2fa",
    ),
    factory=make_user,
    module="platform",
)
ui_page(
    list_url_name="admin_area:teams",
    detail_url_name="admin_area:team_edit",
    post_url_names=("admin_area:team_edit", "admin_area:team_delete"),
    factory=make_team,
    module="platform",
)
ui_page(
    list_url_name="admin_area:roles",
    detail_url_name="admin_area:role_edit",
    post_url_names=("admin_area:role_edit", "admin_area:role_copy", "admin_area:role_delete"),
    factory=make_role,
    module="platform",
)
ui_page(
    list_url_name="accounts:profile",
    detail_url_name=None,
    post_url_names=("accounts:token_revoke",),
    factory=make_token,
    module="platform",
)
