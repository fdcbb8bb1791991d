"""Administrators edit the organisation's option lists (customer tiers, lifecycle stages, ticket types):
add, rename, reorder, deactivate, delete unused ones. The services are kehu.core.choice_lists'; this is
only the UI. Each list is edited by the administrators of its module."""

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

from kehu.core import choice_lists
from kehu.core.errors import PermissionDenied, ValidationFailed


class OptionForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Label"), max_length=choice_lists.LABEL_MAX_LENGTH)
    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("Stored on records and used by the API and imports; it cannot change later."),
    )

    def __init__(self, *args: Any, option: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if option is not None:  # renaming: the key is fixed; an empty label gives a built-in its own name back
            del self.fields["key"]
            if option.builtin:
                self.fields["label"].required = False
                self.fields["label"].help_text = _("Leave empty for the built-in name: %(name)s.") % {
                    "name": choice_lists.builtin_label(option.list_key, option.key)
                }
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


def _apply(form: forms.Form, exc: ValidationFailed) -> None:
    for name, errors in (exc.fields or {None: [exc.message]}).items():
        for message in errors:
            form.add_error(name if name in form.fields else None, message)


def _lists(actor: Any) -> list[choice_lists.ChoiceList]:
    found = choice_lists.administered_lists_for(actor)
    if not found:  # checked before any lookup: a non-administrator gets the same 403 for every id
        raise PermissionDenied()
    return found


def _current(request: HttpRequest, lists: list[choice_lists.ChoiceList]) -> choice_lists.ChoiceList:
    wanted = request.GET.get("list") or request.POST.get("list")
    return next((spec for spec in lists if spec.key == wanted), lists[0])


def _list_url(list_key: str) -> str:
    return f"{reverse('choice_lists:list')}?list={list_key}"


def _option(request: HttpRequest, pk: int) -> Any:
    lists = _lists(request.user)
    option = choice_lists.option_get_for(actor=request.user, pk=pk)
    if option.list_key not in {spec.key for spec in lists}:
        raise PermissionDenied()
    return option


@login_required
def option_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    lists = _lists(actor)
    spec = _current(request, lists)
    choice_lists.ensure_seeded(actor.organization_id, spec.key)
    form = OptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            option = choice_lists.option_create(
                actor=actor, list_key=spec.key, label=form.cleaned_data["label"], key=form.cleaned_data["key"]
            )
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Option %(label)s added.") % {"label": option.display_label})
            return redirect(_list_url(spec.key))
    rows = list(choice_lists.option_list_for(actor=actor, list_key=spec.key))
    context = {"spec": spec, "lists": lists, "rows": rows, "form": form}
    return render(request, "core/choice_lists/list.html", context)


@login_required
def option_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    option = _option(request, pk)
    spec = choice_lists.get_list(option.list_key)
    form = OptionForm(request.POST or None, option=option, initial={"label": option.label})
    if request.method == "POST" and form.is_valid():
        try:
            choice_lists.option_update(actor=actor, option=option, data={"label": form.cleaned_data["label"]})
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(_list_url(spec.key))
    return render(request, "core/choice_lists/form.html", {"spec": spec, "option": option, "form": form})


@login_required
@require_POST
def option_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (no longer offered for new choices; records keep it and show its name) or activate."""
    option = _option(request, pk)
    try:
        choice_lists.option_update(actor=request.user, option=option, data={"is_active": not option.is_active})
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        if option.is_active:
            messages.success(request, _("%(label)s is active again.") % {"label": option.display_label})
        else:
            messages.success(request, _("%(label)s deactivated; records keep it.") % {"label": option.display_label})
    return redirect(_list_url(option.list_key))


@login_required
@require_POST
def option_move(request: HttpRequest, pk: int) -> HttpResponse:
    option = _option(request, pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    choice_lists.option_move(actor=request.user, option=option, offset=offset)
    return redirect(_list_url(option.list_key))


@login_required
@require_POST
def option_delete(request: HttpRequest, pk: int) -> HttpResponse:
    option = _option(request, pk)
    label = option.display_label
    try:
        choice_lists.option_delete(actor=request.user, option=option)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message)
    else:
        messages.success(request, _("Option %(label)s deleted.") % {"label": label})
    return redirect(_list_url(option.list_key))
