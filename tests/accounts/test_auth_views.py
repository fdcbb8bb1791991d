"""Sign-in, two-factor, sign-out, password reset and invitations, through the real pages (Django test
client) and real email (the aiosmtpd fixture)."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from kehu.accounts import services
from kehu.accounts.models import User
from kehu.core.models import AuditEntry
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


@pytest.fixture
def web() -> Client:
    """A browser that asks for English, so assertions on our English source strings hold after the
    Chinese catalogue is compiled."""
    return Client(headers={"accept-language": "en"})


def _login(web: Client, email: str, password: str = PASSWORD, **extra: str):
    return web.post(LOGIN, {"email": email, "password": password, **extra})


def _signed_in_as(web: Client) -> int | None:
    value = web.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _link_in(body: str, path_prefix: str) -> str:
    match = re.search(r"https?://[^\s/]+(" + re.escape(path_prefix) + r"\S+)", body)
    assert match, f"no link to {path_prefix} in the email:\n{body}"
    return match.group(1)


# Sign-in ---------------------------------------------------------------------------------------------


def test_it_signs_in_with_email_and_password(web, tenant_a):
    rep = tenant_a.users["sales_rep"]
    tenant_a.org.session_hours = 3
    tenant_a.org.save()

    response = _login(web, "  Sales_Rep@A.test ", PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert _signed_in_as(web) == rep.pk
    assert web.session.get_expiry_age() == 3 * 3600
    assert AuditEntry.objects.filter(action="auth.login", actor=rep).exists()


def test_the_login_page_renders_with_its_form(web, db):
    response = web.get(LOGIN)

    assert response.status_code == 200
    assert b'data-testid="login-form"' in response.content
    assert reverse("accounts:password_reset").encode() in response.content


def test_it_goes_to_a_safe_next_and_sets_the_language_cookie(web, tenant_a):
    rep = tenant_a.users["sales_rep"]
    rep.language = "en"
    rep.save()

    response = _login(web, rep.email, next="/search/?q=x")

    assert response.status_code == 302
    assert response.url == "/search/?q=x"
    assert response.cookies["django_language"].value == "en"


def test_it_ignores_a_next_that_leaves_the_site(web, tenant_a):
    response = _login(web, tenant_a.users["sales_rep"].email, next="https://evil.example/phish")

    assert response.url == reverse("home")


def test_a_wrong_password_is_refused_counted_and_audited(web, tenant_a):
    rep = tenant_a.users["sales_rep"]

    response = _login(web, rep.email, "not-the-password")

    assert response.status_code == 200
    assert b"The email or password is not correct." in response.content
    assert f'value="{rep.email}"'.encode() in response.content  # what was typed stays
    assert _signed_in_as(web) is None
    rep.refresh_from_db()
    assert rep.failed_logins == 1
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.target_id == str(rep.pk)
    assert entry.actor is None and entry.actor_label == rep.email
    assert entry.ip == "127.0.0.1"


def test_an_unknown_email_gets_the_same_answer_and_is_audited(web, tenant_a):
    response = _login(web, "nobody@a.test", PASSWORD)

    assert b"The email or password is not correct." in response.content
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.actor_label == "nobody@a.test" and entry.target_id == ""


def test_a_missing_field_is_shown_inline(web, db):
    response = web.post(LOGIN, {"email": "someone@a.test", "password": ""})

    assert response.status_code == 200
    assert b'data-testid="error-password"' in response.content
    assert b'value="someone@a.test"' in response.content


def test_it_locks_the_account_after_too_many_failures(web, tenant_a, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    rep = tenant_a.users["sales_rep"]

    for _ in range(2):
        assert b"not correct" in _login(web, rep.email, "wrong").content
    response = _login(web, rep.email, "wrong")

    assert b"This account is locked" in response.content
    assert b"15 minutes" in response.content
    rep.refresh_from_db()
    assert services.is_locked(rep) and rep.failed_logins == 3

    # The right password is refused while the lock lasts, and the attempt does not extend it.
    locked_until = rep.locked_until
    response = _login(web, rep.email, PASSWORD)
    assert b"This account is locked" in response.content
    assert _signed_in_as(web) is None
    rep.refresh_from_db()
    assert rep.locked_until == locked_until
    assert AuditEntry.objects.filter(action="auth.login_failed", target_id=str(rep.pk)).count() == 3


def test_a_signed_in_user_is_sent_on_from_the_login_page(web, tenant_a):
    web.force_login(tenant_a.users["sales_rep"])

    assert web.get(LOGIN).url == reverse("home")


# Two-factor ------------------------------------------------------------------------------------------


@pytest.fixture
def totp_user(tenant_a) -> tuple[User, pyotp.TOTP]:
    rep = tenant_a.users["sales_rep"]
    secret = services.totp_begin(actor=rep)
    services.totp_confirm(actor=rep, code=pyotp.TOTP(secret).now())
    rep.refresh_from_db()
    return rep, pyotp.TOTP(secret)


def test_two_factor_asks_for_a_code_before_signing_in(web, totp_user):
    rep, totp = totp_user

    response = _login(web, rep.email, next="/search/")
    assert response.status_code == 302 and response.url == reverse("accounts:login_2fa")
    assert _signed_in_as(web) is None

    page = web.get(reverse("accounts:login_2fa"))
    assert page.status_code == 200
    assert b'data-testid="totp-form"' in page.content
    assert rep.email.encode() in page.content

    wrong = f"{(int(totp.now()) + 500000) % 1000000:06d}"
    response = web.post(reverse("accounts:login_2fa"), {"code": wrong})
    assert response.status_code == 200
    assert b'data-testid="error-code"' in response.content
    assert _signed_in_as(web) is None
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert failed.changes["reason"] == "bad_totp"
    rep.refresh_from_db()
    assert rep.failed_logins == 1

    response = web.post(reverse("accounts:login_2fa"), {"code": totp.now()})
    assert response.status_code == 302 and response.url == "/search/"
    assert _signed_in_as(web) == rep.pk
    assert "kehu_2fa_user" not in web.session
    rep.refresh_from_db()
    assert rep.failed_logins == 0


def test_the_code_page_without_a_password_first_goes_back_to_login(web, db):
    response = web.get(reverse("accounts:login_2fa"))

    assert response.status_code == 302 and response.url == reverse("accounts:login")


def test_failed_codes_lock_the_account_too(web, totp_user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    rep, totp = totp_user
    _login(web, rep.email)
    wrong = f"{(int(totp.now()) + 500000) % 1000000:06d}"

    web.post(reverse("accounts:login_2fa"), {"code": wrong})
    response = web.post(reverse("accounts:login_2fa"), {"code": wrong}, follow=True)

    assert b"This account is locked" in response.content
    assert response.redirect_chain[-1][0] == reverse("accounts:login")
    rep.refresh_from_db()
    assert services.is_locked(rep)
    # A right code now is no use: the half-finished sign-in was dropped.
    response = web.post(reverse("accounts:login_2fa"), {"code": totp.now()})
    assert response.url == reverse("accounts:login")
    assert _signed_in_as(web) is None


# Sign-out --------------------------------------------------------------------------------------------


def test_sign_out_is_a_post_and_is_audited(web, tenant_a):
    rep = tenant_a.users["sales_rep"]
    _login(web, rep.email)
    assert _signed_in_as(web) == rep.pk

    assert web.get(reverse("accounts:logout")).status_code == 405
    response = web.post(reverse("accounts:logout"))

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert _signed_in_as(web) is None
    assert AuditEntry.objects.filter(action="auth.logout", actor=rep).exists()


# Password reset --------------------------------------------------------------------------------------


def test_password_reset_by_real_email(web, tenant_a, smtp_server):
    rep = tenant_a.users["sales_rep"]
    page = web.get(reverse("accounts:password_reset"))
    assert b'data-testid="reset-form"' in page.content

    response = web.post(reverse("accounts:password_reset"), {"email": rep.email.upper()})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert b'data-testid="reset-sent"' in web.get(response.url).content

    [mail] = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == rep.email
    link = _link_in(smtp_server.body(mail), "/accounts/password-reset/")

    form_page = web.get(link, follow=True)
    assert b'data-testid="set-password-form"' in form_page.content
    set_url = form_page.redirect_chain[-1][0]

    mismatch = web.post(set_url, {"new_password1": "Brand-new-pw-91", "new_password2": "Brand-new-pw-92"})
    assert mismatch.status_code == 200
    assert b'data-testid="error-new_password2"' in mismatch.content

    done = web.post(set_url, {"new_password1": "Brand-new-pw-91", "new_password2": "Brand-new-pw-91"})
    assert done.status_code == 302 and done.url == reverse("accounts:password_reset_complete")
    assert b'data-testid="reset-complete"' in web.get(done.url).content
    assert AuditEntry.objects.filter(action="user.password_reset", target_id=str(rep.pk)).exists()

    # The link is used up, the old password is gone, the new one works.
    assert b'data-testid="reset-invalid"' in web.get(link, follow=True).content
    assert _login(web, rep.email, PASSWORD).status_code == 200
    assert _login(web, rep.email, "Brand-new-pw-91").status_code == 302
    assert _signed_in_as(web) == rep.pk


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(web, tenant_a, smtp_server):
    response = web.post(reverse("accounts:password_reset"), {"email": "nobody@nowhere.test"})

    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert smtp_server.wait_for(1, timeout=0.5) == []


# Invitations -----------------------------------------------------------------------------------------


@pytest.fixture
def invitation_link(tenant_a, smtp_server, django_capture_on_commit_callbacks) -> str:
    """The link from the real invitation email that the tenant's administrator sends."""
    with django_capture_on_commit_callbacks(execute=True):
        services.user_invite(
            actor=tenant_a.admin,
            email="newcomer@a.test",
            role=tenant_a.role("sales_rep"),
            base_url="http://testserver",
        )
    [mail] = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == "newcomer@a.test"
    body = smtp_server.body(mail)
    assert tenant_a.org.name in body
    return _link_in(body, "/accounts/invite/")


def test_an_invitation_from_a_real_email_is_accepted_and_signs_in(web, tenant_a, invitation_link):
    page = web.get(invitation_link)
    assert page.status_code == 200
    assert tenant_a.org.name.encode() in page.content
    assert b"newcomer@a.test" in page.content

    mismatch = web.post(invitation_link, {"name": "New Comer", "password1": "Welcome-pw-77", "password2": "nope"})
    assert mismatch.status_code == 200
    assert b'data-testid="error-password2"' in mismatch.content
    assert b'value="New Comer"' in mismatch.content

    weak = web.post(invitation_link, {"name": "New Comer", "password1": "short", "password2": "short"})
    assert b'data-testid="error-password1"' in weak.content

    response = web.post(
        invitation_link, {"name": "New Comer", "password1": "Welcome-pw-77", "password2": "Welcome-pw-77"}
    )
    assert response.status_code == 302 and response.url == reverse("home")
    user = User.objects.get(email="newcomer@a.test")
    assert user.is_active and user.joined_at is not None and user.name == "New Comer"
    assert _signed_in_as(web) == user.pk
    assert AuditEntry.objects.filter(action="user.invitation_accept", actor=user).exists()

    # Used once: the same link now explains itself instead of working again.
    again = Client(headers={"accept-language": "en"}).get(invitation_link)
    assert again.status_code == 404
    assert b'data-testid="invitation-invalid"' in again.content


@pytest.mark.parametrize("path", ["/accounts/invite/MTIzNDU/abc-123/", "/accounts/invite/!!!/x/"])
def test_an_invalid_invitation_link_shows_a_clear_error(web, db, path):
    response = web.get(path)

    assert response.status_code == 404
    assert b"This invitation link is not valid" in response.content


def test_an_invitation_link_with_a_forged_token_is_refused(web, tenant_a, invitation_link):
    forged = re.sub(r"/[^/]+/$", "/forged-token/", invitation_link)

    response = web.post(forged, {"name": "X", "password1": "Welcome-pw-77", "password2": "Welcome-pw-77"})

    assert response.status_code == 404
    assert not User.objects.get(email="newcomer@a.test").is_active


def test_an_invitation_link_does_not_work_as_a_password_reset_link(web, tenant_a, invitation_link):
    uid_and_token = invitation_link.removeprefix("/accounts/invite/")

    response = web.get("/accounts/password-reset/" + uid_and_token, follow=True)

    assert b'data-testid="reset-invalid"' in response.content
    assert b'data-testid="invitation-form"' in web.get(invitation_link).content  # still usable as an invitation
