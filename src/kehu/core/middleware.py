"""Request-level parts of the one mechanism: the actor's IP for the audit log, the module gate for UI
pages, the domain-error pages, and the security headers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from kehu.core import modules
from kehu.core.errors import DomainError, ModuleNotEnabled, ValidationFailed

# Pages a signed-in user who must still set up two-factor authentication may open.
_2FA_SETUP_ALLOWED = ("accounts:totp_setup", "accounts:logout", "set_language")


def client_ip(request: HttpRequest) -> str | None:
    # Behind the reverse proxy the production settings trust, REMOTE_ADDR is set from X-Forwarded-For
    # by the proxy configuration documented in the README; we never parse client-supplied headers here.
    return request.META.get("REMOTE_ADDR")


class ActorMiddleware:
    """Gives the signed-in actor its client IP and language, enforces modules and required 2FA,
    and renders domain errors raised by UI views."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user.request_ip = client_ip(request)
            if user.language and not request.path.startswith("/api/"):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None:
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        # The UI namespace of a module's pages is the module's key: one gate for every page.
        module_keys = {m.key for m in modules.all_modules()}
        for namespace in match.namespaces:
            if namespace in module_keys and not modules.is_enabled(user.organization, namespace):
                return self.error_page(request, ModuleNotEnabled())
        if (
            user.organization_id
            and user.organization.require_2fa
            and not user.totp_enabled
            and not getattr(user, "is_support_actor", False)  # the vendor's staff sign in to the platform
            and match.view_name not in _2FA_SETUP_ALLOWED
            and not request.path.startswith(("/api/", settings.STATIC_URL))
        ):
            return redirect(reverse("accounts:totp_setup"))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DomainError) and not request.path.startswith("/api/"):
            return self.error_page(request, exception)
        return None

    @staticmethod
    def error_page(request: HttpRequest, error: DomainError) -> HttpResponse:
        return render(request, "error.html", {"error": error}, status=error.status)


class RejectNulBytesMiddleware:
    """A NUL byte in the query string is never meaningful, and PostgreSQL refuses it in text parameters:
    answer 400 here, once, instead of a database error in whichever filter or search meets it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in k or any("\x00" in v for v in values) for k, values in request.GET.lists()):
            error = ValidationFailed(_("The request contains a NUL character."), code="bad_request")
            if request.path.startswith("/api/"):
                return JsonResponse(error.as_dict(), status=400)
            return HttpResponseBadRequest(error.message)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A strict CSP: everything from our own origin, scripts only with the per-request nonce."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and not request.path.startswith("/api/docs"):
            response["Content-Security-Policy"] = (
                "default-src 'self'; "
                f"script-src 'self' 'nonce-{request.csp_nonce}'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            )
        return response


class ChoiceListCacheMiddleware:
    """Keeps the organisation's editable lists (kehu.core.choice_lists) for one request: every list page
    reads tiers, stages or ticket types for each row, and one query per request serves them all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from kehu.core import choice_lists

        with choice_lists.cached():
            return self.get_response(request)
