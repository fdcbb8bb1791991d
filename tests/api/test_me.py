"""/api/v1/me/ and API token authentication."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from kehu.accounts import services
from kehu.accounts.models import User
from kehu.core.models import AuditEntry
from tests.api.support import API, assert_error

ME = f"{API}/me/"


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_describes_the_signed_in_user(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    body = api(rep).get(ME).json()

    assert body["id"] == rep.pk
    assert body["email"] == "sales_rep@a.test"
    assert body["organization"] == {
        "id": tenant_a.org.pk,
        "name": "示例科技有限公司",
        "time_zone": "Asia/Shanghai",
        "currency": "CNY",
        "language": "zh-hans",
        "enabled_modules": tenant_a.org.enabled_modules,
    }
    assert body["team"] == {"id": tenant_a.teams["east"].pk, "name": "Sales East"}
    assert body["role"]["key"] == "sales_rep"
    assert body["permissions"] == rep.role.permissions
    assert body["permissions"]["customers"] == {"actions": ["view", "create", "edit"], "scope": "own"}
    assert body["totp_enabled"] is False


def test_it_updates_the_own_profile_and_audits_it(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    response = api(rep).patch(
        ME, {"name": "王小明", "phone": "13800138000", "language": "en", "email": "x@evil.test"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "王小明"
    rep.refresh_from_db()
    assert (rep.name, rep.phone, rep.language, rep.email) == ("王小明", "13800138000", "en", "sales_rep@a.test")
    entry = AuditEntry.objects.filter(action="user.update", target_id=str(rep.pk)).latest("seq")
    assert entry.changes["name"]["after"] == "王小明"


def test_it_rejects_an_unknown_language_naming_the_field(tenant_a, api):
    response = api(tenant_a.users["sales_rep"]).patch(ME, {"language": "klingon"}, format="json")

    error = assert_error(response, 400, "validation_failed")
    assert "language" in error["fields"]


def test_it_needs_a_signed_in_member_of_an_organisation(db, api):
    assert_error(api().get(ME), 401, "not_authenticated")
    staff = User.objects.create_superuser("staff@vendor.test", "x")
    assert_error(api(staff).get(ME), 403, "permission_denied")


def test_a_token_authenticates_and_is_recorded_as_used(tenant_a):
    rep = tenant_a.users["sales_rep"]
    token, raw = services.token_create(actor=rep, name="script", scope="read")

    response = bearer(raw).get(ME)

    assert response.status_code == 200
    assert response.json()["id"] == rep.pk
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_read_token_may_only_read(tenant_a):
    _token, raw = services.token_create(actor=tenant_a.users["sales_rep"], scope="read")

    assert bearer(raw).get(ME).status_code == 200
    assert_error(bearer(raw).patch(ME, {"name": "x"}, format="json"), 403, "permission_denied")
    assert_error(bearer(raw).post(f"{API}/tokens/", {"name": "more"}, format="json"), 403, "permission_denied")


def test_a_write_token_may_write(tenant_a):
    _token, raw = services.token_create(actor=tenant_a.users["sales_rep"], scope="write")

    response = bearer(raw).patch(ME, {"name": "Via token"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Via token"


@pytest.mark.parametrize("spoil", ["expired", "revoked", "user_deactivated"])
def test_an_unusable_token_is_401(spoil, tenant_a):
    rep = tenant_a.users["sales_rep"]
    token, raw = services.token_create(actor=rep, scope="write")
    if spoil == "expired":
        token.expires_at = timezone.now() - timedelta(seconds=1)
        token.save(update_fields=["expires_at"])
    elif spoil == "revoked":
        services.token_revoke(actor=rep, token=token)
    else:
        services.user_deactivate(actor=tenant_a.admin, user=rep)

    response = bearer(raw).get(ME)

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


# WSGI hands headers over as latin-1 text: UTF-8 bytes of 中文 arrive as "ä¸\xad..." characters.
UTF8_AS_WSGI = "中文".encode().decode("latin-1")


@pytest.mark.parametrize("header", ["Bearer kehu_not-a-real-token", "Bearer", "Bearer a b", f"Bearer {UTF8_AS_WSGI}"])
def test_a_bad_bearer_header_is_401(header, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(client.get(ME), 401, "authentication_failed")


def test_another_scheme_is_not_authenticated(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic YWRtaW5AYS50ZXN0OnB3")

    assert_error(client.get(ME), 401, "not_authenticated")
