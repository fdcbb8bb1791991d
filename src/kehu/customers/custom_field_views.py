"""Administrators manage the custom fields of customers and contacts: list, create, edit, reorder,
deactivate, delete (unused ones). The services are kehu.core.custom_fields'; this is only the UI."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core import custom_fields
from kehu.core.custom_field_models import SELECT_TYPES, CustomFieldDefinition, FieldType
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.services import require
from kehu.customers.forms import _StyledMixin, apply_service_errors
from kehu.customers.list_columns import CONTACT_TYPE, CUSTOMER_TYPE
from kehu.customers.models import MODULE

RECORD_TYPES = (CUSTOMER_TYPE, CONTACT_TYPE)


class DefinitionForm(_StyledMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    label = forms.CharField(label=gettext_lazy("Label"), max_length=100)
    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=40,
        help_text=gettext_lazy("Used by the API, imports and exports, e.g. contract_value. It cannot change later."),
    )
    field_type = forms.ChoiceField(label=gettext_lazy("Type"), choices=FieldType.choices)
    options = forms.CharField(
        label=gettext_lazy("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("For select fields: one option per line."),
    )
    default = forms.CharField(
        label=gettext_lazy("Default"),
        required=False,
        max_length=500,
        help_text=gettext_lazy(
            "Filled in on new records. Multi select: options separated by commas; yes/no: true or false."
        ),
    )
    help_text = forms.CharField(label=gettext_lazy("Help text"), required=False, max_length=255)
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    public = forms.BooleanField(
        label=gettext_lazy("On the public form"),
        required=False,
        help_text=gettext_lazy("Visitors fill it in on the help centre's form."),
    )

    def __init__(self, *args: Any, editing: bool = False, record_type: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        registered = custom_fields.get_record_type(record_type) if record_type else None
        if registered is None or not registered.public_form:
            del self.fields["public"]
        if editing:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = ""
        else:
            del self.fields["version"]
        self.style()

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        kind = data["field_type"]
        data["options"] = data["options"].splitlines() if kind in SELECT_TYPES else []
        default = data["default"].strip()
        if kind == FieldType.MULTI_SELECT and default:
            data["default"] = [part.strip() for part in default.replace("，", ",").split(",") if part.strip()]
        else:
            data["default"] = default or None
        return data

    @staticmethod
    def initial_for(definition: CustomFieldDefinition) -> dict[str, Any]:
        default = definition.default
        if isinstance(default, list):
            default = ", ".join(default)
        elif isinstance(default, bool):
            default = "true" if default else "false"
        return {
            "version": definition.version,
            "label": definition.label,
            "key": definition.key,
            "field_type": definition.field_type,
            "options": "\n".join(definition.options or []),
            "default": "" if default is None else default,
            "help_text": definition.help_text,
            "required": definition.required,
            "is_active": definition.is_active,
            "public": definition.public,
        }


def _record_types(actor: Any) -> list[str]:
    """The record types the actor administers: customers and contacts first, then those of other modules
    (opportunities, tickets, ...). A service administrator who does not administer customers manages the
    ticket fields here too."""
    administered = [rt.key for rt in custom_fields.administered_record_types_for(actor)]
    return [*(k for k in RECORD_TYPES if k in administered), *(k for k in administered if k not in RECORD_TYPES)]


def _record_type(request: HttpRequest) -> str:
    allowed = _record_types(request.user)
    value = request.GET.get("record_type") or request.POST.get("record_type") or allowed[0]
    return value if value in allowed else allowed[0]


def _list_url(record_type: str) -> str:
    return f"{reverse('customers:custom_fields')}?record_type={record_type}"


def _require_admin(actor: Any) -> None:
    # Checked before any lookup, so a non-administrator gets the same 403 for every id (theirs or not).
    # Administering any module with custom fields is enough to open these pages; the definition services
    # check the record type's own module on every change (CustomFieldDefinitionPolicy).
    if not custom_fields.administered_record_types_for(actor):
        require(actor, "administer", MODULE)


def _definition(actor: Any, pk: int) -> CustomFieldDefinition:
    """A definition of the actor's organisation (404 otherwise) that the actor may change (403 otherwise:
    the fields of a module they do not administer)."""
    definition = custom_fields.definition_get_for(actor=actor, pk=pk)
    require(actor, "edit", definition)
    return definition


@login_required
def custom_field_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    record_type = _record_type(request)
    definitions = list(custom_fields.definition_list_for(actor=actor, record_type=record_type))
    tabs = [(rt, custom_fields.get_record_type(rt).label) for rt in _record_types(actor)]
    context = {"definitions": definitions, "record_type": record_type, "tabs": tabs}
    return render(request, "customers/custom_fields/list.html", context)


@login_required
def custom_field_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    record_type = _record_type(request)
    form = DefinitionForm(request.POST or None, initial={"is_active": True}, record_type=record_type)
    if request.method == "POST" and form.is_valid():
        try:
            definition = custom_fields.definition_create(actor=actor, record_type=record_type, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Field %(label)s added.") % {"label": definition.label})
            return redirect(_list_url(record_type))
    context = {"form": form, "record_type": record_type, "definition": None}
    return render(request, "customers/custom_fields/form.html", context)


@login_required
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    if request.method == "POST":
        form = DefinitionForm(
            request.POST,
            initial=DefinitionForm.initial_for(definition),
            editing=True,
            record_type=definition.record_type,
        )
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
                return redirect(_list_url(definition.record_type))
    else:
        form = DefinitionForm(
            initial=DefinitionForm.initial_for(definition), editing=True, record_type=definition.record_type
        )
    context = {"form": form, "record_type": definition.record_type, "definition": definition}
    return render(request, "customers/custom_fields/form.html", context)


@login_required
@require_POST
def custom_field_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (hidden from forms, lists and the API input; values kept) or activate again."""
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    custom_fields.definition_update(
        actor=actor, definition=definition, expected_version=None, data={"is_active": not definition.is_active}
    )
    if definition.is_active:
        messages.success(request, _("Field %(label)s is active again.") % {"label": definition.label})
    else:
        messages.success(request, _("Field %(label)s deactivated; its values are kept.") % {"label": definition.label})
    return redirect(_list_url(definition.record_type))


@login_required
@require_POST
def custom_field_move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    custom_fields.definition_move(actor=actor, definition=definition, offset=offset)
    return redirect(_list_url(definition.record_type))


@login_required
@require_POST
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    _require_admin(actor)
    definition = _definition(actor, pk)
    try:
        custom_fields.definition_delete(actor=actor, definition=definition)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message)
    else:
        messages.success(request, _("Field %(label)s deleted.") % {"label": definition.label})
    return redirect(_list_url(definition.record_type))
