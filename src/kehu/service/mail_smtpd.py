"""Receiving mail over SMTP: an aiosmtpd handler that hands each message to the intake
(`kehu mail_smtpd --host 127.0.0.1 --port 2525` runs it; put it behind the organisation's MX or a relay).

RCPT TO is accepted only for an address of an active queue (550 otherwise), so the daemon is no open
relay; DATA is answered 250 once the intake has the message (also for a message it drops on purpose:
bounces and auto-replies must not bounce back), and 451 (try again later) when the database failed.

The database work runs in the handler's own worker threads, which keep their connection from one message
to the next (as a web server's threads do, within CONN_MAX_AGE): opening a connection for the RCPT check and
another for the message cost more than the intake's queries of a reply. `close()` ends the threads and
their connections; call it after the controller stops.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from django.db import close_old_connections, connections

from kehu.service import mail_intake
from kehu.service.ticket_models import Queue

log = logging.getLogger("kehu.service.mail")
MAX_BYTES = 25 * 1024 * 1024


def _known_address(address: str) -> bool:
    return (
        Queue.objects.dangerously_all_organizations()
        .filter(email__iexact=address.strip(), is_active=True, organization__is_active=True)
        .exists()
    )


def deliver(raw: bytes, recipients: list[str], mail_from: str | None) -> mail_intake.IntakeResult:
    return mail_intake.receive(raw, recipients=recipients, envelope_from=mail_from)


class Workers:
    """`count` threads that run database work for the SMTP handler and keep their connections between
    jobs; around each job Django's per-request rule applies (close_old_connections: a broken connection
    or one older than CONN_MAX_AGE is dropped). `close()` stops them, each closing its own connections."""

    def __init__(self, count: int = 1) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"kehu-smtpd-{n}", daemon=True) for n in range(max(count, 1))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def close(self, timeout: float = 30) -> None:
        for _thread in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, fn, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                close_old_connections()
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to the awaiting coroutine
                    future.set_exception(exc)
                finally:
                    close_old_connections()
        finally:
            connections.close_all()


class IntakeHandler:
    """The aiosmtpd handler (its hooks are coroutines; the database work runs in its worker threads)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = Workers(workers)

    def close(self) -> None:
        self.workers.close()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self.workers.submit(fn, *args))

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if not await self._run(_known_address, address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        try:
            result = await self._run(deliver, raw, list(envelope.rcpt_tos), mail_from)
        except Exception:  # the database or storage failed: the sender keeps the message and retries
            log.exception("mail_smtpd: intake failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if result.outcome == "rejected":
            return "550 5.1.1 No such mailbox here"
        return "250 Message accepted"
