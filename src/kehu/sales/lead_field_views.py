"""Administrators manage the custom fields of leads: list, create, edit, reorder, deactivate, delete (unused
ones). The services are kehu.core.custom_fields' and the form the customers module's; this is only the
UI for the record type "sales.lead"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import custom_fields
from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.services import require
from kehu.customers.custom_field_views import DefinitionForm
from kehu.sales.lead_forms import apply_service_errors
from kehu.sales.lead_selectors import LEAD_TYPE
from kehu.sales.models import MODULE


def _require_admin(actor: Any) -> None:
    require(actor, "administer", MODULE)


def _definition(actor: Any, pk: int) -> Any:
    definition = custom_fields.definition_get_for(actor=actor, pk=pk)
    if definition.record_type != LEAD_TYPE:
        raise NotFound()
    return definition


@login_required
def field_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definitions = list(custom_fields.definition_list_for(actor=actor, record_type=LEAD_TYPE))
    return render(request, "sales/lead/fields.html", {"definitions": definitions})


@login_required
def field_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    form = DefinitionForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            definition = custom_fields.definition_create(actor=actor, record_type=LEAD_TYPE, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Field %(label)s added.") % {"label": definition.label})
            return redirect("sales:lead_fields")
    return render(
        request, "sales/lead/field_form.html", {"form": form, "definition": None}, status=400 if form.errors else 200
    )


@login_required
def field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    if request.method == "POST":
        form = DefinitionForm(request.POST, initial=DefinitionForm.initial_for(definition), editing=True)
        if form.is_valid():
            try:
                custom_fields.definition_update(
                    actor=actor,
                    definition=definition,
                    expected_version=form.cleaned_data.get("version"),
                    data=form.service_data(),
                )
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("sales:lead_fields")
    else:
        form = DefinitionForm(initial=DefinitionForm.initial_for(definition), editing=True)
    context = {"form": form, "definition": definition}
    return render(request, "sales/lead/field_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def field_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    custom_fields.definition_update(
        actor=actor, definition=definition, expected_version=None, data={"is_active": not definition.is_active}
    )
    messages.success(request, _("Changes saved."))
    return redirect("sales:lead_fields")


@login_required
@require_POST
def field_move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    custom_fields.definition_move(actor=actor, definition=definition, offset=offset)
    return redirect("sales:lead_fields")


@login_required
@require_POST
def field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    try:
        custom_fields.definition_delete(actor=actor, definition=definition)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message)
    else:
        messages.success(request, _("Field %(label)s deleted.") % {"label": definition.label})
    return redirect("sales:lead_fields")
