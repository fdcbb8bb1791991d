"""Automatic assignment per queue: round robin (a cursor), fewest open tickets, by skill; away agents are
passed over; every assignment says why."""

from __future__ import annotations

import pytest

from kehu.accounts import services as account_services
from kehu.core.models import Notification
from kehu.service import ticket_config_services, ticket_services
from kehu.service.ticket_models import Queue, Ticket
from tests.conftest import PASSWORD
from tests.service.ticket_factories import make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def agents(tenant_a):
    people = [tenant_a.users["service_agent"]]
    for n in (2, 3):
        people.append(
            account_services.user_create(
                actor=tenant_a.admin,
                organization=tenant_a.org,
                email=f"agent{n}@a.test",
                password=PASSWORD,
                role=tenant_a.role("service_agent"),
                name=f"客服{n}",
            )
        )
    return people


def _new(tenant, queue, kind="inquiry"):
    return ticket_services.ticket_create(actor=tenant.admin, subject="问题", queue=queue, kind=kind)


def test_round_robin_takes_turns(tenant_a, agents):
    queue = make_queue(tenant_a, members=agents, assignment=Queue.Assignment.ROUND_ROBIN)
    owners = [_new(tenant_a, queue).owner for _ in range(4)]
    assert owners == [agents[0], agents[1], agents[2], agents[0]]
    assert Ticket.objects.filter(queue=queue, assignment_reason="round_robin").count() == 4
    assert Notification.objects.filter(recipient=agents[0]).count() == 2


def test_fewest_open_tickets(tenant_a, agents):
    queue = make_queue(tenant_a, members=agents, assignment=Queue.Assignment.LEAST_OPEN)
    first = _new(tenant_a, queue)
    assert first.owner == agents[0]
    second, third = _new(tenant_a, queue), _new(tenant_a, queue)
    assert {second.owner, third.owner} == {agents[1], agents[2]}
    ticket_services.ticket_close(actor=tenant_a.admin, ticket=second)  # a closed ticket does not count
    assert _new(tenant_a, queue).owner == second.owner
    assert first.assignment_reason == "least_open"


def test_by_skill_with_fallback(tenant_a, agents):
    queue = make_queue(
        tenant_a,
        members=agents,
        assignment=Queue.Assignment.SKILL,
        skills={"complaint": [agents[2].pk]},
    )
    complaint = _new(tenant_a, queue, kind="complaint")
    assert (complaint.owner, complaint.assignment_reason) == (agents[2], "skill")
    inquiry = _new(tenant_a, queue, kind="inquiry")
    assert inquiry.assignment_reason == "skill_fallback" and inquiry.owner == agents[0]


def test_away_members_are_skipped_and_manual_queues_wait(tenant_a, agents):
    queue = make_queue(tenant_a, members=agents[:2], assignment=Queue.Assignment.ROUND_ROBIN)
    ticket_config_services.agent_set_away(actor=agents[0], away=True)
    assert [_new(tenant_a, queue).owner for _ in range(2)] == [agents[1], agents[1]]
    manual = make_queue(tenant_a, members=agents, assignment=Queue.Assignment.MANUAL)
    assert _new(tenant_a, manual).owner is None


def test_skills_must_name_colleagues_in_service(tenant_a, agents):
    with pytest.raises(Exception) as exc:
        make_queue(tenant_a, members=agents, skills={"complaint": [tenant_a.users["sales_rep"].pk]})
    assert "skills" in exc.value.fields
    with pytest.raises(Exception) as exc:
        make_queue(tenant_a, members=agents, skills={"nonsense": [agents[0].pk]})
    assert "skills" in exc.value.fields
