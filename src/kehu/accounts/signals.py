"""Logins and logouts enter the audit log."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from kehu.accounts import services


@receiver(user_logged_in)
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    user.request_ip = request.META.get("REMOTE_ADDR")
    services.login_succeeded(user=user)


@receiver(user_logged_out)
def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if getattr(user, "is_support_actor", False):
        # Signing out during a support session ends it; the sign-out itself is the staff member's own.
        from kehu.accounts import support_services

        user.staff.request_ip = request.META.get("REMOTE_ADDR")
        support_services.support_session_end(staff=user.staff, grant_id=user.support_grant.pk, reason="sign_out")
        user = user.staff
    if user is not None and user.is_authenticated:
        user.request_ip = request.META.get("REMOTE_ADDR")
        services.logged_out(user=user)
