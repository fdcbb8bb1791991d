"""A queue's mailbox read over IMAP from a real Dovecot on 127.0.0.1: new mail becomes tickets, is marked
seen, and nothing is taken twice; errors are recorded on the queue; the password is stored encrypted."""

from __future__ import annotations

import pytest

from kehu.service import mail_intake, mail_secrets, ticket_tasks
from kehu.service.mail_imap import poll_queue
from kehu.service.ticket_models import Queue, Ticket
from tests.service.ticket_factories import make_queue

pytestmark = pytest.mark.django_db
build = mail_intake.build_message


@pytest.fixture
def mailbox_queue(tenant_a, imap_server):
    return make_queue(
        tenant_a,
        email="support@kehu.test",
        imap_enabled=True,
        imap_host=imap_server.host,
        imap_port=imap_server.port,
        imap_ssl=False,
        imap_user=imap_server.user,
        imap_password=imap_server.password,
    )


def test_the_scheduled_job_turns_new_mail_into_tickets_once(tenant_a, imap_server, mailbox_queue):
    assert mailbox_queue.imap_password_encrypted != imap_server.password
    assert mail_secrets.decrypt(mailbox_queue.imap_password_encrypted) == imap_server.password
    imap_server.append(
        build(From="王先生 <wang@example.com>", To="support@kehu.test", Subject="发票问题", body="开错了")
    )
    imap_server.append(build(From="li@example.com", To="support@kehu.test", Subject="登录问题", body="登不上"))

    assert ticket_tasks.mailboxes_poll() == 2
    assert set(Ticket.objects.filter(organization=tenant_a.org).values_list("subject", flat=True)) == {
        "发票问题",
        "登录问题",
    }
    assert imap_server.unseen() == []
    queue = Queue.objects.get(pk=mailbox_queue.pk)
    assert queue.imap_last_uid == 2 and queue.imap_uidvalidity and queue.imap_error == ""

    assert ticket_tasks.mailboxes_poll() == 0  # nothing new
    imap_server.append(build(From="zhao@example.com", To="support@kehu.test", Subject="新问题", body="你好"))
    assert poll_queue(Queue.objects.get(pk=mailbox_queue.pk)).taken == 1
    assert Ticket.objects.filter(organization=tenant_a.org).count() == 3


def test_a_new_uidvalidity_does_not_duplicate_tickets(tenant_a, imap_server, mailbox_queue):
    imap_server.append(
        build(From="a@example.com", To="support@kehu.test", Subject="一", Message_ID="<u1@example.com>", body="x")
    )
    poll_queue(mailbox_queue)
    Queue.objects.filter(pk=mailbox_queue.pk).update(imap_uidvalidity=1, imap_last_uid=0)  # as after a mailbox rebuild
    result = poll_queue(Queue.objects.get(pk=mailbox_queue.pk))
    assert result.outcomes == {"duplicate": 1}
    assert Ticket.objects.filter(organization=tenant_a.org).count() == 1


def test_a_wrong_password_is_recorded_on_the_queue(tenant_a, imap_server, mailbox_queue):
    Queue.objects.filter(pk=mailbox_queue.pk).update(imap_password_encrypted=mail_secrets.encrypt("wrong"))
    result = poll_queue(Queue.objects.get(pk=mailbox_queue.pk))
    assert result.error and result.taken == 0
    assert Queue.objects.get(pk=mailbox_queue.pk).imap_error
