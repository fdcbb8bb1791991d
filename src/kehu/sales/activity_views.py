"""Pages of activities: "my day", the calendar, the list, the activity's page (edit, complete, cancel,
reopen, delete), the recycle bin, and the quick log used on "my day" and on record pages.

Records are read through the selectors first, so another organisation's (or another scope's) activity
is a 404 before any form is looked at. Every page runs in the organisation's time zone: times are shown
and typed as the organisation's local times.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.sales import activity_selectors as selectors
from kehu.sales import activity_services as services
from kehu.sales import list_views
from kehu.sales.activity_forms import (
    ActivityFilterForm,
    ActivityForm,
    CompleteForm,
    QuickLogForm,
    apply_service_errors,
)
from kehu.sales.activity_models import Activity

# Column -> the direction a first click sorts in.
SORTABLE = {"scheduled_at": "-scheduled_at", "created_at": "-created_at", "updated_at": "-updated_at"}
LINK_PARAMS = ("customer", "contact", "lead", "opportunity")


def in_org_timezone(view: Any) -> Any:
    """Run the view in the organisation's time zone: dates shown, typed and bucketed are its local ones."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organization = getattr(request.user, "organization", None)
        with timezone.override(selectors.org_timezone(organization)):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response

    return wrapper


def page(view: Any) -> Any:
    return login_required(in_org_timezone(view))


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


def _mark(actor: Any, activities: list[Activity]) -> list[Activity]:
    """What each row may offer (complete, edit), answered once per row without extra queries for owners
    in scope (the policy reads the loaded owner)."""
    now = timezone.now()
    for activity in activities:
        activity.can_edit = can(actor, "edit", activity)
        activity.overdue = activity.is_overdue(now)
    return activities


# My day ----------------------------------------------------------------------------------------------------


@page
def my_day(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Activity)
    day = selectors.my_day_for(actor=actor)
    for bucket in (day.overdue, day.due_today, day.done_today, day.upcoming):
        _mark(actor, bucket)
    can_create = can(actor, "create", Activity)
    return render(
        request,
        "sales/activity/my_day.html",
        {
            "day": day,
            "can_create": can_create,
            "quick_form": QuickLogForm(actor=actor, initial={"next": request.path}) if can_create else None,
        },
    )


# List and recycle bin --------------------------------------------------------------------------------------


@page
def activity_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Activity)
    if (default_view := list_views.ACTIVITY_VIEWS.default_redirect(request)) is not None:
        return default_view
    form = ActivityFilterForm(request.GET or None, actor=actor, with_choices=selectors.sees_colleagues(actor))
    filters = form.filters() if form.is_bound else {}
    ordering = request.GET.get("ordering") or selectors.DEFAULT_ORDERING
    try:
        result = selectors.activity_page_for(
            actor=actor, filters=filters, ordering=ordering, cursor=request.GET.get("cursor")
        )
    except ValidationFailed as exc:  # a stale cursor or an unknown sort column: the first page instead
        messages.warning(request, exc.message)
        result = selectors.activity_page_for(actor=actor, filters=filters)
    linked = {}
    for name in LINK_PARAMS:
        pk = filters.get(name)
        if pk:
            linked[name] = next((getattr(a, name) for a in result.items if getattr(a, f"{name}_id") == pk), None)
    return render(
        request,
        "sales/activity/list.html",
        {
            "page": result,
            "activities": _mark(actor, result.items),
            "form": form,
            "filtered": bool(filters),
            "linked": {k: v for k, v in linked.items() if v is not None},
            "ordering": result.ordering,
            "sort": _sort_links(result.ordering),
            "can_create": can(actor, "create", Activity),
            "show_owner": selectors.sees_colleagues(actor),
            **list_views.ACTIVITY_VIEWS.bar_context(request),  # saved views (sales/list_views.py)
        },
    )


@page
def recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Activity)
    activities = selectors.activity_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[
        : selectors.RECYCLE_BIN_LIMIT
    ]
    return render(
        request,
        "sales/activity/recycle_bin.html",
        {
            "activities": activities,
            "can_restore": can(actor, "restore", Activity),
            "limit": selectors.RECYCLE_BIN_LIMIT,
        },
    )


# Calendar --------------------------------------------------------------------------------------------------


def _calendar_owner(request: HttpRequest) -> tuple[Any, bool, str]:
    """(owner, everyone, the picker's value) from ?user=: managers pick a colleague or "all"; a rep sees
    their own calendar whatever is asked."""
    actor = request.user
    wanted = request.GET.get("user", "")
    if not selectors.sees_colleagues(actor) or wanted in ("", "me", str(actor.pk)):
        return actor, False, ""
    if wanted == "all":
        return None, True, "all"
    colleague = next((u for u in selectors.owner_choices_for(actor=actor) if str(u.pk) == wanted), None)
    if colleague is None:
        messages.warning(request, _("You cannot see that colleague's calendar; showing yours."))
        return actor, False, ""
    return colleague, False, str(colleague.pk)


@page
def activity_calendar(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Activity)
    view = request.GET.get("view", "month")
    view = view if view in selectors.CALENDAR_VIEWS else "month"
    today = timezone.localdate()
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        anchor = today
    owner, everyone, user_value = _calendar_owner(request)
    cal = selectors.calendar_for(actor=actor, view=view, anchor=anchor, owner=owner, everyone=everyone)
    for day in cal.days:
        _mark(actor, day.items)
    return render(
        request,
        "sales/activity/calendar.html",
        {
            "cal": cal,
            "user_value": user_value,
            "owners": selectors.owner_choices_for(actor=actor) if selectors.sees_colleagues(actor) else [],
            "show_owner": everyone,
            "can_create": can(actor, "create", Activity),
            "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        },
    )


# Create, read, edit ----------------------------------------------------------------------------------------


def _initial_from_query(request: HttpRequest) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for name in LINK_PARAMS:
        value = request.GET.get(name, "")
        if value.isdigit():
            initial[name] = int(value)
    kind = request.GET.get("kind", "")
    if kind in Activity.Kind.values:
        initial["kind"] = kind
    if request.GET.get("status") == Activity.Status.DONE:
        initial["status"] = Activity.Status.DONE
    for name in ("starts_at", "due_at"):
        value = request.GET.get(name, "")
        if value:
            initial[name] = value
    return initial


@page
def activity_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Activity)
    can_assign = can(actor, "assign", Activity)
    initial = _initial_from_query(request)
    customer = None
    if initial.get("customer"):
        customer = next(
            (c for c in selectors.customer_choices_for(actor=actor) if c.pk == initial["customer"]), None
        ) or _visible_customer(actor, initial["customer"])
    form = ActivityForm(request.POST or None, actor=actor, can_assign=can_assign, customer=customer, initial=initial)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"), "")
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_create(actor=actor, owner=form.owner_choice(), **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            if activity.status == Activity.Status.DONE:
                messages.success(request, _("Activity logged."))
            else:
                messages.success(request, _("Activity planned."))
            return redirect(next_url or activity.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request, "sales/activity/form.html", {"form": form, "activity": None, "next": next_url}, status=status
    )


def _visible_customer(actor: Any, pk: int) -> Any:
    from kehu.core.errors import NotFound
    from kehu.customers.models import Customer

    try:
        return selectors.record_get_for(actor=actor, model=Customer, pk=pk)
    except NotFound:
        return None


@page
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    activity = selectors.activity_get_for(actor=actor, pk=pk)
    _mark(actor, [activity])
    return render(
        request,
        "sales/activity/detail.html",
        {
            "activity": activity,
            "complete_form": CompleteForm(initial={"version": activity.version}),
            "can_delete": can(actor, "delete", activity),
        },
    )


@page
def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    activity = selectors.activity_get_for(actor=actor, pk=pk)
    require(actor, "edit", activity)
    can_assign = can(actor, "assign", activity)
    if request.method != "POST":
        form = ActivityForm(
            actor=actor,
            editing=True,
            can_assign=can_assign,
            customer=activity.customer,
            initial=ActivityForm.initial_for(activity),
        )
        return render(request, "sales/activity/form.html", {"form": form, "activity": activity})
    form = ActivityForm(request.POST, actor=actor, editing=True, can_assign=can_assign, customer=activity.customer)
    if form.is_valid():
        data = form.service_data()
        owner = form.owner_choice()
        if owner is not None:
            data["owner"] = owner
        try:
            services.activity_update(
                actor=actor, activity=activity, expected_version=form.cleaned_data.get("version"), data=data
            )
        except VersionConflict:
            fresh = selectors.activity_get_for(actor=actor, pk=pk)
            posted = request.POST.copy()
            posted["version"] = str(fresh.version)  # saving again is a deliberate overwrite
            form = ActivityForm(posted, actor=actor, editing=True, can_assign=can_assign, customer=fresh.customer)
            form.is_valid()
            form.add_error(None, str(VersionConflict.default_message))
            return render(
                request, "sales/activity/form.html", {"form": form, "activity": fresh, "conflict": True}, status=409
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(activity.get_absolute_url())
    return render(request, "sales/activity/form.html", {"form": form, "activity": activity}, status=400)


@require_GET
@login_required
def contact_options(request: HttpRequest) -> HttpResponse:
    """The contact select's options for the customer chosen in the form (htmx)."""
    actor = request.user
    require(actor, "view", Activity)
    value = request.GET.get("customer", "")
    contacts = selectors.contact_choices_for(actor=actor, customer=int(value)) if value.isdigit() else []
    return render(request, "sales/activity/_contact_options.html", {"contacts": contacts})


# Status changes --------------------------------------------------------------------------------------------


def _row_response(request: HttpRequest, activity: Activity, *, note: str = "") -> HttpResponse:
    _mark(request.user, [activity])
    context = {
        "activity": activity,
        "note": note,
        "show_owner": False,
        "compact": request.POST.get("compact") == "1",
        "here": _safe_next(request, request.POST.get("next"), ""),
    }
    return render(request, "sales/activity/_row.html", context)


def _status_change(request: HttpRequest, pk: int, change: Any, done_message: str) -> HttpResponse:
    actor = request.user
    activity = selectors.activity_get_for(actor=actor, pk=pk)
    form = CompleteForm(request.POST)
    form.is_valid()
    version = form.cleaned_data.get("version") if form.is_valid() else None
    outcome = (form.cleaned_data.get("outcome") or None) if form.is_valid() else None
    try:
        change(actor=actor, activity=activity, expected_version=version, outcome=outcome)
    except DomainError as exc:
        if exc.status not in (400, 409):
            raise
        if request.htmx:
            fresh = selectors.activity_get_for(actor=actor, pk=pk)
            return _row_response(request, fresh, note=exc.message)
        messages.warning(request, exc.message)
        return redirect(_safe_next(request, request.POST.get("next"), activity.get_absolute_url()))
    if request.htmx:
        return _row_response(request, activity)
    messages.success(request, done_message)
    return redirect(_safe_next(request, request.POST.get("next"), activity.get_absolute_url()))


@require_POST
@page
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, services.activity_complete, _("Marked as done."))


@require_POST
@page
def activity_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, services.activity_cancel, _("Activity cancelled."))


@require_POST
@page
def activity_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    def reopen(*, actor: Any, activity: Activity, expected_version: Any, outcome: Any) -> Activity:
        return services.activity_reopen(actor=actor, activity=activity, expected_version=expected_version)

    return _status_change(request, pk, reopen, _("Activity planned again."))


@require_POST
@page
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    activity = selectors.activity_get_for(actor=actor, pk=pk)
    services.activity_delete(actor=actor, activity=activity)
    messages.success(request, _("“%(subject)s” moved to the recycle bin.") % {"subject": activity.subject})
    return redirect(_safe_next(request, request.POST.get("next"), reverse("sales:activity_list")))


@require_POST
@page
def activity_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    activity = selectors.activity_deleted_get_for(actor=actor, pk=pk)
    services.activity_restore(actor=actor, activity=activity)
    messages.success(request, _("“%(subject)s” was restored.") % {"subject": activity.subject})
    return redirect(activity.get_absolute_url())


# Quick log -------------------------------------------------------------------------------------------------


def fixed_links(actor: Any, source: Any) -> dict[str, Any]:
    """The record(s) a panel's quick log is for, from its hidden fields (resolved through the selectors)."""
    from kehu.core.errors import NotFound
    from kehu.customers.models import Customer
    from kehu.sales.models import Lead, Opportunity

    links: dict[str, Any] = {}
    for name, model in (("customer", Customer), ("lead", Lead), ("opportunity", Opportunity)):
        value = str(source.get(f"panel_{name}", "") or "")
        if value.isdigit():
            try:
                links[name] = selectors.record_get_for(actor=actor, model=model, pk=int(value))
            except NotFound:
                links[name] = None
    return links


@require_POST
@page
def activity_log(request: HttpRequest) -> HttpResponse:
    """Log a done follow-up from the quick form: on "my day" (customer chosen) or on a record page's
    activity panel (the record fixed). htmx gets the panel back; a plain post is redirected to `next`."""
    actor = request.user
    require(actor, "create", Activity)
    fixed = fixed_links(actor, request.POST)
    form = QuickLogForm(request.POST, actor=actor, fixed=fixed)
    next_url = _safe_next(request, request.POST.get("next"), reverse("sales:my_day"))
    logged = None
    if form.is_valid():
        try:
            logged = services.activity_log(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
    if request.htmx and fixed:
        from kehu.sales.templatetags.activity_tags import panel_context

        context = panel_context(request, **{k: v for k, v in fixed.items() if v is not None})
        if logged is None:
            context["log_form"] = form
        else:
            context["logged"] = logged
        return render(request, "sales/activity/_panel.html", context)
    if logged is not None:
        messages.success(request, _("Activity logged."))
        return redirect(next_url)
    return render(request, "sales/activity/log_form.html", {"form": form, "next": next_url}, status=400)


# ---------------------------------------------------------------------------------------------------------------
# The customer's page (registered with kehu.customers.panels in apps.py): the activity panel and the header's
# "Log activity" button. Lead and opportunity pages use the template tags of activity_tags for the same HTML.


def customer_panel(request: HttpRequest, customer: Any) -> str:
    """The activity panel of a customer page (next steps, quick log); "" for a user without activities."""
    from django.template.loader import render_to_string

    from kehu.sales.templatetags.activity_tags import panel_context

    # Loaded by htmx after the customer's page (customers:panels): its forms return to that page.
    context = panel_context(request, customer=customer, here=customer.get_absolute_url())
    if not context.get("show"):
        return ""
    return render_to_string("sales/activity/_panel.html", context, request=request)


def customer_log_button(request: HttpRequest, customer: Any) -> str:
    """The "Log activity" button of a customer page's header; "" for a user who may not create one."""
    from django.template.loader import render_to_string

    from kehu.sales.templatetags.activity_tags import log_button_url

    url = log_button_url(request, customer=customer)
    return render_to_string("sales/activity/_log_button.html", {"url": url}, request=request) if url else ""
