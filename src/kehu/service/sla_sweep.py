"""The SLA sweep (Celery beat, every minute): warn before a breach, escalate on it.

Set-based, so that 100,000 open tickets cost what is due, not what is open: each ticket's SLA row keeps
`next_check_at`, the moment its next warning or breach falls due (NULL when nothing is pending), under a
partial index on (organization, next_check_at). A run reads, per organisation, only the rows whose moment
has come, in batches:

1. the batch is locked with FOR UPDATE SKIP LOCKED (PostgreSQL), so a second sweep running at the same
   time takes other rows instead of waiting;
2. each warning or breach is claimed with one conditional UPDATE per kind (`... WHERE flag IS NULL
   RETURNING`): only the run that set the flag acts on it, so every warning and every escalation happens
   once per ticket and target, even if two runs meet the same row or a run is retried;
3. the claimed ones are acted on in bulk: in-app notifications, reassignments, raised priorities (with
   their due dates recomputed), one audit entry per escalation (audit.record_many);
4. every row of the batch gets its next moment (or NULL).

Warnings notify the assignee (the queue's manager while the ticket is unassigned). Breaches notify the
assignee and, as the policy says, the queue's manager and the assignee's team manager, reassign the
ticket and raise its priority by one step.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.urls import NoReverseMatch
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, modules
from kehu.core.models import Notification
from kehu.service import sla_services
from kehu.service.models import MODULE, SlaPolicy, Ticket, TicketSla

SYSTEM_LABEL = "Kehu SLA"
BATCH_SIZE = 1000
PRIORITY_STEPS = {
    Ticket.Priority.LOW: Ticket.Priority.NORMAL,
    Ticket.Priority.NORMAL: Ticket.Priority.HIGH,
    Ticket.Priority.HIGH: Ticket.Priority.URGENT,
}
TARGETS = ("first_response", "resolution")


@dataclass
class SweepResult:
    organizations: int = 0
    checked: int = 0
    warned: int = 0
    breached: int = 0
    notifications: int = 0
    reassigned: int = 0
    raised: int = 0
    seconds: float = 0.0
    per_organization: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "per_organization"}


def sla_sweep(
    *, now: datetime | None = None, organization_id: int | None = None, batch_size: int = BATCH_SIZE
) -> SweepResult:
    """Warn and escalate what is due at `now` in every organisation with the service module (or one)."""
    from kehu.accounts.models import Organization

    started = time.monotonic()
    now = now or timezone.now()
    result = SweepResult()
    organizations = Organization.objects.filter(is_active=True).order_by("pk")
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    for org in organizations:
        if not modules.is_enabled(org, MODULE):
            continue
        result.organizations += 1
        before = result.checked
        _sweep_organization(org, now, result, batch_size)
        result.per_organization[org.pk] = result.checked - before
    result.seconds = time.monotonic() - started
    return result


def _sweep_organization(org: Any, now: datetime, result: SweepResult, batch_size: int) -> None:
    context = _Context(org=org, now=now)
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            rows = list(
                TicketSla.objects.filter(organization_id=org.pk, next_check_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("ticket", "ticket__owner__team", "ticket__queue", "ticket__customer", "calendar")
                .order_by("next_check_at", "ticket_id")[:batch_size]
            )
            fresh = [r for r in rows if r.ticket_id not in seen]
            if not fresh:
                return
            seen.update(r.ticket_id for r in fresh)
            _process(fresh, context, result)
        if len(rows) < batch_size:
            return


@dataclass
class _Context:
    org: Any
    now: datetime
    policies: dict[int, SlaPolicy] | None = None
    calendars: sla_services.CalendarCache = field(default_factory=sla_services.CalendarCache)
    users: dict[int, Any] = field(default_factory=dict)

    def policy(self, policy_id: int | None) -> SlaPolicy | None:
        if self.policies is None:
            self.policies = {
                p.pk: p
                for p in SlaPolicy.objects.filter(organization_id=self.org.pk)
                .select_related("reassign_to")
                .prefetch_related("targets")
                .order_by("is_default", "position", "id")
            }
        return self.policies.get(policy_id) if policy_id else None

    def ordered_policies(self) -> list[SlaPolicy]:
        self.policy(None)
        return list(self.policies.values()) if self.policies else []


def _due_events(state: TicketSla, ticket: Ticket, now: datetime) -> list[tuple[str, str]]:
    """(target, "warn" | "breach") pairs due at `now` for this ticket."""
    events = []
    if sla_services.first_response_running(ticket) and state.first_response_breached_at is None:
        if now >= ticket.first_response_due_at:
            events.append(("first_response", "breach"))
        elif (
            state.first_response_warned_at is None
            and state.first_response_warn_at is not None
            and now >= state.first_response_warn_at
        ):
            events.append(("first_response", "warn"))
    if sla_services.resolution_running(state, ticket) and state.resolution_breached_at is None:
        if now >= ticket.resolution_due_at:
            events.append(("resolution", "breach"))
        elif (
            state.resolution_warned_at is None
            and state.resolution_warn_at is not None
            and now >= state.resolution_warn_at
        ):
            events.append(("resolution", "warn"))
    return events


def _claim(target: str, kind: str, ticket_ids: list[int], now: datetime) -> set[int]:
    """Set the flag of `kind` for `target` where nobody set it yet; the ids whose flag this call set."""
    if not ticket_ids:
        return set()
    table = TicketSla._meta.db_table
    warned, breached = f"{target}_warned_at", f"{target}_breached_at"
    placeholders = ", ".join(["%s"] * len(ticket_ids))
    if kind == "breach":
        assignments, flag, params = f"{breached} = %s, {warned} = COALESCE({warned}, %s)", breached, [now, now]
    else:
        assignments, flag, params = f"{warned} = %s", warned, [now]
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 - column and table names from code, values bound
        f"WHERE ticket_id IN ({placeholders}) AND {flag} IS NULL RETURNING ticket_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ticket_ids])
        return {row[0] for row in cursor.fetchall()}


def _ticket_url(ticket: Ticket) -> str:
    try:
        return ticket.get_absolute_url()
    except NoReverseMatch:  # the ticket pages are the "ticket" topic's
        return ""


def _local(moment: datetime, org: Any) -> str:
    return formats.date_format(timezone.localtime(moment, timezone=_zone(org)), "Y-m-d H:i")


def _zone(org: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(org.time_zone or "Asia/Shanghai")


def _title(kind: str, target: str, ticket: Ticket, due: datetime, org: Any, language: str) -> tuple[str, str]:
    with translation.override(language):
        what = _("first response") if target == "first_response" else _("resolution")
        values = {"number": ticket.number, "what": what, "due": _local(due, org), "subject": ticket.subject}
        if kind == "warn":
            title = _("SLA warning: the %(what)s of ticket #%(number)s is due at %(due)s") % values
        else:
            title = _("SLA breached: the %(what)s of ticket #%(number)s was due at %(due)s") % values
        return title, ticket.subject


def _users(context: _Context, ids: set[int]) -> dict[int, Any]:
    from kehu.accounts.models import User

    missing = {i for i in ids if i and i not in context.users}
    if missing:
        for user in User.objects.filter(organization_id=context.org.pk, pk__in=missing):
            context.users[user.pk] = user
    return context.users


def _process(rows: list[TicketSla], context: _Context, result: SweepResult) -> None:
    now, org = context.now, context.org
    result.checked += len(rows)
    wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_ticket: dict[int, TicketSla] = {}
    for state in rows:
        ticket = state.ticket
        ticket.organization = org
        by_ticket[ticket.pk] = state
        if ticket.deleted_at is not None:
            continue
        for target, kind in _due_events(state, ticket, now):
            wanted[(target, kind)].append(ticket.pk)
    claimed: dict[tuple[str, str], set[int]] = {key: _claim(*key, ids, now) for key, ids in wanted.items()}
    # Whoever set a flag, it is set now: keep the rows in memory in line with the table.
    for (target, kind), ids in wanted.items():
        for pk in ids:
            state = by_ticket[pk]
            if kind == "breach":
                setattr(state, f"{target}_breached_at", getattr(state, f"{target}_breached_at") or now)
            setattr(state, f"{target}_warned_at", getattr(state, f"{target}_warned_at") or now)

    notifications: list[Notification] = []
    audit_items: list[tuple[str, Any, dict[str, Any]]] = []
    reassign: dict[int, int] = {}  # ticket -> new owner
    raise_ids: set[int] = set()
    breach_actions: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)

    # Users that may be notified or take over: owners, queue and team managers, named colleagues.
    user_ids: set[int] = set()
    for state in rows:
        t = state.ticket
        user_ids.update({t.owner_id, getattr(t.queue, "manager_id", None)})
        if t.owner_id and t.owner.team_id:
            user_ids.add(t.owner.team.manager_id)
    for policy in context.ordered_policies():
        user_ids.add(policy.reassign_to_id)
    users = _users(context, user_ids)

    def active(user_id: int | None) -> Any:
        user = users.get(user_id) if user_id else None
        return user if user is not None and user.is_active else None

    def notify(user: Any, kind: str, target: str, ticket: Ticket, due: datetime) -> None:
        language = user.language or org.language or "zh-hans"
        title, body = _title(kind, target, ticket, due, org, language)
        notifications.append(
            Notification(
                organization_id=org.pk, recipient_id=user.pk, title=title[:255], body=body, url=_ticket_url(ticket)
            )
        )

    for (target, kind), ids in claimed.items():
        for pk in sorted(ids):
            state = by_ticket[pk]
            ticket = state.ticket
            due = getattr(ticket, f"{target}_due_at")
            queue_manager = active(getattr(ticket.queue, "manager_id", None))
            owner = active(ticket.owner_id)
            if kind == "warn":
                result.warned += 1
                recipient = owner or queue_manager
                if recipient is not None:
                    notify(recipient, kind, target, ticket, due)
                continue
            result.breached += 1
            policy = context.policy(state.policy_id)
            team_manager = active(ticket.owner.team.manager_id) if owner and ticket.owner.team_id else None
            recipients: dict[int, Any] = {}
            actions: list[str] = []
            if owner is not None:
                recipients[owner.pk] = owner
                actions.append("notify_assignee")
            if policy is not None and policy.notify_queue_manager and queue_manager is not None:
                recipients[queue_manager.pk] = queue_manager
                actions.append("notify_queue_manager")
            if policy is not None and policy.notify_team_manager and team_manager is not None:
                recipients[team_manager.pk] = team_manager
                actions.append("notify_team_manager")
            for user in recipients.values():
                notify(user, kind, target, ticket, due)
            if policy is not None and policy.reassign and pk not in reassign:
                new_owner = {
                    SlaPolicy.Reassign.QUEUE_MANAGER: queue_manager,
                    SlaPolicy.Reassign.TEAM_MANAGER: team_manager,
                    SlaPolicy.Reassign.USER: active(policy.reassign_to_id),
                }.get(policy.reassign)
                if new_owner is not None and new_owner.pk != ticket.owner_id:
                    reassign[pk] = new_owner.pk
                    actions.append("reassign")
                    if new_owner.pk not in recipients:
                        notify(new_owner, kind, target, ticket, due)
            if policy is not None and policy.raise_priority and ticket.priority in PRIORITY_STEPS:
                raise_ids.add(pk)
                actions.append("raise_priority")
            breach_actions[pk].append((target, actions))

    # Tickets: reassign and raise priority, grouped into a few UPDATEs (each bumps the optimistic-lock
    # version, so an agent editing the ticket meanwhile gets a conflict instead of overwriting it).
    owners_before = {pk: by_ticket[pk].ticket.owner_id for pk in reassign}
    groups: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    for pk, new_owner in reassign.items():
        groups[(owners_before[pk], new_owner)].append(pk)
    for (old, new), ids in groups.items():
        done = Ticket.objects.filter(pk__in=ids, owner_id=old).update(
            owner_id=new, version=F("version") + 1, updated_at=now
        )
        result.reassigned += done
        for pk in ids:
            by_ticket[pk].ticket.owner_id = new
    priority_before = {pk: by_ticket[pk].ticket.priority for pk in raise_ids}
    by_priority: dict[str, list[int]] = defaultdict(list)
    for pk in raise_ids:
        by_priority[priority_before[pk]].append(pk)
    for old, ids in by_priority.items():
        new = PRIORITY_STEPS[old]
        result.raised += Ticket.objects.filter(pk__in=ids, priority=old).update(
            priority=new, version=F("version") + 1, updated_at=now
        )
        for pk in ids:
            by_ticket[pk].ticket.priority = new

    # A raised priority may bring a stricter policy and target: recompute those tickets' due dates.
    policies = context.ordered_policies()
    raised_states = []
    for pk in raise_ids:
        state = by_ticket[pk]
        sla_services.assign_policy(state, state.ticket, policies=policies, calendars=context.calendars)
        calendar = context.calendars.get(state.calendar) if state.calendar_id else None
        sla_services.compute_due(state, state.ticket, calendar)
        raised_states.append(state)
    if raised_states:
        Ticket.objects.bulk_update(
            [s.ticket for s in raised_states], ["first_response_due_at", "resolution_due_at"], batch_size=500
        )
        TicketSla.objects.bulk_update(
            raised_states,
            [
                "policy",
                "calendar",
                "first_response_minutes",
                "resolution_minutes",
                "warning_percent",
                "first_response_warn_at",
                "resolution_warn_at",
            ],
            batch_size=500,
        )

    for pk, entries in breach_actions.items():
        ticket = by_ticket[pk].ticket
        for target, actions in entries:
            changes: dict[str, Any] = {
                "target": target,
                "due": getattr(ticket, f"{target}_due_at"),
                "policy": by_ticket[pk].policy_id,
                "actions": actions,
            }
            if "reassign" in actions:
                changes["owner"] = {"before": owners_before[pk], "after": reassign[pk]}
            if "raise_priority" in actions:
                changes["priority"] = {"before": priority_before[pk], "after": ticket.priority}
            audit_items.append(("ticket.sla_breach", ticket, changes))

    if notifications:
        Notification.objects.bulk_create(notifications, batch_size=1000)
        result.notifications += len(notifications)
    if audit_items:
        audit.record_many(organization_id=org.pk, items=audit_items, actor_label=SYSTEM_LABEL)

    # Every row gets its next moment; never one already past (that row would be read again at once).
    floor = now + timedelta(minutes=1)
    for state in rows:
        ticket = state.ticket
        upcoming = None if ticket.deleted_at is not None else sla_services.next_check(state, ticket)
        state.next_check_at = max(upcoming, floor) if upcoming is not None and upcoming <= now else upcoming
    TicketSla.objects.bulk_update(rows, ["next_check_at"], batch_size=1000)
