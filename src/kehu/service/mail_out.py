"""E-mail out: public replies to the requester, and the acknowledgement of a web-form ticket.

Every mail we send carries a Message-ID of ours (`<ticket123.…@KEHU_MAIL_DOMAIN>`), the ticket key in the
subject ("[#123] 发票开错了") and an X-Kehu-Ticket header, so that the customer's answer threads back onto the
ticket (mail_intake) and a mail of ours that comes back in is recognised as a loop. Sending happens in a
Celery task after the commit; the message records when it went out, or why not.
"""

from __future__ import annotations

import logging
from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.service.ticket_models import Ticket, TicketMessage

log = logging.getLogger("kehu.service.mail")
MAX_REFERENCES = 20


def mail_domain() -> str:
    """The domain of our Message-IDs: KEHU_MAIL_DOMAIN, else the domain of DEFAULT_FROM_EMAIL."""
    configured = getattr(settings, "KEHU_MAIL_DOMAIN", "")
    if configured:
        return configured.lower()
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return (address.rpartition("@")[2] or "kehu.local").lower()


def new_message_id(ticket: Ticket) -> str:
    return make_msgid(idstring=f"ticket{ticket.number}", domain=mail_domain())


def references_after(previous: TicketMessage | None) -> str:
    """The References header of a mail answering `previous`: its references and its own id (the newest
    MAX_REFERENCES, as mail clients trim them)."""
    if previous is None or not previous.message_id:
        return ""
    ids = [*previous.references.split(), previous.message_id]
    return " ".join(ids[-MAX_REFERENCES:])


def subject_for(ticket: Ticket) -> str:
    return f"{ticket.key} {ticket.subject}"


def sender_for(ticket: Ticket) -> tuple[str, str]:
    """(From, Reply-To): the queue's address when it has one (answers then come back to its mailbox)."""
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    queue = ticket.queue
    address = (queue.email if queue is not None and queue.email else "") or default_address
    name = ticket.organization.name if ticket.organization_id else default_name
    return formataddr((name, address)), address


def queue_reply(message_pk: int) -> None:
    """After the commit: send through the Celery task (in-process where no broker is configured)."""
    from kehu.service.ticket_tasks import send_reply

    send_reply.delay(message_pk)


def send_reply(message_pk: int) -> bool:
    """Send a public reply once; True when it went out (now or before). A failure is recorded on the
    message (`send_error`, shown on the ticket page) and answered False, never raised."""
    message = (
        TicketMessage.objects.select_related(
            "ticket__queue", "ticket__organization", "ticket__contact", "ticket__customer"
        )
        .filter(pk=message_pk, kind=TicketMessage.Kind.REPLY)
        .first()
    )
    if message is None:
        return False
    if message.sent_at is not None:
        return True
    from kehu.service.ticket_services import reply_recipient

    ticket = message.ticket
    recipient = reply_recipient(ticket)
    if not recipient:
        TicketMessage.objects.filter(pk=message.pk).update(send_error=_("The ticket has no requester email."))
        return False
    sender, reply_to = sender_for(ticket)
    headers = {"Message-ID": message.message_id, "X-Kehu-Ticket": f"{ticket.organization_id}:{ticket.number}"}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    mail = EmailMessage(
        subject=subject_for(ticket),
        body=message.body,
        from_email=sender,
        to=[formataddr((ticket.requester_name, recipient)) if ticket.requester_name else recipient],
        reply_to=[reply_to],
        headers=headers,
    )
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            mail.attach(attachment.original_name, handle.read(), attachment.content_type)
    try:
        mail.send(fail_silently=False)
    except Exception as exc:  # SMTP refused or unreachable: recorded on the message, retried by the task
        TicketMessage.objects.filter(pk=message.pk).update(send_error=str(exc)[:500] or type(exc).__name__)
        log.warning("reply %s of ticket %s not sent: %s", message.pk, ticket.pk, exc)
        return False
    TicketMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now(), send_error="")
    return True


def send_acknowledgement(ticket_pk: int) -> None:
    """Tell a web-form requester that the ticket exists, with its key (answering this mail threads onto
    it). Marked Auto-Submitted so that well-behaved auto-responders do not answer it."""
    ticket = Ticket.objects.select_related("queue", "organization").filter(pk=ticket_pk).first()
    if ticket is None or not ticket.requester_email:
        return
    sender, reply_to = sender_for(ticket)
    with translation.override(ticket.organization.language):
        body = _(
            "Hello %(name)s,\n\nwe have received your request and will answer soon. Your ticket number is "
            "#%(number)s; reply to this email to add anything.\n\n%(subject)s\n\n%(organization)s"
        ) % {
            "name": ticket.requester_name or ticket.requester_email,
            "number": ticket.number,
            "subject": ticket.subject,
            "organization": ticket.organization.name,
        }
    mail = EmailMessage(
        subject=subject_for(ticket),
        body=body,
        from_email=sender,
        to=[ticket.requester_email],
        reply_to=[reply_to],
        headers={
            "Message-ID": new_message_id(ticket),
            "Auto-Submitted": "auto-replied",
            "X-Kehu-Ticket": f"{ticket.organization_id}:{ticket.number}",
        },
    )
    try:
        mail.send(fail_silently=False)
    except Exception as exc:
        log.warning("acknowledgement of ticket %s not sent: %s", ticket.pk, exc)
