"""`kehu import_resume JOB_ID`: continue an import that failed or whose worker died, in the foreground,
from its last committed checkpoint, printing progress."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core import imports
from kehu.core.errors import DomainError
from kehu.core.import_models import ImportJob


class Command(BaseCommand):
    help = "Resume an import job from its checkpoint (acts as the user who uploaded the file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", type=int)

    def handle(self, *args: Any, job_id: int, **options: Any) -> None:
        # An operator's tool: the job is found across organisations, and acted on as its uploader.
        job = ImportJob.objects.dangerously_all_organizations().select_related("owner").filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"No import job {job_id}.")
        if job.owner is None:
            raise CommandError("The user who uploaded this file no longer exists.")
        try:
            job = imports.import_job_resume(actor=job.owner, job=job, background=False)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Resuming import {job.pk} ({job.original_name}) from row {job.processed_rows}…")
        done = threading.Event()

        def report() -> None:
            while not done.wait(2):
                current = ImportJob.objects.filter(pk=job.pk).values_list("processed_rows", "total_rows").first()
                if current:
                    self.stdout.write(f"  {current[0]}/{current[1] or '?'}")

        reporter = threading.Thread(target=report, daemon=True)
        reporter.start()
        try:
            imports.process_import(job.pk, "run")
        finally:
            done.set()
        job.refresh_from_db()
        self.stdout.write(
            f"{job.get_status_display()}: {job.processed_rows}/{job.total_rows} rows; "
            f"{job.created_count} created, {job.updated_count} updated, {job.skipped_count} skipped, "
            f"{job.error_count} bad."
        )
