"""Reading a queue's IMAP mailbox (the scheduled job service.mailboxes_poll, and "read now" on the queue
page): every message not taken yet goes to the intake (mail_intake.receive), then is marked \\Seen.

Nothing is taken twice: the queue remembers the mailbox's UIDVALIDITY and the last UID taken (advanced after
each message, so a failure halfway resumes at the message that failed), and the intake is idempotent by
Message-ID besides, for a mailbox whose UIDVALIDITY changed. One reader per queue at a time (a lock in the
shared cache).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
from dataclasses import dataclass, field

from django.core.cache import cache
from django.utils import timezone

from kehu.core import modules
from kehu.service import mail_intake, mail_secrets
from kehu.service.ticket_models import Queue

log = logging.getLogger("kehu.service.mail")
BATCH = 200
TIMEOUT = 30
LOCK_SECONDS = 600
UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")


@dataclass
class PollResult:
    queue_id: int
    taken: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str = ""


def _connect(queue: Queue) -> imaplib.IMAP4:
    if queue.imap_ssl:
        return imaplib.IMAP4_SSL(queue.imap_host, queue.imap_port, timeout=TIMEOUT)
    return imaplib.IMAP4(queue.imap_host, queue.imap_port, timeout=TIMEOUT)


def _uidvalidity(client: imaplib.IMAP4) -> int | None:
    typ, data = client.status(_quote(client.selected_folder), "(UIDVALIDITY)")
    if typ == "OK" and data and data[0]:
        match = UIDVALIDITY_RE.search(data[0])
        if match:
            return int(match.group(1))
    return None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def poll_queue(queue: Queue) -> PollResult:
    """Take the new messages of one queue's mailbox. Errors are recorded on the queue (shown on its page)
    and returned; nothing raises for a mailbox that is down."""
    result = PollResult(queue.pk)
    lock = f"kehu:imap:{queue.pk}"
    if not cache.add(lock, 1, timeout=LOCK_SECONDS):
        result.error = "busy"
        return result
    try:
        _poll(queue, result)
    except (TimeoutError, OSError, imaplib.IMAP4.error, mail_secrets.SecretUnreadable) as exc:
        result.error = str(exc) or type(exc).__name__
        if isinstance(exc, mail_secrets.SecretUnreadable):
            result.error = "the stored password cannot be decrypted; enter it again"
        log.warning("mailbox of queue %s: %s", queue.pk, result.error)
    finally:
        cache.delete(lock)
        Queue.objects.filter(pk=queue.pk).update(imap_checked_at=timezone.now(), imap_error=result.error[:500])
    return result


def _poll(queue: Queue, result: PollResult) -> None:
    password = mail_secrets.decrypt(queue.imap_password_encrypted)
    client = _connect(queue)
    try:
        client.login(queue.imap_user, password)
        folder = queue.imap_folder or "INBOX"
        typ, _data = client.select(_quote(folder))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot open the folder {folder}")
        client.selected_folder = folder
        validity = _uidvalidity(client)
        last = queue.imap_last_uid
        if validity is not None and validity != queue.imap_uidvalidity:
            last = 0  # a new UID space: start over (the intake drops what it already has, by Message-ID)
            Queue.objects.filter(pk=queue.pk).update(imap_uidvalidity=validity, imap_last_uid=0)
        typ, data = client.uid("SEARCH", None, f"UID {last + 1}:*")
        if typ != "OK":
            raise imaplib.IMAP4.error("search failed")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)[:BATCH]
        for uid in uids:
            typ, fetched = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched or [] if isinstance(part, tuple)), None)
            if typ != "OK" or raw is None:
                log.warning("mailbox of queue %s: UID %s could not be read; skipped", queue.pk, uid)
            else:
                outcome = mail_intake.receive(raw, queue=queue)
                result.outcomes[outcome.outcome] = result.outcomes.get(outcome.outcome, 0) + 1
                result.taken += 1
                client.uid("STORE", str(uid), "+FLAGS", r"(\Seen)")
            Queue.objects.filter(pk=queue.pk).update(imap_last_uid=uid)
            queue.imap_last_uid = uid
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def due_queues() -> list[Queue]:
    """Active queues with a mailbox to read, of active organisations with service enabled."""
    queues = (
        Queue.objects.dangerously_all_organizations()
        .filter(imap_enabled=True, is_active=True, organization__is_active=True)
        .exclude(imap_host="")
        .select_related("organization")
        .order_by("pk")
    )
    return [q for q in queues if modules.is_enabled(q.organization, "service")]


def poll_all() -> list[PollResult]:
    return [poll_queue(queue) for queue in due_queues()]
