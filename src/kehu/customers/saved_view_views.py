"""Saved views and columns of the customer list (the services are kehu.core.saved_views').

The query string is the list's whole state (filters, ordering, columns) and a saved view is a name for
one; a view's tab links to its state with `view=<id>`, so links can be shared and reloaded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import custom_fields, saved_views
from kehu.core.errors import ValidationFailed
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.list_columns import (
    CUSTOMER_TYPE,
    DEFAULT_COLUMNS,
    ORDERINGS,
    available_columns,
    chosen_columns,
    rows_html,
)
from kehu.customers.models import Customer

# Parameters that are not part of a view's state.
NOT_STATE = ("view", "cursor", "limit")


def parse_columns(data: QueryDict) -> list[str] | None:
    """`columns=a,b` or `columns=a&columns=b`; None when the query names none."""
    values = [part.strip() for value in data.getlist("columns") for part in value.split(",") if part.strip()]
    return values or None


def view_url(view: Any) -> str:
    params: list[tuple[str, Any]] = [("view", view.pk)]
    for name, value in (view.filters or {}).items():
        for item in value if isinstance(value, list) else [value]:
            params.append((name, item))
    if view.ordering:
        params.append(("ordering", view.ordering))
    if view.columns:
        params.append(("columns", ",".join(view.columns)))
    return f"{reverse('customers:list')}?{urlencode(params)}"


def default_redirect(request: HttpRequest) -> HttpResponse | None:
    """The list opened bare (no query string) opens the user's default view, if they chose one."""
    if request.GET:
        return None
    view = saved_views.default_for(actor=request.user, record_type=CUSTOMER_TYPE)
    return redirect(view_url(view)) if view is not None else None


def list_context(
    request: HttpRequest,
    *,
    page: Any,
    form: CustomerFilterForm,
    sort: dict[str, dict[str, str]],
    selectable: bool = False,
) -> dict[str, Any]:
    """The columns, rows (with a tick box each when `selectable`: bulk actions), view tabs and column
    chooser of the list page."""
    actor = request.user
    available = available_columns(actor.organization_id, form.custom_definitions)
    columns = chosen_columns(parse_columns(request.GET), available)
    custom_columns = [c.definition for c in columns if c.is_custom]
    users = custom_fields.users_for(actor.organization_id, custom_columns, page.items)
    custom_texts = [
        [custom_fields.display(d, customer.custom.get(d.key), users) for d in custom_columns] for customer in page.items
    ]
    views = list(saved_views.saved_view_list_for(actor=actor, record_type=CUSTOMER_TYPE))
    for view in views:
        view.url = view_url(view)
    active_id = request.GET.get("view", "")
    active = next((v for v in views if str(v.pk) == active_id), None)
    state = request.GET.copy()
    for name in NOT_STATE:
        state.pop(name, None)
    chosen_keys = [c.key for c in columns]
    return {
        "columns": columns,
        "headers": [(c, sort.get(c.sort) if c.sort else None) for c in columns],
        "rows_html": rows_html(columns, page.items, custom_texts, selectable=selectable),
        "column_choices": [(c, c.key in chosen_keys) for c in available],
        "custom_filters": form.custom_filter_fields,
        "saved_views": views,
        "active_view": active,
        "default_view_ids": saved_views.default_ids_for(actor=actor),
        "state": state.urlencode(),
        "state_params": [(k, v) for k in state for v in state.getlist(k) if k != "columns"],
        "can_edit_active_view": active is not None and can(actor, "edit", active),
    }


def _state_fields(actor: Any, state: str) -> dict[str, Any]:
    """filters, ordering and columns of a list state (a query string), validated like the list's own."""
    data = QueryDict(state or "", mutable=True)
    form = CustomerFilterForm(data, actor=actor)
    if not form.is_valid():
        reasons = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        raise ValidationFailed(_("The list's filters are not valid: %(reasons)s") % {"reasons": reasons})
    filters = custom_fields.jsonable_filters(form.cleaned_data)
    ordering = data.get("ordering", "")
    return {
        "filters": filters,
        "ordering": ordering if ordering in ORDERINGS else "",
        "columns": parse_columns(data) or list(DEFAULT_COLUMNS),
    }


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the list's current state under a name (personal, or shared with the organisation)."""
    actor = request.user
    require(actor, "view", Customer)
    try:
        view = saved_views.saved_view_create(
            actor=actor,
            record_type=CUSTOMER_TYPE,
            name=request.POST.get("name", ""),
            shared=request.POST.get("shared") == "on",
            **_state_fields(actor, request.POST.get("state", "")),
        )
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('customers:list')}?{request.POST.get('state', '')}")
    messages.success(request, _("View %(name)s saved.") % {"name": view.name})
    return redirect(view_url(view))


@login_required
@require_POST
def saved_view_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename or (un)share a view, or ("update") replace its state with the list's current one."""
    actor = request.user
    require(actor, "view", Customer)
    view = saved_views.saved_view_get_for(actor=actor, pk=pk)
    data: dict[str, Any] = {}
    if request.POST.get("action") == "update":
        data = _state_fields(actor, request.POST.get("state", ""))
    else:
        data = {"name": request.POST.get("name", view.name), "shared": request.POST.get("shared") == "on"}
    try:
        view = saved_views.saved_view_update(actor=actor, view=view, data=data)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("View %(name)s saved.") % {"name": view.name})
    return redirect(view_url(view))


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    require(actor, "view", Customer)
    view = saved_views.saved_view_get_for(actor=actor, pk=pk)
    saved_views.saved_view_delete(actor=actor, view=view)
    messages.success(request, _("View %(name)s deleted.") % {"name": view.name})
    return redirect(f"{reverse('customers:list')}?view=none")


@login_required
@require_POST
def saved_view_default(request: HttpRequest, pk: int) -> HttpResponse:
    """Make the view my default (the list opens with it), or, if it already is, open the plain list again."""
    actor = request.user
    require(actor, "view", Customer)
    view = saved_views.saved_view_get_for(actor=actor, pk=pk)
    is_default = view.pk in saved_views.default_ids_for(actor=actor)
    saved_views.saved_view_set_default(actor=actor, record_type=CUSTOMER_TYPE, view=None if is_default else view)
    if is_default:
        messages.success(request, _("The list opens without a view again."))
    else:
        messages.success(request, _("The list opens with %(name)s from now on.") % {"name": view.name})
    return redirect(view_url(view))
