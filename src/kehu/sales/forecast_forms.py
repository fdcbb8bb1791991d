"""Forms of the forecast page and the quota pages. They parse and validate input; services write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import NotFound, ValidationFailed
from kehu.sales import forecast_selectors as selectors
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import MAX_YEAR, MIN_YEAR, Period, parse_period
from kehu.sales.forecast_services import MAX_AMOUNT, GridCell

PERIOD_CHOICES = [("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))]


def apply_service_errors(form: forms.BaseForm, exc: ValidationFailed, aliases: dict[str, str] | None = None) -> None:
    """Show a service's validation error on the form, next to the fields it names."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.fields.items():
        target = (aliases or {}).get(name, name)
        target = target if target in form.fields else None
        for message in messages:
            form.add_error(target, message)


class _Styled:
    def style(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select form-select-sm" if self.compact else "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control form-control-sm" if self.compact else "form-control")

    compact = False


def _amount_field(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        max_digits=16,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        **kwargs,
    )


class ForecastFilterForm(_Styled, forms.Form):
    """?period=quarter&start=2026-Q2&team=3&commit_threshold=70 (the API takes the same parameters)."""

    compact = True
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, required=False)
    start = forms.CharField(
        label=_("Starting"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"placeholder": "2026-Q2", "size": 9}),
        help_text=_("A date, a month (2026-04), a quarter (2026-Q2) or a year (2026)."),
    )
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    commit_threshold = forms.IntegerField(
        label=_("Commit from probability (%)"),
        min_value=0,
        max_value=100,
        required=False,
        widget=forms.NumberInput(attrs={"size": 4, "min": 0, "max": 100}),
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.teams = selectors.team_choices_for(actor=actor)
        self.fields["team"].choices = [("", _("All my teams"))] + [
            (t.pk, ("· " * t.depth) + t.name) for t in self.teams
        ]
        self.style()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "period" in data and "start" in data:
            try:
                data["period_obj"] = parse_period(
                    data.get("period") or "quarter", data.get("start"), organization=self.actor.organization
                )
            except ValidationFailed as exc:
                apply_service_errors(self, exc, {"period": "period", "start": "start"})
        team = data.get("team")
        if team is not None:
            try:
                data["team_obj"] = selectors.team_get_for(actor=self.actor, pk=team)
            except NotFound:
                self.add_error("team", _("Choose one of your teams."))
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        period = data.get("period_obj") or parse_period("quarter", None, organization=self.actor.organization)
        threshold = data.get("commit_threshold")
        return {
            "period": period,
            "team": data.get("team_obj"),
            "commit_threshold": selectors.DEFAULT_COMMIT_THRESHOLD if threshold is None else threshold,
        }


class QuotaForm(_Styled, forms.Form):
    """A single quota (a month or a quarter): the grid sets monthly ones; quarterly ones are set here."""

    user = forms.TypedChoiceField(label=_("Sales rep"), coerce=int)
    period_kind = forms.ChoiceField(label=_("Period"), choices=Quota.Period.choices, initial=Quota.Period.QUARTER)
    period = forms.CharField(
        label=_("Month"),
        max_length=7,
        widget=forms.DateInput(attrs={"type": "month"}),
        help_text=_("For a quarter, pick any month of it."),
    )
    amount = _amount_field(label=_("Target amount"))
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.reps = {u.pk: u for u in selectors.rep_choices_for(actor=actor)}
        self.fields["user"].choices = [("", "—")] + [
            (pk, f"{u} · {u.team}" if u.team else str(u)) for pk, u in self.reps.items()
        ]
        self.fields["currency"].initial = actor.organization.currency
        self.style()

    def clean_user(self) -> Any:
        user = self.reps.get(self.cleaned_data.get("user"))
        if user is None:
            raise forms.ValidationError(_("Choose one of your reps."))
        return user

    def clean_period(self) -> date:
        text = (self.cleaned_data.get("period") or "").strip()
        try:
            year, month = (int(part) for part in text.split("-")[:2])
            day = date(year, month, 1)
        except (ValueError, TypeError) as exc:
            raise forms.ValidationError(_("Enter a month like 2026-04.")) from exc
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise forms.ValidationError(_("Enter a month like 2026-04."))
        return day

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["period_kind"]
        return {
            "user": data["user"],
            "period_kind": kind,
            "period_start": Period.containing(kind, data["period"]).start,
            "amount": data["amount"],
            "currency": data.get("currency") or None,
        }


class QuotaEditForm(_Styled, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    amount = _amount_field(label=_("Target amount"))
    currency = forms.CharField(label=_("Currency"), max_length=3)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()

    @staticmethod
    def initial_for(quota: Quota) -> dict[str, Any]:
        return {"version": quota.version, "amount": quota.amount, "currency": quota.currency}


def cell_name(user_id: int, month: date) -> str:
    return f"q-{user_id}-{month:%Y%m}"


def version_name(user_id: int, month: date) -> str:
    return f"v-{user_id}-{month:%Y%m}"


class QuotaGridForm(forms.Form):
    """One amount field per editable rep and month of the quarter, and the version of the quota each cell
    showed (empty when there was none). Rows of reps the actor may not set stay read-only."""

    def __init__(self, *args: Any, rows: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            if not row["editable"]:
                continue
            user = row["user"]
            for month, quota in row["months"]:
                name = cell_name(user.pk, month)
                label = f"{user} {month:%Y-%m}"
                field = _amount_field(label=label, required=False)
                field.widget.attrs.update({"class": "form-control form-control-sm text-end", "aria-label": label})
                self.fields[name] = field
                self.fields[version_name(user.pk, month)] = forms.IntegerField(
                    widget=forms.HiddenInput, required=False, min_value=1
                )
                self.initial[name] = quota.amount if quota else None
                self.initial[version_name(user.pk, month)] = quota.version if quota else None

    def cells(self) -> list[GridCell]:
        data = self.cleaned_data
        cells = []
        for row in self.rows:
            if not row["editable"]:
                continue
            for month, _quota in row["months"]:
                cells.append(
                    GridCell(
                        user=row["user"],
                        month=month,
                        amount=data.get(cell_name(row["user"].pk, month)),
                        version=data.get(version_name(row["user"].pk, month)),
                    )
                )
        return cells

    def grid(self) -> list[dict[str, Any]]:
        """The rows with, for each month, its bound field (editable rows) or its quota (read-only rows)."""
        out = []
        for row in self.rows:
            months = []
            for month, quota in row["months"]:
                name = cell_name(row["user"].pk, month)
                bound = self[name] if name in self.fields else None
                version = self[version_name(row["user"].pk, month)] if bound is not None else None
                months.append({"month": month, "quota": quota, "field": bound, "version": version})
            out.append({**row, "cells": months})
        return out
