"""The SLA sweep: warns before a breach, escalates on it, once per ticket and target, idempotent."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from kehu.core import audit
from kehu.core.models import AuditEntry, Notification
from kehu.service import sla_services, ticket_selectors
from kehu.service.models import Ticket, TicketSla
from kehu.service.sla_sweep import sla_sweep
from kehu.service.sla_tasks import sla_sweep_task
from tests.service.sla_factories import make_policy, make_queue, make_ticket

SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def notes_for(user):
    return list(Notification.objects.filter(recipient=user).order_by("id"))


@pytest.fixture
def setup(tenant_a):
    manager = tenant_a.users["service_manager"]
    agent = tenant_a.users["service_agent"]
    # The agent's team is "Sales" in the fixture: give it a manager for the team-manager escalation.
    team = agent.team
    team.manager = tenant_a.users["sales_manager"]
    team.save(update_fields=["manager"])
    queue = make_queue(tenant_a, manager=manager)
    policy = make_policy(tenant_a, name="标准", is_default=True, notify_team_manager=True)
    return tenant_a, policy, queue, agent, manager


def test_nothing_due_nothing_done(setup):
    tenant, _policy, queue, agent, _manager = setup
    make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=5))
    assert (result.checked, result.warned, result.breached) == (0, 0, 0)
    assert notes_for(agent) == []


def test_warns_the_assignee_once_before_the_breach(setup):
    tenant, _policy, queue, agent, manager = setup
    ticket = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")  # due 10:30, warn 10:24
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=25))
    assert (result.warned, result.breached) == (1, 0)
    (note,) = notes_for(agent)
    assert f"#{ticket.number}" in note.title
    assert notes_for(manager) == []
    state = TicketSla.objects.get(ticket=ticket)
    assert state.first_response_warned_at is not None
    assert state.next_check_at == ticket.first_response_due_at

    again = sla_sweep(now=MONDAY_10 + timedelta(minutes=26))
    assert again.checked == 0 and len(notes_for(agent)) == 1


def test_escalates_on_breach_with_the_configured_actions_once_and_audited(setup):
    tenant, policy, queue, agent, manager = setup
    sla_services.sla_policy_update(
        actor=tenant.admin,
        policy=policy,
        expected_version=None,
        data={"reassign": "queue_manager", "raise_priority": True},
    )
    ticket = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="high")  # first response 1 h
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=61))
    assert result.breached == 1 and result.reassigned == 1 and result.raised == 1
    ticket.refresh_from_db()
    assert ticket.owner == manager
    assert ticket.priority == "urgent"
    assert ticket.version == 3  # two changes, each bumping the optimistic lock
    # The raised priority's stricter targets apply: urgent resolves in 4 h from the creation.
    assert ticket.resolution_due_at == MONDAY_10 + timedelta(hours=4)
    state = TicketSla.objects.get(ticket=ticket)
    assert state.first_response_breached_at is not None and state.first_response_warned_at is not None
    # The agent, the queue manager and the agent's team manager are told of the breach; the queue manager,
    # the new assignee, also gets the assignment service's notice (as when an agent reassigns).
    assert len(notes_for(agent)) == 1
    assert len(notes_for(manager)) == 2
    assert any("已分配给你" in note.title or "assigned to you" in note.title for note in notes_for(manager))
    # The changes went through the ticket services: their audit entries and the ticket's history.
    (assign,) = AuditEntry.objects.filter(action="ticket.assign", target_id=str(ticket.pk))
    assert assign.changes["reason"] == "escalation" and assign.changes["owner"]["after"] == manager.pk
    assert assign.actor_label == "Kehu SLA"
    (update,) = AuditEntry.objects.filter(action="ticket.update", target_id=str(ticket.pk))
    assert update.changes["priority"] == {"before": "high", "after": "urgent"}
    history = ticket_selectors.ticket_history_for(actor=tenant.admin, ticket=ticket)
    assert {"ticket.assign", "ticket.update", "ticket.sla_breach"} <= {item.action for item in history}
    assert len(notes_for(tenant.users["sales_manager"])) == 1
    (entry,) = AuditEntry.objects.filter(action="ticket.sla_breach", target_id=str(ticket.pk))
    assert entry.actor_label == "Kehu SLA"
    assert entry.changes["target"] == "first_response"
    assert set(entry.changes["actions"]) >= {"notify_assignee", "notify_queue_manager", "reassign", "raise_priority"}
    assert entry.changes["priority"] == {"before": "high", "after": "urgent"}
    assert audit.verify() == []

    # Idempotent: later runs escalate nothing again for the first response.
    notes = Notification.objects.count()
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=62))
    assert result.breached == 0
    assert Notification.objects.count() == notes
    assert AuditEntry.objects.filter(action="ticket.sla_breach").count() == 1


def test_resolution_breach_escalates_separately_and_pending_tickets_are_left_alone(setup):
    tenant, _policy, queue, _agent, _manager = setup
    answered = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    answered.first_responded_at = MONDAY_10 + timedelta(minutes=5)
    answered.status = Ticket.Status.OPEN
    answered.save()
    sla_services.sla_sync(ticket=answered, now=MONDAY_10 + timedelta(minutes=5))
    waiting = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    waiting.first_responded_at = MONDAY_10 + timedelta(minutes=5)
    waiting.status = Ticket.Status.PENDING
    waiting.save()
    sla_services.sla_sync(ticket=waiting, now=MONDAY_10 + timedelta(minutes=5))

    result = sla_sweep(now=MONDAY_10 + timedelta(hours=5))
    assert result.breached == 1
    assert TicketSla.objects.get(ticket=answered).resolution_breached_at is not None
    assert TicketSla.objects.get(ticket=waiting).resolution_breached_at is None
    assert TicketSla.objects.get(ticket=waiting).next_check_at is None


def test_a_breach_seen_late_skips_the_warning(setup):
    tenant, _policy, queue, agent, _manager = setup
    make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=45))
    assert (result.warned, result.breached) == (0, 1)
    assert len(notes_for(agent)) == 1


def test_unassigned_tickets_warn_the_queue_manager(setup):
    tenant, _policy, queue, _agent, manager = setup
    make_ticket(tenant, False, created_at=MONDAY_10, queue=queue, priority="urgent")
    sla_sweep(now=MONDAY_10 + timedelta(minutes=25))
    assert len(notes_for(manager)) == 1


def test_reassign_to_a_named_colleague(setup):
    tenant, policy, queue, _agent, _manager = setup
    lead = tenant.users["administrator"]
    sla_services.sla_policy_update(
        actor=tenant.admin, policy=policy, expected_version=None, data={"reassign": "user", "reassign_to": lead}
    )
    ticket = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    sla_sweep(now=MONDAY_10 + timedelta(minutes=31))
    ticket.refresh_from_db()
    assert ticket.owner == lead
    assert len(notes_for(lead)) == 1


def test_organisations_without_the_service_module_are_skipped(setup, tenant_b):
    tenant, _policy, queue, agent, _manager = setup
    make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    tenant.org.enabled_modules = ["customers"]
    tenant.org.save(update_fields=["enabled_modules"])
    result = sla_sweep(now=MONDAY_10 + timedelta(hours=1))
    assert result.breached == 0
    assert notes_for(agent) == []


def test_deleted_and_resolved_tickets_are_not_escalated(setup):
    tenant, _policy, queue, _agent, _manager = setup
    gone = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    Ticket.objects.filter(pk=gone.pk).update(deleted_at=MONDAY_10)
    done = make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    Ticket.objects.filter(pk=done.pk).update(status=Ticket.Status.RESOLVED)  # without the hook
    result = sla_sweep(now=MONDAY_10 + timedelta(hours=5))
    assert result.breached == 0
    assert TicketSla.objects.filter(next_check_at__isnull=False).count() == 0


def test_many_due_tickets_are_swept_in_batches_with_few_queries(setup, django_assert_max_num_queries):
    tenant, _policy, queue, _agent, _manager = setup
    for _ in range(30):
        make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    with django_assert_max_num_queries(40):
        result = sla_sweep(now=MONDAY_10 + timedelta(minutes=31), batch_size=10)
    assert result.breached == 30
    assert AuditEntry.objects.filter(action="ticket.sla_breach").count() == 30
    assert audit.verify() == []


def test_the_celery_task_runs_the_sweep(setup):
    tenant, _policy, queue, _agent, _manager = setup
    make_ticket(tenant, created_at=MONDAY_10 - timedelta(days=3), queue=queue, priority="urgent")
    result = sla_sweep_task.delay().get()
    assert result["breached"] == 2  # first response and resolution, each once


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_each_ticket_once(tenant_a):
    queue = make_queue(tenant_a)
    make_policy(tenant_a, is_default=True)
    for _ in range(20):
        make_ticket(tenant_a, created_at=MONDAY_10, queue=queue, priority="urgent")
    now = MONDAY_10 + timedelta(hours=1)
    results, errors = [], []

    def run():
        try:
            results.append(sla_sweep(now=now, batch_size=5))
        except Exception as exc:  # SQLite may refuse a second writer: the point is no double escalation
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sla_sweep(now=now)  # a failed run is simply retried by the next beat
    assert AuditEntry.objects.filter(action="ticket.sla_breach").count() == 20
    assert sum(r.breached for r in results) <= 20
    assert TicketSla.objects.filter(first_response_breached_at__isnull=True).count() == 0


def test_a_backlog_is_taken_over_several_runs_when_the_time_budget_runs_out(setup):
    tenant, _policy, queue, _agent, _manager = setup
    for _ in range(6):
        make_ticket(tenant, created_at=MONDAY_10, queue=queue, priority="urgent")
    now = MONDAY_10 + timedelta(minutes=31)
    first = sla_sweep(now=now, batch_size=2, time_budget=0)
    assert first.stopped_early and first.breached == 2
    second = sla_sweep(now=now, batch_size=2, time_budget=None)
    assert second.breached == 4 and not second.stopped_early
