"""`kehu mail_smtpd --host 127.0.0.1 --port 2525`: receive support mail over SMTP into tickets."""

from __future__ import annotations

import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from django.core.management.base import BaseCommand

from kehu.service.mail_smtpd import MAX_BYTES, IntakeHandler


class Command(BaseCommand):
    help = "Receive support e-mail over SMTP: each message to a queue's address becomes a ticket or a reply."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=2525, help="Port to listen on (default 2525).")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="Worker processes taking messages in parallel (default 1: one, in the daemon; PostgreSQL only "
            "gains from more, about one per core).",
        )

    def handle(self, *args: Any, host: str, port: int, processes: int, **options: Any) -> None:
        handler = IntakeHandler(processes=max(processes, 1))
        controller = Controller(handler, hostname=host, port=port, data_size_limit=MAX_BYTES)
        controller.start()
        workers = f", {processes} worker processes" if processes > 1 else ""
        self.stdout.write(f"Receiving mail on {host}:{port}{workers} (Ctrl+C stops).")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_args: stop.set())
        try:
            stop.wait()
        finally:
            controller.stop()
            handler.close()
            self.stdout.write("Stopped.")
