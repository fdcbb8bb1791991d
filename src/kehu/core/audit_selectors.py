"""Reads of the audit log. Only administrators browse it; everyone sees their own recent actions."""

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from kehu.core import modules
from kehu.core.errors import PermissionDenied
from kehu.core.models import AuditEntry
from kehu.core.permissions import can

# What a timeline item reads of an audit entry, and of its actor what str(actor) shows.
_TIMELINE_FIELDS = (
    "created_at",
    "seq",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "actor_label",
    "actor__name",
    "actor__email",
)


def for_timeline(qs: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
    """Audit entries as the timelines read them (the customer's providers, a lead's history): the columns an item
    shows, and of the actor the name and email, not a user's 22 columns (password hash included) per entry."""
    return qs.select_related("actor").only(*_TIMELINE_FIELDS)


def audit_list_for(
    *,
    actor: Any,
    action: str = "",
    actor_id: Any = None,
    target_type: str = "",
    search: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    if not can(actor, "administer", modules.PLATFORM):
        raise PermissionDenied()
    qs = AuditEntry.objects.filter(organization_id=actor.organization_id).select_related("actor")
    if action:
        qs = qs.filter(action__startswith=action)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if search:
        qs = qs.filter(Q(target_label__icontains=search) | Q(actor_label__icontains=search))
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs


def my_recent_activity(*, actor: Any, limit: int = 10) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(organization_id=actor.organization_id, actor=actor).order_by("-created_at", "-seq")[
            :limit
        ]
    )
