"""Log in by email; refuse locked, inactive and organisation-less-but-not-staff accounts."""

from typing import Any

from django.contrib.auth.backends import BaseBackend

from kehu.accounts.models import User
from kehu.accounts.services import is_locked


class EmailBackend(BaseBackend):
    def authenticate(
        self, request: Any, email: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        email = (email or kwargs.get("username") or "").strip().lower()
        user = User.objects.select_related("organization").filter(email=email).first()
        if user is None:
            User().set_password(password)  # same work as a real check, so timing does not reveal emails
            return None
        if is_locked(user) or not user.is_active or not user.check_password(password):
            return None
        if user.organization is not None and not user.organization.is_active:
            return None
        return user

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.select_related("organization", "role", "team").filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
