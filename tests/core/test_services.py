import pytest

from kehu.accounts import services
from kehu.accounts.models import Team
from kehu.core.errors import NotFound, PermissionDenied, SeatLimitReached, ValidationFailed
from kehu.core.services import require


def test_team_paths_follow_moves_and_refuse_cycles(tenant_a):
    admin = tenant_a.admin
    sales, east = tenant_a.teams["sales"], tenant_a.teams["east"]
    assert east.path == f"/{sales.pk}/{east.pk}/"
    north = services.team_create(actor=admin, name="North", parent=east)
    assert north.path.startswith(east.path) and north.depth == 2
    with pytest.raises(ValidationFailed):
        services.team_update(actor=admin, team=sales, data={"parent": north})
    services.team_update(actor=admin, team=north, data={"parent": None})
    assert Team.objects.get(pk=north.pk).path == f"/{north.pk}/"


def test_duplicate_team_names_are_a_field_error(tenant_a):
    with pytest.raises(ValidationFailed) as err:
        services.team_create(actor=tenant_a.admin, name="Sales")
    assert "name" in err.value.fields


def test_role_permissions_are_validated(tenant_a):
    with pytest.raises(ValidationFailed) as err:
        services.role_create(actor=tenant_a.admin, name="Odd", permissions={"nope": {"actions": ["view"]}})
    assert "permissions" in err.value.fields
    with pytest.raises(ValidationFailed):
        services.role_create(
            actor=tenant_a.admin, name="Odd", permissions={"customers": {"actions": ["fly"], "scope": "own"}}
        )
    role = services.role_create(
        actor=tenant_a.admin, name="Viewer", permissions={"customers": {"actions": ["edit", "view"], "scope": "team"}}
    )
    assert role.permissions == {"customers": {"actions": ["view", "edit"], "scope": "team"}}


def test_seat_limit_counts_active_and_invited_users(tenant_a):
    org = tenant_a.org
    org.seats = org.users.filter(is_active=True).count()
    org.save()
    with pytest.raises(SeatLimitReached):
        services.user_invite(actor=tenant_a.admin, email="new@a.test", role=tenant_a.role("sales_rep"))
    services.user_deactivate(actor=tenant_a.admin, user=tenant_a.users["analyst"])
    services.user_invite(actor=tenant_a.admin, email="new@a.test", role=tenant_a.role("sales_rep"))
    with pytest.raises(SeatLimitReached):
        services.user_reactivate(actor=tenant_a.admin, user=tenant_a.users["analyst"])


def test_require_answers_404_for_what_is_not_visible(tenant_a, tenant_b):
    with pytest.raises(NotFound):
        require(tenant_a.admin, "edit", tenant_b.admin)
    with pytest.raises(PermissionDenied):
        require(tenant_a.users["sales_rep"], "edit", tenant_a.admin)
