"""Receiving mail over SMTP: an aiosmtpd handler that hands each message to the intake
(`kehu mail_smtpd --host 127.0.0.1 --port 2525` runs it; put it behind the organisation's MX or a relay).

RCPT TO is accepted only for an address of an active queue (550 otherwise), so the daemon is no open
relay; DATA is answered 250 once the intake has the message (also for a message it drops on purpose:
bounces and auto-replies must not bounce back), and 451 (try again later) when the database failed.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from kehu.service import mail_intake
from kehu.service.ticket_models import Queue

log = logging.getLogger("kehu.service.mail")
MAX_BYTES = 25 * 1024 * 1024


def _known_address(address: str) -> bool:
    close_old_connections()
    try:
        return (
            Queue.objects.dangerously_all_organizations()
            .filter(email__iexact=address.strip(), is_active=True, organization__is_active=True)
            .exists()
        )
    finally:
        # The worker threads are a shared pool: no connection stays behind in one of them.
        connections.close_all()


def deliver(raw: bytes, recipients: list[str], mail_from: str | None) -> mail_intake.IntakeResult:
    close_old_connections()
    try:
        return mail_intake.receive(raw, recipients=recipients, envelope_from=mail_from)
    finally:
        connections.close_all()


class IntakeHandler:
    """The aiosmtpd handler (its hooks are coroutines; the database work runs in a worker thread)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if not await sync_to_async(_known_address, thread_sensitive=False)(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        try:
            result = await sync_to_async(deliver, thread_sensitive=False)(raw, list(envelope.rcpt_tos), mail_from)
        except Exception:  # the database or storage failed: the sender keeps the message and retries
            log.exception("mail_smtpd: intake failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if result.outcome == "rejected":
            return "550 5.1.1 No such mailbox here"
        return "250 Message accepted"
