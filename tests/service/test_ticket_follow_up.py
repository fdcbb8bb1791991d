"""A customer's e-mail reply to a CLOSED ticket opens a follow-up ticket (a resolved one reopens, as before),
through the real SMTP intake (aiosmtpd on 127.0.0.1): same queue, customer and contact, linked both ways on
the ticket pages, in the history and in the API."""

from __future__ import annotations

import smtplib
import socket

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from kehu.core.models import AuditEntry
from kehu.service import mail_intake, ticket_services
from kehu.service.mail_smtpd import IntakeHandler
from kehu.service.ticket_models import Ticket
from tests.customers.factories import make_contact, make_customer
from tests.service.ticket_factories import make_queue

build = mail_intake.build_message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        assert client.sendmail("li@example.com", ["help@a.test"], raw) == {}


@pytest.mark.django_db(transaction=True)
def test_replies_to_resolved_and_closed_tickets_over_smtp(tenant_a, client, api):
    customer = make_customer(tenant_a, name="宁波海曙服饰有限公司")
    contact = make_contact(tenant_a, customer, name="李静", email="li@example.com")
    queue = make_queue(tenant_a, email="help@a.test")
    make_queue(tenant_a, email="other@a.test", is_default=True)
    handler = IntakeHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        port = controller.port
        _send(
            port,
            build(From="李静 <li@example.com>", To="help@a.test", Subject="打印机", Message_ID="<f1@x>", body="坏了"),
        )
        first = Ticket.objects.get(organization=tenant_a.org)
        assert (first.queue_id, first.customer_id, first.contact_id) == (queue.pk, customer.pk, contact.pk)

        # Resolved: the reply reopens the same ticket.
        ticket_services.ticket_resolve(actor=tenant_a.admin, ticket=first)
        _send(
            port,
            build(From="li@example.com", To="help@a.test", Subject="Re: 打印机", In_Reply_To="<f1@x>", body="还是坏"),
        )
        assert Ticket.objects.filter(organization=tenant_a.org).count() == 1
        assert Ticket.objects.get(pk=first.pk).status == "open"

        # Closed: the reply opens a follow-up in the same queue, for the same customer and contact.
        ticket_services.ticket_close(actor=tenant_a.admin, ticket=Ticket.objects.get(pk=first.pk))
        _send(
            port,
            build(From="li@example.com", To="help@a.test", Subject=f"Re: {first.key} 打印机", body="又坏了"),
        )
    finally:
        controller.stop()
        handler.close()
    follow_up = Ticket.objects.get(organization=tenant_a.org, follow_up_of=first)
    assert Ticket.objects.get(pk=first.pk).status == "closed"
    assert (follow_up.queue_id, follow_up.customer_id, follow_up.contact_id) == (queue.pk, customer.pk, contact.pk)
    assert AuditEntry.objects.filter(action="ticket.follow_up", target_id=str(first.pk)).exists()

    client.force_login(tenant_a.admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    old_page = client.get(reverse("service:ticket_detail", args=[first.pk])).content.decode()
    assert 'data-testid="follow-ups"' in old_page and f"#{follow_up.number}" in old_page
    new_page = client.get(reverse("service:ticket_detail", args=[follow_up.pk])).content.decode()
    assert 'data-testid="follow-up-of"' in new_page and f"#{first.number}" in new_page

    rest = api(tenant_a.admin)
    assert rest.get(f"/api/v1/tickets/{follow_up.pk}/").json()["follow_up_of"] == first.pk
    assert rest.get(f"/api/v1/tickets/{first.pk}/").json()["follow_ups"] == [
        {"id": follow_up.pk, "number": follow_up.number, "key": follow_up.key}
    ]
