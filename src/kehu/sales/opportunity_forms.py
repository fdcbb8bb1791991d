"""Forms of opportunities and pipelines: they parse and present, the services decide. Model validation runs
on a throwaway instance so that errors show inline next to their field; the service validates again."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields
from kehu.core.errors import NotFound
from kehu.core.form_rendering import PythonWidgetRenderer
from kehu.customers import selectors as customer_selectors
from kehu.customers.forms import _StyledMixin, apply_service_errors  # noqa: F401  (re-exported for views)
from kehu.customers.models import Contact, Customer
from kehu.sales import opportunity_selectors as selectors
from kehu.sales.models import Opportunity, Stage
from kehu.sales.opportunity_services import OPPORTUNITY_TYPE, REQUIRABLE_FIELDS, field_label

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# How many customers the customer picker offers before the user types to search.
CUSTOMER_CHOICES = 100


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *list(choices)]


class OpportunityFilterForm(forms.Form):
    """The list's and the board's filters (UI query string and API query parameters alike)."""

    # The board is a rep's home page: its filter bar's selects (owners, teams) rendered through Django's
    # option templates cost a sixth of the page (the customer list's filter bar renders the same way).
    default_renderer = PythonWidgetRenderer()

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=selectors.SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Opportunity or customer…"), "type": "search"}),
    )
    pipeline = forms.IntegerField(label=_("Pipeline"), required=False, min_value=1)
    stage = forms.IntegerField(label=_("Stage"), required=False, min_value=1)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(Opportunity.Status.choices, _("Any status"))
    )
    owner = forms.IntegerField(label=_("Owner"), required=False, min_value=1)
    team = forms.IntegerField(label=_("Team"), required=False, min_value=1)
    customer = forms.IntegerField(label=_("Customer"), required=False, min_value=1)
    close_from = forms.DateField(label=_("Closing from"), required=False, widget=DATE_INPUT)
    close_to = forms.DateField(label=_("Closing until"), required=False, widget=DATE_INPUT)
    amount_min = forms.DecimalField(
        label=_("Amount from"), required=False, min_value=Decimal(0), max_digits=16, decimal_places=2
    )
    amount_max = forms.DecimalField(
        label=_("Amount up to"), required=False, min_value=Decimal(0), max_digits=16, decimal_places=2
    )
    rotting = forms.BooleanField(label=_("Rotting only"), required=False)

    def __init__(self, *args: Any, actor: Any = None, with_choices: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if with_choices and actor is not None:
            # Pipelines and stages are read when their selects are rendered: the list shows them, the board
            # (whose columns are the stages) does not, and saves the two queries.
            pipelines = functools.cache(lambda: list(selectors.pipeline_list_for(actor=actor)))
            owners = [(u.pk, str(u)) for u in selectors.owner_choices_for(actor=actor)]
            teams = [(t.pk, f"{'— ' * t.depth}{t.name}") for t in selectors.team_choices_for(actor=actor)]
            self.fields["pipeline"].widget = forms.Select(
                choices=lambda: _blank([(p.pk, p.name) for p in pipelines()], _("Any pipeline"))
            )
            self.fields["stage"].widget = forms.Select(
                choices=lambda: _blank(
                    [(p.name, [(s.pk, s.name) for s in p.stages.all()]) for p in pipelines()], _("Any stage")
                )
            )
            self.fields["owner"].widget = forms.Select(choices=_blank(owners, _("Any owner")))
            self.fields["team"].widget = forms.Select(choices=_blank(teams, _("Any team")))
        self.fields["customer"].widget = forms.HiddenInput()
        wanted = with_choices or any(str(name).startswith("custom.") for name in (self.data or {}))
        self.custom_definitions = (
            custom_fields.definitions_for(actor.organization_id, OPPORTUNITY_TYPE) if actor and wanted else []
        )
        self.fields.update(
            custom_fields.filter_form_fields(self.custom_definitions, actor=actor if with_choices else None)
        )
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
                continue
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))
            field.widget.attrs.setdefault("title", str(field.label))
            if name.startswith(("amount_", "custom.")) and not isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("placeholder", str(field.label))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("close_from") and data.get("close_to") and data["close_from"] > data["close_to"]:
            self.add_error("close_to", _("The end date is before the start date."))
        amount_min, amount_max = data.get("amount_min"), data.get("amount_max")
        if amount_min is not None and amount_max is not None and amount_min > amount_max:
            self.add_error("amount_max", _("The upper amount is below the lower one."))
        return data

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = {
            k: v for k, v in self.cleaned_data.items() if v not in (None, "", False) and not k.startswith("custom.")
        }
        custom = custom_fields.jsonable_filters({k: v for k, v in self.cleaned_data.items() if k.startswith("custom.")})
        if custom:
            data["custom"] = custom
        return data

    @property
    def custom_filter_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name.startswith("custom.")]


class CustomerPickField(forms.IntegerField):
    """The id of a customer the actor may see, resolved through the customers selector."""

    default_error_messages = {"not_found": _("No such record, or it is not visible to you.")}

    def __init__(self, *, actor: Any, **kwargs: Any) -> None:
        self.actor = actor
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Customer | None:
        pk = super().clean(value)
        if pk is None:
            return None
        try:
            return customer_selectors.customer_get_for(actor=self.actor, pk=pk)
        except NotFound as exc:
            raise forms.ValidationError(self.error_messages["not_found"], code="not_found") from exc


def customer_options_for(actor: Any, *, search: str = "", selected: Any = None) -> list[tuple[int, str]]:
    """The customers the picker offers: a search's best matches, or the most recently changed ones, with the
    selected customer always among them."""
    if search.strip():
        page = customer_selectors.customer_list_for(actor=actor, filters={"search": search}, limit=CUSTOMER_CHOICES)
    else:
        page = customer_selectors.customer_list_for(actor=actor, limit=CUSTOMER_CHOICES)
    options = [(c.pk, c.name) for c in page.items]
    if selected is not None and all(pk != selected.pk for pk, _name in options):
        options.insert(0, (selected.pk, selected.name))
    return options


class OpportunityForm(_StyledMixin, forms.ModelForm):
    """Create and edit (and, with `only`, the quick edit of the board). `version` carries what the user
    opened; `stage` (which also names the pipeline) and `owner` appear on the create form only: later the
    stage changes on the board or the detail page, the owner through reassignment."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=int, required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False)

    class Meta:
        model = Opportunity
        fields = [
            "name",
            "customer",
            "contact",
            "amount",
            "currency",
            "expected_close_date",
            "probability",
            "next_step",
            "competitors",
            "notes",
            "lost_reason",
            "won_reason",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 4}),
            "expected_close_date": DATE_INPUT,
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        }

    def __init__(
        self,
        *args: Any,
        actor: Any,
        editing: bool = False,
        can_assign: bool = False,
        customer: Customer | None = None,
        only: list[str] | None = None,
        closed_as: str = "",
        **kwargs: Any,
    ) -> None:
        kwargs["instance"] = Opportunity(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.editing = editing
        self.fields["customer"] = CustomerPickField(actor=actor, label=_("Customer"), required=True)
        self.fields["contact"] = forms.TypedChoiceField(
            label=_("Contact"), coerce=int, required=False, empty_value=None
        )
        self.fields["currency"].required = False
        self.fields["probability"].required = False
        self.fields["probability"].help_text = _("Set from the stage when the stage changes.")
        if not editing:  # empty: the stage's probability
            self.initial["probability"] = None
            self.fields["probability"].widget.attrs["placeholder"] = _("The stage's")
        self.fields["lost_reason"].required = False
        self.fields["won_reason"].required = False
        self.owners: dict[int, Any] = {}
        if editing or not can_assign:
            del self.fields["owner"]
        else:
            self.owners = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}
            self.fields["owner"].choices = [(pk, str(u)) for pk, u in self.owners.items()]
            self.fields["owner"].initial = actor.pk
        self.stages: dict[int, Stage] = {}
        if editing:
            del self.fields["stage"]
            self.fields["version"].required = True
        else:
            del self.fields["version"]
            pipelines = list(selectors.pipeline_list_for(actor=actor, active_only=True))
            groups = []
            for pipeline in pipelines:
                for stage in pipeline.stages.all():
                    stage.pipeline = pipeline
                    self.stages[stage.pk] = stage
                groups.append((pipeline.name, [(s.pk, s.name) for s in pipeline.stages.all()]))
            self.fields["stage"].choices = groups
            default = next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)
            first = next(iter(default.stages.all()), None) if default else None
            if first is not None:
                self.fields["stage"].initial = first.pk
            self.fields["stage"].help_text = _("The pipeline is the stage's.")
        # The customer picker offers recent customers (and the chosen one); typing searches (htmx). A quick
        # edit without them skips the look-ups.
        picking = only is None or bool({"customer", "contact"} & set(only))
        chosen = (customer or self._bound_customer()) if picking else None
        self.fields["customer"].widget = forms.Select(
            choices=_blank(customer_options_for(actor, selected=chosen) if picking else []),
            # Choosing a customer reloads the contact choices (htmx).
            attrs={
                "hx-get": reverse("sales:opportunity_contact_options"),
                "hx-trigger": "change",
                "hx-target": "#id_contact",
                "hx-swap": "innerHTML",
            },
        )
        if customer is not None and not self.is_bound:
            self.initial["customer"] = customer.pk
        self._set_contact_choices(chosen)
        self.custom_definitions = custom_fields.definitions_for(actor.organization_id, OPPORTUNITY_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, actor=actor))
        if not editing and not self.is_bound:
            self.initial.update(custom_fields.form_initial(self.custom_definitions, None, creating=True))
        if only is None:  # the reason of a close shows on a closed opportunity only
            for kind in ("lost", "won"):
                if closed_as != kind:
                    del self.fields[f"{kind}_reason"]
        else:
            keep = set(only) | {"version"}
            for name in list(self.fields):
                if name not in keep:
                    del self.fields[name]
            self.custom_definitions = [d for d in self.custom_definitions if d.param in keep]
            for name in only:
                if name in self.fields:
                    self.fields[name].required = name not in ("won_reason",)
        self.style()

    def _bound_customer(self) -> Customer | None:
        pk = (self.data or {}).get("customer") or self.initial.get("customer")
        try:
            return customer_selectors.customer_get_for(actor=self.actor, pk=pk) if pk else None
        except NotFound:
            return None

    def _set_contact_choices(self, customer: Customer | None) -> None:
        contacts = (
            list(customer_selectors.contact_list_for(actor=self.actor, customer=customer).order_by("name"))
            if customer is not None
            else []
        )
        self.contacts = {c.pk: c for c in contacts}
        self.fields["contact"].choices = _blank([(c.pk, c.name) for c in contacts])

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions if d.param in self.fields]

    def clean_contact(self) -> Contact | None:
        pk = self.cleaned_data.get("contact")
        return self.contacts.get(pk) if pk else None

    def clean_owner(self) -> Any:
        pk = self.cleaned_data.get("owner")
        return self.owners.get(pk) if pk else None

    def clean_stage(self) -> Stage | None:
        pk = self.cleaned_data.get("stage")
        return self.stages.get(pk) if pk else None

    def clean_currency(self) -> str:
        return (self.cleaned_data.get("currency") or "CNY").upper()

    def _post_clean(self) -> None:
        # The customer and contact are objects the selectors resolved; the service checks the rest.
        pass

    def service_data(self) -> dict[str, Any]:
        """The cleaned values a service takes (without owner, stage and version)."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        if "probability" in data and data["probability"] is None:
            data.pop("probability")
        if self.custom_definitions:
            data["custom"] = custom_fields.form_values(self.custom_definitions, self.cleaned_data)
        return data

    @staticmethod
    def initial_for(opportunity: Opportunity) -> dict[str, Any]:
        initial = forms.model_to_dict(opportunity, fields=OpportunityForm.Meta.fields)
        initial["version"] = opportunity.version
        definitions = custom_fields.definitions_for(opportunity.organization_id, OPPORTUNITY_TYPE)
        initial.update(custom_fields.form_initial(definitions, opportunity.custom))
        return initial


# The fields the board's quick edit offers when it is not asked for specific ones.
QUICK_FIELDS = ["name", "amount", "expected_close_date", "probability", "next_step"]
# What a quick edit may be asked to show (a gate's missing fields and the reasons for closing).
QUICK_ALLOWED = (*QUICK_FIELDS, *REQUIRABLE_FIELDS, "lost_reason", "won_reason")


def quick_fields(requested: list[str], organization_id: int) -> list[str]:
    """The requested fields a quick edit may show (custom ones of the organisation included), in order."""
    allowed = set(QUICK_ALLOWED) | {d.param for d in custom_fields.definitions_for(organization_id, OPPORTUNITY_TYPE)}
    fields = [name for name in dict.fromkeys(requested) if name in allowed]
    return fields or list(QUICK_FIELDS)


class CloseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)


class IdListField(forms.Field):
    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Select at least one opportunity."),
        "invalid": _("Select opportunities from the list."),
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if not all(str(v).isdigit() for v in values):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return [int(v) for v in values]


class BulkForm(forms.Form):
    ACTIONS = (("assign", _("Assign owner")), ("delete", _("Delete")))

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(label=_("Opportunities"))
    owner = forms.IntegerField(required=False, label=_("Owner"))
    next = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new owner."))
        return data


# Pipelines and stages --------------------------------------------------------------------------------


class PipelineForm(_StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_default = forms.BooleanField(
        label=_("Default pipeline"), required=False, help_text=_("New opportunities start here; the board opens it.")
    )
    is_active = forms.BooleanField(
        label=_("Active"), required=False, initial=True, help_text=_("Inactive pipelines are hidden from the board.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


def requirable_choices(organization_id: int) -> list[tuple[str, str]]:
    definitions = custom_fields.definitions_for(organization_id, OPPORTUNITY_TYPE)
    standard = [(name, field_label(organization_id, name, definitions)) for name in REQUIRABLE_FIELDS]
    return standard + [(d.param, str(d.label)) for d in definitions]


class StageForm(_StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100, initial=0)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Stage.Kind.choices,
        initial=Stage.Kind.OPEN,
        help_text=_("Entering a won or lost stage closes the opportunity."),
    )
    rot_days = forms.IntegerField(
        label=_("Rotting after days"),
        min_value=0,
        max_value=3650,
        initial=0,
        help_text=_("Flag opportunities that stay longer in this stage; 0 never flags them."),
    )
    required_fields = forms.MultipleChoiceField(
        label=_("Required to enter"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Moving an opportunity into this stage is refused while these fields are empty."),
    )

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["required_fields"].choices = requirable_choices(organization_id)
        self.style()

    @staticmethod
    def initial_for(stage: Stage) -> dict[str, Any]:
        return {
            "name": stage.name,
            "probability": stage.probability,
            "kind": stage.kind,
            "rot_days": stage.rot_days,
            "required_fields": list(stage.required_fields or []),
        }
