"""What an audit entry's action, record type and changed fields are called in the reader's language.

The audit log stores codes (`customer.claim`, `service.ticket`, `owner`) so that filters, exports and the
API stay stable; people read labels. One place turns the codes into words, for every page that shows audit
entries to people (the home page's "your recent activity", the administrators' audit log):

- an action: the label registered for the whole action (`register`, called by each module's AppConfig for
  the actions whose verb alone says too little, e.g. `customer.release` → "Released to the public pool"), else
  the label of its verb (the part after the last dot: `quote.accept` → "Accepted"), else the code itself;
- a record type (`app.model`): the model's verbose name;
- a changed field: the model field's verbose name, else the stored name (a value that is not a column,
  such as a custom field's key); a value of a field with choices, by its choice's label.

The texts are source strings, translated when asked for, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext_lazy

# The verbs of actions, shared by every record type: the record itself is named next to the label. In a
# context of their own: "Cancelled" as an action is not "Cancelled" as a status.
VERBS: dict[str, Any] = {
    "create": pgettext_lazy("audit action", "Created"),
    "update": pgettext_lazy("audit action", "Changed"),
    "delete": pgettext_lazy("audit action", "Deleted"),
    "restore": pgettext_lazy("audit action", "Restored from the recycle bin"),
    "purge": pgettext_lazy("audit action", "Deleted for good"),
    "assign": pgettext_lazy("audit action", "Assigned"),
    "move": pgettext_lazy("audit action", "Reordered"),
    "reorder": pgettext_lazy("audit action", "Reordered"),
    "export": pgettext_lazy("audit action", "Exported"),
    "import": pgettext_lazy("audit action", "Imported"),
    "merge": pgettext_lazy("audit action", "Merged"),
    "cancel": pgettext_lazy("audit action", "Cancelled"),
    "complete": pgettext_lazy("audit action", "Completed"),
    "reopen": pgettext_lazy("audit action", "Reopened"),
    "convert": pgettext_lazy("audit action", "Converted"),
    "confirm": pgettext_lazy("audit action", "Confirmed"),
    "fulfil": pgettext_lazy("audit action", "Fulfilled"),
    "accept": pgettext_lazy("audit action", "Accepted"),
    "reject": pgettext_lazy("audit action", "Rejected"),
    "expire": pgettext_lazy("audit action", "Expired"),
    "revise": pgettext_lazy("audit action", "Revised"),
    "send": pgettext_lazy("audit action", "Sent"),
    "superseded": pgettext_lazy("audit action", "Superseded by a new version"),
    "revoke": pgettext_lazy("audit action", "Revoked"),
    "activate": pgettext_lazy("audit action", "Activated"),
    "deactivate": pgettext_lazy("audit action", "Deactivated"),
    "reactivate": pgettext_lazy("audit action", "Reactivated"),
    "status": pgettext_lazy("audit action", "Changed the status"),
    "stage_change": pgettext_lazy("audit action", "Moved to a new stage"),
    "won": pgettext_lazy("audit action", "Won"),
    "lost": pgettext_lazy("audit action", "Lost"),
    "line_add": pgettext_lazy("audit action", "Added a line"),
    "line_update": pgettext_lazy("audit action", "Changed a line"),
    "line_delete": pgettext_lazy("audit action", "Removed a line"),
    "seed": pgettext_lazy("audit action", "Generated benchmark data"),
}

# Whole actions of the platform itself (sign-in, users, tokens, imports, the audit log, support access).
_ACTIONS: dict[str, str] = {
    "auth.login": gettext_noop("Signed in"),
    "auth.logout": gettext_noop("Signed out"),
    "auth.login_failed": gettext_noop("Failed to sign in"),
    "user.create": gettext_noop("Added a user"),
    "user.update": gettext_noop("Updated a user"),
    "user.invite": gettext_noop("Invited a user"),
    "user.invitation_accept": gettext_noop("Joined the organisation"),
    "user.password_change": gettext_noop("Changed the password"),
    "user.password_reset": gettext_noop("Reset the password"),
    "user.2fa_enable": gettext_noop("Turned on two-factor sign-in"),
    "user.2fa_disable": gettext_noop("Turned off two-factor sign-in"),
    "user.deactivate": gettext_noop("Deactivated a user"),
    "user.reactivate": gettext_noop("Reactivated a user"),
    "token.create": gettext_noop("Created an API token"),
    "token.revoke": gettext_noop("Revoked an API token"),
    "organization.license_update": gettext_noop("Changed the licence"),
    "audit.export": gettext_noop("Exported the audit log"),
    "import.run": gettext_noop("Started an import"),
    "import.resume": gettext_noop("Resumed an import"),
    "import.cancel": gettext_noop("Cancelled an import"),
    "support.access": gettext_noop("Support staff opened a page"),
    "support.session_start": gettext_noop("Support session started"),
    "support.session_end": gettext_noop("Support session ended"),
    "support_grant.create": gettext_noop("Allowed support access"),
    "support_grant.revoke": gettext_noop("Withdrew support access"),
    "support_grant.expire": gettext_noop("Support access expired"),
}


def register(labels: Mapping[str, str]) -> None:
    """Label whole actions (source strings, e.g. wrapped in gettext_noop): called from AppConfig.ready()."""
    _ACTIONS.update(labels)


def is_labelled(action: str) -> bool:
    """Whether `action` has a label of its own or of its verb (tests hold every recorded action to this)."""
    return action in _ACTIONS or action.rpartition(".")[2] in VERBS


def action_label(action: str) -> str:
    """The action in the reader's language, or its code when nothing names it."""
    if action in _ACTIONS:
        return _(_ACTIONS[action])
    verb = VERBS.get(action.rpartition(".")[2])
    return str(verb) if verb is not None else action


def _model(target_type: str) -> type | None:
    try:
        return apps.get_model(target_type)
    except (LookupError, ValueError):
        return None


def record_type_label(target_type: str) -> str:
    """A record type stored as `app.model`, by its model's name (the code when no model has it)."""
    model = _model(target_type) if target_type else None
    return str(model._meta.verbose_name) if model is not None else target_type


def _field(target_type: str, name: str) -> Any:
    model = _model(target_type) if target_type and name else None
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_label(target_type: str, name: str) -> str:
    """A changed field by its model field's name; the stored name when it is not a field of the model."""
    field = _field(target_type, name)
    return str(getattr(field, "verbose_name", name)) if field is not None else name


def value_label(target_type: str, name: str, value: Any) -> Any:
    """A stored value of a field with choices (a status, a kind) by its choice's label; any other as stored."""
    field = _field(target_type, name)
    choices = getattr(field, "flatchoices", None) if field is not None else None
    if not choices or isinstance(value, (list, dict)):
        return value
    return next((str(label) for key, label in choices if key == value), value)
