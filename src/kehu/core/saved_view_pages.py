"""The saved-view bar of a list page (tabs, save / update / rename / share / delete / default, and the column
chooser) and its four POST pages, generic over lists; the services are kehu.core.saved_views'.

The query string is the list's whole state (filters, ordering, columns) and a saved view is a name for
one; a view's tab links to its state with `view=<id>`, so links can be shared and reloaded. A list
describes itself once:

    LEAD_VIEWS = SavedViewPages(
        record_type="sales.lead", list_url="sales:lead_list", url_prefix="sales:lead_saved_view",
        model=Lead, filter_form=lambda data, actor: LeadFilterForm(data, actor=actor),
        orderings=[...], all_label=_("All leads"),
    )

routes `LEAD_VIEWS.create / edit / delete / default` under `<url_prefix>_create|_edit|_delete|_default`,
calls `LEAD_VIEWS.default_redirect(request)` first in its list view and adds `LEAD_VIEWS.bar_context(...)`
to the page, which includes "core/saved_views/_bar.html". Lists with a column chooser pass `columns`
(the available keys) and `default_columns`; the others keep filters and sort order only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import saved_views
from kehu.core.errors import ValidationFailed
from kehu.core.permissions import can
from kehu.core.saved_view_models import SavedViewDefault
from kehu.core.services import require

# Parameters that are not part of a view's state.
NOT_STATE = ("view", "cursor", "limit")


def parse_columns(data: QueryDict) -> list[str] | None:
    """`columns=a,b` or `columns=a&columns=b`; None when the query names none."""
    values = [part.strip() for value in data.getlist("columns") for part in value.split(",") if part.strip()]
    return values or None


def query_filters(form: Any) -> dict[str, Any]:
    """A valid filter form's non-empty parameters as the query string gave them (a list when repeated): what
    a saved view stores, and what its tab's link gives back to the same form."""
    filters: dict[str, Any] = {}
    for name in form.fields:
        values = [v for v in form.data.getlist(name) if str(v).strip()] if hasattr(form.data, "getlist") else []
        if values:
            filters[name] = values if len(values) > 1 else values[0]
    return filters


@dataclass(frozen=True)
class SavedViewPages:
    record_type: str
    list_url: str  # the list's URL name
    url_prefix: str  # "<namespace>:<name>": the four POST pages are <prefix>_create, _edit, _delete, _default
    model: type
    filter_form: Callable[[QueryDict, Any], Any]  # (data, actor) -> a bound form with the list's filters
    orderings: Iterable[str]
    all_label: str | Promise  # the tab of the plain list ("All leads")
    default_columns: list[str] = field(default_factory=list)  # empty: the list has no column chooser
    filters_of: Callable[[Any], dict[str, Any]] = query_filters  # (valid form) -> the filters a view keeps

    @property
    def has_columns(self) -> bool:
        return bool(self.default_columns)

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.url_prefix}_{name}", args=args)

    def view_url(self, view: Any) -> str:
        params: list[tuple[str, Any]] = [("view", view.pk)]
        for name, value in (view.filters or {}).items():
            for item in value if isinstance(value, list) else [value]:
                params.append((name, item))
        if view.ordering:
            params.append(("ordering", view.ordering))
        if view.columns:
            params.append(("columns", ",".join(view.columns)))
        return f"{reverse(self.list_url)}?{urlencode(params)}"

    def default_redirect(self, request: HttpRequest) -> HttpResponse | None:
        """The list opened bare (no query string) opens the user's default view, if they chose one."""
        if request.GET:
            return None
        view = saved_views.default_for(actor=request.user, record_type=self.record_type)
        return redirect(self.view_url(view)) if view is not None else None

    def bar_context(self, request: HttpRequest, *, column_choices: list[tuple[Any, bool]] | None = None) -> dict:
        """The view tabs, the view menu's state and (with `column_choices`: (column, shown) pairs) the
        column chooser, for "core/saved_views/_bar.html"."""
        actor = request.user
        # Whether each is the user's default comes with the views: one query for the bar, not two.
        defaults = SavedViewDefault.objects.filter(
            organization_id=actor.organization_id, user_id=actor.pk, view_id=OuterRef("pk")
        )
        qs = saved_views.saved_view_list_for(actor=actor, record_type=self.record_type)
        views = list(qs.annotate(is_default=Exists(defaults)))
        for view in views:
            view.url = self.view_url(view)
        active_id = request.GET.get("view", "")
        active = next((v for v in views if str(v.pk) == active_id), None)
        state = request.GET.copy()
        for name in NOT_STATE:
            state.pop(name, None)
        return {
            "saved_views": views,
            "active_view": active,
            "default_view_ids": {view.pk for view in views if view.is_default},
            "state": state.urlencode(),
            "state_params": [(k, v) for k in state for v in state.getlist(k) if k != "columns"],
            "can_edit_active_view": active is not None and can(actor, "edit", active),
            "column_choices": column_choices or [],
            "views_all_label": self.all_label,
            "view_urls": {
                "create": self.url("create"),
                "edit": self.url("edit", active.pk) if active else "",
                "delete": self.url("delete", active.pk) if active else "",
                "default": self.url("default", active.pk) if active else "",
            },
        }

    def _state_fields(self, actor: Any, state: str) -> dict[str, Any]:
        """filters, ordering and columns of a list state (a query string), validated like the list's own."""
        data = QueryDict(state or "", mutable=True)
        form = self.filter_form(data, actor)
        if not form.is_valid():
            reasons = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
            raise ValidationFailed(_("The list's filters are not valid: %(reasons)s") % {"reasons": reasons})
        ordering = data.get("ordering", "")
        return {
            "filters": self.filters_of(form),
            "ordering": ordering if ordering in set(self.orderings) else "",
            "columns": (parse_columns(data) or list(self.default_columns)) if self.has_columns else [],
        }

    # The pages (POST only; each answers with a redirect to the list) -----------------------------------

    def create(self, request: HttpRequest) -> HttpResponse:
        """Save the list's current state under a name (personal, or shared with the organisation)."""
        actor = request.user
        require(actor, "view", self.model)
        try:
            view = saved_views.saved_view_create(
                actor=actor,
                record_type=self.record_type,
                name=request.POST.get("name", ""),
                shared=request.POST.get("shared") == "on",
                **self._state_fields(actor, request.POST.get("state", "")),
            )
        except ValidationFailed as exc:
            messages.error(request, exc.message)
            return redirect(f"{reverse(self.list_url)}?{request.POST.get('state', '')}")
        messages.success(request, _("View %(name)s saved.") % {"name": view.name})
        return redirect(self.view_url(view))

    def edit(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Rename or (un)share a view, or ("update") replace its state with the list's current one."""
        actor = request.user
        require(actor, "view", self.model)
        view = saved_views.saved_view_get_for(actor=actor, pk=pk)
        data: dict[str, Any] = {}
        try:
            if request.POST.get("action") == "update":
                data = self._state_fields(actor, request.POST.get("state", ""))
            else:
                data = {"name": request.POST.get("name", view.name), "shared": request.POST.get("shared") == "on"}
            view = saved_views.saved_view_update(actor=actor, view=view, data=data)
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("View %(name)s saved.") % {"name": view.name})
        return redirect(self.view_url(view))

    def delete(self, request: HttpRequest, pk: int) -> HttpResponse:
        actor = request.user
        require(actor, "view", self.model)
        view = saved_views.saved_view_get_for(actor=actor, pk=pk)
        saved_views.saved_view_delete(actor=actor, view=view)
        messages.success(request, _("View %(name)s deleted.") % {"name": view.name})
        return redirect(f"{reverse(self.list_url)}?view=none")

    def default(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Make the view my default (the list opens with it), or, if it already is, open the plain list again."""
        actor = request.user
        require(actor, "view", self.model)
        view = saved_views.saved_view_get_for(actor=actor, pk=pk)
        is_default = view.pk in saved_views.default_ids_for(actor=actor)
        saved_views.saved_view_set_default(actor=actor, record_type=self.record_type, view=None if is_default else view)
        if is_default:
            messages.success(request, _("The list opens without a view again."))
        else:
            messages.success(request, _("The list opens with %(name)s from now on.") % {"name": view.name})
        return redirect(self.view_url(view))

    def urls(self, prefix: str) -> list[Any]:
        """The four pages' URL patterns under `prefix` ("leads/views/"), named after `url_prefix`."""
        from django.urls import path

        name = self.url_prefix.split(":", 1)[-1]
        return [
            path(f"{prefix}new/", post_page(self.create), name=f"{name}_create"),
            path(f"{prefix}<int:pk>/edit/", post_page(self.edit), name=f"{name}_edit"),
            path(f"{prefix}<int:pk>/delete/", post_page(self.delete), name=f"{name}_delete"),
            path(f"{prefix}<int:pk>/default/", post_page(self.default), name=f"{name}_default"),
        ]


def post_page(method: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(method))
