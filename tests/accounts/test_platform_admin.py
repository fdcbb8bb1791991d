"""The vendor's platform area at /platform/ (Django's admin): organisations and their licences."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from kehu.accounts.models import Organization, Role, User
from kehu.accounts.roles import DEFAULT_ROLES
from kehu.core import modules
from kehu.core.models import AuditEntry
from tests.conftest import PASSWORD

CHANGELIST = "/platform/accounts/organization/"
ADD = "/platform/accounts/organization/add/"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_superuser("ops@vendor.test", PASSWORD, name="Vendor ops")


@pytest.fixture
def staff_web(staff) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(staff)
    return client


def test_platform_staff_see_organisations_with_modules_seats_and_user_count(staff_web, tenant_a, tenant_b):
    tenant_b.org.seats = 25
    tenant_b.org.save(update_fields=["seats"])

    response = staff_web.get(CHANGELIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert tenant_a.org.name in html and tenant_b.org.name in html
    row_b = html[html.index(tenant_b.org.name) :].split("</tr>")[0]
    assert ">25<" in row_b and ">9<" in row_b  # seats, users
    assert str(modules.licensable_modules()[0].label) in row_b


def test_the_add_form_creates_an_organisation_through_the_service(staff_web, staff):
    keys = [m.key for m in modules.licensable_modules()][:2]
    response = staff_web.post(
        ADD,
        {
            "name": "新客户有限公司",
            "time_zone": "Asia/Shanghai",
            "currency": "CNY",
            "language": "zh-hans",
            "seats": "10",
            "admin_email": "Boss@New.test",
            "admin_name": "老板",
            "admin_password": "A-long-Passw0rd-2026",
            "enabled_modules": keys,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    org = Organization.objects.get(name="新客户有限公司")
    assert org.enabled_modules == sorted(keys) and org.seats == 10 and org.is_active
    assert set(Role.objects.filter(organization=org).values_list("key", flat=True)) == set(DEFAULT_ROLES)
    first_admin = User.objects.get(email="boss@new.test")
    assert first_admin.organization == org and first_admin.role.key == "administrator" and first_admin.is_active
    assert first_admin.check_password("A-long-Passw0rd-2026")
    created = AuditEntry.objects.get(action="organization.create", organization=org)
    assert created.actor == staff
    assert AuditEntry.objects.filter(action="user.create", organization=org, target_id=str(first_admin.pk)).exists()
    # The new administrator can open their organisation's admin pages at once.
    client = Client()
    client.force_login(first_admin)
    assert client.get("/admin/users/").status_code == 200


def test_the_add_form_refuses_a_taken_email_and_a_weak_password(staff_web, tenant_a):
    response = staff_web.post(
        ADD,
        {
            "name": "Another",
            "time_zone": "Asia/Shanghai",
            "currency": "CNY",
            "language": "en",
            "admin_email": tenant_a.admin.email,
            "admin_password": "123",
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "A user with this email already exists." in html
    assert "errorlist" in html and html.count("errorlist") >= 2
    assert not Organization.objects.filter(name="Another").exists()


def test_editing_the_licence_is_audited_in_the_organisations_chain(staff_web, staff, tenant_a):
    org = tenant_a.org
    keep = sorted(org.enabled_modules)[1:]

    response = staff_web.post(
        f"/platform/accounts/organization/{org.pk}/change/",
        {"enabled_modules": keep, "seats": "12", "is_active": "on"},
    )

    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.enabled_modules, org.seats, org.is_active) == (keep, 12, True)
    entry = AuditEntry.objects.get(action="organization.license_update", organization=org)
    assert entry.actor == staff
    assert entry.changes["seats"] == {"before": None, "after": 12}
    assert entry.changes["enabled_modules"]["after"] == keep
    # The organisation's own administrators see what the vendor changed.
    client = Client()
    client.force_login(tenant_a.admin)
    assert b"organization.license_update" in client.get("/audit/").content


def test_the_change_form_does_not_edit_the_organisations_own_settings(staff_web, tenant_a):
    org = tenant_a.org
    staff_web.post(
        f"/platform/accounts/organization/{org.pk}/change/",
        {"enabled_modules": org.enabled_modules, "name": "Renamed by vendor", "require_2fa": "on", "is_active": "on"},
    )

    org.refresh_from_db()
    assert org.name != "Renamed by vendor" and not org.require_2fa


def test_organisation_users_never_reach_the_platform_area(tenant_a):
    admin_user = tenant_a.admin
    admin_user.is_staff = admin_user.is_superuser = True  # even with the flags set by mistake
    admin_user.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(admin_user)

    for url in ("/platform/", CHANGELIST, ADD):
        response = client.get(url)
        assert response.status_code == 302 and "/platform/login/" in response.url, url


def test_customer_data_is_not_registered():
    registered = {model._meta.label_lower for model in admin.site._registry}
    business = {
        model._meta.label_lower
        for model in apps.get_models()
        if model.__module__.startswith("kehu.") and model._meta.app_label not in ("accounts", "core")
    }
    assert not registered & business
    assert {"accounts.organization", "accounts.user"} <= registered
    assert "auth.group" not in registered  # permissions come from roles, not Django's groups


def test_users_are_read_only_for_support(staff_web, tenant_a):
    listing = staff_web.get("/platform/accounts/user/", {"q": "sales_rep@a.test"})
    assert listing.status_code == 200 and b"sales_rep@a.test" in listing.content

    rep = tenant_a.users["sales_rep"]
    detail = staff_web.get(f"/platform/accounts/user/{rep.pk}/change/")
    assert detail.status_code == 200
    assert b'name="is_active"' not in detail.content  # shown, not editable
    assert b"totp_secret" not in detail.content and rep.password.encode() not in detail.content
    assert staff_web.post(f"/platform/accounts/user/{rep.pk}/change/", {"is_active": ""}).status_code == 403
    rep.refresh_from_db()
    assert rep.is_active
