"""Receiving mail over SMTP: an aiosmtpd handler that hands each message to the intake
(`kehu mail_smtpd --host 127.0.0.1 --port 2525` runs it; put it behind the organisation's MX or a relay).

RCPT TO is accepted only for an address of an active queue (550 otherwise), so the daemon is no open
relay; DATA is answered 250 once the intake has the message (also for a message it drops on purpose:
bounces and auto-replies must not bounce back), and 451 (try again later) when the database failed.

The database work runs in the handler's own worker threads, which keep their connection from one message
to the next (as a web server's threads do, within CONN_MAX_AGE): opening a connection for the RCPT check and
another for the message cost more than the intake's queries of a reply. `close()` ends the threads and
their connections; call it after the controller stops.

With `processes=N` (N > 1, `kehu mail_smtpd --processes N`) the work goes to N worker processes instead, each
with its own interpreter and connection, taking the next message whichever is free: the intake is mostly
Python, so one process uses one core, and the messages of several SMTP connections (a relay opens several)
are taken in parallel. What keeps that correct is in the database, not in the daemon: the ticket counter and
the queue's row are locked to the commit (numbers, least-open assignment), a conversation is locked while a
message of it is taken (mail_intake._seen), and a Message-ID is unique per organisation. For PostgreSQL: SQLite
serialises writers anyway.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.db import close_old_connections, connections

from kehu.service import mail_intake, mail_processes

log = logging.getLogger("kehu.service.mail")
MAX_BYTES = 25 * 1024 * 1024


def _known_address(address: str) -> bool:
    """An active queue of an active organisation has this address (from the intake's cached routes)."""
    queue = mail_intake.queue_for_addresses([address])
    return queue is not None and queue.is_active and queue.organization.is_active


def deliver(raw: bytes, recipients: list[str], mail_from: str | None) -> mail_intake.IntakeResult:
    return mail_intake.receive(raw, recipients=recipients, envelope_from=mail_from)


def deliver_outcome(raw: bytes, recipients: list[str], mail_from: str | None) -> str:
    """deliver() for a worker process: only the outcome goes back (the handler needs no more)."""
    return deliver(raw, recipients, mail_from).outcome


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


def _ready() -> int:
    """A job that answers once its worker process is up (ProcessWorkers.start)."""
    import os
    import time

    time.sleep(0.05)  # long enough that the next job goes to another process
    return os.getpid()


def _in_process(fn: Callable[..., Any], *args: Any) -> Any:
    """One job in a worker process, under the per-request connection rule (see Workers)."""
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


class ProcessWorkers:
    """`count` worker processes (started fresh, not forked from the daemon's threads) that run the database
    work, each keeping its connection between jobs; a job goes to whichever is free. A process that dies
    (killed, out of memory) fails its job, which the sender retries (451), and the pool is started again.
    Started processes import the caller's main module again: a script that makes them needs the usual
    `if __name__ == "__main__":` guard (`kehu` and pytest have it)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._databases = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
        self._lock = threading.Lock()
        self._pool = self._start()
        # Start every process now (Django's set-up takes a second or two each), not at the first messages.
        for future in [self._pool.submit(_ready) for _n in range(count)]:
            future.result()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=mail_processes.init,
            initargs=(self._databases,),
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            try:
                return self._pool.submit(_in_process, fn, *args)
            except BrokenProcessPool:
                log.error("mail_smtpd: a worker process died; starting them again")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
                return self._pool.submit(_in_process, fn, *args)

    def pids(self) -> list[int]:
        """The worker processes' ids (for a benchmark's CPU count)."""
        return [p.pid for p in multiprocessing.active_children() if p.pid is not None]

    def close(self, timeout: float = 30) -> None:
        self._pool.shutdown(wait=True)


class IntakeHandler:
    """The aiosmtpd handler (its hooks are coroutines; the database work runs in its worker threads, or in
    worker processes with `processes` > 1)."""

    def __init__(self, workers: int = 1, *, processes: int = 1) -> None:
        self.processes = processes
        self.workers: Workers | ProcessWorkers = ProcessWorkers(processes) if processes > 1 else Workers(workers)
        # The recipient check mostly reads the cached routes: with worker processes, in a thread of the daemon
        # (its own connection, for an address the cache does not know) rather than a hand-over to a process.
        self.checks: Workers | ProcessWorkers = Workers(1) if processes > 1 else self.workers

    def close(self) -> None:
        self.workers.close()
        if self.checks is not self.workers:
            self.checks.close()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self.workers.submit(fn, *args))

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        try:
            known = await asyncio.wrap_future(self.checks.submit(_known_address, address))
        except Exception:  # the database failed, or a worker process died: the sender tries again later
            log.exception("mail_smtpd: recipient check failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if not known:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        try:
            outcome = await self._run(deliver_outcome, raw, list(envelope.rcpt_tos), mail_from)
        except Exception:  # the database or storage failed: the sender keeps the message and retries
            log.exception("mail_smtpd: intake failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if outcome == "rejected":
            return "550 5.1.1 No such mailbox here"
        return "250 Message accepted"
