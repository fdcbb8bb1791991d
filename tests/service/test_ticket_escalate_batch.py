"""The batch form of an SLA escalation (ticket_services.tickets_escalate) and the batch-aware ticket hooks:
the same writes, audit entries, clocks and history as escalating one ticket at a time, in fewer queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kehu.core import audit
from kehu.core.errors import NotFound
from kehu.core.models import AuditEntry, Notification
from kehu.service import sla_services, ticket_hooks, ticket_selectors, ticket_services
from kehu.service.models import Ticket, TicketSla
from kehu.service.sla_sweep import sla_sweep
from tests.service.sla_factories import make_policy, make_queue, make_ticket

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


@pytest.fixture
def standard(tenant_a):
    return make_policy(tenant_a, name="标准", is_default=True)


def system(tenant):
    return ticket_services.SystemActor("Kehu SLA", tenant.org.pk)


def test_a_batch_is_the_same_as_one_ticket_at_a_time(tenant_a, standard):
    manager = tenant_a.users["service_manager"]
    lead = tenant_a.users["administrator"]
    batch = [make_ticket(tenant_a, created_at=MONDAY_10, priority="high") for _ in range(4)]
    single = [make_ticket(tenant_a, created_at=MONDAY_10, priority="high") for _ in range(4)]
    owners = [manager, manager, lead, None]
    ticket_services.tickets_escalate(
        actor=system(tenant_a),
        escalations=[
            ticket_services.Escalation(ticket, owner=owner, priority="urgent")
            for ticket, owner in zip(batch, owners, strict=True)
        ],
        detail="SLA breached",
    )
    for ticket, owner in zip(single, owners, strict=True):
        ticket_services.ticket_escalate(
            actor=system(tenant_a), ticket=ticket, owner=owner, priority="urgent", detail="SLA breached"
        )
    for one, other in zip(batch, single, strict=True):
        one.refresh_from_db()
        other.refresh_from_db()
        assert (one.owner_id, one.priority, one.version) == (other.owner_id, other.priority, other.version)
        assert one.assignment_reason == other.assignment_reason
        # The raised priority's targets: recomputed by the SLA hook's batch form as by the single one.
        assert (one.first_response_due_at, one.resolution_due_at) == (
            other.first_response_due_at,
            other.resolution_due_at,
        )
        assert one.resolution_due_at == MONDAY_10 + timedelta(hours=4)
        a, b = TicketSla.objects.get(ticket=one), TicketSla.objects.get(ticket=other)
        for name in (
            "policy_id",
            "first_response_minutes",
            "resolution_minutes",
            "resolution_warn_at",
            "next_check_at",
        ):
            assert getattr(a, name) == getattr(b, name), name
        actions = [e.action for e in ticket_selectors.ticket_history_for(actor=tenant_a.admin, ticket=one)]
        assert sorted(actions) == sorted(
            e.action for e in ticket_selectors.ticket_history_for(actor=tenant_a.admin, ticket=other)
        )
    for ticket, owner in zip(batch, owners, strict=True):
        entries = AuditEntry.objects.filter(target_id=str(ticket.pk), action="ticket.assign")
        if owner is None:
            assert not entries.exists()
        else:
            (entry,) = entries
            assert entry.changes["reason"] == "escalation" and entry.changes["detail"] == "SLA breached"
            assert entry.actor_label == "Kehu SLA"
        (update,) = AuditEntry.objects.filter(target_id=str(ticket.pk), action="ticket.update")
        assert update.changes["priority"] == {"before": "high", "after": "urgent"}
    assert audit.verify() == []


def test_each_new_assignee_is_told_once_per_batch(tenant_a, standard):
    manager = tenant_a.users["service_manager"]
    tickets = [make_ticket(tenant_a, created_at=MONDAY_10) for _ in range(3)]
    ticket_services.tickets_escalate(
        actor=system(tenant_a),
        escalations=[ticket_services.Escalation(ticket, owner=manager) for ticket in tickets],
    )
    (note,) = Notification.objects.filter(recipient=manager)
    assert "3" in note.title
    assert "assignee=me" in note.url


def test_deleted_tickets_are_skipped_in_a_batch_and_refused_alone(tenant_a, standard):
    manager = tenant_a.users["service_manager"]
    kept, gone = make_ticket(tenant_a), make_ticket(tenant_a)
    Ticket.objects.filter(pk=gone.pk).update(deleted_at=MONDAY_10)
    done = ticket_services.tickets_escalate(
        actor=system(tenant_a),
        escalations=[ticket_services.Escalation(t, owner=manager, priority="urgent") for t in (kept, gone)],
    )
    assert done == [kept]
    gone.refresh_from_db()
    assert gone.owner_id != manager.pk
    with pytest.raises(NotFound):
        ticket_services.ticket_escalate(actor=system(tenant_a), ticket=gone, owner=manager)


def test_a_batch_costs_about_what_one_ticket_does(tenant_a, standard, django_assert_max_num_queries):
    manager = tenant_a.users["service_manager"]
    tickets = [make_ticket(tenant_a, created_at=MONDAY_10, priority="normal") for _ in range(25)]
    with django_assert_max_num_queries(40):
        ticket_services.tickets_escalate(
            actor=system(tenant_a),
            escalations=[ticket_services.Escalation(t, owner=manager, priority="high") for t in tickets],
        )
    assert Ticket.objects.filter(owner=manager, priority="high").count() == 25


def test_hooks_without_a_batch_form_hear_of_each_ticket(tenant_a, standard):
    seen, batches = [], []

    def one(ticket, event, **info):
        seen.append((ticket.pk, event, info["reason"]))

    def many(event, items):
        batches.append((event, [t.pk for t, _info in items]))

    def batched(ticket, event, **info):  # never called: its batch form is
        raise AssertionError

    ticket_hooks.register(one)
    ticket_hooks.register(batched, batch=many)
    try:
        tickets = [make_ticket(tenant_a) for _ in range(3)]
        ticket_services.tickets_escalate(
            actor=system(tenant_a),
            escalations=[ticket_services.Escalation(t, owner=tenant_a.users["service_manager"]) for t in tickets],
        )
    finally:
        ticket_hooks.unregister(one)
        ticket_hooks.unregister(batched)
    assert seen == [(t.pk, "assigned", "escalation") for t in tickets]
    assert batches == [("assigned", [t.pk for t in tickets])]


def test_the_sweep_tells_the_new_assignee_once_for_a_batch(tenant_a, standard):
    manager = tenant_a.users["service_manager"]
    queue = make_queue(tenant_a, manager=manager)
    sla_services.sla_policy_update(
        actor=tenant_a.admin,
        policy=standard,
        expected_version=None,
        data={"reassign": "queue_manager", "raise_priority": True},
    )
    tickets = [make_ticket(tenant_a, created_at=MONDAY_10, queue=queue, priority="high") for _ in range(5)]
    result = sla_sweep(now=MONDAY_10 + timedelta(minutes=61))
    assert (result.breached, result.reassigned, result.raised) == (5, 5, 5)
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], owner=manager, priority="urgent").count() == 5
    notes = list(Notification.objects.filter(recipient=manager))
    # One breach notice per ticket (as queue manager) and one assignment notice for the five.
    assert len(notes) == 6
    assert sum("#" not in note.title for note in notes) == 1
    assert audit.verify() == []
