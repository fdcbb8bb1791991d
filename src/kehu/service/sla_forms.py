"""Forms of the SLA pages: parse and present; the services decide (their errors land on the fields)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.accounts.models import TIME_ZONE_CHOICES
from kehu.core import choice_lists
from kehu.customers.models import TIERS
from kehu.service import calendar_holidays
from kehu.service.models import BusinessCalendar, CalendarDay, SlaPolicy, Ticket
from kehu.service.sla_models import Weekday, minutes_label
from kehu.service.sla_selectors import PERIODS

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+)\s*(?:m|min)?)?\s*$", re.IGNORECASE)
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~至到]\s*(\d{1,2}):(\d{2})\s*$")


def style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


def parse_minutes(value: str) -> int | None:
    """Minutes from "90", "90m", "4h", "1.5h" or "1h30m"; None for empty; ValueError otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    match = _DURATION_RE.match(value)
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(value)
    hours = float(match.group(1) or 0)
    minutes = int(match.group(2) or 0)
    total = round(hours * 60) + minutes
    if total <= 0:
        raise ValueError(value)
    return total


def minutes_text(minutes: int | None) -> str:
    if not minutes:
        return ""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h{rest}m"
    return f"{hours}h" if hours else f"{rest}m"


class DurationField(forms.CharField):
    default_error_messages = {"invalid": _("Enter minutes (90), hours (4h, 1.5h) or both (1h30m).")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", "—")

    def clean(self, value: Any) -> int | None:
        value = super().clean(value)
        try:
            return parse_minutes(value)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class SlaPolicyForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    priorities = forms.MultipleChoiceField(
        label=_("Priorities"),
        choices=Ticket.Priority.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every priority."),
    )
    tiers = forms.MultipleChoiceField(
        label=_("Customer tiers"),
        choices=[],  # the organisation's customer tiers (kehu.core.choice_lists), set in __init__
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every customer, and tickets without one."),
    )
    calendar = forms.ModelChoiceField(
        label=pgettext_lazy("business calendar", "Calendar"),
        queryset=BusinessCalendar.objects.none(),
        required=False,
        empty_label=_("The default calendar"),
    )
    warning_percent = forms.IntegerField(
        label=_("Warn at (percent of the target)"), min_value=0, max_value=99, initial=80, help_text=_("0: no warning.")
    )
    notify_queue_manager = forms.BooleanField(label=_("Notify the queue's manager"), required=False, initial=True)
    notify_team_manager = forms.BooleanField(label=_("Notify the assignee's team manager"), required=False)
    reassign = forms.ChoiceField(label=_("Reassign"), choices=SlaPolicy.Reassign.choices, required=False)
    reassign_to = forms.ModelChoiceField(label=_("Reassign to"), queryset=None, required=False)
    raise_priority = forms.BooleanField(label=_("Raise the priority by one step"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    is_default = forms.BooleanField(
        label=_("Default policy"), required=False, help_text=_("Applies to tickets that no other policy matches.")
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kehu.accounts.models import User

        self.fields["calendar"].queryset = BusinessCalendar.objects.visible_to(actor)
        chosen = set(self.initial.get("tiers") or [])
        self.fields["tiers"].choices = [
            (o.key, o.label)
            for o in choice_lists.options(actor.organization_id, TIERS)
            if o.is_active or o.key in chosen
        ]
        self.fields["reassign_to"].queryset = User.objects.filter(
            organization_id=actor.organization_id, is_active=True
        ).order_by("name", "email")
        for priority, label in Ticket.Priority.choices:
            self.fields[f"fr_{priority}"] = DurationField(label=_("%(priority)s: first response") % {"priority": label})
            self.fields[f"res_{priority}"] = DurationField(label=_("%(priority)s: resolution") % {"priority": label})
        style(self)

    @property
    def target_rows(self) -> list[tuple[str, Any, Any]]:
        return [(label, self[f"fr_{p}"], self[f"res_{p}"]) for p, label in Ticket.Priority.choices]

    @staticmethod
    def initial_for(policy: SlaPolicy) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": policy.version,
            "name": policy.name,
            "description": policy.description,
            "priorities": policy.priorities,
            "tiers": policy.tiers,
            "calendar": policy.calendar_id,
            "warning_percent": policy.warning_percent,
            "notify_queue_manager": policy.notify_queue_manager,
            "notify_team_manager": policy.notify_team_manager,
            "reassign": policy.reassign,
            "reassign_to": policy.reassign_to_id,
            "raise_priority": policy.raise_priority,
            "is_active": policy.is_active,
            "is_default": policy.is_default,
        }
        for target in policy.targets.all():
            data[f"fr_{target.priority}"] = minutes_text(target.first_response_minutes)
            data[f"res_{target.priority}"] = minutes_text(target.resolution_minutes)
        return data

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith(("fr_", "res_")) and k != "version"}
        data["targets"] = {
            p: {
                "first_response_minutes": self.cleaned_data.get(f"fr_{p}"),
                "resolution_minutes": self.cleaned_data.get(f"res_{p}"),
            }
            for p in Ticket.Priority.values
        }
        return data


def periods_text(periods: list[tuple[int, int]]) -> str:
    return ", ".join(f"{minutes_label(s)}-{minutes_label(e)}" for s, e in periods)


def parse_periods(text: str) -> list[tuple[int, int]]:
    """ "09:00-12:00, 13:00-18:00" -> [(540, 720), (780, 1080)]; "" -> []; ValueError otherwise."""
    out = []
    for part in re.split(r"[,，;；]", text or ""):
        if not part.strip():
            continue
        match = _PERIOD_RE.match(part)
        if not match:
            raise ValueError(part)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError(part)
        out.append((h1 * 60 + m1, h2 * 60 + m2))
    return out


class CalendarForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="Asia/Shanghai")
    is_default = forms.BooleanField(label=_("Default calendar"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, label in Weekday.choices:
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                help_text=_("For example 09:00-12:00, 13:00-18:00. Empty: a day off.") if day == 0 else "",
            )
        style(self)

    @property
    def day_fields(self) -> list[Any]:
        return [self[f"day_{day}"] for day, _label in Weekday.choices]

    @staticmethod
    def initial_for(calendar: BusinessCalendar | None) -> dict[str, Any]:
        if calendar is None:
            return {f"day_{d}": "09:00-18:00" for d in range(5)}
        by_day: dict[int, list[tuple[int, int]]] = {}
        for period in calendar.periods.all():
            by_day.setdefault(period.weekday, []).append((period.start_minute, period.end_minute))
        data: dict[str, Any] = {
            "version": calendar.version,
            "name": calendar.name,
            "time_zone": calendar.time_zone,
            "is_default": calendar.is_default,
        }
        for day in range(7):
            data[f"day_{day}"] = periods_text(sorted(by_day.get(day, [])))
        return data

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        hours = []
        for day in range(7):
            try:
                hours += [(day, s, e) for s, e in parse_periods(data.get(f"day_{day}", ""))]
            except ValueError:
                self.add_error(f"day_{day}", _("Write periods as 09:00-18:00, separated by commas."))
        data["working_hours"] = hours
        return data

    def service_data(self) -> dict[str, Any]:
        return {
            "name": self.cleaned_data["name"],
            "time_zone": self.cleaned_data["time_zone"],
            "is_default": self.cleaned_data["is_default"],
            "working_hours": self.cleaned_data["working_hours"],
        }


class CalendarDayForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind"), choices=CalendarDay.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)


class ApplyHolidaysForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = []
        for year in calendar_holidays.available_years():
            schedule = calendar_holidays.cn_schedule(year)
            label = str(year) if not schedule.provisional else _("%(year)s (provisional)") % {"year": year}
            choices.append((year, label))
        self.fields["year"].choices = choices
        style(self)


class ReportForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            ("this_week", _("This week")),
            ("last_week", _("Last week")),
            ("this_month", _("This month")),
            ("last_month", _("Last month")),
            ("last_30_days", _("Last 30 days")),
            ("custom", _("From … to …")),
        ],
    )
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)
        for field in self.fields.values():
            field.widget.attrs["class"] += (
                " form-control-sm" if "form-control" in field.widget.attrs["class"] else " form-select-sm"
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        period = data.get("period") or "this_week"
        data["period"] = period if period in PERIODS else "this_week"
        if data["period"] == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                self.add_error("start" if not start else "end", _("Choose both dates of the period."))
            elif end < start:
                self.add_error("end", _("The end must not be before the start."))
            elif (end - start).days > 366:
                self.add_error("end", _("Choose at most a year."))
        return data
