"""Domain errors with stable codes. One exception handler turns them into the one error shape."""

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    default_message = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, fields: dict[str, list[str]] | None = None, code: str | None = None):
        self.message = str(message if message is not None else self.default_message)
        self.fields = fields or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 400
    default_message = _("Some fields are not valid.")


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    default_message = _("Please sign in.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("You do not have permission to do this.")


class ModuleNotEnabled(DomainError):
    code = "module_not_enabled"
    status = 403
    default_message = _("This module is not enabled for your organisation.")


class NotFound(DomainError):
    """Also what a record outside the actor's organisation or data scope answers: never 403."""

    code = "not_found"
    status = 404
    default_message = _("Not found.")


class VersionConflict(DomainError):
    code = "version_conflict"
    status = 409
    default_message = _(
        "Someone else changed this record after you opened it. Reload it to see their changes, then edit again."
    )


class SeatLimitReached(DomainError):
    code = "seat_limit_reached"
    status = 403
    default_message = _("Your organisation has no free seats left. Deactivate a user or buy more seats.")


def validation_error_from_django(exc: Any) -> ValidationFailed:
    """Turn a django.core.exceptions.ValidationError into our error, keeping field names."""
    if hasattr(exc, "error_dict"):
        fields = {name: [str(m) for e in errors for m in e.messages] for name, errors in exc.error_dict.items()}
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        return ValidationFailed(message, fields=fields)
    return ValidationFailed(" ".join(str(m) for m in exc.messages))
