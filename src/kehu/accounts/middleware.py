"""Support sessions: platform staff become, for each request, a read-only actor of the organisation that
granted the vendor access (see support_models.py), and only while the grant is in force.

The grant is read again on every request, so a revocation or the expiry ends the session at once. Every
request of a session is audited in the organisation's chain. Besides `can`, which refuses every action
but `view` to the support actor, requests that would change something (POST, PUT, PATCH, DELETE) are
refused here before any view runs, so pages that write without a permission check (the staff member's
own profile, the notification inbox) cannot be reached either.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from kehu.accounts import support_services
from kehu.accounts.policies import is_platform_staff
from kehu.core.errors import PermissionDenied
from kehu.core.middleware import client_ip

SESSION_KEY = "kehu_support_grant_id"
# The vendor's own area (Django's admin) always sees the real staff user: that is where sessions start and end.
PLATFORM_PREFIX = "/platform/"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Requests of a support session that may POST: they change nothing of the organisation.
WRITES_ALLOWED = {"accounts:logout", "set_language"}


def read_only_error() -> PermissionDenied:
    return PermissionDenied(
        _("This is a read-only support session: nothing can be created, changed or deleted."),
        code="support_read_only",
    )


class SupportSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        grant_id = session.get(SESSION_KEY) if session is not None else None
        if grant_id is None or request.path.startswith(PLATFORM_PREFIX):
            return self.get_response(request)
        staff = request.user
        actor = support_services.support_actor_for(staff=staff, grant_id=grant_id)
        if actor is None:
            session.pop(SESSION_KEY, None)
            if is_platform_staff(staff):
                messages.warning(request, _("The support session has ended: the access expired or was revoked."))
            return self.get_response(request)
        staff.request_ip = client_ip(request)
        support_services.support_access_record(actor=actor, method=request.method, path=request.get_full_path())
        request.user = actor
        request.support_grant = actor.support_grant
        if request.method not in SAFE_METHODS and not self._write_allowed(request):
            error = read_only_error()
            if request.path.startswith("/api/"):
                return JsonResponse(error.as_dict(), status=error.status)
            return render(request, "error.html", {"error": error}, status=error.status)
        return self.get_response(request)

    @staticmethod
    def _write_allowed(request: HttpRequest) -> bool:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.view_name in WRITES_ALLOWED
