from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kehu.accounts.models import Organization, User
from kehu.accounts.roles import DEFAULT_ROLES
from kehu.core.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "Orbit-pw-2026"


def createorg(*args: str) -> str:
    out = StringIO()
    call_command("createorg", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_organisation_with_roles_and_an_administrator():
    out = createorg(
        "--name",
        "华为测试",
        "--admin-email",
        "Boss@Example.com",
        "--password",
        PASSWORD,
        "--modules",
        "customers, sales",
    )
    org = Organization.objects.get(name="华为测试")
    assert org.enabled_modules == ["customers", "sales"]
    assert set(org.roles.values_list("key", flat=True)) == set(DEFAULT_ROLES)
    admin = User.objects.get(email="boss@example.com")
    assert admin.organization == org and admin.role.key == "administrator" and admin.is_active
    assert admin.check_password(PASSWORD)
    assert "华为测试" in out and "customers, sales" in out
    assert AuditEntry.objects.filter(organization=org, action="organization.create").count() == 1


def test_it_enables_every_module_by_default():
    createorg("--name", "All In", "--admin-email", "all@example.com", "--password", PASSWORD)
    assert Organization.objects.get(name="All In").enabled_modules == [
        "analytics",
        "customers",
        "marketing",
        "sales",
        "service",
    ]


def test_a_duplicate_name_fails_and_names_the_field():
    createorg("--name", "Twice", "--admin-email", "one@example.com", "--password", PASSWORD)
    with pytest.raises(CommandError) as exc:
        createorg("--name", "Twice", "--admin-email", "two@example.com", "--password", PASSWORD)
    assert exc.value.returncode == 1
    assert "name" in str(exc.value)
    assert not User.objects.filter(email="two@example.com").exists()


def test_an_unknown_module_fails_and_lists_the_known_ones():
    with pytest.raises(CommandError) as exc:
        createorg("--name", "X", "--admin-email", "x@example.com", "--password", PASSWORD, "--modules", "customers,crm")
    message = str(exc.value)
    assert "crm" in message and "customers" in message and "sales" in message
    assert not Organization.objects.filter(name="X").exists()


@pytest.mark.parametrize("password", ["short1", "12345678901", "password123"])
def test_a_weak_password_fails_and_creates_nothing(password):
    with pytest.raises(CommandError) as exc:
        createorg("--name", "Weak", "--admin-email", "weak@example.com", "--password", password)
    assert "password" in str(exc.value).lower()
    assert not Organization.objects.filter(name="Weak").exists()
    assert not User.objects.filter(email="weak@example.com").exists()


def test_a_taken_admin_email_rolls_the_organisation_back():
    createorg("--name", "First", "--admin-email", "taken@example.com", "--password", PASSWORD)
    with pytest.raises(CommandError, match="email"):
        createorg("--name", "Second", "--admin-email", "taken@example.com", "--password", PASSWORD)
    assert not Organization.objects.filter(name="Second").exists()
