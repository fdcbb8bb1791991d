from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kehu.accounts.models import User
from kehu.core.models import AuditEntry
from tests.conftest import PASSWORD


def createuser(*args: str) -> str:
    out = StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_active_user_with_role_and_team(tenant_a):
    out = createuser(
        "--org", tenant_a.org.name, "--email", "new.rep@a.test", "--password", PASSWORD,
        "--role", "sales_rep", "--team", "Sales East", "--name", "新销售",
    )  # fmt: skip
    user = User.objects.get(email="new.rep@a.test")
    assert user.organization == tenant_a.org
    assert user.role.key == "sales_rep" and user.team == tenant_a.teams["east"] and user.name == "新销售"
    assert user.is_active and user.check_password(PASSWORD)
    assert "new.rep@a.test" in out and "sales_rep" in out
    entry = AuditEntry.objects.get(action="user.create", target_id=str(user.pk))
    assert entry.actor is None and entry.organization_id == tenant_a.org.pk


def test_the_team_is_optional(tenant_a):
    createuser("--org", tenant_a.org.name, "--email", "solo@a.test", "--password", PASSWORD, "--role", "analyst")
    assert User.objects.get(email="solo@a.test").team is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"--org": "Nobody Inc"}, "Nobody Inc"),
        ({"--role": "wizard"}, "sales_manager"),  # lists the roles that exist
        ({"--team": "Nowhere"}, "Nowhere"),
        ({"--email": "admin@a.test"}, "email"),
        ({"--password": "123"}, "password"),
        ({"--email": "not-an-email"}, "email"),
    ],
)
def test_bad_input_fails_clearly_and_creates_nothing(tenant_a, override, expected):
    options = {"--org": tenant_a.org.name, "--email": "x@a.test", "--password": PASSWORD, "--role": "sales_rep"}
    options.update(override)
    before = User.objects.count()
    with pytest.raises(CommandError) as exc:
        createuser(*[part for pair in options.items() for part in pair])
    assert expected in str(exc.value).lower() or expected in str(exc.value)
    assert User.objects.count() == before


def test_a_full_organisation_refuses_another_user(tenant_a):
    tenant_a.org.seats = User.objects.filter(organization=tenant_a.org, is_active=True).count()
    tenant_a.org.save()
    with pytest.raises(CommandError, match="seats"):
        createuser("--org", tenant_a.org.name, "--email", "late@a.test", "--password", PASSWORD, "--role", "analyst")
