"""Automatic assignment of a queue's tickets: round robin, fewest open tickets, or by skill.

Who can get a ticket: the queue's active members who may work with tickets and are not away (AgentStatus).
Every choice carries its reason (a key of REASONS, kept on the ticket and in the audit entry with a line of
detail), so that the ticket page can say why its assignee has it.

Who can get a ticket is read for every new ticket (every e-mail), and changes seldom: each organisation's queues
with their available members are kept in the cache (kehu.core.org_cache, "service_queue_members") until a
membership, an agent's away status, a user, a role or the organisation changes (the receivers below). Only the
open tickets per member are counted for every ticket, under the queue's lock (ticket_services.auto_assign).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Organization, Role, User
from kehu.core import org_cache
from kehu.core.permissions import can
from kehu.service.ticket_models import OPEN_STATUSES, AgentStatus, Queue, Ticket

REASONS = {
    "manual": _("Assigned by hand"),
    "taken": _("Picked up by the agent"),
    "creator": _("Logged by the agent"),
    "round_robin": _("Round robin"),
    "least_open": _("Fewest open tickets"),
    "skill": _("By skill"),
    "skill_fallback": _("By skill (no skilled agent available: fewest open tickets)"),
    "unassigned": _("Returned to the queue"),
    "escalation": _("Escalation"),
}


def reason_label(key: str) -> str:
    return str(REASONS.get(key, key)) if key else ""


@dataclass(frozen=True)
class Choice:
    user: Any  # None: nobody could take it (manual queue, no available member)
    reason: str
    detail: str = ""


MEMBERS = "service_queue_members"  # the org_cache name


def members_changed(organization_id: int) -> None:
    """Who may get the organisation's tickets may have changed (call in the change's transaction)."""
    org_cache.changed(MEMBERS, organization_id)


def _load_members(organization_id: int) -> dict[int, list[Any]]:
    """Every queue's active members who are not away and may work with tickets, by id (two queries, once per
    change). The users come with their role and organisation (the permission check, the notification)."""
    away = AgentStatus.objects.filter(organization_id=organization_id, away=True).values("user_id")
    pairs = list(
        Queue.members.through.objects.filter(
            queue__organization_id=organization_id, user__organization_id=organization_id, user__is_active=True
        )
        .exclude(user_id__in=away)
        .values_list("queue_id", "user_id")
    )
    users = User.objects.filter(organization_id=organization_id, pk__in={user_id for _queue, user_id in pairs})
    # Without the password hash: the lists are pickled into the shared cache (Redis in production).
    users = users.select_related("role", "organization").defer("password")
    allowed = {u.pk: u for u in users if can(u, "edit", Ticket)}
    members: dict[int, list[Any]] = {}
    for queue_id, user_id in sorted(pairs, key=lambda pair: pair[1]):
        if user_id in allowed:
            members.setdefault(queue_id, []).append(allowed[user_id])
    return members


def _members(queue: Queue) -> list[Any]:
    """The queue's available members by id, from the organisation's cached lists (the same objects each time:
    read them, do not change them)."""
    organization_id = queue.organization_id
    return org_cache.get(MEMBERS, organization_id, lambda: _load_members(organization_id)).get(queue.pk, [])


def available_members(queue: Queue) -> list[Any]:
    """The members who can get a ticket now, by id (the round-robin order)."""
    return _members(queue)


def open_counts(organization_id: int, user_ids: list[int]) -> dict[int, int]:
    rows = (
        Ticket.objects.filter(
            organization_id=organization_id, deleted_at__isnull=True, owner_id__in=user_ids, status__in=OPEN_STATUSES
        )
        .values("owner_id")
        # COUNT(*), not COUNT(id): the (organization, owner, status, ...) index answers it alone (an
        # index-only scan), where counting ids reads every open ticket's row (the intake pays it per mail).
        .annotate(n=Count("*"))
    )
    counts = dict.fromkeys(user_ids, 0)
    counts.update({row["owner_id"]: row["n"] for row in rows})
    return counts


def _least_open(candidates: list[Any], counts: dict[int, int], reason: str) -> Choice:
    user = min(candidates, key=lambda u: (counts[u.pk], u.pk))
    return Choice(user, reason, f"{counts[user.pk]}")


def _round_robin(queue: Queue, candidates: list[Any]) -> Choice:
    after = queue.last_assigned_id or 0
    user = next((u for u in candidates if u.pk > after), candidates[0])
    return Choice(user, "round_robin")


def choose(queue: Queue | None, ticket: Ticket) -> Choice:
    """Whom the queue's method gives `ticket` to. The caller holds the queue row locked (round robin's
    cursor) and records the choice (ticket_services.auto_assign)."""
    if queue is None or not queue.is_active or queue.assignment == Queue.Assignment.MANUAL:
        return Choice(None, "manual")
    candidates = _members(queue)
    if not candidates:
        return Choice(None, queue.assignment)
    if queue.assignment == Queue.Assignment.ROUND_ROBIN:  # needs no counts
        return _round_robin(queue, candidates)
    # Counted now, under the queue's lock: a ticket given away a moment ago by another process is counted.
    counts = open_counts(queue.organization_id, [u.pk for u in candidates])
    if queue.assignment == Queue.Assignment.SKILL:
        skilled_ids = {int(pk) for pk in (queue.skills or {}).get(ticket.kind, []) if str(pk).isdigit()}
        skilled = [u for u in candidates if u.pk in skilled_ids]
        if skilled:
            return _least_open(skilled, counts, "skill")
        return _least_open(candidates, counts, "skill_fallback")
    return _least_open(candidates, counts, "least_open")


def queue_load(queue: Queue) -> list[tuple[Any, int, bool]]:
    """(member, open tickets, away) for the queue page."""
    members = list(queue.members.filter(is_active=True).order_by("name", "email"))
    away = set(
        AgentStatus.objects.filter(organization_id=queue.organization_id, away=True, user__in=members).values_list(
            "user_id", flat=True
        )
    )
    counts = open_counts(queue.organization_id, [u.pk for u in members])
    return [(u, counts.get(u.pk, 0), u.pk in away) for u in members]


# What the cached member lists depend on; writes outside the services too (factories, the demo data, admin).
def _organization_of(instance: Any) -> int | None:
    return instance.pk if isinstance(instance, Organization) else getattr(instance, "organization_id", None)


def _member_input_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if sender is User and set(kwargs.get("update_fields") or ()) <= {"last_login"} and kwargs.get("update_fields"):
        return  # a sign-in
    organization_id = _organization_of(instance)
    if organization_id is not None:
        members_changed(organization_id)


def _membership_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        members_changed(instance.organization_id)


for _model in (Queue, AgentStatus, User, Role, Organization):
    post_save.connect(_member_input_changed, sender=_model, dispatch_uid=f"kehu-queue-members-{_model.__name__}")
    post_delete.connect(_member_input_changed, sender=_model, dispatch_uid=f"kehu-queue-members-del-{_model.__name__}")
m2m_changed.connect(_membership_changed, sender=Queue.members.through, dispatch_uid="kehu-queue-members-m2m")
