"""The pages of an import wizard, shared by every record type that imports (customers, leads, ...).

Each module keeps its own views and URLs (its module gate and permissions apply), and describes here
where they are and the few words that differ; the mapping/check/progress page and its progress panel are
the same templates (core/imports/detail.html, core/imports/_progress.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from kehu.core import imports
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.import_models import ImportJob

BAD_ROWS_SHOWN = 200
JOBS_SHOWN = 50


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


def _errors_message(exc: Any) -> str:
    return "; ".join(" ".join(v) for v in exc.fields.values()) or exc.message


class ImportViews:
    """The wizard's views for one record type (upload list, job page, progress panel, mapping, dry run, run,
    resume, cancel, error file). Every job page reads the job through the engine's selector (the uploader's
    own jobs) and refuses a job of another record type, so another user's or organisation's job is 404; the
    module's URLs, module gate and the adapter's import right apply."""

    def __init__(self, *, adapter: imports.ImportAdapter, pages: ImportPages, list_template: str) -> None:
        self.adapter, self.pages, self.list_template = adapter, pages, list_template
        self.detail_url = f"{pages.url_prefix}_detail"
        self.import_list = login_required(self._list)
        self.import_detail = login_required(self._detail)
        self.import_progress = login_required(self._progress)
        self.import_mapping = login_required(require_POST(self._mapping))
        self.import_dry_run = login_required(
            require_POST(self._action(imports.import_job_dry_run, _lazy("Checking the file…")))
        )
        self.import_run = login_required(require_POST(self._action(imports.import_job_start, _lazy("Import started."))))
        self.import_resume = login_required(
            require_POST(self._action(imports.import_job_resume, _lazy("Import resumed.")))
        )
        self.import_cancel = login_required(
            require_POST(self._action(imports.import_job_cancel, _lazy("Import stopped.")))
        )
        self.import_errors = login_required(self._errors)

    def urlpatterns(self, prefix: str) -> list[URLPattern]:
        """The wizard's URLs under `prefix` ("imports/"), named after the pages' url_prefix without its
        namespace ("import": imports, import_detail, import_progress, ...)."""
        name = self.pages.url_prefix.split(":", 1)[-1]
        job = f"{prefix}<int:pk>/"
        steps = [(self.import_detail, "", "detail")] + [
            (getattr(self, f"import_{step}"), f"{step.replace('_', '-')}/", step)
            for step in ("progress", "mapping", "dry_run", "run", "resume", "cancel", "errors")
        ]
        return [
            path(prefix, self.import_list, name=f"{name}s"),
            *(path(job + tail, view, name=f"{name}_{step}") for view, tail, step in steps),
        ]

    def _job(self, request: HttpRequest, pk: int) -> ImportJob:
        job = imports.import_job_get_for(actor=request.user, pk=pk)
        if job.record_type != self.adapter.key:
            raise NotFound()
        return job

    def _list(self, request: HttpRequest) -> HttpResponse:
        """The user's import jobs and the upload form (step 1)."""
        actor = request.user
        self.adapter.require_import(actor)
        field_error = ""
        if request.method == "POST":
            upload = request.FILES.get("file")
            if upload is None:
                field_error = _("Choose a file.")
            else:
                try:
                    job = imports.import_job_create(actor=actor, record_type=self.adapter.key, upload=upload)
                except ValidationFailed as exc:
                    field_error = _errors_message(exc)
                else:
                    return redirect(self.detail_url, pk=job.pk)
        jobs = imports.import_job_list_for(actor=actor).filter(record_type=self.adapter.key)[:JOBS_SHOWN]
        context = {
            "jobs": jobs,
            "field_error": field_error,
            "max_mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
            "any_active": any(job.is_active for job in jobs),
        }
        return render(request, self.list_template, context, status=400 if field_error else 200)

    def _detail(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Steps 2-5 on one page: mapping and policy, the check's result, progress, the outcome."""
        job = self._job(request, pk)
        columns = _columns(job) if job.status in imports.RESTARTABLE else []
        context = detail_context(job, self.adapter, self.pages, columns=columns)
        return render(request, "core/imports/detail.html", context)

    def _progress(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The progress panel alone: htmx polls it while the job runs, and it stops polling when done."""
        job = self._job(request, pk)
        return render(request, "core/imports/_progress.html", detail_context(job, self.adapter, self.pages))

    def _mapping(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Save the mapping and policy (or apply a preset), then check or import as the button says."""
        actor = request.user
        job = self._job(request, pk)
        next_step = request.POST.get("next_step", "save")
        try:
            if next_step == "preset":
                job = imports.import_job_update(actor=actor, job=job, preset=request.POST.get("preset", ""))
                messages.success(request, _("Columns mapped with the preset."))
                return redirect(self.detail_url, pk=job.pk)
            mapping = {str(i): request.POST.get(f"col_{i}", "") for i in range(len(job.headers))}
            job = imports.import_job_update(actor=actor, job=job, mapping=mapping, policy=request.POST.get("policy"))
            if next_step == "dry_run":
                imports.import_job_dry_run(actor=actor, job=job)
            elif next_step == "run":
                imports.import_job_start(actor=actor, job=job)
            else:
                messages.success(request, _("Mapping saved."))
        except ValidationFailed as exc:
            messages.error(request, _errors_message(exc))
        return redirect(self.detail_url, pk=job.pk)

    def _action(self, service: Callable[..., Any], done: Any) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, pk: int) -> HttpResponse:
            job = self._job(request, pk)
            try:
                service(actor=request.user, job=job)
            except ValidationFailed as exc:
                messages.error(request, _errors_message(exc))
            else:
                messages.success(request, str(done))
            return redirect(self.detail_url, pk=job.pk)

        return view

    def _errors(self, request: HttpRequest, pk: int) -> FileResponse:
        handle, name = imports.import_job_error_report(actor=request.user, job=self._job(request, pk))
        return FileResponse(handle, as_attachment=True, filename=name)


def _columns(job: ImportJob) -> list[dict[str, Any]]:
    """The file's columns with their mapping and up to three sample values each."""
    sample = []
    for _row_number, cells in imports.iter_data_rows(job):
        sample.append(cells)
        if len(sample) >= 3:
            break
    return [
        {
            "index": str(i),
            "header": header,
            "field": job.mapping.get(str(i), ""),
            "samples": [row[i] for row in sample if i < len(row) and row[i]][:3],
        }
        for i, header in enumerate(job.headers)
    ]
