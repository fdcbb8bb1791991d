"""The import wizard (upload -> map columns and choose the duplicate policy -> check -> import with a
progress bar -> result and error file), the jobs list, and the export download. Every job page reads
the job through the selector first, so another user's or organisation's job is 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kehu.core import exporting as core_exporting
from kehu.core import import_pages, imports
from kehu.core.errors import ValidationFailed
from kehu.core.import_models import ImportJob
from kehu.customers import exporting
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.importing import ADAPTER

RECORD_TYPE = ADAPTER.key
JOBS_SHOWN = 50
PAGES = import_pages.ImportPages(
    url_prefix="customers:import",
    jobs_url="customers:imports",
    records_url="customers:list",
    existing_heading=gettext_lazy("2. Customers that already exist"),
    existing_help=gettext_lazy("A row matches a customer you can see with the same phone, email or name."),
    see_records=gettext_lazy("See the customers"),
)


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return imports.import_job_get_for(actor=request.user, pk=pk)


def _errors_message(exc: ValidationFailed) -> str:
    details = "; ".join(" ".join(v) for v in exc.fields.values())
    return details or exc.message


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    """The user's import jobs and the upload form (step 1)."""
    actor = request.user
    ADAPTER.require_import(actor)
    field_error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            field_error = _("Choose a file.")
        else:
            try:
                job = imports.import_job_create(actor=actor, record_type=RECORD_TYPE, upload=upload)
            except ValidationFailed as exc:
                field_error = _errors_message(exc)
            else:
                return redirect("customers:import_detail", pk=job.pk)
    jobs = imports.import_job_list_for(actor=actor).filter(record_type=RECORD_TYPE)[:JOBS_SHOWN]
    context = {
        "jobs": jobs,
        "field_error": field_error,
        "max_mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
        "any_active": any(job.is_active for job in jobs),
    }
    return render(request, "customers/imports/list.html", context, status=400 if field_error else 200)


def _columns(job: ImportJob) -> list[dict[str, Any]]:
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


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Steps 2-5 on one page: mapping and policy, the check's result, progress, the outcome."""
    job = _job(request, pk)
    columns = _columns(job) if job.status in imports.RESTARTABLE else []
    return render(
        request, "core/imports/detail.html", import_pages.detail_context(job, ADAPTER, PAGES, columns=columns)
    )


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress panel alone: htmx polls it while the job runs, and it stops polling when done."""
    job = _job(request, pk)
    return render(request, "core/imports/_progress.html", import_pages.detail_context(job, ADAPTER, PAGES))


@login_required
@require_POST
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the mapping and policy (or apply a preset), then check or import as the button says."""
    actor = request.user
    job = _job(request, pk)
    next_step = request.POST.get("next_step", "save")
    try:
        if next_step == "preset":
            job = imports.import_job_update(actor=actor, job=job, preset=request.POST.get("preset", ""))
            messages.success(request, _("Columns mapped with the preset."))
            return redirect("customers:import_detail", pk=job.pk)
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
    return redirect("customers:import_detail", pk=job.pk)


def _action(request: HttpRequest, pk: int, service: Any, done: str) -> HttpResponse:
    job = _job(request, pk)
    try:
        service(actor=request.user, job=job)
    except ValidationFailed as exc:
        messages.error(request, _errors_message(exc))
    else:
        messages.success(request, done)
    return redirect("customers:import_detail", pk=job.pk)


@login_required
@require_POST
def import_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, imports.import_job_dry_run, _("Checking the file…"))


@login_required
@require_POST
def import_run(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, imports.import_job_start, _("Import started."))


@login_required
@require_POST
def import_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, imports.import_job_resume, _("Import resumed."))


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, imports.import_job_cancel, _("Import stopped."))


@login_required
def import_errors(request: HttpRequest, pk: int) -> FileResponse:
    handle, name = imports.import_job_error_report(actor=request.user, job=_job(request, pk))
    return FileResponse(handle, as_attachment=True, filename=name)


@login_required
@require_http_methods(["GET", "POST"])
def customer_export(request: HttpRequest) -> HttpResponse:
    """The list's current filters (GET, the list's query string) or the ticked customers (POST from the
    list's bulk form) as CSV or XLSX."""
    actor = request.user
    return core_exporting.download(
        request,
        run=lambda **kwargs: exporting.customer_export(actor=actor, **kwargs),
        filters=lambda: CustomerFilterForm(request.GET, actor=actor).filters(),
        back="customers:list",
        nothing_selected=_("Select customers to export."),
    )
