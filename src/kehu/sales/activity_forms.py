"""Forms of activities parse and present; the services decide. Linked records are offered (and resolved)
through the selectors, so an id of another organisation or scope fails on its field like a missing one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.form_rendering import PythonWidgetRenderer
from kehu.customers.models import Contact, Customer
from kehu.sales import activity_selectors as selectors
from kehu.sales.activity_models import MAX_DURATION_MINUTES, Activity
from kehu.sales.models import Lead, Opportunity

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NOT_VISIBLE = _("No such record, or it is not visible to you.")

# "Remind me" choices of the form, in minutes before the activity's time ("" = no reminder).
REMIND_CHOICES = [
    ("", _("No reminder")),
    ("0", _("At the time")),
    ("5", _("5 minutes before")),
    ("15", _("15 minutes before")),
    ("30", _("30 minutes before")),
    ("60", _("1 hour before")),
    ("120", _("2 hours before")),
    ("1440", _("1 day before")),
]


def apply_service_errors(form: forms.BaseForm, exc: ValidationFailed) -> None:
    """Show a service's validation error next to the fields it names (the form's own where it has one)."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    aliases = {"remind_minutes_before": "remind", "remind_at": "remind", "done_at": "status"}
    for name, messages in exc.fields.items():
        target = name if name in form.fields else aliases.get(name)
        target = target if target in form.fields else None
        for message in messages:
            form.add_error(target, message if target else f"{name}: {message}")


def _style(form: forms.BaseForm, small: bool = False) -> None:
    suffix = " form-select-sm" if small else ""
    control = " form-control-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select" + suffix)
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control" + control)


class _RecordChoiceField(forms.TypedChoiceField):
    """A select of a few visible records whose posted id is resolved through a selector, so an id that is
    not among the choices (older records found by search) still works when the actor may see it."""

    def __init__(self, *, model: type, **kwargs: Any) -> None:
        self.model = model
        self.actor = None
        super().__init__(coerce=int, required=False, empty_value=None, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return True

    def clean(self, value: Any) -> Any:
        pk = super().clean(value)
        if pk in (None, ""):
            return None
        try:
            return selectors.record_get_for(actor=self.actor, model=self.model, pk=pk)
        except NotFound as exc:
            raise forms.ValidationError(NOT_VISIBLE) from exc


class ActivityForm(forms.Form):
    """Plan, log or edit an activity. On create, `status` says whether it is planned or already done;
    `owner` appears for users who may assign activities to colleagues."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    kind = forms.ChoiceField(label=_("Type"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(Activity.Status.PLANNED, _("Planned")), (Activity.Status.DONE, _("Done (log it)"))],
        initial=Activity.Status.PLANNED,
        required=False,
    )
    starts_at = forms.DateTimeField(label=_("Time"), required=False, widget=DATETIME_INPUT)
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), required=False, min_value=0, max_value=MAX_DURATION_MINUTES
    )
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DATETIME_INPUT)
    remind = forms.ChoiceField(label=_("Remind me"), choices=REMIND_CHOICES, required=False)
    customer = _RecordChoiceField(model=Customer, label=_("Customer"))
    contact = _RecordChoiceField(model=Contact, label=_("Contact"))
    opportunity = _RecordChoiceField(model=Opportunity, label=_("Opportunity"))
    lead = _RecordChoiceField(model=Lead, label=_("Lead"))
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.CharField(label=_("Outcome"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self,
        *args: Any,
        actor: Any,
        editing: bool = False,
        can_assign: bool = False,
        customer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.editing = editing
        for name in ("customer", "contact", "opportunity", "lead"):
            self.fields[name].actor = actor
        if editing:
            del self.fields["status"]
        remind = str((self.data.get("remind") if self.is_bound else self.initial.get("remind")) or "")
        if remind.isdigit() and remind not in dict(REMIND_CHOICES):
            label = _("%(n)s minutes before") % {"n": remind}
            self.fields["remind"].choices = [*REMIND_CHOICES, (remind, label)]
        if can_assign:
            self.owners = selectors.assignee_choices_for(actor=actor)
            self.fields["owner"].choices = [(u.pk, str(u)) for u in self.owners]
        else:
            del self.fields["owner"]
        chosen = customer or self._posted_customer()
        self.fields["customer"].choices = self._with_blank(
            [(c.pk, c.name) for c in selectors.customer_choices_for(actor=actor)], chosen
        )
        self.fields["contact"].choices = self._with_blank(
            [(c.pk, c.name) for c in selectors.contact_choices_for(actor=actor, customer=chosen)]
        )
        self.fields["opportunity"].choices = self._with_blank(
            [(o.pk, f"{o.name} · {o.customer}") for o in selectors.opportunity_choices_for(actor=actor)]
        )
        self.fields["lead"].choices = self._with_blank(
            [(lead.pk, str(lead)) for lead in selectors.lead_choices_for(actor=actor)]
        )
        _style(self)
        # Choosing a customer refreshes the contact select with its contacts (htmx).
        self.fields["customer"].widget.attrs.update(
            {"hx-get": reverse("sales:activity_contact_options"), "hx-target": "#id_contact", "hx-trigger": "change"}
        )

    def _posted_customer(self) -> Any:
        value = (self.data.get("customer") if self.is_bound else self.initial.get("customer")) or None
        value = getattr(value, "pk", value)
        return int(value) if str(value or "").isdigit() else None

    @staticmethod
    def _with_blank(choices: list[tuple[Any, str]], chosen: Any = None) -> list[tuple[Any, str]]:
        if chosen and isinstance(chosen, Customer) and chosen.pk not in {pk for pk, _label in choices}:
            choices = [(chosen.pk, chosen.name), *choices]
        return [("", "—"), *choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        remind = data.get("remind")
        data["remind_minutes_before"] = int(remind) if remind not in (None, "") else None
        return data

    @staticmethod
    def initial_for(activity: Activity) -> dict[str, Any]:
        values = {
            name: getattr(activity, name)
            for name in ("version", "kind", "subject", "starts_at", "duration_minutes", "due_at", "notes", "outcome")
        }
        values.update(
            customer=activity.customer_id,
            contact=activity.contact_id,
            opportunity=activity.opportunity_id,
            lead=activity.lead_id,
            owner=activity.owner_id,
        )
        if activity.remind_minutes_before is not None:
            values["remind"] = str(activity.remind_minutes_before)
        elif activity.remind_at is not None and activity.remind_at <= activity.scheduled_at:
            # An absolute reminder (set through the API) shown as the minutes before it amounts to.
            values["remind"] = str(int((activity.scheduled_at - activity.remind_at).total_seconds() // 60))
        return values

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = ["kind", "subject", "starts_at", "duration_minutes", "due_at", "notes", "outcome"]
        out = {name: data.get(name) for name in names}
        for name in ("notes", "outcome"):
            out[name] = out[name] or ""
        for name in ("customer", "contact", "opportunity", "lead"):
            out[name] = data.get(name)
        out["remind_minutes_before"] = data.get("remind_minutes_before")
        if data.get("remind_minutes_before") is None:
            out["remind_at"] = None
        if not self.editing:
            out["status"] = data.get("status") or Activity.Status.PLANNED
        return out

    def owner_choice(self) -> Any:
        pk = self.cleaned_data.get("owner") if "owner" in self.fields else None
        return next((u for u in getattr(self, "owners", []) if u.pk == pk), None)


class QuickLogForm(forms.Form):
    """Log a follow-up that just happened (a call, by default) in one line: on "my day", a customer's,
    lead's or opportunity's page. The links come as hidden fields there, or the customer is chosen."""

    # On "my day" its customer select (options through Django's templates) cost a sixth of the page.
    default_renderer = PythonWidgetRenderer()

    kind = forms.ChoiceField(label=_("Type"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    outcome = forms.CharField(label=_("Outcome"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    customer = _RecordChoiceField(model=Customer, label=_("Customer"))
    contact = _RecordChoiceField(model=Contact, label=_("Contact"))
    opportunity = _RecordChoiceField(model=Opportunity, label=_("Opportunity"))
    lead = _RecordChoiceField(model=Lead, label=_("Lead"))
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, actor: Any, fixed: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed = {k: v for k, v in (fixed or {}).items() if v is not None}
        for name in ("customer", "contact", "opportunity", "lead"):
            self.fields[name].actor = actor
            if self.fixed and name != "contact":
                self.fields[name].widget = forms.HiddenInput()
        if self.fixed:
            customer = self.fixed.get("customer") or getattr(self.fixed.get("opportunity"), "customer", None)
            contacts = selectors.contact_choices_for(actor=actor, customer=customer) if customer else []
            self.fields["contact"].choices = [("", "—"), *[(c.pk, c.name) for c in contacts]]
            if not contacts:
                self.fields["contact"].widget = forms.HiddenInput()
        else:
            customers = selectors.customer_choices_for(actor=actor)
            self.fields["customer"].choices = [("", "—"), *[(c.pk, c.name) for c in customers]]
            for name in ("contact", "opportunity", "lead"):
                self.fields[name].widget = forms.HiddenInput()
        _style(self, small=True)

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {name: data.get(name) for name in ("kind", "subject", "customer", "contact", "opportunity", "lead")}
        out["outcome"] = data.get("outcome") or ""
        return out


class CompleteForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    outcome = forms.CharField(label=_("Outcome"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self, small=True)


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *list(choices)]


class ActivityFilterForm(forms.Form):
    """The list's filters (UI query string and API query parameters alike)."""

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Subject or customer…"), "type": "search"}),
    )
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=_blank(Activity.Kind.choices, _("Any type")))
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(Activity.Status.choices, _("Any status"))
    )
    owner = forms.IntegerField(label=_("Owner"), required=False, min_value=1)
    customer = forms.IntegerField(label=_("Customer"), required=False, min_value=1, widget=forms.HiddenInput)
    contact = forms.IntegerField(label=_("Contact"), required=False, min_value=1, widget=forms.HiddenInput)
    lead = forms.IntegerField(label=_("Lead"), required=False, min_value=1, widget=forms.HiddenInput)
    opportunity = forms.IntegerField(label=_("Opportunity"), required=False, min_value=1, widget=forms.HiddenInput)
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, actor: Any = None, with_choices: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if with_choices and actor is not None:
            owners = [(u.pk, str(u)) for u in selectors.owner_choices_for(actor=actor)]
            self.fields["owner"].widget = forms.Select(choices=_blank(owners, _("Any owner")))
        _style(self, small=True)
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", str(field.label))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the range is before its start."))
        return data

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}
