"""/api/v1/tokens/ (own tokens; administrators see all) and /api/v1/audit-entries/ (administrators only)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from kehu.accounts import services
from kehu.accounts.models import ApiToken
from kehu.core import audit
from kehu.core.models import AuditEntry
from tests.api.support import API, all_ids, assert_error

TOKENS = f"{API}/tokens/"
AUDIT = f"{API}/audit-entries/"


# Tokens ----------------------------------------------------------------------------------------------


def test_a_token_is_created_shown_once_and_works(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)

    response = client.post(TOKENS, {"name": "ERP sync", "scope": "write", "expires_days": 30}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    raw = body["token"]
    assert raw.startswith("kehu_") and raw.startswith(body["prefix"])
    assert body["scope"] == "write" and body["user"]["id"] == rep.pk
    token = ApiToken.objects.get(pk=body["id"])
    assert raw not in (token.key_hash, token.prefix)  # only a hash is stored
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    listed = client.get(TOKENS).json()["results"]
    assert [t["id"] for t in listed] == [body["id"]] and "token" not in listed[0]
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get(f"{API}/me/").json()["id"] == rep.pk


def test_defaults_are_read_scope_and_a_year(tenant_a, api):
    body = api(tenant_a.users["sales_rep"]).post(TOKENS, {}, format="json").json()

    token = ApiToken.objects.get(pk=body["id"])
    assert (token.scope, token.name) == ("read", "API")
    assert timedelta(days=364) < token.expires_at - timezone.now() <= timedelta(days=365)


def test_token_input_errors_name_the_field(tenant_a, api):
    client = api(tenant_a.users["sales_rep"])

    for data, field in [
        ({"scope": "admin"}, "scope"),
        ({"expires_days": 0}, "expires_days"),
        ({"expires_days": "soon"}, "expires_days"),
        ({"name": "x" * 101}, "name"),
    ]:
        assert field in assert_error(client.post(TOKENS, data, format="json"), 400, "validation_failed")["fields"]
    assert not ApiToken.objects.exists()


def test_users_see_their_own_tokens_and_administrators_all(tenant_a, api):
    rep_token, _ = services.token_create(actor=tenant_a.users["sales_rep"])
    other_token, _ = services.token_create(actor=tenant_a.users["sales_rep_2"])
    admin_token, _ = services.token_create(actor=tenant_a.admin)

    assert all_ids(api(tenant_a.users["sales_rep"]), TOKENS) == [rep_token.pk]
    assert sorted(all_ids(api(tenant_a.admin), TOKENS)) == sorted([rep_token.pk, other_token.pk, admin_token.pk])
    assert_error(api(tenant_a.users["sales_rep"]).get(f"{TOKENS}{other_token.pk}/"), 404, "not_found")


def test_delete_revokes_and_the_token_stops_working(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    token, raw = services.token_create(actor=rep, scope="write")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert bearer.delete(f"{TOKENS}{token.pk}/").status_code == 204  # a token may revoke itself

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_error(bearer.get(f"{API}/me/"), 401, "authentication_failed")
    assert AuditEntry.objects.filter(action="token.revoke", target_id=str(token.pk)).exists()
    assert api(rep).get(f"{TOKENS}{token.pk}/").json()["revoked_at"] is not None


def test_only_the_owner_or_an_administrator_revokes(tenant_a, api):
    token, _ = services.token_create(actor=tenant_a.users["sales_rep"])

    assert_error(api(tenant_a.users["sales_rep_2"]).delete(f"{TOKENS}{token.pk}/"), 404, "not_found")
    token.refresh_from_db()
    assert token.revoked_at is None
    assert api(tenant_a.admin).delete(f"{TOKENS}{token.pk}/").status_code == 204


# Audit log -------------------------------------------------------------------------------------------


def test_administrators_browse_the_audit_log_newest_first(tenant_a, api):
    body = api(tenant_a.admin).get(AUDIT).json()

    entries = body["results"]
    assert entries, "creating the tenant wrote entries"
    times = [e["created_at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert {e["action"] for e in entries} >= {"organization.create", "user.create", "team.create"}
    assert set(entries[0]) == {
        "id", "seq", "created_at", "actor", "actor_label", "ip", "action",
        "target_type", "target_id", "target_label", "changes",
    }  # fmt: skip
    assert AuditEntry.objects.filter(pk__in=[e["id"] for e in entries]).exclude(organization=tenant_a.org).count() == 0


def test_the_audit_log_filters(tenant_a, api):
    client = api(tenant_a.admin)
    rep = tenant_a.users["sales_rep"]
    services.user_update(actor=tenant_a.admin, user=rep, data={"phone": "1"})
    old = audit.record(actor=rep, action="test.old", target=rep)
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    def actions(query: str) -> list[str]:
        response = client.get(f"{AUDIT}?{query}")
        assert response.status_code == 200, response.json()
        return [e["action"] for e in response.json()["results"]]

    assert set(actions("action=user.")) == {"user.create", "user.update"}
    assert actions("action=user.update") == ["user.update"]
    assert set(actions(f"actor={rep.pk}")) == {"test.old"}
    assert set(actions("target_type=accounts.team")) == {"team.create"}
    assert set(actions("search=a sales_rep")) == {"user.create", "user.update", "test.old"}  # target label
    assert set(actions("search=sales_rep@a.test")) == {"test.old"}  # actor label
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert "test.old" not in actions(f"since={since.replace('+', '%2B')}")
    assert actions(f"until={since.replace('+', '%2B')}") == ["test.old"]


def test_bad_audit_filters_name_the_field(tenant_a, api):
    client = api(tenant_a.admin)

    assert "since" in assert_error(client.get(f"{AUDIT}?since=yesterday"), 400, "validation_failed")["fields"]
    assert "actor" in assert_error(client.get(f"{AUDIT}?actor=me"), 400, "validation_failed")["fields"]


def test_only_administrators_read_the_audit_log_and_nobody_writes_it(tenant_a, api):
    for key in ("sales_manager", "analyst", "read_only"):
        assert_error(api(tenant_a.users[key]).get(AUDIT), 403, "permission_denied")
    client = api(tenant_a.admin)
    entry = AuditEntry.objects.filter(organization=tenant_a.org).first()
    assert_error(client.post(AUDIT, {"action": "forged"}, format="json"), 405, "method_not_allowed")
    assert_error(client.delete(f"{AUDIT}{entry.pk}/"), 404, "not_found")
    assert audit.verify() == []
