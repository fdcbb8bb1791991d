"""Forms of the lead pages: they parse and present; the services decide. Model validation runs on a
throwaway instance so that errors show inline next to their field, and the services validate again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields
from kehu.customers.forms import IdListField, _StyledMixin, apply_service_errors  # noqa: F401 (re-exported)
from kehu.customers.normalize import normalize_email, normalize_phone
from kehu.sales import lead_assignment, lead_selectors
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSettings
from kehu.sales.lead_selectors import LEAD_TYPE, UNASSIGNED

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AUTOMATIC = ""  # the owner choice "assign automatically (rules)"


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *list(choices)]


class LeadFilterForm(custom_fields.CustomFilterFormMixin, forms.Form):
    """The list's filters (UI query string and API query parameters alike)."""

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=lead_selectors.SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Name, company, phone, email…"), "type": "search"}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_blank(Lead.Status.choices, _("Any status")))
    source = forms.CharField(label=_("Source"), required=False, max_length=20)
    owner = forms.CharField(label=_("Owner"), required=False, max_length=20)
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DATE_INPUT)
    created_to = forms.DateField(label=_("Created until"), required=False, widget=DATE_INPUT)
    province = forms.CharField(label=_("Province"), required=False, max_length=50)
    city = forms.CharField(label=_("City"), required=False, max_length=50)

    def __init__(self, *args: Any, actor: Any = None, with_choices: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        if with_choices and actor is not None:
            sources = lead_selectors.source_choices(actor.organization_id, include_inactive=True)
            owners = [(str(u.pk), str(u)) for u in lead_selectors.owner_choices_for(actor=actor)]
            self.fields["source"].widget = forms.Select(choices=_blank(sources, _("Any source")))
            self.fields["owner"].widget = forms.Select(
                choices=_blank([(UNASSIGNED, _("Unassigned")), *owners], _("Any owner"))
            )
        wanted = with_choices or any(str(name).startswith("custom.") for name in (self.data or {}))
        self.custom_definitions = (
            custom_fields.definitions_for(actor.organization_id, LEAD_TYPE) if actor and wanted else []
        )
        self.fields.update(
            custom_fields.filter_form_fields(self.custom_definitions, actor=actor if with_choices else None)
        )
        for name, field in self.fields.items():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))
            if name in ("province", "city"):
                field.widget.attrs.setdefault("placeholder", str(field.label))

    def clean_owner(self) -> str:
        value = (self.cleaned_data.get("owner") or "").strip()
        if value and value != UNASSIGNED and not value.isdigit():
            raise forms.ValidationError(_("Choose an owner from the list."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return data


class LeadForm(_StyledMixin, forms.ModelForm):
    """Create and edit. `version` carries what the user opened, so a save over someone else's change is
    refused. On create, the owner is "assign automatically" (the rules) or a person: anyone for users who
    may assign leads, themselves for the others."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    source = forms.ChoiceField(label=_("Source"))

    class Meta:
        model = Lead
        fields = [
            "name",
            "company",
            "title",
            "phone",
            "email",
            "source",
            "status",
            "score",
            "industry",
            "province",
            "city",
            "notes",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 4}),
            "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
            "email": forms.TextInput(attrs={"inputmode": "email", "autocomplete": "email"}),
        }

    def __init__(self, *args: Any, actor: Any, editing: bool = False, can_assign: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = Lead(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        # Editing keeps a source that was deactivated since (the service refuses switching to one).
        self.fields["source"].choices = lead_selectors.source_choices(actor.organization_id, include_inactive=editing)
        self.fields["source"].initial = Lead.Source.OTHER
        statuses = [c for c in Lead.Status.choices if c[0] != Lead.Status.CONVERTED]
        self.fields["status"].choices = statuses
        self.fields["phone"].help_text = _("Mobile or landline; +86 and spaces are fine.")
        self.owners: dict[str, Any] = {}
        if editing:
            del self.fields["owner"]
            self.fields["version"].required = True
        else:
            del self.fields["version"]
            people = lead_selectors.owner_choices_for(actor=actor) if can_assign else [actor]
            self.owners = {str(u.pk): u for u in people}
            self.fields["owner"].choices = [
                (AUTOMATIC, _("Assign automatically (assignment rules)")),
                *((pk, str(u)) for pk, u in self.owners.items()),
            ]
            self.fields["owner"].help_text = _(
                "The rules give the lead to a colleague; when none matches, you keep it."
            )
        self.custom_definitions = custom_fields.definitions_for(actor.organization_id, LEAD_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, actor=actor))
        if not editing and not self.is_bound:
            self.initial.update(custom_fields.form_initial(self.custom_definitions, None, creating=True))
        self.style()

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions]

    def clean_owner(self) -> Any:
        value = self.cleaned_data.get("owner") or AUTOMATIC
        return self.owners.get(value) if value != AUTOMATIC else None

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        if self.custom_definitions:
            data["custom"] = custom_fields.form_values(self.custom_definitions, self.cleaned_data)
        return data

    @staticmethod
    def initial_for(lead: Lead) -> dict[str, Any]:
        initial = forms.model_to_dict(lead, fields=LeadForm.Meta.fields)
        initial["version"] = lead.version
        definitions = custom_fields.definitions_for(lead.organization_id, LEAD_TYPE)
        initial.update(custom_fields.form_initial(definitions, lead.custom))
        return initial


class LeadBulkForm(forms.Form):
    ACTIONS = (
        ("assign", _("Assign owner")),
        ("apply_rules", _("Apply the assignment rules")),
        ("delete", _("Delete")),
    )

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(
        label=_("Leads"),
        error_messages={"required": _("Select at least one lead."), "invalid": _("Select leads from the list.")},
    )
    owner = forms.IntegerField(required=False, label=_("Owner"))
    next = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new owner."))
        return data


class ConvertForm(_StyledMixin, forms.Form):
    """The conversion wizard: which customer the lead becomes (an existing one or a new one), and whether an
    opportunity comes with it."""

    NEW = "new"

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    customer = forms.ChoiceField(label=_("Customer"), widget=forms.RadioSelect)
    create_opportunity = forms.BooleanField(label=_("Also create an opportunity"), required=False)
    opportunity_name = forms.CharField(label=_("Opportunity name"), required=False, max_length=200)
    amount = forms.DecimalField(label=_("Amount"), required=False, min_value=0, max_digits=16, decimal_places=2)
    expected_close_date = forms.DateField(label=_("Expected close date"), required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, matches: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.matches = {str(m.customer.pk): m for m in matches if m.visible}
        choices = [(pk, m.customer.name) for pk, m in self.matches.items()]
        choices.append((self.NEW, _("Create a new customer")))
        self.fields["customer"].choices = choices
        if not self.is_bound:
            strong = [pk for pk, m in self.matches.items() if m.strong]
            self.initial.setdefault("customer", strong[0] if strong else self.NEW)
        self.style()
        self.fields["customer"].widget.attrs["class"] = "form-check-input"

    def chosen_customer(self) -> Any:
        value = self.cleaned_data.get("customer")
        return None if value == self.NEW else self.matches[value].customer


class SourceForm(_StyledMixin, forms.Form):
    label = forms.CharField(label=_("Label"), max_length=50)
    key = forms.CharField(
        label=_("Key"),
        max_length=20,
        required=False,
        help_text=_("For the API and imports, e.g. wechat_group. Leave empty to have one made up."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class LeadSettingsForm(_StyledMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    default_owner = forms.TypedChoiceField(
        label=LeadSettings._meta.get_field("default_owner").verbose_name,
        help_text=LeadSettings._meta.get_field("default_owner").help_text,
        coerce=int,
        empty_value=None,
        required=False,
    )
    reassign_after_days = forms.IntegerField(
        label=LeadSettings._meta.get_field("reassign_after_days").verbose_name,
        help_text=LeadSettings._meta.get_field("reassign_after_days").help_text,
        min_value=0,
        max_value=3650,
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {u.pk: u for u in lead_selectors.owner_choices_for(actor=actor)}
        self.fields["default_owner"].choices = [("", _("Nobody: the person who enters the lead keeps it"))] + [
            (pk, str(u)) for pk, u in self.people.items()
        ]
        self.style()

    def service_data(self) -> dict[str, Any]:
        owner = self.cleaned_data.get("default_owner")
        return {
            "default_owner": self.people.get(owner) if owner else None,
            "reassign_after_days": self.cleaned_data["reassign_after_days"],
        }


CONDITION_ROWS = 6


class RuleForm(_StyledMixin, forms.Form):
    """A rule: its name, up to CONDITION_ROWS conditions (all must match), and whom it assigns to."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    action = forms.ChoiceField(label=_("Assign to"), choices=AssignmentRule.Action.choices)
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, empty_value=None, required=False)
    user = forms.TypedChoiceField(label=_("User"), coerce=int, empty_value=None, required=False)
    cap = forms.IntegerField(
        label=_("Open leads per rep at most"),
        min_value=0,
        max_value=lead_assignment.MAX_CAP,
        initial=0,
        help_text=_("0 means no limit. A rep at the limit is skipped; when everyone is, the next rule decides."),
    )

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kehu.accounts.selectors import team_list_for

        self.teams = {t.pk: t for t in team_list_for(actor=actor).order_by("path")}
        self.people = {u.pk: u for u in lead_selectors.owner_choices_for(actor=actor)}
        self.fields["team"].choices = _blank((pk, str(t)) for pk, t in self.teams.items())
        self.fields["user"].choices = _blank((pk, str(u)) for pk, u in self.people.items())
        if not editing:
            del self.fields["version"]
        field_choices = [(k, str(v)) for k, v in lead_assignment.CONDITION_FIELDS.items()]
        field_choices += [(d.param, d.label) for d in custom_fields.definitions_for(actor.organization_id, LEAD_TYPE)]
        for n in range(CONDITION_ROWS):
            self.fields[f"cond_field_{n}"] = forms.ChoiceField(
                label=_("Field"), choices=_blank(field_choices), required=False
            )
            self.fields[f"cond_op_{n}"] = forms.ChoiceField(
                label=_("Operator"), choices=list(lead_assignment.OPERATORS.items()), required=False
            )
            self.fields[f"cond_value_{n}"] = forms.CharField(
                label=_("Value"),
                required=False,
                max_length=2000,
                widget=forms.TextInput(attrs={"placeholder": _("For “is one of”: values separated by commas")}),
            )
        self.style()

    @property
    def condition_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"cond_field_{n}"], self[f"cond_op_{n}"], self[f"cond_value_{n}"]) for n in range(CONDITION_ROWS)]

    def conditions(self) -> list[dict[str, Any]]:
        rows = []
        for n in range(CONDITION_ROWS):
            field = self.cleaned_data.get(f"cond_field_{n}")
            if not field:
                continue
            rows.append(
                {
                    "field": field,
                    "op": self.cleaned_data.get(f"cond_op_{n}") or "equals",
                    "value": self.cleaned_data.get(f"cond_value_{n}") or "",
                }
            )
        return rows

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "is_active": data["is_active"],
            "action": data["action"],
            "team": self.teams.get(data.get("team")) if data.get("team") else None,
            "user": self.people.get(data.get("user")) if data.get("user") else None,
            "cap": data["cap"],
            "conditions": self.conditions(),
        }

    @staticmethod
    def initial_for(rule: AssignmentRule) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "version": rule.version,
            "name": rule.name,
            "is_active": rule.is_active,
            "action": rule.action,
            "team": rule.team_id,
            "user": rule.user_id,
            "cap": rule.cap,
        }
        for n, condition in enumerate((rule.conditions or [])[:CONDITION_ROWS]):
            value = condition.get("value")
            initial[f"cond_field_{n}"] = condition.get("field")
            initial[f"cond_op_{n}"] = condition.get("op")
            initial[f"cond_value_{n}"] = ", ".join(value) if isinstance(value, list) else value
        return initial


class WebFormForm(_StyledMixin, forms.Form):
    """A web form's settings, and its fields as a table: include, label, required, order."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("For your team; visitors do not see it."))
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    intro = forms.CharField(label=_("Introduction"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    submit_label = forms.CharField(label=_("Button text"), max_length=50, required=False)
    thank_you = forms.CharField(
        label=_("Thank-you text"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    source = forms.ChoiceField(label=_("Source of the leads"))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    embed_origins = forms.CharField(
        label=_("Sites that may embed the form"),
        required=False,
        max_length=500,
        help_text=_("Origins such as https://www.example.com, separated by spaces. Empty: any site may embed it."),
    )

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kehu.sales.lead_webforms import field_choices

        self.fields["source"].choices = lead_selectors.source_choices(actor.organization_id)
        self.fields["source"].initial = Lead.Source.WEB_FORM
        if not editing:
            del self.fields["version"]
        self.form_fields = field_choices(actor.organization_id)
        for name, label in self.form_fields:
            self.fields[f"use_{name}"] = forms.BooleanField(label=label, required=False)
            self.fields[f"label_{name}"] = forms.CharField(
                label=_("Label"), required=False, max_length=100, widget=forms.TextInput(attrs={"placeholder": label})
            )
            self.fields[f"required_{name}"] = forms.BooleanField(label=_("Required"), required=False)
            self.fields[f"order_{name}"] = forms.IntegerField(
                label=_("Order"), required=False, min_value=0, max_value=999
            )
        self.style()

    @property
    def field_rows(self) -> list[tuple[str, str, Any, Any, Any, Any]]:
        return [
            (name, label, self[f"use_{name}"], self[f"label_{name}"], self[f"required_{name}"], self[f"order_{name}"])
            for name, label in self.form_fields
        ]

    def chosen_fields(self) -> list[dict[str, Any]]:
        chosen = []
        for position, (name, _label) in enumerate(self.form_fields):
            if not self.cleaned_data.get(f"use_{name}"):
                continue
            order = self.cleaned_data.get(f"order_{name}")
            chosen.append(
                (
                    order if order is not None else 100 + position,
                    position,
                    {
                        "field": name,
                        "label": self.cleaned_data.get(f"label_{name}") or "",
                        "required": bool(self.cleaned_data.get(f"required_{name}")),
                    },
                )
            )
        return [item for _order, _position, item in sorted(chosen, key=lambda c: (c[0], c[1]))]

    def service_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name]
            for name in ("name", "title", "intro", "submit_label", "thank_you", "source", "is_active", "embed_origins")
        }
        data["fields"] = self.chosen_fields()
        return data

    @staticmethod
    def initial_for(form: Any) -> dict[str, Any]:
        initial = {
            name: getattr(form, name)
            for name in ("name", "title", "intro", "submit_label", "thank_you", "source", "is_active", "embed_origins")
        }
        initial["version"] = form.version
        for position, item in enumerate(form.fields or []):
            name = item["field"]
            initial[f"use_{name}"] = True
            initial[f"label_{name}"] = item.get("label", "")
            initial[f"required_{name}"] = item.get("required", False)
            initial[f"order_{name}"] = position + 1
        return initial

    @staticmethod
    def initial_new() -> dict[str, Any]:
        from kehu.sales.lead_webforms import DEFAULT_FIELDS

        initial: dict[str, Any] = {"is_active": True, "source": Lead.Source.WEB_FORM}
        for position, item in enumerate(DEFAULT_FIELDS):
            initial[f"use_{item['field']}"] = True
            initial[f"required_{item['field']}"] = item["required"]
            initial[f"order_{item['field']}"] = position + 1
        return initial


# The public form -------------------------------------------------------------------------------------------

HONEYPOT = "website"  # a field people never see; bots that fill every input fill it too
STAMP = "stamp"
STAMP_MAX_AGE = 24 * 3600  # seconds a rendered form stays valid


def signer_for(token: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"kehu.webform.{token}")


class PublicLeadForm(forms.Form):
    """What a visitor fills in: the form's fields with the administrator's labels, plus the honeypot and a
    signed stamp (proof that the page was loaded, within the last day)."""

    def __init__(self, *args: Any, webform: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kehu.sales.lead_webforms import field_label

        self.webform = webform
        definitions = {d.param: d for d in custom_fields.definitions_for(webform.organization_id, LEAD_TYPE)}
        for item in webform.fields:
            name = item["field"]
            label = item.get("label") or field_label(name, webform.organization_id)
            if name.startswith("custom."):
                definition = definitions.get(name)
                if definition is None:
                    continue  # a custom field removed since the form was built
                field = custom_fields.form_field(definition)
                field.label, field.required = label, item.get("required", False)
            elif name == "notes":
                field = forms.CharField(label=label, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
            elif name == "email":
                field = forms.CharField(
                    label=label, max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
                )
            elif name == "phone":
                field = forms.CharField(
                    label=label,
                    max_length=40,
                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
                )
            else:
                max_length = Lead._meta.get_field(name).max_length
                field = forms.CharField(label=label, max_length=max_length)
            field.required = bool(item.get("required")) or name == "name"
            self.fields[name] = field
        self.fields[HONEYPOT] = forms.CharField(required=False, label=_("Leave this field empty"))
        self.fields[STAMP] = forms.CharField(required=False, widget=forms.HiddenInput)
        if not self.is_bound:
            self.initial[STAMP] = signer_for(webform.token).sign("1")
        for name, field in self.fields.items():
            if name == HONEYPOT:
                field.widget.attrs.update({"tabindex": "-1", "autocomplete": "off", "class": "form-control"})
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select")
            elif isinstance(field.widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.setdefault("class", "form-control")

    @property
    def visible_fields_for_lead(self) -> list[Any]:
        return [self[name] for name in self.fields if name not in (HONEYPOT, STAMP)]

    @property
    def is_spam(self) -> bool:
        return bool((self.data.get(HONEYPOT) or "").strip())

    def stamp_is_valid(self) -> bool:
        try:
            signer_for(self.webform.token).unsign(self.data.get(STAMP) or "", max_age=STAMP_MAX_AGE)
        except signing.BadSignature:
            return False
        return True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # The model's own normalisers, so that a bad phone or email shows next to its field at once.
        for name, normalise in (("phone", normalize_phone), ("email", normalize_email)):
            if data.get(name):
                try:
                    normalise(data[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        asked = {name for name in self.fields if name in ("phone", "email")}
        if asked and not any((data.get(name) or "").strip() for name in asked):
            message = _("Enter a phone number or an email address so that we can reach you.")
            for name in asked:
                self.add_error(name, message)
        return data

    def lead_data(self) -> dict[str, Any]:
        data = {}
        for name in self.fields:
            if name in (HONEYPOT, STAMP):
                continue
            value = self.cleaned_data.get(name)
            if value in (None, "", []):
                continue
            data[name] = value
        return data
