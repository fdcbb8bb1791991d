"""The signed-in user's own pages: profile, password, two-factor set-up, API tokens, and the shell's home,
search and notifications pages."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from kehu.accounts import services
from kehu.accounts.models import ApiToken
from kehu.core.models import AuditEntry
from kehu.core.notifications import notify
from tests.conftest import PASSWORD

PROFILE = "/accounts/profile/"


@pytest.fixture
def web() -> Client:
    return Client(headers={"accept-language": "en"})


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


@pytest.fixture
def rep_web(web, rep) -> Client:
    web.force_login(rep)
    return web


# Profile ---------------------------------------------------------------------------------------------


def test_the_profile_page_shows_every_section(rep_web, rep):
    response = rep_web.get(PROFILE)

    assert response.status_code == 200
    for marker in (b"profile-form", b"password-form", b"2fa-status", b"token-form", b"no-tokens"):
        assert marker in response.content
    assert rep.email.encode() in response.content


def test_it_edits_name_phone_and_language(rep_web, rep):
    response = rep_web.post(PROFILE, {"name": "Wang Fang", "phone": "138 0000 1111", "language": "en"})

    assert response.status_code == 302 and response.url == PROFILE
    rep.refresh_from_db()
    assert (rep.name, rep.phone, rep.language) == ("Wang Fang", "138 0000 1111", "en")
    assert response.cookies["django_language"].value == "en"
    entry = AuditEntry.objects.get(action="user.update", target_id=str(rep.pk))
    assert entry.actor == rep and entry.changes["name"]["after"] == "Wang Fang"
    assert b"Your profile was saved." in rep_web.get(PROFILE).content


def test_choosing_automatic_language_lets_the_browser_decide_again(rep_web, rep):
    rep_web.post(PROFILE, {"name": "Wang Fang", "language": "en"})

    response = rep_web.post(PROFILE, {"name": "Wang Fang", "language": ""})

    assert response.status_code == 302
    assert response.cookies["django_language"].value == ""  # deleted
    rep.refresh_from_db()
    assert rep.language == ""


def test_a_profile_error_is_inline_and_keeps_what_was_typed(rep_web, rep):
    response = rep_web.post(PROFILE, {"name": "", "phone": "0571-8888", "language": "xx"})

    assert response.status_code == 400
    assert b'data-testid="error-name"' in response.content
    assert b'data-testid="error-language"' in response.content
    assert b'value="0571-8888"' in response.content
    rep.refresh_from_db()
    assert rep.phone == ""


def test_it_changes_the_password_and_keeps_the_session(rep_web, rep):
    wrong = rep_web.post(
        reverse("accounts:password_change"),
        {"current_password": "wrong", "new_password1": "Changed-pw-55", "new_password2": "Changed-pw-55"},
    )
    assert wrong.status_code == 400
    assert b'data-testid="error-current_password"' in wrong.content

    weak = rep_web.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert weak.status_code == 400
    assert b'data-testid="error-new_password1"' in weak.content

    response = rep_web.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "new_password1": "Changed-pw-55", "new_password2": "Changed-pw-55"},
    )
    assert response.status_code == 302 and response.url == PROFILE
    rep.refresh_from_db()
    assert rep.check_password("Changed-pw-55")
    assert rep_web.get(PROFILE).status_code == 200  # still signed in
    assert AuditEntry.objects.filter(action="user.password_change", actor=rep).exists()


# API tokens ------------------------------------------------------------------------------------------


def _raw_token(html: bytes) -> str:
    match = re.search(rb'value="(kehu_[^"]+)"[^>]*data-testid="raw-token"', html)
    assert match, "the raw token is not on the page"
    return match.group(1).decode()


def test_a_new_token_is_shown_once_and_revoke_works(rep_web, rep):
    response = rep_web.post(
        reverse("accounts:token_create"), {"name": "ERP sync", "scope": "write", "expires_days": 30}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = _raw_token(response.content)
    token = ApiToken.objects.get(user=rep)
    assert token.key_hash == services.token_hash(raw)
    assert (token.name, token.scope) == ("ERP sync", "write")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">'.encode() in response.content

    profile = rep_web.get(PROFILE)
    assert raw.encode() not in profile.content
    assert token.prefix.encode() in profile.content
    assert f'data-token-id="{token.pk}"'.encode() in profile.content

    response = rep_web.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 302 and response.url == PROFILE
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action="token.revoke", target_id=str(token.pk), actor=rep).exists()
    assert b"Revoked" in rep_web.get(PROFILE).content


def test_a_token_form_error_is_inline_and_keeps_what_was_typed(rep_web, rep):
    response = rep_web.post(
        reverse("accounts:token_create"), {"name": "Nightly export", "scope": "read", "expires_days": 0}
    )

    assert response.status_code == 400
    assert b'data-testid="error-expires_days"' in response.content
    assert b'value="Nightly export"' in response.content
    assert not ApiToken.objects.filter(user=rep).exists()


@pytest.mark.parametrize("owner", ["teammate", "admin", "other_org"])
def test_someone_elses_token_is_not_found(tenant_a, tenant_b, owner, web):
    users = {"teammate": tenant_a.users["sales_rep_2"], "admin": tenant_a.admin, "other_org": tenant_b.admin}
    token, _ = services.token_create(actor=users[owner], name="theirs")
    # Even an administrator, who may revoke any token of the organisation elsewhere, only manages
    # their own tokens on their own profile page.
    actor = tenant_a.admin if owner == "teammate" else tenant_a.users["sales_rep"]
    web.force_login(actor)

    response = web.post(reverse("accounts:token_revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert b"theirs" not in web.get(PROFILE).content


# Two-factor set-up -----------------------------------------------------------------------------------


def test_two_factor_set_up_with_qr_code_then_turned_off(rep_web, rep):
    page = rep_web.get(reverse("accounts:totp_setup"))
    assert page.status_code == 200
    assert b"<svg" in page.content and b'data-testid="2fa-qr"' in page.content
    rep.refresh_from_db()
    secret = rep.totp_secret
    shown = re.search(rb'data-testid="2fa-secret">([A-Z2-7 ]+)<', page.content).group(1).decode()
    assert shown.replace(" ", "") == secret
    assert rep_web.get(reverse("accounts:totp_setup")).status_code == 200
    rep.refresh_from_db()
    assert rep.totp_secret == secret  # reloading keeps the key the phone may already have

    wrong = rep_web.post(reverse("accounts:totp_setup"), {"code": "12"})
    assert wrong.status_code == 400 and b'data-testid="error-code"' in wrong.content

    response = rep_web.post(reverse("accounts:totp_setup"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response.url == PROFILE
    rep.refresh_from_db()
    assert rep.totp_enabled
    assert AuditEntry.objects.filter(action="user.2fa_enable", actor=rep).exists()

    bad = rep_web.post(reverse("accounts:totp_disable"), {"password": "wrong"})
    assert bad.status_code == 400 and b'data-testid="error-password"' in bad.content
    rep.refresh_from_db()
    assert rep.totp_enabled

    response = rep_web.post(reverse("accounts:totp_disable"), {"password": PASSWORD})
    assert response.status_code == 302
    rep.refresh_from_db()
    assert not rep.totp_enabled and rep.totp_secret == ""


def test_a_new_key_can_be_made_before_confirming(rep_web, rep):
    rep_web.get(reverse("accounts:totp_setup"))
    rep.refresh_from_db()
    first = rep.totp_secret

    response = rep_web.post(reverse("accounts:totp_setup"), {"action": "restart"})

    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.totp_secret and rep.totp_secret != first


def test_a_required_two_factor_sends_users_to_set_up_and_says_why(tenant_a, rep_web, rep):
    tenant_a.org.require_2fa = True
    tenant_a.org.save()

    response = rep_web.get("/")
    assert response.status_code == 302 and response.url == reverse("accounts:totp_setup")

    page = rep_web.get(reverse("accounts:totp_setup"))
    assert page.status_code == 200
    assert b'data-testid="2fa-required"' in page.content
    assert b"requires two-factor sign-in" in page.content
    assert tenant_a.org.name.encode() in page.content

    rep.refresh_from_db()
    response = rep_web.post(reverse("accounts:totp_setup"), {"code": pyotp.TOTP(rep.totp_secret).now()})
    assert response.status_code == 302 and response.url == reverse("home")
    assert rep_web.get("/").status_code == 200
    # Required: it cannot be switched off by the user.
    assert b"2fa-disable-form" not in rep_web.get(reverse("accounts:totp_setup")).content


# Home, search, notifications -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["administrator", "sales_rep", "read_only"])
def test_home_renders_for_every_kind_of_user(tenant_a, web, role):
    user = tenant_a.users[role]
    web.force_login(user)

    response = web.get("/")

    assert response.status_code == 200
    assert tenant_a.org.name.encode() in response.content
    assert b'data-testid="greeting"' in response.content


def test_home_lists_unread_notifications_and_recent_activity(tenant_a, rep_web, rep):
    assert b'data-testid="home-no-unread"' in rep_web.get("/").content
    notify(recipient=rep, title="Lead assigned to you", url="/")
    services.user_update(actor=rep, user=rep, data={"phone": "123"})

    response = rep_web.get("/")

    assert b"Lead assigned to you" in response.content
    assert b'data-testid="home-activity"' in response.content
    assert b'data-action="user.update"' in response.content


def test_search_renders_with_and_without_a_query(rep_web):
    empty = rep_web.get("/search/")
    assert empty.status_code == 200 and b'data-testid="search-empty-query"' in empty.content

    response = rep_web.get("/search/", {"q": "张三"})
    assert response.status_code == 200
    assert b'data-testid="search-no-results"' in response.content or b'data-testid="search-results"' in response.content
    assert "张三".encode() in response.content


def test_search_shows_groups_of_hits(rep_web, monkeypatch):
    from kehu.core import views
    from kehu.core.search import SearchHit

    groups = [("Customers", [SearchHit(title="华为技术", subtitle="深圳", url="/customers/1/", kind="customer")])]
    monkeypatch.setattr(views, "global_search", lambda **kwargs: groups)

    response = rep_web.get("/search/", {"q": "华为"})

    assert b'data-testid="search-results"' in response.content
    assert "华为技术".encode() in response.content and b'href="/customers/1/"' in response.content


def test_notifications_partial_lists_and_marks_all_read(rep_web, rep):
    empty = rep_web.get("/notifications/")
    assert b'data-testid="notifications-empty"' in empty.content

    notify(recipient=rep, title="Ticket #7 breached its SLA", body="Reply within 1 hour", url="/")
    response = rep_web.get("/notifications/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"Ticket #7 breached its SLA" in response.content
    assert b'data-unread="true"' in response.content and b"fw-semibold" in response.content
    assert b'hx-post="/notifications/"' in response.content

    response = rep_web.post("/notifications/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b'data-unread="false"' in response.content and b'data-unread="true"' not in response.content
    assert not rep.notifications.filter(read_at__isnull=True).exists()


@pytest.mark.parametrize("path", ["/", "/search/?q=x", "/notifications/", PROFILE, "/accounts/profile/2fa/"])
def test_signed_out_users_are_sent_to_sign_in(web, db, path):
    response = web.get(path)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")
