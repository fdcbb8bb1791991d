"""Scheduled and deferred ticket jobs (CELERY_BEAT_SCHEDULE in settings/base.py). Thin and idempotent: a
reply already sent is not sent again; a mailbox message already taken is not taken again.

Imported by ServiceConfig.ready(): celery.py autodiscovers only modules named tasks.py.
"""

from __future__ import annotations

from celery import shared_task

from kehu.service import mail_imap, mail_out


@shared_task(name="service.ticket_send_reply", bind=True, max_retries=5)
def send_reply(self, message_pk: int) -> bool:
    """E-mail one public reply to the requester; retried with back-off (1, 2, 4, ... minutes) while it
    fails, by a worker (in-process runs record the failure on the message and stop there)."""
    sent = mail_out.send_reply(message_pk)
    if not sent and not self.request.is_eager and self.request.retries < self.max_retries:
        raise self.retry(countdown=60 * 2**self.request.retries)
    return sent


@shared_task(name="service.ticket_acknowledge")
def acknowledge(ticket_pk: int) -> None:
    mail_out.send_acknowledgement(ticket_pk)


@shared_task(name="service.mailboxes_poll")
def mailboxes_poll() -> int:
    """Read every queue's IMAP mailbox; returns how many messages were taken."""
    return sum(result.taken for result in mail_imap.poll_all())


@shared_task(name="service.mailbox_poll")
def mailbox_poll(queue_pk: int) -> int:
    from kehu.service.ticket_models import Queue

    queue = Queue.objects.dangerously_all_organizations().filter(pk=queue_pk).first()
    return mail_imap.poll_queue(queue).taken if queue is not None else 0


@shared_task(name="service.tickets_auto_close")
def tickets_auto_close() -> int:
    """Close resolved tickets the customer did not answer for the organisation's number of days."""
    from kehu.service.ticket_services import tickets_auto_close as close

    return close()
