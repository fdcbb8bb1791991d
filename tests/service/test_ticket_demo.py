"""The demo's tickets: two queues worked by the demo's service people, ten tickets with conversations,
three canned replies; building again changes nothing."""

from __future__ import annotations

import pytest

from kehu.core import demo
from kehu.service.ticket_models import CannedReply, Queue, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def test_demo_tickets_are_built_once():
    ctx = demo.build()
    org = ctx.organization
    assert set(Queue.objects.filter(organization=org).values_list("name", flat=True)) == {"售后服务", "技术支持"}
    assert Ticket.objects.filter(organization=org).count() == 10
    assert CannedReply.objects.filter(organization=org).count() == 3
    assert TicketMessage.objects.filter(organization=org).count() > 10
    agent = ctx.users["service_agent"]
    assert Ticket.objects.visible_to(agent).exists()
    assert Ticket.objects.filter(organization=org, customer__isnull=False).count() == 10
    again = demo.build()
    assert not [c for c in again.changes if "ticket" in c or "queue" in c or "canned" in c]
    assert Ticket.objects.filter(organization=org).count() == 10
