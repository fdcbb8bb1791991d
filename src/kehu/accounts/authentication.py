"""`Authorization: Bearer <token>` for API clients. Read-scoped tokens may only read."""

from typing import Any

from rest_framework import authentication, exceptions

from kehu.accounts.services import token_authenticate

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = token_authenticate(parts[1])
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        if token.scope == "read" and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("This token may only read.")
        user = token.user
        user.request_ip = request.META.get("REMOTE_ADDR")
        return user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
