"""The signed-in (and signed-out) user's own pages: sign-in with optional two-factor, sign-out, password
reset, invitation acceptance, and the profile with password, two-factor and API tokens.

Views parse, call a service or selector, and render; the rules (lock-out, password policy, token
scopes, audit) live in `kehu.accounts.services`.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from kehu.accounts import forms, selectors, services
from kehu.accounts.models import ApiToken, Organization, User
from kehu.core.errors import DomainError, NotFound, ValidationFailed
from kehu.core.middleware import client_ip

# The session keys of a sign-in that passed the password and waits for the second factor.
PENDING_USER = "kehu_2fa_user"
PENDING_BACKEND = "kehu_2fa_backend"
PENDING_NEXT = "kehu_2fa_next"
PENDING_SINCE = "kehu_2fa_since"
PENDING_MAX_SECONDS = 5 * 60


def _safe_next(request: HttpRequest, value: str | None) -> str:
    """`value` if it points into this site, else "" (an open redirect is a phishing tool)."""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _locked_message(locked_until: datetime) -> str:
    minutes = max(1, math.ceil((locked_until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "This account is locked after too many failed sign-in attempts. Try again in %(minutes)d minute, "
        "or reset your password.",
        "This account is locked after too many failed sign-in attempts. Try again in %(minutes)d minutes, "
        "or reset your password.",
        minutes,
    ) % {"minutes": minutes}


def _complete_login(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """Sign in (the user_logged_in signal audits it), apply the organisation's session length and the
    user's language, and go on."""
    login(request, user, backend=getattr(user, "backend", None) or settings.AUTHENTICATION_BACKENDS[0])
    org = user.organization
    hours = org.session_hours if org is not None else Organization._meta.get_field("session_hours").default
    request.session.set_expiry(int(hours) * 3600)
    response = HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))
    if user.language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            user.language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        user = authenticate(request, email=email, password=password)
        if user is not None and user.totp_enabled:
            # The password was right; the session remembers who is half-way in until the code is entered.
            request.session.cycle_key()
            request.session[PENDING_USER] = user.pk
            request.session[PENDING_BACKEND] = user.backend
            request.session[PENDING_NEXT] = next_url
            request.session[PENDING_SINCE] = int(time.time())
            return redirect("accounts:login_2fa")
        if user is not None:
            return _complete_login(request, user, next_url)
        locked_until = services.login_rejected(email=email, ip=client_ip(request))
        if locked_until is not None:
            form.add_error(None, _locked_message(locked_until))
        else:
            form.add_error(None, _("The email or password is not correct."))
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _pending_user(request: HttpRequest) -> User | None:
    pk, since = request.session.get(PENDING_USER), request.session.get(PENDING_SINCE, 0)
    if pk is None or time.time() - since > PENDING_MAX_SECONDS:
        return None
    user = User.objects.select_related("organization").filter(pk=pk, is_active=True).first()
    if user is None or not user.totp_enabled:
        return None
    if user.organization is not None and not user.organization.is_active:
        return None  # the same refusal the backend gives at the password step
    return user


def _forget_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_BACKEND, PENDING_NEXT, PENDING_SINCE):
        request.session.pop(key, None)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_2fa(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        _forget_pending(request)
        messages.info(request, _("Please sign in again."))
        return redirect("accounts:login")
    if services.is_locked(user):
        _forget_pending(request)
        messages.error(request, _locked_message(user.locked_until))
        return redirect("accounts:login")
    form = forms.TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_verify(user, form.cleaned_data["code"]):
            user.backend = request.session.get(PENDING_BACKEND) or settings.AUTHENTICATION_BACKENDS[0]
            next_url = _safe_next(request, request.session.get(PENDING_NEXT))
            _forget_pending(request)
            return _complete_login(request, user, next_url)
        services.login_failed(email=user.email, user=user, ip=client_ip(request), reason="bad_totp")
        user.refresh_from_db(fields=["locked_until", "failed_logins"])
        if services.is_locked(user):
            _forget_pending(request)
            messages.error(request, _locked_message(user.locked_until))
            return redirect("accounts:login")
        form.add_error("code", _("The code is not correct. Check the time on your phone and try again."))
    return render(request, "accounts/login_2fa.html", {"form": form, "pending_email": user.email})


class LogoutView(auth_views.LogoutView):
    """POST only (Django's semantics); the user_logged_out signal audits it; then the sign-in page
    (settings.LOGOUT_REDIRECT_URL)."""


# Password reset: Django's views with our templates and forms -----------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    form_class = forms.PasswordResetRequestForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = forms.PasswordResetSetForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_user(self, uidb64: str) -> User | None:
        # Invitations use the same one-time tokens: an invitation link must not work as a reset link
        # (Django's view would accept inactive users), and deactivated users get no new password.
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# Invitations -----------------------------------------------------------------------------------------


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", status=404)


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = services.invitation_user(uidb64=uidb64, token=token)
    if user is None:
        return _invitation_invalid(request)
    form = forms.InvitationAcceptForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(
                user=user, token=token, password=form.cleaned_data["password1"], name=form.cleaned_data["name"]
            )
        except ValidationFailed as exc:
            forms.add_service_errors(form, exc, {"password": "password1"})
        except DomainError:
            return _invitation_invalid(request)
        else:
            response = _complete_login(request, user, "")
            messages.success(request, _("Welcome to %(org)s! Your account is ready.") % {"org": user.organization.name})
            return response
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invited": user, "organization": user.organization},
    )


# Profile ---------------------------------------------------------------------------------------------


def _my_tokens(user: User) -> Any:
    # Administrators see every token of the organisation through the selector; this page is "mine".
    return selectors.token_list_for(actor=user).filter(user=user)


def _render_profile(request: HttpRequest, status: int = 200, **forms_in_error: Any) -> HttpResponse:
    user = request.user
    context = {
        "profile_form": forms_in_error.get("profile_form") or forms.ProfileForm.for_user(user),
        "password_form": forms_in_error.get("password_form") or forms.PasswordChangeForm(user),
        "token_form": forms_in_error.get("token_form") or forms.TokenCreateForm(),
        "tokens": _my_tokens(user),
        "now": timezone.now(),
        "org_requires_2fa": bool(user.organization_id and user.organization.require_2fa),
    }
    return render(request, "accounts/profile.html", context, status=status)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_profile(request)
    user = request.user
    form = forms.ProfileForm.for_user(user, request.POST)
    if form.is_valid():
        try:
            services.user_update(actor=user, user=user, data=form.cleaned_data)
        except ValidationFailed as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, _("Your profile was saved."))
            response = redirect("accounts:profile")
            if user.language:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME,
                    user.language,
                    max_age=365 * 24 * 3600,
                    samesite="Lax",
                    secure=request.is_secure(),
                )
            else:  # "automatic": the browser's language decides again
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, samesite="Lax")
            return response
    return _render_profile(request, status=400, profile_form=form)


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = forms.PasswordChangeForm(user, request.POST)
    if form.is_valid():
        try:
            services.password_change(
                actor=user, current=form.cleaned_data["current_password"], new=form.cleaned_data["new_password1"]
            )
        except ValidationFailed as exc:
            forms.add_service_errors(form, exc, {"current": "current_password", "password": "new_password1"})
        else:
            update_session_auth_hash(request, user)  # other sessions end; this one goes on
            messages.success(request, _("Your password was changed."))
            return redirect("accounts:profile")
    return _render_profile(request, status=400, password_form=form)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = forms.TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            token, raw = services.token_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_days=form.cleaned_data["expires_days"],
            )
        except ValidationFailed as exc:
            forms.add_service_errors(form, exc, {"expires": "expires_days"})
        else:
            # Rendered in answer to the POST, never stored: the secret exists on this one page only.
            response = render(request, "accounts/token_created.html", {"token": token, "raw_token": raw})
            response["Cache-Control"] = "no-store"
            return response
    return _render_profile(request, status=400, token_form=form)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token: ApiToken | None = _my_tokens(request.user).filter(pk=pk).first()
    if token is None:
        raise NotFound()
    services.token_revoke(actor=request.user, token=token)
    messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:profile")


# Two-factor set-up -----------------------------------------------------------------------------------


def _qr_svg(data: str) -> str:
    # segno draws the QR code as SVG paths from the URI: no user text reaches the markup unescaped.
    return mark_safe(segno.make(data, error="m").svg_inline(border=2, omitsize=True, svgclass="kehu-qr"))  # noqa: S308


def _format_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@sensitive_post_parameters("code", "password")
@login_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    """Set up (or, when on, turn off) two-factor sign-in. Also the page the middleware sends users to
    when their organisation requires two-factor and they have not set it up yet."""
    user = request.user
    forced = bool(user.organization_id and user.organization.require_2fa and not user.totp_enabled)
    context: dict[str, Any] = {"forced": forced, "layout": "bare.html" if forced else "base.html"}
    if user.totp_enabled:
        context["disable_form"] = forms.TotpDisableForm(user)
        context["org_requires_2fa"] = bool(user.organization_id and user.organization.require_2fa)
        return render(request, "accounts/totp_setup.html", context)

    if request.method == "POST" and request.POST.get("action") == "restart":
        services.totp_begin(actor=user)
        messages.info(request, _("A new key was made. Scan the new QR code; the old one no longer works."))
        return redirect("accounts:totp_setup")
    if not user.totp_secret:
        services.totp_begin(actor=user)

    form = forms.TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.totp_confirm(actor=user, code=form.cleaned_data["code"])
            except ValidationFailed as exc:
                forms.add_service_errors(form, exc)
            else:
                messages.success(request, _("Two-factor sign-in is on. You will be asked for a code when you sign in."))
                return redirect("home" if forced else "accounts:profile")
        status = 400
    context.update(
        {
            "form": form,
            "secret": _format_secret(user.totp_secret),
            "qr_svg": _qr_svg(services.totp_uri(user)),
        }
    )
    return render(request, "accounts/totp_setup.html", context, status=status)


@sensitive_post_parameters("password")
@login_required
@require_POST
def totp_disable(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = forms.TotpDisableForm(user, request.POST)
    if form.is_valid():
        try:
            services.totp_disable(actor=user, user=user)
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Two-factor sign-in is off."))
        return redirect("accounts:profile")
    context = {
        "forced": False,
        "layout": "base.html",
        "disable_form": form,
        "org_requires_2fa": bool(user.organization_id and user.organization.require_2fa),
    }
    return render(request, "accounts/totp_setup.html", context, status=400)
