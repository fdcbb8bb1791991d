"""`kehu pool_recycle`: the scheduled customers housekeeping, for the embedded mode without Celery beat
(run it from cron). Returns neglected customers to the public pool, then purges the recycle bin past
each organisation's retention."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kehu.customers import pool


class Command(BaseCommand):
    help = "Return customers without follow-up to the public pool and purge the recycle bin past its retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-purge", action="store_true", help="Only return customers to the pool.")

    def handle(self, *args: Any, **options: Any) -> None:
        returned = pool.pool_recycle()
        self.stdout.write(f"returned to the pool: {returned}")
        if not options["no_purge"]:
            purged = pool.recycle_bin_purge_expired()
            self.stdout.write(f"purged from the recycle bin: {purged}")
