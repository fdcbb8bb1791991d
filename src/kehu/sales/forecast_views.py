"""The forecast page and the quota pages: parse the request, call a selector or a service, render."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.core.templatetags.money import currency_symbol
from kehu.sales import forecast_selectors as selectors
from kehu.sales import forecast_services as services
from kehu.sales.forecast_forms import (
    ForecastFilterForm,
    QuotaEditForm,
    QuotaForm,
    QuotaGridForm,
    apply_service_errors,
    version_name,
)
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, parse_period, today_for
from kehu.sales.models import Opportunity

RECYCLE_BIN_LIMIT = 100


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _chart(forecast: selectors.Forecast) -> dict[str, Any]:
    """What the chart script reads (through json_script): labels, series and their names."""
    return {
        "labels": [f"{m.month:%Y-%m}" for m in forecast.months],
        "series": [
            {"key": "quota", "name": _("Quota"), "data": [_number(m.figures.quota) for m in forecast.months]},
            {"key": "won", "name": _("Won"), "data": [_number(m.figures.won) for m in forecast.months]},
            {
                "key": "weighted",
                "name": _("Weighted pipeline"),
                "data": [_number(m.figures.weighted) for m in forecast.months],
            },
        ],
        "symbol": currency_symbol(forecast.currency),
        "compact": (get_language() or "").lower().startswith("zh"),
    }


def _shortcuts(request: HttpRequest) -> list[dict[str, Any]]:
    today = today_for(request.user.organization)
    presets = [
        (_("This month"), Period.containing("month", today)),
        (_("Next month"), Period.containing("month", today).shifted(1)),
        (_("This quarter"), Period.containing("quarter", today)),
        (_("Next quarter"), Period.containing("quarter", today).shifted(1)),
        (_("This year"), Period.containing("year", today)),
    ]
    keep = {k: v for k, v in request.GET.items() if k in ("team", "commit_threshold") and v}
    return [
        {"label": label, "period": p, "query": urlencode({**keep, "period": p.kind, "start": p.param})}
        for label, p in presets
    ]


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Opportunity)
    form = ForecastFilterForm(request.GET or None, actor=actor)
    values = form.values()
    result = selectors.forecast_for(actor=actor, **values)
    period = result.period
    if not form.is_bound:  # show the defaults that were applied
        initial = {"period": period.kind, "start": period.param, "commit_threshold": result.commit_threshold}
        form = ForecastFilterForm(actor=actor, initial=initial)
    keep = {k: v for k, v in request.GET.items() if k in ("team", "commit_threshold") and v}
    context = {
        "form": form,
        "forecast": result,
        "period": period,
        "previous_query": urlencode({**keep, "period": period.kind, "start": period.shifted(-1).param}),
        "next_query": urlencode({**keep, "period": period.kind, "start": period.shifted(1).param}),
        "shortcuts": _shortcuts(request),
        "chart": _chart(result),
        "show_teams": bool(form.teams),
        "can_set_quotas": can(actor, "create", Quota),
        "quarter_param": Period.containing("quarter", period.start).param,
    }
    return render(request, "sales/forecast/forecast.html", context)


# Quotas -----------------------------------------------------------------------------------------------


def _grid_params(request: HttpRequest) -> tuple[Period, Any, list[str]]:
    """The quarter (?quarter=2026-Q2, default this quarter) and the team (?team=) of the grid."""
    actor = request.user
    errors = []
    params = request.POST if request.method == "POST" else request.GET
    try:
        quarter = parse_period("quarter", params.get("quarter"), organization=actor.organization)
    except ValidationFailed as exc:
        errors.append(exc.message)
        quarter = parse_period("quarter", None, organization=actor.organization)
    team = None
    if params.get("team"):
        try:
            team = selectors.team_get_for(actor=actor, pk=params["team"])
        except NotFound:
            errors.append(_("Choose one of your teams."))
    return quarter, team, errors


@login_required
def quota_grid(request: HttpRequest) -> HttpResponse:
    """The quotas of a quarter: one row per rep, one column per month. Managers type the targets of their
    reps and save them all at once; everyone else sees the rows in their scope."""
    actor = request.user
    require(actor, "view", Quota)
    quarter, team, errors = _grid_params(request)
    for error in errors:
        messages.warning(request, error)
    rows = selectors.quota_grid_for(actor=actor, quarter=quarter, team=team)
    conflict = False
    if request.method == "POST":
        require(actor, "create", Quota)
        form = QuotaGridForm(request.POST, rows=rows)
        if form.is_valid():
            try:
                saved = services.quota_grid_save(actor=actor, quarter=quarter, cells=form.cells())
            except VersionConflict:
                conflict = True
                # Keep what the user typed, against the quotas as they are now: saving again overwrites.
                data = request.POST.copy()
                for row in rows:
                    for month, quota in row["months"]:
                        data[version_name(row["user"].pk, month)] = str(quota.version) if quota else ""
                form = QuotaGridForm(data, rows=rows)
                form.is_valid()
                form.add_error(None, str(VersionConflict.default_message))
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                if saved.changed:
                    messages.success(
                        request,
                        ngettext("%(count)d quota saved.", "%(count)d quotas saved.", saved.changed)
                        % {"count": saved.changed},
                    )
                else:
                    messages.info(request, _("Nothing changed."))
                query = {"quarter": quarter.param, **({"team": team.pk} if team else {})}
                return redirect(f"{reverse('sales:quotas')}?{urlencode(query)}")
    else:
        form = QuotaGridForm(rows=rows)
    teams = [(t.pk, ("· " * t.depth) + t.name) for t in selectors.team_choices_for(actor=actor)]
    keep = {"team": team.pk} if team else {}
    context = {
        "form": form,
        "grid": form.grid(),
        "quarter": quarter,
        "team": team,
        "teams": teams,
        "months": quarter.months,
        "editable": any(row["editable"] for row in rows),
        "can_set_quotas": can(actor, "create", Quota),
        "conflict": conflict,
        "previous_query": urlencode({**keep, "quarter": quarter.shifted(-1).param}),
        "next_query": urlencode({**keep, "quarter": quarter.shifted(1).param}),
        "currency": actor.organization.currency,
    }
    return render(request, "sales/forecast/quotas.html", context, status=409 if conflict else 200)


def _grid_url(quota: Quota) -> str:
    quarter = Period.containing("quarter", quota.period_start)
    return f"{reverse('sales:quotas')}?{urlencode({'quarter': quarter.param})}"


@login_required
def quota_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Quota)
    initial = {"period": f"{today_for(actor.organization):%Y-%m}"}
    if request.GET.get("user", "").isdigit():
        initial["user"] = int(request.GET["user"])
    form = QuotaForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            quota = services.quota_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc, {"period_start": "period"})
        else:
            messages.success(
                request,
                _("Quota for %(user)s, %(period)s saved.") % {"user": quota.owner, "period": quota.period_label},
            )
            return redirect(_grid_url(quota))
    return render(request, "sales/forecast/quota_form.html", {"form": form, "quota": None})


@login_required
def quota_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A quota's page: what it is, who changed it last, and (for whoever may) its amount to edit."""
    actor = request.user
    quota = selectors.quota_get_for(actor=actor, pk=pk)
    can_edit = can(actor, "edit", quota)
    conflict = None
    if request.method == "POST":
        require(actor, "edit", quota)
        form = QuotaEditForm(request.POST)
        if form.is_valid():
            data = {"amount": form.cleaned_data["amount"], "currency": form.cleaned_data["currency"]}
            try:
                services.quota_update(
                    actor=actor, quota=quota, expected_version=form.cleaned_data["version"], data=data
                )
            except VersionConflict:
                fresh = selectors.quota_get_for(actor=actor, pk=pk)
                conflict = {"amount": fresh.amount, "currency": fresh.currency, "by": fresh.updated_by}
                posted = request.POST.copy()
                posted["version"] = str(fresh.version)
                form = QuotaEditForm(posted)
                form.is_valid()
                form.add_error(None, str(VersionConflict.default_message))
                quota = fresh
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect(_grid_url(quota))
    else:
        form = QuotaEditForm(initial=QuotaEditForm.initial_for(quota))
    context = {
        "form": form,
        "quota": quota,
        "can_edit": can_edit,
        "can_delete": can(actor, "delete", quota),
        "conflict": conflict,
        "grid_url": _grid_url(quota),
    }
    return render(request, "sales/forecast/quota_form.html", context, status=409 if conflict else 200)


@login_required
@require_POST
def quota_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quota = selectors.quota_get_for(actor=actor, pk=pk)
    services.quota_delete(actor=actor, quota=quota)
    messages.success(
        request,
        _("The quota of %(user)s for %(period)s was moved to the recycle bin.")
        % {"user": quota.owner, "period": quota.period_label},
    )
    return redirect(_grid_url(quota))


@login_required
@require_POST
def quota_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quota = selectors.quota_deleted_get_for(actor=actor, pk=pk)
    try:
        services.quota_restore(actor=actor, quota=quota)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("sales:quota_recycle_bin")
    messages.success(
        request,
        _("The quota of %(user)s for %(period)s was restored.") % {"user": quota.owner, "period": quota.period_label},
    )
    return redirect(_grid_url(quota))


@login_required
def quota_recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Quota)
    quotas = selectors.quota_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[:RECYCLE_BIN_LIMIT]
    context = {"quotas": quotas, "limit": RECYCLE_BIN_LIMIT, "can_restore": can(actor, "restore", Quota)}
    return render(request, "sales/forecast/quota_recycle_bin.html", context)
