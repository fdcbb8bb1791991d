"""Opportunity pages: the kanban board (a rep's home), the list, the record page, the forms, the recycle
bin. Parse the request, call a selector or a service, render. A record outside the actor's scope is a 404
from the selector before any form is looked at; domain errors become pages through the middleware.

The board's moves and quick edits answer JSON to the board's script (sales/opportunity/board.js) and
redirect with a message otherwise, so every action also works without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from kehu.core import custom_fields
from kehu.core.errors import DomainError, NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.core.templatetags.money import format_money_sums
from kehu.customers import selectors as customer_selectors
from kehu.customers.views import _safe_next, _versioned_edit
from kehu.sales import list_views
from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity, Quote, Stage
from kehu.sales.opportunity_cards import CardRenderer, column_cards_html, decorate_columns
from kehu.sales.opportunity_forms import (
    BulkForm,
    CloseForm,
    OpportunityFilterForm,
    OpportunityForm,
    apply_service_errors,
    customer_options_for,
    quick_fields,
    requirable_choices,
)

RECYCLE_BIN_LIMIT = 100
# Column -> the direction a first click sorts in (names A→Z, amounts and dates largest / newest first).
SORTABLE = {
    "name": "name",
    "amount": "-amount",
    "expected_close_date": "expected_close_date",
    "updated_at": "-updated_at",
    "created_at": "-created_at",
}
# The board's filters: the list's, less the ones the board's columns already are.
BOARD_FILTERS = ("search", "owner", "team", "close_from", "close_to", "amount_min", "amount_max", "rotting")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _filters_from(request: HttpRequest, actor: Any, *, names: tuple[str, ...] | None = None) -> tuple[Any, dict]:
    form = OpportunityFilterForm(request.GET or None, actor=actor, with_choices=True)
    filters = form.filters() if form.is_bound else {}
    if names is not None:
        filters = {k: v for k, v in filters.items() if k in names or k == "custom"}
    return form, filters


# The board -------------------------------------------------------------------------------------------


@login_required
def opportunity_board(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    pipelines = list(selectors.pipeline_list_for(actor=actor, active_only=True))
    pipeline = selectors.default_pipeline_for(actor=actor, pk=request.GET.get("pipeline") or None, among=pipelines)
    if not pipeline.is_active and pipeline.pk not in {p.pk for p in pipelines}:
        pipelines.append(pipeline)
    form, filters = _filters_from(request, actor, names=BOARD_FILTERS)
    query = request.GET.copy()
    query.pop("cursor", None)
    columns = selectors.board_for(actor=actor, pipeline=pipeline, filters=filters)
    labels = dict(requirable_choices(actor.organization_id))
    for column in columns:
        column.stage.required_labels = [labels.get(name, name) for name in column.stage.required_fields]
    can_edit = can(actor, "edit", Opportunity)
    decorate_columns(columns, query=query.urlencode(), can_edit=can_edit, currency=actor.organization.currency)
    context = {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "form": form,
        "filtered": bool(filters),
        "query": query.urlencode(),
        "can_create": can(actor, "create", Opportunity),
        "can_edit": can_edit,
        "can_administer": can(actor, "administer", Stage),
        "recent_days": selectors.RECENTLY_CLOSED_DAYS,
    }
    return render(request, "sales/opportunity/board.html", context)


@login_required
@require_GET
def board_column(request: HttpRequest, pk: int) -> HttpResponse:
    """More cards of one column (the "load more" button): the next keyset page, and the next button."""
    actor = request.user
    stage = selectors.stage_get_for(actor=actor, pk=pk)
    _form, filters = _filters_from(request, actor, names=BOARD_FILTERS)
    try:
        page = selectors.board_column_for(actor=actor, stage=stage, filters=filters, cursor=request.GET.get("cursor"))
    except ValidationFailed:
        page = selectors.board_column_for(actor=actor, stage=stage, filters=filters)
    query = request.GET.copy()
    query.pop("cursor", None)
    html = column_cards_html(stage=stage, page=page, query=query.urlencode(), can_edit=can(actor, "edit", Opportunity))
    return HttpResponse(html)


def _summary_json(actor: Any, pipeline: Any, filters: dict) -> dict[str, dict[str, Any]]:
    summary = selectors.board_summary_for(actor=actor, pipeline=pipeline, filters=filters)
    currency = actor.organization.currency
    answer = {}
    for stage in pipeline.stages.all():
        figures = summary.get(stage.pk, {})
        totals = figures.get("totals", {})
        answer[str(stage.pk)] = {
            "count": figures.get("count", 0),
            "total": format_money_sums(totals, default=currency),
            "total_full": format_money_sums(totals, short=False, default=currency),
        }
    return answer


def _card_html(request: HttpRequest, opportunity: Opportunity) -> str:
    return CardRenderer().card(opportunity, can_edit=can(request.user, "edit", opportunity))


def _quick_form_html(request: HttpRequest, opportunity: Opportunity, form: OpportunityForm, **extra: Any) -> str:
    context = {"opportunity": opportunity, "form": form, **extra}
    return render_to_string("sales/opportunity/_quick_form.html", context, request=request)


def _moved_answer(request: HttpRequest, opportunity: Opportunity, message: str) -> JsonResponse:
    actor = request.user
    fresh = selectors.opportunity_get_for(actor=actor, pk=opportunity.pk)
    pipeline = selectors.pipeline_get_for(actor=actor, pk=fresh.pipeline_id)
    _form, filters = _filters_from(request, actor, names=BOARD_FILTERS)
    return JsonResponse(
        {
            "ok": True,
            "message": message,
            "id": fresh.pk,
            "stage": fresh.stage_id,
            "version": fresh.version,
            "card_html": _card_html(request, fresh),
            "summary": _summary_json(actor, pipeline, filters),
        }
    )


def _refusal(request: HttpRequest, opportunity: Opportunity, stage: Stage | None, exc: DomainError) -> HttpResponse:
    """The board's answer to a refused move or edit: the message, and a quick-edit form with the fields the
    gate asks for (the form moves the card when saved)."""
    fields = list(getattr(exc, "fields", {}) or {})
    if not _wants_json(request):
        messages.error(request, exc.message)
        return redirect("sales:opportunity_detail", pk=opportunity.pk)
    body: dict[str, Any] = {"ok": False, "message": exc.message, "code": exc.code, "fields": exc.fields}
    askable = quick_fields(fields, opportunity.organization_id) if fields else []
    if askable and set(askable) & set(fields):
        askable = [name for name in askable if name in fields]
        form = OpportunityForm(
            initial=OpportunityForm.initial_for(opportunity),
            actor=request.user,
            editing=True,
            customer=opportunity.customer,
            only=askable,
        )
        body["form_html"] = _quick_form_html(request, opportunity, form, stage=stage, fields=askable)
    return JsonResponse(body, status=exc.status)


@login_required
@require_POST
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to another stage (a card dropped on a column, a stage clicked on the record page)."""
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    try:
        stage = selectors.stage_get_for(actor=actor, pk=request.POST.get("stage"))
    except NotFound:
        return _refusal(
            request, opportunity, None, ValidationFailed(_("Choose a stage."), fields={"stage": [_("Choose a stage.")]})
        )
    version = request.POST.get("version")
    try:
        data = {"lost_reason": request.POST["lost_reason"]} if "lost_reason" in request.POST else None
        services.change_stage(
            actor=actor,
            opportunity=opportunity,
            stage=stage,
            expected_version=int(version) if version and version.isdigit() else None,
            data=data,
        )
    except (ValidationFailed, VersionConflict) as exc:
        return _refusal(request, opportunity, stage, exc)
    message = _("%(name)s moved to %(stage)s.") % {"name": opportunity.name, "stage": stage.name}
    if _wants_json(request):
        return _moved_answer(request, opportunity, message)
    messages.success(request, message)
    return redirect("sales:opportunity_detail", pk=opportunity.pk)


@login_required
def opportunity_quick_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's quick edit: a few fields (or the ones a stage asks for), saved and, with `stage`, moved."""
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    require(actor, "edit", opportunity)
    source = request.POST if request.method == "POST" else request.GET
    fields = quick_fields(source.get("fields", "").split(","), actor.organization_id)
    stage = None
    if source.get("stage"):
        stage = selectors.stage_get_for(actor=actor, pk=source.get("stage"))
    if request.method != "POST":
        form = OpportunityForm(
            initial=OpportunityForm.initial_for(opportunity),
            actor=actor,
            editing=True,
            customer=opportunity.customer,
            only=fields,
        )
        return HttpResponse(_quick_form_html(request, opportunity, form, stage=stage, fields=fields))
    form = OpportunityForm(request.POST, actor=actor, editing=True, customer=opportunity.customer, only=fields)
    error = None
    if form.is_valid():
        data = form.service_data()
        version = form.cleaned_data["version"]
        try:
            if stage is not None:
                services.change_stage(
                    actor=actor, opportunity=opportunity, stage=stage, expected_version=version, data=data
                )
            else:
                services.update_opportunity(actor=actor, opportunity=opportunity, expected_version=version, data=data)
        except VersionConflict as exc:
            error = exc.message
            fresh = selectors.opportunity_get_for(actor=actor, pk=pk)
            data = request.POST.copy()
            data["version"] = str(fresh.version)  # saving again is a deliberate overwrite
            form = OpportunityForm(data, actor=actor, editing=True, customer=opportunity.customer, only=fields)
            form.is_valid()
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            message = (
                _("%(name)s moved to %(stage)s.") % {"name": opportunity.name, "stage": stage.name}
                if stage is not None
                else _("Changes saved.")
            )
            if _wants_json(request):
                return _moved_answer(request, opportunity, message)
            messages.success(request, message)
            return redirect("sales:opportunity_detail", pk=pk)
    html = _quick_form_html(request, opportunity, form, stage=stage, fields=fields, error=error)
    if _wants_json(request):
        message = error or _("Please correct the fields marked below.")
        return JsonResponse({"ok": False, "message": message, "form_html": html}, status=409 if error else 400)
    return HttpResponse(html, status=400)


# The list --------------------------------------------------------------------------------------------


@login_required
def opportunity_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    if (default_view := list_views.OPPORTUNITY_VIEWS.default_redirect(request)) is not None:
        return default_view
    form, filters = _filters_from(request, actor)
    ordering = request.GET.get("ordering") or selectors.DEFAULT_ORDERING
    limit = int(request.GET["limit"]) if request.GET.get("limit", "").isdigit() else selectors.DEFAULT_PAGE_SIZE
    try:
        page = selectors.opportunity_list_for(
            actor=actor, filters=filters, ordering=ordering, cursor=request.GET.get("cursor"), limit=limit
        )
    except ValidationFailed as exc:  # a stale cursor or an unknown sort column: the first page instead
        messages.warning(request, exc.message)
        page = selectors.opportunity_list_for(actor=actor, filters=filters, limit=limit)
    can_assign, can_delete = can(actor, "assign", Opportunity), can(actor, "delete", Opportunity)
    customer = None
    if filters.get("customer"):
        try:
            customer = customer_selectors.customer_get_for(actor=actor, pk=filters["customer"])
        except NotFound:
            customer = None
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "ordering": page.ordering,
        "sort": _sort_links_for(page.ordering),
        "customer": customer,
        "can_create": can(actor, "create", Opportunity),
        "can_assign": can_assign,
        "can_delete": can_delete,
        "bulk_enabled": can_assign or can_delete,
        "owners": selectors.owner_choices_for(actor=actor) if can_assign else [],
        **list_views.OPPORTUNITY_VIEWS.bar_context(request),  # saved views (sales/list_views.py)
    }
    return render(request, "sales/opportunity/list.html", context)


def _sort_links_for(current: str) -> dict[str, dict[str, str]]:
    links = {}
    for column, first in SORTABLE.items():
        if current.lstrip("-") == column:
            state = "desc" if current.startswith("-") else "asc"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", first
        links[column] = {"ordering": target, "state": state}
    return links


@login_required
@require_POST
def opportunity_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = BulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("sales:opportunity_list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    opportunities = selectors.opportunities_for_bulk(actor=actor, ids=data["ids"])
    try:
        if data["action"] == "assign":
            owners = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}
            moved = services.reassign_opportunities(
                actor=actor, opportunities=opportunities, owner=owners.get(data["owner"])
            )
            messages.success(
                request,
                ngettext("%(count)d opportunity assigned.", "%(count)d opportunities assigned.", len(moved))
                % {"count": len(moved)},
            )
        else:
            count = services.delete_opportunities(actor=actor, opportunities=opportunities)
            messages.success(
                request,
                ngettext(
                    "%(count)d opportunity moved to the recycle bin.",
                    "%(count)d opportunities moved to the recycle bin.",
                    count,
                )
                % {"count": count},
            )
    except DomainError as exc:  # nothing was changed: the bulk action is all or nothing
        messages.error(request, exc.message)
    return HttpResponseRedirect(target)


# The record --------------------------------------------------------------------------------------------


@login_required
def opportunity_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Opportunity)
    customer = None
    if request.GET.get("customer"):
        customer = customer_selectors.customer_get_for(actor=actor, pk=request.GET["customer"])
    can_assign = can(actor, "assign", Opportunity)
    form = OpportunityForm(request.POST or None, actor=actor, can_assign=can_assign, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        stage = form.cleaned_data.get("stage")
        if stage is not None:
            data.update(stage=stage, pipeline=stage.pipeline)
        try:
            opportunity = services.create_opportunity(actor=actor, owner=form.cleaned_data.get("owner"), **data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Opportunity %(name)s created.") % {"name": opportunity.name})
            return redirect("sales:opportunity_detail", pk=opportunity.pk)
    return render(request, "sales/opportunity/form.html", {"form": form, "opportunity": None})


@login_required
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    visits = selectors.opportunity_history_for(actor=actor, opportunity=opportunity)
    stages = list(opportunity.pipeline.stages.order_by("position", "id"))
    can_assign = can(actor, "assign", opportunity)
    definitions = custom_fields.definitions_for(actor.organization_id, services.OPPORTUNITY_TYPE)
    context = {
        "opportunity": opportunity,
        "stages": stages,
        "visits": list(reversed(visits)),
        "stage_times": selectors.time_in_stages(visits),
        "rotting_days": opportunity.rotting_days(),
        "custom_values": custom_fields.shown(opportunity, definitions),
        "can_edit": can(actor, "edit", opportunity),
        "can_delete": can(actor, "delete", opportunity),
        "can_assign": can_assign,
        "owners": selectors.owner_choices_for(actor=actor) if can_assign else [],
        "can_create_quote": can(actor, "create", Quote) and can(actor, "view", opportunity.customer),
    }
    return render(request, "sales/opportunity/detail.html", context)


@login_required
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    require(actor, "edit", opportunity)
    closed_as = "" if opportunity.is_open else opportunity.status
    form, opportunity, conflict, saved = _versioned_edit(
        request,
        form_class=OpportunityForm,
        record=opportunity,
        refetch=lambda: selectors.opportunity_get_for(actor=actor, pk=pk),
        save=lambda record, version, data: services.update_opportunity(
            actor=actor, opportunity=record, expected_version=version, data=data
        ),
        form_kwargs={"actor": actor, "closed_as": closed_as},
    )
    if saved:
        return redirect("sales:opportunity_detail", pk=opportunity.pk)
    context = {"form": form, "opportunity": opportunity, "conflict": conflict}
    return render(request, "sales/opportunity/form.html", context)


def _close(request: HttpRequest, pk: int, *, won: bool) -> HttpResponse:
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    form = CloseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        if won:
            services.mark_won(actor=actor, opportunity=opportunity, reason=reason)
            messages.success(request, _("%(name)s is won. Congratulations!") % {"name": opportunity.name})
        else:
            services.mark_lost(actor=actor, opportunity=opportunity, reason=reason)
            messages.success(request, _("%(name)s is marked as lost.") % {"name": opportunity.name})
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    return redirect("sales:opportunity_detail", pk=pk)


@login_required
@require_POST
def opportunity_won(request: HttpRequest, pk: int) -> HttpResponse:
    return _close(request, pk, won=True)


@login_required
@require_POST
def opportunity_lost(request: HttpRequest, pk: int) -> HttpResponse:
    return _close(request, pk, won=False)


@login_required
@require_POST
def opportunity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    opportunity = selectors.opportunity_get_for(actor=actor, pk=pk)
    services.delete_opportunity(actor=actor, opportunity=opportunity)
    messages.success(request, _("%(name)s was moved to the recycle bin.") % {"name": opportunity.name})
    return redirect("sales:opportunity_list")


@login_required
@require_POST
def opportunity_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    opportunity = selectors.opportunity_deleted_get_for(actor=actor, pk=pk)
    services.restore_opportunity(actor=actor, opportunity=opportunity)
    messages.success(request, _("%(name)s was restored.") % {"name": opportunity.name})
    return redirect("sales:opportunity_detail", pk=opportunity.pk)


@login_required
def opportunity_recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    rows = selectors.opportunity_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[:RECYCLE_BIN_LIMIT]
    context = {"opportunities": rows, "can_restore": can(actor, "restore", Opportunity), "limit": RECYCLE_BIN_LIMIT}
    return render(request, "sales/opportunity/recycle_bin.html", context)


# The form's pickers (htmx): customers by search, and the chosen customer's contacts ----------------------


@login_required
@require_GET
def customer_options(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    search = request.GET.get("q", "")[: selectors.SEARCH_MAX_LENGTH]
    options = customer_options_for(actor, search=search)
    return render(request, "sales/opportunity/_options.html", {"options": options, "blank": True})


@login_required
@require_GET
def contact_options(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    customer = request.GET.get("customer", "")
    contacts = []
    if customer.isdigit():
        try:
            chosen = customer_selectors.customer_get_for(actor=actor, pk=customer)
        except NotFound:
            chosen = None
        if chosen is not None:
            contacts = customer_selectors.contact_list_for(actor=actor, customer=chosen).order_by("name")
    options = [(c.pk, c.name) for c in contacts]
    return render(request, "sales/opportunity/_options.html", {"options": options, "blank": True})


# On the customer's page (kehu.customers.panels) ----------------------------------------------------------


def customer_panel(request: HttpRequest, customer: Any) -> str:
    actor = request.user
    if not can(actor, "view", Opportunity):
        return ""
    context = {
        "customer": customer,
        "opportunities": selectors.customer_opportunities_for(actor=actor, customer=customer),
        "can_create": can(actor, "create", Opportunity) and can(actor, "view", customer),
        "limit": selectors.CUSTOMER_PANEL_LIMIT,
    }
    return render_to_string("sales/opportunity/_customer_panel.html", context, request=request)
