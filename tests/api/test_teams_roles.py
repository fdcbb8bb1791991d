"""/api/v1/teams/ and /api/v1/roles/: administrators change them, everyone reads them."""

from __future__ import annotations

from kehu.accounts.models import Role, Team
from kehu.core.models import AuditEntry
from tests.api.support import API, assert_error

TEAMS = f"{API}/teams/"
ROLES = f"{API}/roles/"


# Teams -----------------------------------------------------------------------------------------------


def test_teams_are_listed_in_tree_order(tenant_a, api):
    body = api(tenant_a.users["sales_rep"]).get(TEAMS).json()

    assert [(t["name"], t["depth"]) for t in body["results"]] == [("Sales", 0), ("Sales East", 1)]
    east = body["results"][1]
    assert east["parent"] == tenant_a.teams["sales"].pk
    assert east["path"] == f"/{tenant_a.teams['sales'].pk}/{tenant_a.teams['east'].pk}/"


def test_an_administrator_creates_renames_moves_and_deletes_a_team(tenant_a, api):
    client = api(tenant_a.admin)
    manager = tenant_a.users["sales_manager"]

    response = client.post(
        TEAMS, {"name": "华南区", "parent": tenant_a.teams["sales"].pk, "manager": manager.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    team = response.json()
    assert team["manager"] == {"id": manager.pk, "name": manager.name, "email": manager.email}
    assert team["depth"] == 1

    response = client.patch(f"{TEAMS}{team['id']}/", {"name": "South", "parent": None}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["parent"], response.json()["depth"]) == ("South", None, 0)

    assert client.delete(f"{TEAMS}{team['id']}/").status_code == 204
    assert not Team.objects.filter(pk=team["id"]).exists()
    actions = set(
        AuditEntry.objects.filter(target_id=str(team["id"]), target_type="accounts.team").values_list(
            "action", flat=True
        )
    )
    assert actions == {"team.create", "team.update", "team.delete"}


def test_team_input_errors_name_the_field(tenant_a, tenant_b, api):
    client = api(tenant_a.admin)
    sales, east = tenant_a.teams["sales"], tenant_a.teams["east"]

    cases = [
        (client.post(TEAMS, {}, format="json"), "name"),
        (client.post(TEAMS, {"name": "x" * 101}, format="json"), "name"),
        (client.post(TEAMS, {"name": "Sales"}, format="json"), "name"),  # taken at the top level
        (client.post(TEAMS, {"name": "B child", "parent": tenant_b.teams["sales"].pk}, format="json"), "parent"),
        (client.post(TEAMS, {"name": "B boss", "manager": tenant_b.admin.pk}, format="json"), "manager"),
        (client.patch(f"{TEAMS}{sales.pk}/", {"parent": east.pk}, format="json"), "parent"),  # inside itself
    ]
    for response, field in cases:
        assert field in assert_error(response, 400, "validation_failed")["fields"]
    assert Team.objects.filter(organization=tenant_a.org).count() == 2
    sales.refresh_from_db()
    assert sales.parent is None


def test_a_team_with_members_or_sub_teams_is_not_deleted(tenant_a, api):
    client = api(tenant_a.admin)

    assert_error(client.delete(f"{TEAMS}{tenant_a.teams['sales'].pk}/"), 400, "validation_failed")
    assert_error(client.delete(f"{TEAMS}{tenant_a.teams['east'].pk}/"), 400, "validation_failed")
    assert Team.objects.filter(organization=tenant_a.org).count() == 2


def test_only_administrators_change_teams(tenant_a, api):
    client = api(tenant_a.users["sales_manager"])
    east = tenant_a.teams["east"]

    assert_error(client.post(TEAMS, {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(client.patch(f"{TEAMS}{east.pk}/", {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(client.delete(f"{TEAMS}{east.pk}/"), 403, "permission_denied")
    east.refresh_from_db()
    assert east.name == "Sales East"


# Roles -----------------------------------------------------------------------------------------------


def test_roles_list_the_default_roles_with_their_grants(tenant_a, api):
    body = api(tenant_a.users["read_only"]).get(ROLES).json()

    roles = {r["key"]: r for r in body["results"]}
    assert set(roles) == {r.key for r in Role.objects.filter(organization=tenant_a.org)}
    assert roles["sales_rep"]["permissions"]["sales"] == {"actions": ["view", "create", "edit"], "scope": "own"}
    assert roles["administrator"]["is_system"] is True


def test_an_administrator_creates_edits_copies_and_deletes_a_role(tenant_a, api):
    client = api(tenant_a.admin)
    grants = {"customers": {"actions": ["edit", "view"], "scope": "team"}, "service": {"actions": [], "scope": "own"}}

    response = client.post(ROLES, {"name": "Key accounts", "permissions": grants}, format="json")
    assert response.status_code == 201, response.json()
    role = response.json()
    # Actions come back in the module's order; a module without actions is dropped.
    assert role["permissions"] == {"customers": {"actions": ["view", "edit"], "scope": "team"}}
    assert role["key"] == "key-accounts" and role["is_system"] is False

    response = client.patch(
        f"{ROLES}{role['id']}/",
        {"permissions": {"sales": {"actions": ["view"], "scope": "organization"}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["permissions"] == {"sales": {"actions": ["view"], "scope": "organization"}}
    entry = AuditEntry.objects.filter(action="role.update", target_id=str(role["id"])).latest("seq")
    assert entry.changes["permissions"]["before"] == {"customers": {"actions": ["view", "edit"], "scope": "team"}}

    response = client.post(f"{ROLES}{role['id']}/copy/", {"name": "Key accounts 2"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["permissions"] == {"sales": {"actions": ["view"], "scope": "organization"}}
    assert response.json()["id"] != role["id"]

    assert client.delete(f"{ROLES}{role['id']}/").status_code == 204
    assert not Role.objects.filter(pk=role["id"]).exists()


def test_role_input_errors_name_the_field(tenant_a, api):
    client = api(tenant_a.admin)

    cases = [
        (
            {"name": "R", "permissions": {"customers": {"actions": ["view"], "scope": "galaxy"}}},
            "permissions.customers.scope",
        ),
        (
            {"name": "R", "permissions": {"customers": {"actions": ["fly"], "scope": "own"}}},
            "permissions.customers.actions",
        ),
        ({"name": "R", "permissions": {"nonexistent": {"actions": ["view"], "scope": "own"}}}, "permissions"),
        ({"name": "R", "permissions": {"platform": {"actions": ["delete"], "scope": "own"}}}, "permissions"),
        ({"name": "R", "permissions": ["view"]}, "permissions"),
        ({"name": tenant_a.role("administrator").name}, "name"),  # taken (the name is translated: 管理员)
        ({"permissions": {}}, "name"),
    ]
    for data, field in cases:
        error = assert_error(client.post(ROLES, data, format="json"), 400, "validation_failed")
        assert any(f == field or f.startswith(field + ".") for f in error["fields"]), (data, error)
    assert not Role.objects.filter(organization=tenant_a.org, is_system=False).exists()


def test_shipped_roles_are_protected(tenant_a, api):
    client = api(tenant_a.admin)
    admin_role = tenant_a.role("administrator")

    assert_error(client.delete(f"{ROLES}{tenant_a.role('analyst').pk}/"), 400, "validation_failed")
    response = client.patch(f"{ROLES}{admin_role.pk}/", {"permissions": {}}, format="json")
    assert_error(response, 400, "validation_failed")
    admin_role.refresh_from_db()
    assert "administer" in admin_role.permissions["platform"]["actions"]


def test_only_administrators_change_roles(tenant_a, api):
    client = api(tenant_a.users["service_manager"])
    rep_role = tenant_a.role("sales_rep")

    assert_error(client.post(ROLES, {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(client.patch(f"{ROLES}{rep_role.pk}/", {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(client.post(f"{ROLES}{rep_role.pk}/copy/", {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(client.delete(f"{ROLES}{rep_role.pk}/"), 403, "permission_denied")
    assert not Role.objects.filter(organization=tenant_a.org, name="Mine").exists()
