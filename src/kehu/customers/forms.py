"""Forms parse and present; the services decide. Model validation runs on a throwaway instance so that
errors show inline next to their field, and the service validates again before it writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core import choice_lists, custom_fields
from kehu.core.errors import ValidationFailed
from kehu.core.form_rendering import PythonWidgetRenderer
from kehu.customers import selectors
from kehu.customers.list_columns import CONTACT_TYPE, CUSTOMER_TYPE
from kehu.customers.models import STAGES, TIERS, Contact, Customer, Tag

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def apply_service_errors(form: forms.BaseForm, exc: ValidationFailed) -> None:
    """Show a service's validation error on the form, next to the fields it names."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.fields.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message if target else f"{name}: {message}")


def _blank(choices: Any, label: Any = "—") -> list[tuple[str, Any]]:
    return [("", label), *list(choices)]


class CustomerFilterForm(custom_fields.CustomFilterFormMixin, forms.Form):
    """The list's filters (UI query string and API query parameters alike)."""

    # The filter bar is on every list page: its selects are written in Python (same HTML as Django's).
    default_renderer = PythonWidgetRenderer()

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=selectors.SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Name, phone, email…"), "type": "search"}),
    )
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=_blank(Customer.Kind.choices, _("Any type")))
    tier = forms.ChoiceField(label=_("Tier"), required=False, choices=_blank(Customer.Tier.choices, _("Any tier")))
    stage = forms.ChoiceField(
        label=_("Lifecycle stage"), required=False, choices=_blank(Customer.Stage.choices, _("Any stage"))
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=_blank(Customer.Source.choices, _("Any source"))
    )
    tag = forms.IntegerField(label=_("Tag"), required=False, min_value=1)
    owner = forms.IntegerField(label=_("Owner"), required=False, min_value=1)
    province = forms.CharField(label=_("Province"), required=False, max_length=50)
    city = forms.CharField(label=_("City"), required=False, max_length=50)

    def __init__(self, *args: Any, actor: Any = None, with_choices: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if actor is not None and (with_choices or any((self.data or {}).get(n) for n in ("tier", "stage"))):
            # The organisation's tiers and stages (kehu.core.choice_lists); inactive ones still filter old records.
            # Read for the page's filter bar or a query that filters by them (not for every API list).
            for name, list_key in (("tier", TIERS), ("stage", STAGES)):
                field = self.fields[name]
                options = choice_lists.options(actor.organization_id, list_key)
                field.choices = [field.choices[0], *[(o.key, o.label) for o in options]]
        # The tags and colleagues of the choices as (pk, label), kept for the page's bulk bar (read once per request).
        self.tag_choices: list[tuple[int, str]] = []
        self.owner_choices: list[tuple[int, str]] = []
        if with_choices and actor is not None:
            self.tag_choices = list(selectors.tag_list_for(actor=actor).values_list("pk", "name"))
            self.owner_choices = selectors.owner_options_for(actor=actor)
            self.fields["tag"].widget = forms.Select(choices=_blank(self.tag_choices, _("Any tag")))
            self.fields["owner"].widget = forms.Select(choices=_blank(self.owner_choices, _("Any owner")))
        # Custom fields (kehu.core.custom_fields): filter inputs named "custom.<key>" / "custom.<key>.min|max".
        # Loaded for the page's filter bar, or when the query names a custom field (not for every API list).
        wanted = with_choices or any(str(name).startswith("custom.") for name in (self.data or {}))
        self.custom_definitions = (
            custom_fields.definitions_for(actor.organization_id, CUSTOMER_TYPE) if actor and wanted else []
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


class _StyledMixin:
    def style(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control")


class CustomerForm(_StyledMixin, forms.ModelForm):
    """Create and edit. `version` carries what the user opened, so a save over someone else's change is
    refused; `owner` appears only for users who may assign customers to colleagues."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False)

    class Meta:
        model = Customer
        fields = [
            "kind",
            "name",
            "short_name",
            "tier",
            "stage",
            "source",
            "industry",
            "phone",
            "email",
            "website",
            "province",
            "city",
            "district",
            "address",
            "tags",
            "next_follow_up_at",
            "last_contacted_at",
            "notes",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 4}),
            "tags": forms.CheckboxSelectMultiple,
            "next_follow_up_at": DATETIME_INPUT,
            "last_contacted_at": DATETIME_INPUT,
            "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
            "email": forms.TextInput(attrs={"inputmode": "email", "autocomplete": "email"}),
        }

    def __init__(self, *args: Any, actor: Any, editing: bool = False, can_assign: bool = False, **kwargs: Any) -> None:
        # A throwaway instance: the form validates, the service writes. Never the record being edited,
        # which must stay as loaded so the service can diff it.
        kwargs["instance"] = Customer(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = selectors.tag_list_for(actor=actor)
        self.fields["tags"].required = False
        self.fields["phone"].help_text = _("Mobile or landline; +86 and spaces are fine.")
        # Tier and stage: the organisation's active options, plus the record's own value if since deactivated.
        org = actor.organization_id
        for name, list_key, blank in (("tier", TIERS, True), ("stage", STAGES, False)):
            current = str(self.initial.get(name) or "")
            options = choice_lists.choices(org, list_key, current=current)
            self.fields[name] = forms.ChoiceField(
                label=Customer._meta.get_field(name).verbose_name.capitalize(),
                required=not blank,
                choices=[("", "—"), *options] if blank else options,
            )
        if not self.initial.get("stage"):
            self.initial["stage"] = choice_lists.default(org, STAGES, Customer.Stage.LEAD_IN)
        self.owners: dict[int, Any] = {}
        if editing or not can_assign:
            del self.fields["owner"]
        else:
            self.owners = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}
            self.fields["owner"].choices = [(pk, str(u)) for pk, u in self.owners.items()]
            self.fields["owner"].initial = actor.pk
        if not editing:
            del self.fields["version"]
        else:
            self.fields["version"].required = True
        # Custom fields (kehu.core.custom_fields): one form field per active definition, named "custom.<key>".
        self.custom_definitions = custom_fields.definitions_for(actor.organization_id, CUSTOMER_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, actor=actor))
        if not editing and not self.is_bound:
            self.initial.update(custom_fields.form_initial(self.custom_definitions, None, creating=True))
        self.style()

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions]

    def clean_owner(self) -> Any:
        pk = self.cleaned_data.get("owner")
        return self.owners.get(pk) if pk else None

    def service_data(self) -> dict[str, Any]:
        """The cleaned values a service takes (without owner and version)."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        data["tags"] = list(data.get("tags") or [])
        if self.custom_definitions:
            data["custom"] = custom_fields.form_values(self.custom_definitions, self.cleaned_data)
        return data

    @staticmethod
    def initial_for(customer: Customer) -> dict[str, Any]:
        initial = forms.model_to_dict(customer, fields=CustomerForm.Meta.fields)
        initial["tags"] = [t.pk for t in customer.tags.all()]
        initial["version"] = customer.version
        definitions = custom_fields.definitions_for(customer.organization_id, CUSTOMER_TYPE)
        initial.update(custom_fields.form_initial(definitions, customer.custom))
        return initial


class ContactForm(_StyledMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Contact
        fields = ["name", "title", "department", "phone", "email", "wechat", "birthday", "is_primary", "notes"]
        widgets = {
            "birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "phone": forms.TextInput(attrs={"inputmode": "tel"}),
            "email": forms.TextInput(attrs={"inputmode": "email"}),
        }

    def __init__(self, *args: Any, customer: Customer, editing: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = Contact(organization_id=customer.organization_id, customer=customer)
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["version"].required = True
        else:
            del self.fields["version"]
        # Custom fields of contacts, as for customers.
        self.custom_definitions = custom_fields.definitions_for(customer.organization_id, CONTACT_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, organization_id=customer.organization_id))
        if not editing and not self.is_bound:
            self.initial.update(custom_fields.form_initial(self.custom_definitions, None, creating=True))
        self.style()

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions]

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        if self.custom_definitions:
            data["custom"] = custom_fields.form_values(self.custom_definitions, self.cleaned_data)
        return data

    @staticmethod
    def initial_for(contact: Contact) -> dict[str, Any]:
        initial = forms.model_to_dict(contact, fields=ContactForm.Meta.fields)
        initial["version"] = contact.version
        definitions = custom_fields.definitions_for(contact.organization_id, CONTACT_TYPE)
        initial.update(custom_fields.form_initial(definitions, contact.custom))
        return initial


class TagForm(_StyledMixin, forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "colour"]
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        kwargs.setdefault("instance", Tag(organization_id=actor.organization_id))
        super().__init__(*args, **kwargs)
        self.style()
        self.fields["colour"].widget.attrs["class"] = "form-control form-control-color"


class IdListField(forms.Field):
    """Ticked record ids. Any id is acceptable input: the selector then keeps only what the actor may see."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Select at least one customer."),
        "invalid": _("Select customers from the list."),
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if not all(str(v).isdigit() for v in values):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return [int(v) for v in values]


class BulkForm(forms.Form):
    """A bulk action on the customers ticked in the list."""

    ACTIONS = (
        ("assign", _("Assign owner")),
        ("tag_add", _("Add tag")),
        ("tag_remove", _("Remove tag")),
        ("delete", _("Delete")),
    )

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(label=_("Customers"))
    owner = forms.IntegerField(required=False, label=_("Owner"))
    tag = forms.IntegerField(required=False, label=_("Tag"))
    next = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new owner."))
        if action in ("tag_add", "tag_remove") and not data.get("tag"):
            self.add_error("tag", _("Choose a tag."))
        return data
