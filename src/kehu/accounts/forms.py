"""Forms of the user's own pages: sign-in, two-factor, password reset, invitation, profile, API tokens.

Forms only parse and check input; every change goes through `kehu.accounts.services`. A service's
`ValidationFailed` is mapped back onto the form's fields with `add_service_errors`, so errors appear
beside the field that caused them and what was typed stays in the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts import services
from kehu.accounts.models import ApiToken, Language, User
from kehu.core.errors import DomainError, ValidationFailed


class BootstrapFormMixin:
    """Bootstrap 5 classes on every widget, and `is-invalid` on the fields that have errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def add_service_errors(form: forms.Form, error: DomainError, field_map: dict[str, str] | None = None) -> None:
    """Put a service's error onto the form: named fields inline (renamed by `field_map`), the rest on top."""
    field_map = field_map or {}
    placed = False
    for name, messages in (error.fields or {}).items():
        target = field_map.get(name, name)
        if target in form.fields:
            for message in messages:
                form.add_error(target, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _password_input(autocomplete: str, **attrs: Any) -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": autocomplete, **attrs})


class LoginForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True, "inputmode": "email"}),
    )
    password = forms.CharField(label=_("Password"), strip=False, widget=_password_input("current-password"))

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class TotpCodeForm(BootstrapFormMixin, forms.Form):
    code = forms.CharField(
        label=_("6-digit code"),
        max_length=12,  # people paste "123 456"
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "placeholder": "123456",
                "pattern": r"[0-9 ]*",
            }
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("Enter the 6 digits shown in your authenticator app."))
        return code


class PasswordFieldsMixin:
    """Two password fields that must match and satisfy the organisation's password policy."""

    password_fields = ("password1", "password2")
    user: User

    def _check_new_password(self) -> None:
        first, second = self.password_fields
        password1 = self.cleaned_data.get(first)
        password2 = self.cleaned_data.get(second)
        if password1 and password2 and password1 != password2:
            self.add_error(second, _("The two passwords do not match."))
            return
        if password1:
            try:
                services.password_validate(password1, user=self.user)
            except ValidationFailed as exc:
                add_service_errors(self, exc, {"password": first})


class PasswordResetRequestForm(BootstrapFormMixin, auth_forms.PasswordResetForm):
    """Django's reset form (it finds active users by the email field and mails a one-time link)."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True, "inputmode": "email"}),
    )


class PasswordResetSetForm(BootstrapFormMixin, PasswordFieldsMixin, forms.Form):
    """The form behind the emailed link; it saves through `services.password_reset` (audited)."""

    password_fields = ("new_password1", "new_password2")
    new_password1 = forms.CharField(
        label=_("New password"), strip=False, widget=_password_input("new-password", autofocus=True)
    )
    new_password2 = forms.CharField(label=_("New password again"), strip=False, widget=_password_input("new-password"))

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_new_password()
        return cleaned

    def save(self, commit: bool = True) -> User:
        services.password_reset(user=self.user, new=self.cleaned_data["new_password1"])
        return self.user


class InvitationAcceptForm(BootstrapFormMixin, PasswordFieldsMixin, forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password1 = forms.CharField(label=_("Choose a password"), strip=False, widget=_password_input("new-password"))
    password2 = forms.CharField(label=_("Password again"), strip=False, widget=_password_input("new-password"))

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        kwargs.setdefault("initial", {"name": user.name})
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_new_password()
        return cleaned


class ProfileForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Automatic (from your browser)")), *Language.choices],
    )

    @classmethod
    def for_user(cls, user: User, data: Any = None) -> ProfileForm:
        return cls(data, initial={"name": user.name, "phone": user.phone, "language": user.language})


class PasswordChangeForm(BootstrapFormMixin, PasswordFieldsMixin, forms.Form):
    password_fields = ("new_password1", "new_password2")
    current_password = forms.CharField(
        label=_("Current password"), strip=False, widget=_password_input("current-password")
    )
    new_password1 = forms.CharField(label=_("New password"), strip=False, widget=_password_input("new-password"))
    new_password2 = forms.CharField(label=_("New password again"), strip=False, widget=_password_input("new-password"))

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_new_password()
        return cleaned


class TotpDisableForm(BootstrapFormMixin, forms.Form):
    """Turning two-factor off asks for the password again, so a borrowed session cannot do it."""

    password = forms.CharField(label=_("Your password"), strip=False, widget=_password_input("current-password"))

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("The password is not correct."))
        return password


class TokenCreateForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “ERP sync”."),
    )
    scope = forms.ChoiceField(label=_("Access"), choices=ApiToken.TokenScope.choices, initial=ApiToken.TokenScope.READ)
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=3650,
        initial=settings.API_TOKEN_DEFAULT_EXPIRY.days,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "token_%s")  # it shares the profile page with ProfileForm's "name"
        super().__init__(*args, **kwargs)
