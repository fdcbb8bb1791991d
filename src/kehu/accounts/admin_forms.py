"""Forms of the organisation administrator's pages. They parse and check input shapes only; every rule
about users, teams, roles and organisations lives in `accounts.services`, whose errors
`add_domain_error` puts back onto the form next to the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts import selectors
from kehu.accounts.models import TIME_ZONE_CHOICES, Language, Role, Team, User
from kehu.core import modules
from kehu.core.errors import DomainError
from kehu.core.permissions import Action, Scope


class BootstrapMixin:
    """Bootstrap classes on every widget, and `is-invalid` on the fields that failed validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        _mark_invalid(self)


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error on the form: next to each field it names, else at the top of the form."""
    placed = False
    for name, messages in (error.fields or {}).items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)
    _mark_invalid(form)


def _mark_invalid(form: forms.Form) -> None:
    for name in form.errors:
        if name in form.fields:
            widget = form.fields[name].widget
            if "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
            widget.attrs["aria-invalid"] = "true"


IDEOGRAPHIC_SPACE = "\u3000"


def team_choices_label(team: Team) -> str:
    """A team's name indented by its depth, so a flat <select> shows the tree."""
    return IDEOGRAPHIC_SPACE * team.depth + team.name


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Team) -> str:
        return team_choices_label(obj)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.name} <{obj.email}>" if obj.name else obj.email


# Users -----------------------------------------------------------------------------------------------


class UserFilterForm(forms.Form):
    """The GET parameters of the user list; anything unknown is ignored rather than an error."""

    SORTS = {
        "name": ("name", "id"),
        "-name": ("-name", "-id"),
        "email": ("email", "id"),
        "-email": ("-email", "-id"),
        "created": ("created_at", "id"),
        "-created": ("-created_at", "-id"),
    }

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All statuses")),
            ("active", _("Active")),
            ("invited", _("Invited")),
            ("deactivated", _("Deactivated")),
        ],
    )
    team = TeamChoiceField(label=_("Team"), required=False, queryset=Team.objects.none(), empty_label=_("All teams"))
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("name", _("Name A→Z")),
            ("-name", _("Name Z→A")),
            ("email", _("Email A→Z")),
            ("-email", _("Email Z→A")),
            ("-created", _("Newest first")),
            ("created", _("Oldest first")),
        ],
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = selectors.team_list_for(actor=actor).order_by("path")
        for name, field in self.fields.items():
            field.widget.attrs["class"] = (
                "form-select form-select-sm" if name != "q" else "form-control form-control-sm"
            )
        self.fields["q"].widget.attrs["placeholder"] = _("Name, email or phone")
        self.fields["q"].widget.input_type = "search"

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid value of one filter drops that filter only."""
        data: dict[str, Any] = {}
        if self.is_bound:
            self.is_valid()  # fills cleaned_data with exactly the fields that were valid
            data = self.cleaned_data
        return {
            "search": (data.get("q") or "").strip(),
            "status": data.get("status") or "",
            "team_id": data["team"].pk if data.get("team") else None,
        }

    def sort_key(self) -> str:
        if self.is_bound:
            self.is_valid()
            return self.cleaned_data.get("sort") or "name"
        return "name"

    def ordering(self) -> tuple[str, ...]:
        return self.SORTS[self.sort_key()]


class UserInviteForm(BootstrapMixin, forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())
    team = TeamChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("No team"))

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = selectors.role_list_for(actor=actor)
        self.fields["team"].queryset = selectors.team_list_for(actor=actor).order_by("path")
        self.fields["email"].widget.attrs.update({"autocomplete": "off", "autofocus": True})
        if not self.is_bound:
            default_role = self.fields["role"].queryset.filter(key="sales_rep").first()
            if default_role is not None:
                self.initial.setdefault("role", default_role.pk)


class UserEditForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())
    team = TeamChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("No team"))

    def __init__(self, *args: Any, actor: User, user: User, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"name": user.name, "phone": user.phone, "role": user.role_id, "team": user.team_id}
        )
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = selectors.role_list_for(actor=actor)
        self.fields["team"].queryset = selectors.team_list_for(actor=actor).order_by("path")
        if user.pk == actor.pk:
            self.fields["role"].disabled = True
            self.fields["role"].help_text = _("You cannot change your own role.")

    def changed_values(self) -> dict[str, Any]:
        """Only what the administrator changed, so the audit entry lists real changes only."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name in self.cleaned_data}


# Teams -----------------------------------------------------------------------------------------------


class TeamForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    parent = TeamChoiceField(
        label=_("Parent team"), queryset=Team.objects.none(), required=False, empty_label=_("— top level —")
    )
    manager = UserChoiceField(label=_("Manager"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, actor: User, team: Team | None = None, **kwargs: Any) -> None:
        if team is not None:
            kwargs.setdefault("initial", {"name": team.name, "parent": team.parent_id, "manager": team.manager_id})
        super().__init__(*args, **kwargs)
        parents = selectors.team_list_for(actor=actor).order_by("path")
        if team is not None:
            # A team inside one of its own sub-teams is refused by the service, with a message on this field.
            parents = parents.exclude(pk=team.pk)
        self.fields["parent"].queryset = parents
        self.fields["manager"].queryset = selectors.user_list_for(actor=actor, status="active").order_by("name")

    def values(self) -> dict[str, Any]:
        return {
            "name": self.cleaned_data["name"].strip(),
            "parent": self.cleaned_data.get("parent"),
            "manager": self.cleaned_data.get("manager"),
        }


# Roles -----------------------------------------------------------------------------------------------


ACTION_COLUMNS: list[tuple[str, Any]] = list(Action.choices)


class RoleForm(BootstrapMixin, forms.Form):
    """Name, description and the permission matrix: one row per module, one checkbox per action the
    module offers, and the module's data scope."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)

    def __init__(self, *args: Any, role: Role | None = None, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        permissions = (role.permissions if role is not None else {}) or {}
        if role is not None and not self.is_bound:
            self.initial.update({"name": role.name, "description": role.description})
        self.modules = modules.all_modules()
        for module in self.modules:
            spec = permissions.get(module.key, {})
            granted = set(spec.get("actions", []))
            for action in module.actions:
                self.fields[self.action_field(module.key, action)] = forms.BooleanField(
                    required=False,
                    initial=action in granted,
                    label=f"{module.label}: {Action(action).label if action in Action.values else action}",
                    widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
                )
            self.fields[self.scope_field(module.key)] = forms.ChoiceField(
                choices=Scope.choices,
                required=False,  # a module without actions needs no scope
                initial=spec.get("scope", Scope.OWN),
                label=_("Data scope of %(module)s") % {"module": module.label},
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def action_field(module_key: str, action: str) -> str:
        return f"perm__{module_key}__{action}"

    @staticmethod
    def scope_field(module_key: str) -> str:
        return f"scope__{module_key}"

    def matrix(self) -> list[dict[str, Any]]:
        """Rows for the template: the module, a cell per action column (None where it does not apply)."""
        rows = []
        for module in self.modules:
            cells = []
            for action, _label in ACTION_COLUMNS:
                name = self.action_field(module.key, action)
                cells.append(self[name] if name in self.fields else None)
            rows.append({"module": module, "cells": cells, "scope": self[self.scope_field(module.key)]})
        return rows

    def permissions(self) -> dict[str, Any]:
        permissions = {}
        for module in self.modules:
            actions = [a for a in module.actions if self.cleaned_data.get(self.action_field(module.key, a))]
            if actions:
                scope = self.cleaned_data.get(self.scope_field(module.key)) or Scope.OWN
                permissions[module.key] = {"actions": actions, "scope": scope}
        return permissions


class RoleCopyForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name of the new role"), max_length=100)


# Organisation ----------------------------------------------------------------------------------------


class OrganizationForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES)
    currency = forms.CharField(
        label=_("Currency"), max_length=3, min_length=3, help_text=_("Three-letter ISO 4217 code, e.g. CNY.")
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    require_2fa = forms.BooleanField(
        label=_("Require two-factor authentication"),
        required=False,
        help_text=_("Users without it are asked to set it up at their next page view."),
    )
    password_min_length = forms.IntegerField(label=_("Minimum password length"), min_value=8, max_value=128)
    session_hours = forms.IntegerField(label=_("Session length (hours)"), min_value=1, max_value=720)
    enabled_modules = forms.MultipleChoiceField(
        label=_("Enabled modules"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )

    FIELDS = (
        "name",
        "time_zone",
        "currency",
        "language",
        "require_2fa",
        "password_min_length",
        "session_hours",
        "enabled_modules",
    )

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(organization, name) for name in self.FIELDS})
        super().__init__(*args, **kwargs)
        self.fields["enabled_modules"].choices = [(m.key, m.label) for m in modules.licensable_modules()]

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].strip().upper()
        if not value.isalpha():
            raise forms.ValidationError(_("Use three letters, e.g. CNY or USD."))
        return value

    def changed_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in self.FIELDS}
