"""Pages of SLA policies, business calendars and the service report: parse, call a selector or a
service, render. The module gate and the domain-error pages are the middleware's job."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers.forms import apply_service_errors
from kehu.service import calendar_holidays, sla_selectors, sla_services, survey_selectors
from kehu.service.models import BusinessCalendar, SlaPolicy, Survey, Ticket
from kehu.service.sla_forms import (
    ApplyHolidaysForm,
    CalendarDayForm,
    CalendarForm,
    ReportForm,
    SlaPolicyForm,
    minutes_text,
)


def _conflict(form: Any, fresh_version: int) -> None:
    """Keep what the user typed, point the form at the current version: saving again overwrites."""
    data = form.data.copy()
    data["version"] = str(fresh_version)
    form.data = data
    form.add_error(None, str(VersionConflict.default_message))


# SLA policies ----------------------------------------------------------------------------------------


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", SlaPolicy)
    policies = list(sla_selectors.policy_list_for(actor=actor))
    rows = []
    for policy in policies:
        targets = {t.priority: t for t in policy.targets.all()}
        rows.append(
            {
                "policy": policy,
                "targets": [
                    (
                        label,
                        minutes_text(getattr(targets.get(p), "first_response_minutes", None)),
                        minutes_text(getattr(targets.get(p), "resolution_minutes", None)),
                    )
                    for p, label in Ticket.Priority.choices
                ],
                "priorities": [str(Ticket.Priority(p).label) for p in policy.priorities],
            }
        )
    context = {
        "rows": rows,
        "can_manage": can(actor, "administer", SlaPolicy),
        "calendars": sla_selectors.calendar_list_for(actor=actor),
    }
    return render(request, "service/sla/policy_list.html", context)


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", SlaPolicy)
    form = SlaPolicyForm(request.POST or None, actor=actor, initial={"warning_percent": 80, "is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            policy = sla_services.sla_policy_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("SLA policy %(name)s created.") % {"name": policy.name})
            return redirect("service:sla_policies")
    return render(request, "service/sla/policy_form.html", {"form": form, "policy": None})


@login_required
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    policy = sla_selectors.policy_get_for(actor=actor, pk=pk)
    require(actor, "edit", policy)
    if request.method != "POST":
        form = SlaPolicyForm(initial=SlaPolicyForm.initial_for(policy), actor=actor)
        return render(request, "service/sla/policy_form.html", {"form": form, "policy": policy})
    form = SlaPolicyForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            sla_services.sla_policy_update(
                actor=actor, policy=policy, expected_version=form.cleaned_data.get("version"), data=form.service_data()
            )
        except VersionConflict:
            _conflict(form, sla_selectors.policy_get_for(actor=actor, pk=pk).version)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("service:sla_policies")
    return render(request, "service/sla/policy_form.html", {"form": form, "policy": policy})


@login_required
@require_POST
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    policy = sla_selectors.policy_get_for(actor=actor, pk=pk)
    sla_services.sla_policy_delete(actor=actor, policy=policy)
    messages.success(request, _("SLA policy %(name)s deleted.") % {"name": policy.name})
    return redirect("service:sla_policies")


@login_required
@require_POST
def policy_move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    policy = sla_selectors.policy_get_for(actor=actor, pk=pk)
    try:
        sla_services.sla_policy_move(actor=actor, policy=policy, direction=request.POST.get("direction", ""))
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    return redirect("service:sla_policies")


# Calendars -------------------------------------------------------------------------------------------


@login_required
def calendar_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", BusinessCalendar)
    calendars = list(sla_selectors.calendar_list_for(actor=actor))
    rows = [{"calendar": c, "hours": sla_selectors.weekly_hours(c)} for c in calendars]
    return render(
        request,
        "service/sla/calendar_list.html",
        {"rows": rows, "can_manage": can(actor, "administer", BusinessCalendar)},
    )


@login_required
def calendar_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", BusinessCalendar)
    form = CalendarForm(request.POST or None, initial=CalendarForm.initial_for(None))
    if request.method == "POST" and form.is_valid():
        try:
            calendar = sla_services.calendar_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            _calendar_errors(form, exc)
        else:
            messages.success(request, _("Calendar %(name)s created.") % {"name": calendar.name})
            return redirect("service:calendar_detail", pk=calendar.pk)
    return render(request, "service/sla/calendar_form.html", {"form": form, "calendar": None})


def _calendar_errors(form: CalendarForm, exc: ValidationFailed) -> None:
    if "working_hours" in exc.fields:
        form.add_error("day_0", " ".join(exc.fields.pop("working_hours")))
    if exc.fields or not form.errors:
        apply_service_errors(form, exc)


@login_required
def calendar_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    calendar = sla_selectors.calendar_get_for(actor=actor, pk=pk)
    years = {}
    for day in sla_selectors.calendar_day_list_for(actor=actor, calendar=calendar).order_by("date"):
        years.setdefault(day.date.year, []).append(day)
    context = {
        "calendar": calendar,
        "hours": sla_selectors.weekly_hours(calendar),
        "years": sorted(years.items()),
        "can_manage": can(actor, "administer", calendar),
        "apply_form": ApplyHolidaysForm(),
        "day_form": CalendarDayForm(),
        "schedules": [calendar_holidays.cn_schedule(y) for y in calendar_holidays.available_years()],
    }
    return render(request, "service/sla/calendar_detail.html", context)


@login_required
def calendar_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    calendar = sla_selectors.calendar_get_for(actor=actor, pk=pk)
    require(actor, "edit", calendar)
    if request.method != "POST":
        form = CalendarForm(initial=CalendarForm.initial_for(calendar))
        return render(request, "service/sla/calendar_form.html", {"form": form, "calendar": calendar})
    form = CalendarForm(request.POST)
    if form.is_valid():
        try:
            sla_services.calendar_update(
                actor=actor,
                calendar=calendar,
                expected_version=form.cleaned_data.get("version"),
                data=form.service_data(),
            )
        except VersionConflict:
            _conflict(form, sla_selectors.calendar_get_for(actor=actor, pk=pk).version)
        except ValidationFailed as exc:
            _calendar_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("service:calendar_detail", pk=calendar.pk)
    return render(request, "service/sla/calendar_form.html", {"form": form, "calendar": calendar})


@login_required
@require_POST
def calendar_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    calendar = sla_selectors.calendar_get_for(actor=actor, pk=pk)
    try:
        sla_services.calendar_delete(actor=actor, calendar=calendar)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("service:calendar_detail", pk=calendar.pk)
    messages.success(request, _("Calendar %(name)s deleted.") % {"name": calendar.name})
    return redirect("service:calendars")


@login_required
@require_POST
def calendar_apply_holidays(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    calendar = sla_selectors.calendar_get_for(actor=actor, pk=pk)
    require(actor, "edit", calendar)
    form = ApplyHolidaysForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a year Kehu has public holidays for."))
        return redirect("service:calendar_detail", pk=calendar.pk)
    result = sla_services.calendar_apply_cn_holidays(actor=actor, calendar=calendar, year=form.cleaned_data["year"])
    messages.success(
        request,
        _(
            "Public holidays %(year)s applied: %(added)d added, %(updated)d updated, %(removed)d removed, "
            "%(kept)d of your own edits kept."
        )
        % {
            "year": result.year,
            "added": result.added,
            "updated": result.updated,
            "removed": result.removed,
            "kept": result.kept,
        },
    )
    if result.provisional:
        messages.warning(
            request,
            _(
                "The %(year)s holidays are provisional: check them against the State Council's notice when it is "
                "published, and edit the days that differ."
            )
            % {"year": result.year},
        )
    return redirect("service:calendar_detail", pk=calendar.pk)


@login_required
def calendar_day_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    calendar = sla_selectors.calendar_get_for(actor=actor, pk=pk)
    require(actor, "edit", calendar)
    form = CalendarDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            day = sla_services.calendar_day_create(
                actor=actor,
                calendar=calendar,
                date=form.cleaned_data["date"],
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("%(day)s added.") % {"day": day})
            return redirect("service:calendar_detail", pk=calendar.pk)
    return render(request, "service/sla/day_form.html", {"form": form, "calendar": calendar, "day": None})


@login_required
def calendar_day_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    day = sla_selectors.calendar_day_get_for(actor=actor, pk=pk)
    require(actor, "edit", day)
    calendar = day.calendar
    if request.method != "POST":
        form = CalendarDayForm(initial={"version": day.version, "date": day.date, "kind": day.kind, "name": day.name})
        return render(request, "service/sla/day_form.html", {"form": form, "calendar": calendar, "day": day})
    form = CalendarDayForm(request.POST)
    if form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("date", "kind", "name")}
        try:
            sla_services.calendar_day_update(
                actor=actor, day=day, expected_version=form.cleaned_data.get("version"), data=data
            )
        except VersionConflict:
            _conflict(form, sla_selectors.calendar_day_get_for(actor=actor, pk=pk).version)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("service:calendar_detail", pk=calendar.pk)
    return render(request, "service/sla/day_form.html", {"form": form, "calendar": calendar, "day": day})


@login_required
@require_POST
def calendar_day_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    day = sla_selectors.calendar_day_get_for(actor=actor, pk=pk)
    sla_services.calendar_day_delete(actor=actor, day=day)
    messages.success(request, _("%(day)s removed.") % {"day": day})
    return redirect("service:calendar_detail", pk=day.calendar_id)


# Service report ----------------------------------------------------------------------------------------


@login_required
def service_report(request: HttpRequest) -> HttpResponse:
    """SLA compliance and customer satisfaction for a period, per agent and per queue."""
    actor = request.user
    require(actor, "view", Ticket)
    form = ReportForm(request.GET or None)
    key, start, end = "this_week", None, None
    if form.is_bound and form.is_valid():
        key, start, end = form.cleaned_data["period"], form.cleaned_data.get("start"), form.cleaned_data.get("end")
    tz = actor.organization.time_zone or "Asia/Shanghai"
    period = sla_selectors.period_for(key, tz=tz, start=start, end=end)
    by_agent = sla_selectors.sla_compliance_for(actor=actor, period=period, group_by="owner")
    by_queue = sla_selectors.sla_compliance_for(actor=actor, period=period, group_by="queue")
    can_surveys = can(actor, "view", Survey)
    csat_agents = survey_selectors.csat_for(actor=actor, period=period, group_by="owner") if can_surveys else []
    csat_queues = survey_selectors.csat_for(actor=actor, period=period, group_by="queue") if can_surveys else []
    csat_total = survey_selectors.csat_total(csat_agents)
    chart = {
        "agents": [row.label for row in by_agent],
        "first_response": [row.first_response_pct for row in by_agent],
        "resolution": [row.resolution_pct for row in by_agent],
        "csat_labels": [row.label for row in csat_agents],
        "csat": [row.csat_pct for row in csat_agents],
        "distribution": csat_total.distribution,
        "names": {
            "first_response": _("First response met"),
            "resolution": _("Resolution met"),
            "csat": _("CSAT"),
            "scores": _("Answers by score"),
        },
    }
    context = {
        "form": form,
        "period": period,
        "by_agent": by_agent,
        "by_queue": by_queue,
        "sla_total": sla_selectors.total_row(by_agent),
        "csat_agents": csat_agents,
        "csat_queues": csat_queues,
        "csat_total": csat_total,
        "can_surveys": can_surveys,
        "chart": json.loads(json.dumps(chart, default=str)),
    }
    return render(request, "service/report.html", context)
