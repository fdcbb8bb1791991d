"""Import jobs: one uploaded file, its column mapping, duplicate policy, progress and checkpoint, for any
record type that registers an import adapter (kehu/core/imports.py). Customers are the first.

The checkpoint (`processed_rows`) is written in the same transaction as the chunk of records it
covers, so a job killed midway resumes exactly where the last committed chunk ended.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet

__all__ = ["ImportJob", "ImportJobQuerySet", "ImportRow"]


class ImportJobQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> ImportJobQuerySet:
        """A job is its uploader's; an organisation administrator sees every job of the organisation."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        if "administer" in actor.grant_for(self.model.module).actions:
            return qs
        return qs.filter(owner_id=actor.pk)


class ImportJob(BusinessModel):
    module = "platform"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        MAPPED = "mapped", _("Columns mapped")
        VALIDATING = "validating", _("Checking")
        READY = "ready", _("Checked, ready to import")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Policy(models.TextChoices):
        SKIP = "skip", _("Skip rows that match an existing record")
        UPDATE = "update", _("Update the matching record")
        CREATE = "create", _("Create a new record anyway")

    record_type = models.CharField(_("record type"), max_length=40)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.UPLOADED)
    file = models.CharField(max_length=255, help_text="The uploaded file's name in the default storage.")
    original_name = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(max_length=8)  # csv | xlsx
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)  # column index (str) -> field
    preset = models.CharField(_("preset"), max_length=20, blank=True)
    policy = models.CharField(_("duplicates"), max_length=8, choices=Policy.choices, default=Policy.SKIP)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)  # the checkpoint: data rows fully handled
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    dry_run = models.JSONField(default=dict, blank=True)  # counts and the bad rows of the last check
    error_file = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)  # why a job failed
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "owner", "-created_at"], name="importjob_org_owner"),
            models.Index(fields=["organization", "-created_at"], name="importjob_org_time"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def progress(self) -> int:
        """Percent of the data rows handled (0 while the size is unknown)."""
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.VALIDATING, self.Status.RUNNING)


class ImportRow(models.Model):
    """The outcome of one data row of a job: what it created or updated, or why it was refused.

    `fingerprint` is a hash of the row's mapped values: a row already imported (by this job or an earlier
    one of the same record type) is recognised and not imported twice. Bad rows keep their cells
    (`data`) so that the error report can be rebuilt at any time.
    """

    class Outcome(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        SKIPPED = "skipped", _("Skipped")
        ERROR = "error", _("Error")

    # No index of its own: the Meta indexes below lead with it (one index less to keep up per imported row).
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()  # as in the spreadsheet: the header is row 1
    fingerprint = models.CharField(max_length=32)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    record_id = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "job", "row_number"], name="importrow_unique_row"),
        ]
        indexes = [
            models.Index(fields=["organization", "job", "outcome", "row_number"], name="importrow_job_outcome"),
            models.Index(fields=["organization", "fingerprint"], name="importrow_org_fingerprint"),
            # A record's import on its timeline (kehu.customers.importing.import_timeline).
            models.Index(fields=["organization", "record_id"], name="importrow_org_record"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number} {self.outcome}"
