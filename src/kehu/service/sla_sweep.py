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
from django.urls import NoReverseMatch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, modules, notifications
from kehu.service import sla_services, ticket_services
from kehu.service.models import MODULE, SlaPolicy, Ticket, TicketSla

SYSTEM_LABEL = "Kehu SLA"
BATCH_SIZE = 1000
# A run stops taking new batches after this long (the beat starts one every minute); what is left stays
# due and the next run takes it. Only a backlog (a sweep after downtime) ever meets the limit.
TIME_BUDGET_SECONDS = 50.0
PRIORITY_STEPS = {
    Ticket.Priority.LOW: Ticket.Priority.NORMAL,
    Ticket.Priority.NORMAL: Ticket.Priority.HIGH,
    Ticket.Priority.HIGH: Ticket.Priority.URGENT,
}
TARGETS = ("first_response", "resolution")
# What the sweep reads of each due row: the clocks, and the ticket's state (not its text or custom fields).
TICKET_SLA_FIELDS = [
    f.name for f in TicketSla._meta.concrete_fields if f.name not in ("ticket", "organization", "updated_at")
]
TICKET_SLA_ATTNAMES = [TicketSla._meta.get_field(name).attname for name in TICKET_SLA_FIELDS]
TICKET_FIELDS = [
    "organization",
    "number",
    "subject",
    "priority",
    "status",
    "owner",
    "queue",
    "customer",
    "created_at",
    "deleted_at",
    "version",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "resolution_due_at",
]


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
    stopped_early: bool = False  # the time budget ran out; the next run continues
    per_organization: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "per_organization"}


def sla_sweep(
    *,
    now: datetime | None = None,
    organization_id: int | None = None,
    batch_size: int = BATCH_SIZE,
    time_budget: float | None = TIME_BUDGET_SECONDS,
) -> SweepResult:
    """Warn and escalate what is due at `now` in every organisation with the service module (or one).
    `time_budget`: stop taking new batches after this many seconds (None: until done)."""
    from kehu.accounts.models import Organization

    started = time.monotonic()
    deadline = started + time_budget if time_budget is not None else None
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
        _sweep_organization(org, now, result, batch_size, deadline)
        result.per_organization[org.pk] = result.checked - before
        if deadline is not None and time.monotonic() > deadline:
            result.stopped_early = True
            break
    result.seconds = time.monotonic() - started
    return result


def _sweep_organization(
    org: Any, now: datetime, result: SweepResult, batch_size: int, deadline: float | None = None
) -> None:
    context = _Context(org=org, now=now)
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            rows = list(
                TicketSla.objects.filter(organization_id=org.pk, next_check_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("ticket")
                .only(*TICKET_SLA_FIELDS, *(f"ticket__{name}" for name in TICKET_FIELDS))
                .order_by("next_check_at", "ticket_id")[:batch_size]
            )
            fresh = [r for r in rows if r.ticket_id not in seen]
            if not fresh:
                return
            seen.update(r.ticket_id for r in fresh)
            _process(fresh, context, result)
        if len(rows) < batch_size:
            return
        if deadline is not None and time.monotonic() > deadline:
            result.stopped_early = True
            return


@dataclass
class _Context:
    org: Any
    now: datetime
    policies: dict[int, SlaPolicy] | None = None
    calendars: sla_services.CalendarCache = field(default_factory=sla_services.CalendarCache)
    users: dict[int, Any] = field(default_factory=dict)
    queue_managers: dict[int, int | None] = field(default_factory=dict)
    team_managers: dict[int, int | None] = field(default_factory=dict)

    def load_managers(self, queue_ids: set[int], team_ids: set[int]) -> None:
        """The managers of queues and teams, read once per run."""
        from kehu.accounts.models import Team
        from kehu.service.models import Queue

        missing = {q for q in queue_ids if q and q not in self.queue_managers}
        if missing:
            rows = Queue.objects.filter(organization_id=self.org.pk, pk__in=missing).values_list("pk", "manager_id")
            self.queue_managers.update(dict(rows))
        missing = {t for t in team_ids if t and t not in self.team_managers}
        if missing:
            rows = Team.objects.filter(organization_id=self.org.pk, pk__in=missing).values_list("pk", "manager_id")
            self.team_managers.update(dict(rows))

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
    at = connection.ops.adapt_datetimefield_value(now)
    if kind == "breach":
        assignments, flag, params = f"{breached} = %s, {warned} = COALESCE({warned}, %s)", breached, [at, at]
    else:
        assignments, flag, params = f"{warned} = %s", warned, [at]
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 - column and table names from code, values bound
        f"WHERE ticket_id IN ({placeholders}) AND {flag} IS NULL RETURNING ticket_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ticket_ids])
        return {row[0] for row in cursor.fetchall()}


_URL_PROBE = 987654321


def _ticket_url_template() -> str:
    """The ticket page's address with a placeholder id (reverse() once per run, not once per ticket)."""
    try:
        return Ticket(pk=_URL_PROBE).get_absolute_url()
    except NoReverseMatch:  # the ticket pages are the "ticket" topic's
        return ""


def _zone(org: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(org.time_zone or "Asia/Shanghai")


def _users(context: _Context, ids: set[int]) -> dict[int, Any]:
    from kehu.accounts.models import User

    missing = {i for i in ids if i and i not in context.users}
    if missing:
        for user in User.objects.filter(organization_id=context.org.pk, pk__in=missing):
            context.users[user.pk] = user
    return context.users


def _escalate(
    ids: list[int],
    by_ticket: dict[int, TicketSla],
    reassign: dict[int, int],
    raise_ids: set[int],
    users: dict[int, Any],
    context: _Context,
    result: SweepResult,
) -> None:
    """Apply the breaches' reassignments and raised priorities with ticket_services.tickets_escalate (the batch
    form of an agent's reassignment and edit), then bring the sweep's in-memory rows in line with what the
    services (and the SLA hook) wrote."""
    actor = ticket_services.SystemActor(SYSTEM_LABEL, context.org.pk)
    tickets = list(
        Ticket.objects.filter(pk__in=ids, deleted_at__isnull=True).select_related("owner", "queue", "customer")
    )
    before = {t.pk: (t.owner_id, t.priority) for t in tickets}
    for ticket in tickets:
        ticket.organization = context.org
    escalations = [
        ticket_services.Escalation(
            ticket,
            owner=users.get(reassign[ticket.pk]) if ticket.pk in reassign else None,
            priority=PRIORITY_STEPS.get(ticket.priority, "") if ticket.pk in raise_ids else "",
        )
        for ticket in tickets
    ]
    # The SLA hook recomputes the raised tickets' targets: from the policies and calendars this run already read.
    with sla_services.shared_lookups(policies=context.ordered_policies(), calendars=context.calendars):
        escalated = ticket_services.tickets_escalate(actor=actor, escalations=escalations, detail=_("SLA breached"))
    for ticket in escalated:
        owner_before, priority_before = before[ticket.pk]
        result.reassigned += ticket.owner_id != owner_before
        result.raised += ticket.priority != priority_before
        seen = by_ticket[ticket.pk].ticket
        for name in ("owner_id", "priority", "version", "updated_at"):
            setattr(seen, name, getattr(ticket, name))
    # The hook recomputed the clocks of raised tickets (due dates, warning moments, next check): re-read them.
    raised_due = Ticket.objects.filter(pk__in=raise_ids).values_list("pk", "first_response_due_at", "resolution_due_at")
    for pk, first_due, resolution_due in raised_due:
        by_ticket[pk].ticket.first_response_due_at = first_due
        by_ticket[pk].ticket.resolution_due_at = resolution_due
    for fresh in TicketSla.objects.filter(ticket_id__in=raise_ids).only(*TICKET_SLA_FIELDS):
        state = by_ticket[fresh.ticket_id]
        for name in TICKET_SLA_ATTNAMES:  # ids of the policy and calendar, not the rows (a query each)
            setattr(state, name, getattr(fresh, name))


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

    notes: list[tuple[Any, str, str, str]] = []
    audit_items: list[tuple[str, Any, dict[str, Any]]] = []
    reassign: dict[int, int] = {}  # ticket -> new owner
    raise_ids: set[int] = set()
    breach_actions: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)

    # Users that may be notified or take over: owners, queue and team managers, named colleagues.
    users = _users(context, {state.ticket.owner_id for state in rows})
    context.load_managers(
        {state.ticket.queue_id for state in rows},
        {users[s.ticket.owner_id].team_id for s in rows if s.ticket.owner_id in users},
    )
    users = _users(
        context,
        {*context.queue_managers.values(), *context.team_managers.values()}
        | {p.reassign_to_id for p in context.ordered_policies()},
    )

    def active(user_id: int | None) -> Any:
        user = users.get(user_id) if user_id else None
        return user if user is not None and user.is_active else None

    notices: dict[str, list[tuple[Any, str, str, Ticket, datetime]]] = defaultdict(list)  # by language

    def notify(user: Any, kind: str, target: str, ticket: Ticket, due: datetime) -> None:
        notices[user.language or org.language or "zh-hans"].append((user, kind, target, ticket, due))

    def team_manager_of(owner: Any) -> Any:
        return active(context.team_managers.get(owner.team_id)) if owner is not None and owner.team_id else None

    for (target, kind), ids in claimed.items():
        for pk in sorted(ids):
            state = by_ticket[pk]
            ticket = state.ticket
            due = getattr(ticket, f"{target}_due_at")
            queue_manager = active(context.queue_managers.get(ticket.queue_id))
            owner = active(ticket.owner_id)
            if kind == "warn":
                result.warned += 1
                recipient = owner or queue_manager
                if recipient is not None:
                    notify(recipient, kind, target, ticket, due)
                continue
            result.breached += 1
            policy = context.policy(state.policy_id)
            team_manager = team_manager_of(owner)
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
                    # The assignment service tells the new assignee (as when an agent reassigns).
                    reassign[pk] = new_owner.pk
                    actions.append("reassign")
            if policy is not None and policy.raise_priority and ticket.priority in PRIORITY_STEPS:
                raise_ids.add(pk)
                actions.append("raise_priority")
            breach_actions[pk].append((target, actions))

    # Tickets: reassign and raise the priority through the ticket services (their batch form), the path an
    # agent's change takes: its audit entries, the hooks (the SLA clocks recompute a raised priority's
    # targets), the new assignee's notification, the ticket's history. Only breaches with such actions pay
    # for it; warnings and notices stay set-based.
    owners_before = {pk: by_ticket[pk].ticket.owner_id for pk in reassign}
    priority_before = {pk: by_ticket[pk].ticket.priority for pk in raise_ids}
    escalated = sorted(set(reassign) | raise_ids)
    if escalated:
        _escalate(escalated, by_ticket, reassign, raise_ids, users, context, result)

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

    url_template = _ticket_url_template()
    zone = _zone(org)
    for language, items in notices.items():
        with translation.override(language):
            words = {"first_response": _("first response"), "resolution": _("resolution")}
            for user, kind, target, ticket, due in items:
                values = {
                    "number": ticket.number,
                    "what": words[target],
                    "due": due.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                }
                if kind == "warn":
                    title = _("SLA warning: the %(what)s of ticket #%(number)s is due at %(due)s") % values
                else:
                    title = _("SLA breached: the %(what)s of ticket #%(number)s was due at %(due)s") % values
                url = url_template.replace(str(_URL_PROBE), str(ticket.pk))
                notes.append((user, title, ticket.subject, url))
    result.notifications += notifications.notify_many(organization_id=org.pk, notes=notes)
    if audit_items:
        audit.record_many(organization_id=org.pk, items=audit_items, actor_label=SYSTEM_LABEL)

    # Every row gets its next moment; never one already past (that row would be read again at once).
    floor = now + timedelta(minutes=1)
    for state in rows:
        ticket = state.ticket
        upcoming = None if ticket.deleted_at is not None else sla_services.next_check(state, ticket)
        state.next_check_at = max(upcoming, floor) if upcoming is not None and upcoming <= now else upcoming
    sla_services.bulk_set(
        TicketSla, "ticket_id", [("next_check_at", "timestamptz")], [(s.ticket_id, s.next_check_at) for s in rows]
    )
