"""Lead pages: parse the request, call a selector or a service, render. The module gate and the domain-error
pages are the middleware's job; a lead outside the actor's scope is a 404 from the selector before any
form is looked at."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from kehu.core import custom_fields, exporting
from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.saved_view_pages import parse_columns
from kehu.core.services import require
from kehu.customers.selectors import customer_get_for
from kehu.sales import lead_exporting, list_views
from kehu.sales import lead_selectors as selectors
from kehu.sales import lead_services as services
from kehu.sales.lead_forms import ConvertForm, LeadBulkForm, LeadFilterForm, LeadForm, apply_service_errors
from kehu.sales.lead_models import Lead
from kehu.sales.lead_selectors import LEAD_TYPE

HISTORY_LIMIT = 50
RECYCLE_BIN_LIMIT = 100
# Column -> the direction a first click sorts in (names A→Z, dates and scores highest first).
SORTABLE = {"name": "name", "score": "-score", "updated_at": "-updated_at", "created_at": "-created_at"}
STATUS_STEPS = (Lead.Status.NEW, Lead.Status.CONTACTED, Lead.Status.QUALIFIED, Lead.Status.UNQUALIFIED)


def _safe_next(request: HttpRequest, target: str | None, fallback: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    links = {}
    for column, first in SORTABLE.items():
        if current.lstrip("-") == column:
            state = "desc" if current.startswith("-") else "asc"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", first
        links[column] = {"ordering": target, "state": state}
    return links


def _assigned_message(request: HttpRequest, lead: Lead) -> None:
    if lead.owner_id is None:
        messages.info(request, _("No rule assigned the lead and there is no fallback owner: it waits unassigned."))
    elif lead.assigned_rule_name:
        messages.info(
            request,
            _("Assigned to %(owner)s by the rule “%(rule)s”.") % {"owner": lead.owner, "rule": lead.assigned_rule_name},
        )


# List, recycle bin, bulk actions ---------------------------------------------------------------------------


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Lead)
    if (default_view := list_views.LEAD_VIEWS.default_redirect(request)) is not None:
        return default_view
    form = LeadFilterForm(request.GET or None, actor=actor, with_choices=True)
    filters = form.filters() if form.is_bound else {}
    ordering = request.GET.get("ordering") or selectors.DEFAULT_ORDERING
    limit = int(request.GET["limit"]) if request.GET.get("limit", "").isdigit() else selectors.DEFAULT_PAGE_SIZE
    try:
        page = selectors.lead_list_for(
            actor=actor, filters=filters, ordering=ordering, cursor=request.GET.get("cursor"), limit=limit
        )
    except ValidationFailed as exc:  # a stale cursor or an unknown sort column: the first page instead
        messages.warning(request, exc.message)
        page = selectors.lead_list_for(actor=actor, filters=filters, limit=limit)
    sources = selectors.source_labels(actor.organization_id)
    for lead in page.items:
        lead.source_label = sources.get(lead.source, lead.source)
    can_assign = can(actor, "assign", Lead)
    can_delete = can(actor, "delete", Lead)
    can_export = can(actor, "export", Lead)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "ordering": page.ordering,
        "sort": _sort_links(page.ordering),
        "can_create": can(actor, "create", Lead),
        "can_assign": can_assign,
        "can_delete": can_delete,
        "can_export": can_export,
        "bulk_enabled": can_assign or can_delete or can_export,
        "owners": selectors.owner_choices_for(actor=actor) if can_assign else [],
        "is_admin": can(actor, "administer", "sales"),
    }
    shown, choices = list_views.lead_columns(parse_columns(request.GET))
    context.update(list_views.LEAD_VIEWS.bar_context(request, column_choices=choices), shown_columns=shown)
    return render(request, "sales/lead/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_export(request: HttpRequest) -> HttpResponse:
    """The list's current filters (GET, the list's query string) or the ticked leads (POST from the list's
    bulk form) as CSV or XLSX (kehu.core.exporting)."""
    actor = request.user
    return exporting.download(
        request,
        run=lambda **kwargs: lead_exporting.lead_export(actor=actor, **kwargs),
        filters=lambda: LeadFilterForm(request.GET, actor=actor).filters(),
        back="sales:lead_list",
        nothing_selected=_("Select leads to export."),
    )


@login_required
def lead_recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Lead)
    leads = selectors.lead_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[:RECYCLE_BIN_LIMIT]
    context = {"leads": leads, "can_restore": can(actor, "restore", Lead), "limit": RECYCLE_BIN_LIMIT}
    return render(request, "sales/lead/recycle_bin.html", context)


@login_required
@require_POST
def lead_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = LeadBulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("sales:lead_list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    leads = selectors.leads_for_bulk(actor=actor, ids=data["ids"])
    try:
        if data["action"] == "assign":
            owners = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}
            moved = services.leads_assign(actor=actor, leads=leads, owner=owners.get(data["owner"]))
            messages.success(
                request,
                ngettext("%(count)d lead assigned.", "%(count)d leads assigned.", len(moved)) % {"count": len(moved)},
            )
        elif data["action"] == "apply_rules":
            outcomes = services.leads_apply_rules(actor=actor, leads=leads)
            changed = sum(1 for o in outcomes if o.changed)
            messages.success(
                request,
                ngettext("The rules assigned %(count)d lead.", "The rules assigned %(count)d leads.", changed)
                % {"count": changed},
            )
        else:
            count = services.leads_delete(actor=actor, leads=leads)
            messages.success(
                request,
                ngettext("%(count)d lead moved to the recycle bin.", "%(count)d leads moved to the recycle bin.", count)
                % {"count": count},
            )
    except DomainError as exc:  # nothing was changed: a bulk action is all or nothing
        messages.error(request, exc.message)
    return HttpResponseRedirect(target)


# One lead -----------------------------------------------------------------------------------------------


@login_required
def lead_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Lead)
    form = LeadForm(request.POST or None, actor=actor, can_assign=can(actor, "assign", Lead))
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(actor=actor, owner=form.cleaned_data.get("owner"), **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Lead %(name)s created.") % {"name": lead.name})
            _assigned_message(request, lead)
            if not can(actor, "view", lead):  # the rules gave it to a colleague outside the actor's scope
                return redirect("sales:lead_list")
            return redirect("sales:lead_detail", pk=lead.pk)
    return render(request, "sales/lead/form.html", {"form": form, "lead": None}, status=400 if form.errors else 200)


def _conflict_rows(form: LeadForm, fresh: Lead) -> list[dict[str, str]]:
    rows = []
    for name in form.Meta.fields:
        if name not in form.cleaned_data:
            continue
        mine, saved = form.cleaned_data[name], getattr(fresh, name)
        if mine in (None, "") and saved in (None, ""):
            continue
        if mine != saved:
            field = form.fields[name]
            choices = dict(getattr(field, "choices", []) or [])
            rows.append(
                {
                    "field": str(field.label),
                    "saved": str(choices.get(saved, saved) if saved not in (None, "") else "—"),
                    "mine": str(choices.get(mine, mine) if mine not in (None, "") else "—"),
                }
            )
    return rows


@login_required
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    require(actor, "edit", lead)
    conflict = None
    if request.method == "POST":
        form = LeadForm(request.POST, actor=actor, editing=True)
        if form.is_valid():
            try:
                services.lead_update(
                    actor=actor, lead=lead, expected_version=form.cleaned_data["version"], data=form.service_data()
                )
            except VersionConflict:
                # The user's input is kept beside what the colleague saved; saving again overwrites.
                lead = selectors.lead_get_for(actor=actor, pk=pk)
                conflict = _conflict_rows(form, lead)
                data = request.POST.copy()
                data["version"] = str(lead.version)
                form = LeadForm(data, actor=actor, editing=True)
                form.is_valid()
                form.add_error(None, str(VersionConflict.default_message))
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("sales:lead_detail", pk=lead.pk)
    else:
        form = LeadForm(initial=LeadForm.initial_for(lead), actor=actor, editing=True)
    status = 409 if conflict is not None else (400 if form.errors else 200)
    return render(request, "sales/lead/form.html", {"form": form, "lead": lead, "conflict": conflict}, status=status)


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    can_assign = can(actor, "assign", lead)
    can_edit = can(actor, "edit", lead)
    context = {
        "lead": lead,
        "source_label": selectors.source_labels(lead.organization_id).get(lead.source, lead.source),
        "custom_values": custom_fields.shown(lead, custom_fields.definitions_for(lead.organization_id, LEAD_TYPE)),
        "history": selectors.lead_history(actor=actor, lead=lead, limit=HISTORY_LIMIT),
        "can_edit": can_edit and lead.status != Lead.Status.CONVERTED,
        "can_delete": can(actor, "delete", lead),
        "can_assign": can_assign,
        "can_convert": can_edit and lead.status == Lead.Status.QUALIFIED,
        "owners": selectors.owner_choices_for(actor=actor) if can_assign else [],
        "status_steps": [(s, Lead.Status(s).label) for s in STATUS_STEPS if s != lead.status],
    }
    return render(request, "sales/lead/detail.html", context)


@login_required
@require_POST
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status buttons of the detail page (contacted, qualified, ...), with the version the page showed."""
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    status = request.POST.get("status", "")
    version = request.POST.get("version", "")
    try:
        services.lead_update(
            actor=actor,
            lead=lead,
            expected_version=int(version) if version.isdigit() else None,
            data={"status": status},
        )
    except VersionConflict as exc:
        messages.error(request, exc.message)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message)
    else:
        messages.success(request, _("Status: %(status)s.") % {"status": dict(Lead.Status.choices).get(status, status)})
    return redirect("sales:lead_detail", pk=lead.pk)


@login_required
@require_POST
def lead_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign to a colleague (owner=<id>) or apply the rules (rules=1), from the detail page."""
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    try:
        if request.POST.get("rules"):
            (outcome,) = services.leads_apply_rules(actor=actor, leads=[lead])
            if outcome.changed:
                _assigned_message(request, outcome.lead)
            else:
                messages.info(request, _("The rules keep the lead where it is."))
        else:
            owners = {str(u.pk): u for u in selectors.owner_choices_for(actor=actor)}
            services.leads_assign(actor=actor, leads=[lead], owner=owners.get(request.POST.get("owner", "")))
            messages.success(request, _("Lead assigned to %(owner)s.") % {"owner": lead.owner})
    except DomainError as exc:
        messages.error(request, exc.message)
    if not can(actor, "view", lead):
        return redirect("sales:lead_list")
    return redirect("sales:lead_detail", pk=lead.pk)


@login_required
@require_POST
def lead_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    services.lead_delete(actor=actor, lead=lead)
    messages.success(request, _("%(name)s was moved to the recycle bin.") % {"name": lead.name})
    return redirect("sales:lead_list")


@login_required
@require_POST
def lead_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    lead = selectors.lead_deleted_get_for(actor=actor, pk=pk)
    services.lead_restore(actor=actor, lead=lead)
    messages.success(request, _("%(name)s was restored.") % {"name": lead.name})
    return redirect("sales:lead_detail", pk=lead.pk)


# Conversion ---------------------------------------------------------------------------------------------


@login_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    """The wizard: the customers that look like the lead's (pick one, or create a new one when none is the
    same), the contact it brings, and an optional opportunity."""
    actor = request.user
    lead = selectors.lead_get_for(actor=actor, pk=pk)
    require(actor, "edit", lead)
    if lead.status == Lead.Status.CONVERTED:
        messages.info(request, _("This lead has already been converted."))
        return redirect("sales:lead_detail", pk=lead.pk)
    matches = services.lead_customer_matches_for(actor=actor, lead=lead)
    form = ConvertForm(request.POST or None, matches=matches, initial={"version": lead.version})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        customer = form.chosen_customer()
        try:
            if customer is not None:
                customer = customer_get_for(actor=actor, pk=customer.pk)
            result = services.lead_convert(
                actor=actor,
                lead=lead,
                expected_version=data["version"],
                customer=customer,
                create_opportunity=data["create_opportunity"],
                opportunity_name=data["opportunity_name"],
                amount=data["amount"],
                expected_close_date=data["expected_close_date"],
            )
        except VersionConflict as exc:
            form.add_error(None, exc.message)
        except DomainError as exc:
            if isinstance(exc, ValidationFailed) or exc.fields:
                apply_service_errors(form, ValidationFailed(exc.message, fields=exc.fields))
            else:
                form.add_error(None, exc.message)
        else:
            if result.created_customer:
                messages.success(
                    request, _("Converted: the customer %(name)s was created.") % {"name": result.customer}
                )
            else:
                messages.success(request, _("Converted into the customer %(name)s.") % {"name": result.customer})
            return redirect("customers:detail", pk=result.customer.pk)
    context = {
        "lead": lead,
        "form": form,
        "matches": matches,
        "hidden_matches": [m for m in matches if not m.visible],
        "blocked_new": any(m.strong for m in matches),
        "customer_name": services.customer_name_for(lead),
    }
    return render(request, "sales/lead/convert.html", context, status=400 if form.errors else 200)
