"""The administrators' lead pages: web forms, assignment rules (with the fallback owner and re-assignment),
and the organisation's lead sources. Every page asks for `administer` in sales before it looks anything
up, so a non-administrator gets the same 403 for every id."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.services import require
from kehu.sales import lead_assignment, lead_selectors, lead_services, lead_webforms
from kehu.sales.lead_forms import LeadSettingsForm, RuleForm, SourceForm, WebFormForm, apply_service_errors
from kehu.sales.lead_models import Lead
from kehu.sales.models import MODULE


def _require_admin(actor: Any) -> None:
    require(actor, "administer", MODULE)


def _field_errors(exc: ValidationFailed) -> str:
    return " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message


def _embed_snippet(request: HttpRequest, form: Any) -> str:
    url = request.build_absolute_uri(form.public_path)
    return (
        f'<iframe src="{url}" title="{form.title or form.name}" width="100%" height="640" '
        'style="border:0;max-width:640px" loading="lazy"></iframe>'
    )


# Web forms ----------------------------------------------------------------------------------------------


@login_required
def webform_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    forms = list(lead_selectors.webform_list_for(actor=actor))
    for form in forms:
        form.public_url = request.build_absolute_uri(form.public_path)
    return render(request, "sales/lead/webforms.html", {"forms": forms})


@login_required
def webform_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    form = WebFormForm(request.POST or None, actor=actor, initial=WebFormForm.initial_new())
    if request.method == "POST" and form.is_valid():
        try:
            webform = lead_webforms.webform_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request, _("Web form %(name)s created. Copy its address or snippet below.") % {"name": webform}
            )
            return redirect("sales:webform_edit", pk=webform.pk)
    context = {"form": form, "webform": None}
    return render(request, "sales/lead/webform_form.html", context, status=400 if form.errors else 200)


@login_required
def webform_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    webform = lead_selectors.webform_get_for(actor=actor, pk=pk)
    if request.method == "POST":
        form = WebFormForm(request.POST, actor=actor, editing=True)
        if form.is_valid():
            try:
                lead_webforms.webform_update(
                    actor=actor,
                    form=webform,
                    expected_version=form.cleaned_data.get("version"),
                    data=form.service_data(),
                )
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("sales:webform_edit", pk=webform.pk)
    else:
        form = WebFormForm(initial=WebFormForm.initial_for(webform), actor=actor, editing=True)
    context = {
        "form": form,
        "webform": webform,
        "public_url": request.build_absolute_uri(webform.public_path),
        "snippet": _embed_snippet(request, webform),
    }
    return render(request, "sales/lead/webform_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def webform_new_address(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    webform = lead_selectors.webform_get_for(actor=actor, pk=pk)
    lead_webforms.webform_new_address(actor=actor, form=webform)
    messages.success(request, _("The form has a new address; the old one no longer works."))
    return redirect("sales:webform_edit", pk=webform.pk)


@login_required
@require_POST
def webform_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    webform = lead_selectors.webform_get_for(actor=actor, pk=pk)
    lead_webforms.webform_delete(actor=actor, form=webform)
    messages.success(request, _("Web form %(name)s deleted.") % {"name": webform.name})
    return redirect("sales:webform_list")


# Assignment rules and settings ----------------------------------------------------------------------------


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    """The rules in order, the fallback owner and the re-assignment of untouched leads (one settings form)."""
    actor = request.user
    _require_admin(actor)
    current = lead_selectors.lead_settings_for(organization_id=actor.organization_id)
    initial = {
        "version": current.version,
        "default_owner": current.default_owner_id,
        "reassign_after_days": current.reassign_after_days,
    }
    form = LeadSettingsForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lead_assignment.lead_settings_update(
                actor=actor, expected_version=form.cleaned_data.get("version") or None, data=form.service_data()
            )
        except VersionConflict as exc:
            form.add_error(None, exc.message)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("sales:rule_list")
    rules = list(lead_selectors.rule_list_for(actor=actor))
    for rule in rules:
        rule.condition_texts = [lead_assignment.condition_text(c) for c in rule.conditions or []]
    context = {"rules": rules, "settings_form": form, "settings": current}
    return render(request, "sales/lead/rules.html", context, status=400 if form.errors else 200)


@login_required
def rule_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    form = RuleForm(request.POST or None, actor=actor, initial={"is_active": True, "cap": 0})
    if request.method == "POST" and form.is_valid():
        try:
            rule = lead_assignment.rule_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Rule %(name)s added at the end of the list.") % {"name": rule.name})
            return redirect("sales:rule_list")
    return render(
        request, "sales/lead/rule_form.html", {"form": form, "rule": None}, status=400 if form.errors else 200
    )


@login_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    rule = lead_selectors.rule_get_for(actor=actor, pk=pk)
    if request.method == "POST":
        form = RuleForm(request.POST, actor=actor, editing=True)
        if form.is_valid():
            try:
                lead_assignment.rule_update(
                    actor=actor, rule=rule, expected_version=form.cleaned_data.get("version"), data=form.service_data()
                )
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("sales:rule_list")
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule), actor=actor, editing=True)
    return render(
        request, "sales/lead/rule_form.html", {"form": form, "rule": rule}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    rule = lead_selectors.rule_get_for(actor=actor, pk=pk)
    rules = list(lead_selectors.rule_list_for(actor=actor).values_list("pk", flat=True))
    index = rules.index(rule.pk)
    lead_assignment.rule_move(
        actor=actor, rule=rule, position=index - 1 if request.POST.get("direction") == "up" else index + 1
    )
    return redirect("sales:rule_list")


@login_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    rule = lead_selectors.rule_get_for(actor=actor, pk=pk)
    lead_assignment.rule_delete(actor=actor, rule=rule)
    messages.success(request, _("Rule %(name)s deleted.") % {"name": rule.name})
    return redirect("sales:rule_list")


@login_required
@require_POST
def rules_reapply(request: HttpRequest) -> HttpResponse:
    """Re-apply the rules now to open leads untouched for the days given."""
    actor = request.user
    _require_admin(actor)
    raw = request.POST.get("days", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        messages.error(request, _("Enter a number of days from 1 to 3650."))
        return redirect("sales:rule_list")
    moved = lead_services.leads_reassign_stale(organization_id=actor.organization_id, days=int(raw))
    messages.success(
        request,
        ngettext("%(count)d lead re-assigned.", "%(count)d leads re-assigned.", moved) % {"count": moved},
    )
    return redirect("sales:rule_list")


# Sources -------------------------------------------------------------------------------------------------


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = lead_services.source_create(actor=actor, **form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Source %(label)s added.") % {"label": source.label})
            return redirect("sales:source_list")
    context = {
        "form": form,
        "builtin": list(Lead.Source.choices),
        "sources": lead_selectors.lead_source_list_for(actor=actor),
    }
    return render(request, "sales/lead/sources.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename (label=...) or switch on/off (toggle=1) a source."""
    actor = request.user
    _require_admin(actor)
    source = lead_selectors.lead_source_get_for(actor=actor, pk=pk)
    data: dict[str, Any] = {}
    if request.POST.get("toggle"):
        data["is_active"] = not source.is_active
    if "label" in request.POST:
        data["label"] = request.POST.get("label", "")
    try:
        lead_services.source_update(actor=actor, source=source, data=data)
    except ValidationFailed as exc:
        messages.error(request, _field_errors(exc))
    else:
        messages.success(request, _("Changes saved."))
    return redirect("sales:source_list")


@login_required
@require_POST
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    source = lead_selectors.lead_source_get_for(actor=actor, pk=pk)
    try:
        lead_services.source_delete(actor=actor, source=source)
    except ValidationFailed as exc:
        messages.error(request, _field_errors(exc))
    else:
        messages.success(request, _("Source %(label)s deleted.") % {"label": source.label})
    return redirect("sales:source_list")
