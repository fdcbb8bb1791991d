"""The pages of an import wizard, shared by every record type that imports (customers, leads, ...).

Each module keeps its own views and URLs (its module gate and permissions apply), and describes here
where they are and the few words that differ; the mapping/check/progress page and its progress panel are
the same templates (core/imports/detail.html, core/imports/_progress.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

from kehu.core import imports
from kehu.core.import_models import ImportJob

BAD_ROWS_SHOWN = 200


@dataclass(frozen=True)
class ImportPages:
    url_prefix: str  # "customers:import" -> customers:import_mapping, _progress, _resume, _cancel, _errors
    jobs_url: str  # the list of import jobs
    records_url: str  # the list of what was imported
    existing_heading: str | Promise  # the duplicate policy's heading
    existing_help: str | Promise  # what counts as "already exists"
    see_records: str | Promise  # the button after a finished import

    @property
    def mapping_url(self) -> str:
        return f"{self.url_prefix}_mapping"

    @property
    def progress_url(self) -> str:
        return f"{self.url_prefix}_progress"

    @property
    def resume_url(self) -> str:
        return f"{self.url_prefix}_resume"

    @property
    def cancel_url(self) -> str:
        return f"{self.url_prefix}_cancel"

    @property
    def errors_url(self) -> str:
        return f"{self.url_prefix}_errors"


def detail_context(job: ImportJob, adapter: imports.ImportAdapter, pages: ImportPages, **extra: Any) -> dict[str, Any]:
    """The context of core/imports/detail.html and _progress.html for `job`."""
    finished = job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED, ImportJob.Status.CANCELLED)
    context = {
        "job": job,
        "pages": pages,
        "fields": adapter.fields_for(job.organization_id),
        "presets": adapter.presets,
        "policies": ImportJob.Policy.choices,
        "editable": job.status in imports.RESTARTABLE,
        "resumable": job.status in imports.RESUMABLE,
        "bad_rows": imports.import_job_bad_rows(job=job, limit=BAD_ROWS_SHOWN) if finished else [],
        "dry_bad_rows": (job.dry_run or {}).get("bad_rows", [])[:BAD_ROWS_SHOWN],
        "bad_rows_shown": BAD_ROWS_SHOWN,
    }
    context.update(extra)
    return context
