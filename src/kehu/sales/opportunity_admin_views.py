"""Administrators' pages for pipelines and their stages: list, create, rename, make default, deactivate,
delete (an unused one); add, edit, reorder and delete (an empty one) stages.

`administer` in sales is checked before any lookup, so everyone else gets the same 403 for every id."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import ValidationFailed
from kehu.core.services import require
from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from kehu.sales.models import Pipeline, Stage
from kehu.sales.opportunity_forms import PipelineForm, StageForm, apply_service_errors, requirable_choices


def _require_admin(actor: object) -> None:
    require(actor, "administer", Pipeline)


@login_required
def pipeline_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    selectors.default_pipeline_for(actor=actor)  # an organisation always has its default pipeline
    form = PipelineForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = services.create_pipeline(actor=actor, **form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request, _("Pipeline %(name)s created with the standard stages.") % {"name": pipeline.name}
            )
            return redirect("sales:pipeline_detail", pk=pipeline.pk)
    pipelines = list(selectors.pipeline_list_for(actor=actor))
    return render(request, "sales/opportunity/pipelines/list.html", {"pipelines": pipelines, "form": form})


@login_required
def pipeline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The pipeline's settings and its stages; POST saves the settings."""
    actor = request.user
    _require_admin(actor)
    pipeline = selectors.pipeline_get_for(actor=actor, pk=pk)
    initial = {"name": pipeline.name, "is_default": pipeline.is_default, "is_active": pipeline.is_active}
    form = PipelineForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_pipeline(actor=actor, pipeline=pipeline, data=form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("sales:pipeline_detail", pk=pipeline.pk)
    stage_form = StageForm(organization_id=actor.organization_id, prefix="new")
    return render(request, "sales/opportunity/pipelines/detail.html", _detail_context(pipeline, form, stage_form))


def _detail_context(pipeline: Pipeline, form: PipelineForm, stage_form: StageForm) -> dict:
    labels = dict(requirable_choices(pipeline.organization_id))
    stages = list(pipeline.stages.order_by("position", "id"))
    for stage in stages:
        stage.required_labels = [labels.get(name, name) for name in stage.required_fields]
    return {"pipeline": pipeline, "form": form, "stages": stages, "stage_form": stage_form}


@login_required
@require_POST
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    pipeline = selectors.pipeline_get_for(actor=actor, pk=pk)
    try:
        services.delete_pipeline(actor=actor, pipeline=pipeline)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("sales:pipeline_detail", pk=pipeline.pk)
    messages.success(request, _("Pipeline %(name)s deleted.") % {"name": pipeline.name})
    return redirect("sales:pipeline_list")


@login_required
@require_POST
def stage_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    pipeline = selectors.pipeline_get_for(actor=actor, pk=pk)
    stage_form = StageForm(request.POST, organization_id=actor.organization_id, prefix="new")
    if stage_form.is_valid():
        try:
            stage = services.create_stage(actor=actor, pipeline=pipeline, **stage_form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(stage_form, exc)
        else:
            messages.success(request, _("Stage %(name)s added.") % {"name": stage.name})
            return redirect("sales:pipeline_detail", pk=pipeline.pk)
    initial = {"name": pipeline.name, "is_default": pipeline.is_default, "is_active": pipeline.is_active}
    context = _detail_context(pipeline, PipelineForm(initial=initial), stage_form)
    return render(request, "sales/opportunity/pipelines/detail.html", context, status=400)


@login_required
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    stage = selectors.stage_get_for(actor=actor, pk=pk)
    form = StageForm(request.POST or None, organization_id=actor.organization_id, initial=StageForm.initial_for(stage))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_stage(actor=actor, stage=stage, data=form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("sales:pipeline_detail", pk=stage.pipeline_id)
    return render(request, "sales/opportunity/pipelines/stage_form.html", {"stage": stage, "form": form})


@login_required
@require_POST
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    stage = selectors.stage_get_for(actor=actor, pk=pk)
    try:
        services.delete_stage(actor=actor, stage=stage)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Stage %(name)s deleted.") % {"name": stage.name})
    return redirect("sales:pipeline_detail", pk=stage.pipeline_id)


@login_required
@require_POST
def stage_move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    stage: Stage = selectors.stage_get_for(actor=actor, pk=pk)
    services.move_stage(actor=actor, stage=stage, offset=-1 if request.POST.get("direction") == "up" else 1)
    return redirect("sales:pipeline_detail", pk=stage.pipeline_id)
