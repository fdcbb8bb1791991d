"""Automatic assignment of a queue's tickets: round robin, fewest open tickets, or by skill.

Who can get a ticket: the queue's active members who may work with tickets and are not away (AgentStatus).
Every choice carries its reason (a key of REASONS, kept on the ticket and in the audit entry with a line of
detail), so that the ticket page can say why its assignee has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

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


def _members(queue: Queue, *, with_open_counts: bool = False) -> list[Any]:
    """The queue's active members who are not away, by id, in one query; `with_open_counts` adds each one's
    open tickets as `open_n` (a correlated COUNT(*) per member over the (organization, owner, status, ...)
    index, answered from the index alone), so the intake pays one round trip where it paid three."""
    away = AgentStatus.objects.filter(organization_id=queue.organization_id, away=True).values("user_id")
    members = (
        queue.members.filter(organization_id=queue.organization_id, is_active=True)
        .exclude(pk__in=away)
        .select_related("role", "organization")
        .order_by("pk")
    )
    if with_open_counts:
        open_tickets = (
            Ticket.objects.filter(
                organization_id=queue.organization_id,
                deleted_at__isnull=True,
                owner_id=OuterRef("pk"),
                status__in=OPEN_STATUSES,
            )
            .order_by()
            .values("owner_id")
            .annotate(n=Count("*"))
            .values("n")
        )
        members = members.annotate(open_n=Coalesce(Subquery(open_tickets), 0))
    return [u for u in members if can(u, "edit", Ticket)]


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


def _least_open(candidates: list[Any], reason: str) -> Choice:
    """`candidates` carry `open_n` (_members(with_open_counts=True))."""
    user = min(candidates, key=lambda u: (u.open_n, u.pk))
    return Choice(user, reason, f"{user.open_n}")


def _round_robin(queue: Queue, candidates: list[Any]) -> Choice:
    after = queue.last_assigned_id or 0
    user = next((u for u in candidates if u.pk > after), candidates[0])
    return Choice(user, "round_robin")


def choose(queue: Queue | None, ticket: Ticket) -> Choice:
    """Whom the queue's method gives `ticket` to. The caller holds the queue row locked (round robin's
    cursor) and records the choice (ticket_services.auto_assign)."""
    if queue is None or not queue.is_active or queue.assignment == Queue.Assignment.MANUAL:
        return Choice(None, "manual")
    # Round robin needs no counts; the other methods read them with the members (one query).
    candidates = _members(queue, with_open_counts=queue.assignment != Queue.Assignment.ROUND_ROBIN)
    if not candidates:
        return Choice(None, queue.assignment)
    if queue.assignment == Queue.Assignment.ROUND_ROBIN:
        return _round_robin(queue, candidates)
    if queue.assignment == Queue.Assignment.SKILL:
        skilled_ids = {int(pk) for pk in (queue.skills or {}).get(ticket.kind, []) if str(pk).isdigit()}
        skilled = [u for u in candidates if u.pk in skilled_ids]
        if skilled:
            return _least_open(skilled, "skill")
        return _least_open(candidates, "skill_fallback")
    return _least_open(candidates, "least_open")


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
