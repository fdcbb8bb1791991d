"""The vendor's platform administration at /platform/ (Django's admin site).

Only platform staff use it: active staff superusers who belong to no organisation. It shows
organisations (licence: modules, seats, active) and, read-only, their users for support. Customer data
is deliberately not registered: the vendor's staff must not browse their customers' customers. They
see an organisation's data only in a support session, which the organisation opens by granting access
for a few hours (SupportGrantAdmin below; kehu.accounts.middleware); the session is read-only and
every request is recorded in the organisation's audit chain.
Changes go through the account services, so they are validated and audited like any other change.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kehu.accounts import services, support_services
from kehu.accounts.middleware import SESSION_KEY as SUPPORT_SESSION_KEY
from kehu.accounts.models import Language, Organization, SupportGrant, User
from kehu.accounts.policies import is_platform_staff
from kehu.core import modules
from kehu.core.errors import DomainError


def _platform_has_permission(request: HttpRequest) -> bool:
    return is_platform_staff(request.user)


# Kehu's permissions come from roles; Django's groups would only suggest a second, unused mechanism.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)

# A staff flag on an organisation's user must never open the platform area: the admin site asks this
# before every page, so organisation users are sent to the admin login instead.
admin.site.has_permission = _platform_has_permission


def _module_choices() -> list[tuple[str, Any]]:
    return [(m.key, m.label) for m in modules.licensable_modules()]


class PlatformOnly:
    """Every permission of a platform ModelAdmin needs platform staff (not just `is_superuser`)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # organisations and users are deactivated, never deleted: their audit log must stay


class OrganizationChangeForm(forms.ModelForm):
    enabled_modules = forms.MultipleChoiceField(
        label=_("Enabled modules"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )

    class Meta:
        model = Organization
        fields = ("enabled_modules", "seats", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["enabled_modules"].choices = _module_choices()

    def clean_enabled_modules(self) -> list[str]:
        return sorted(self.cleaned_data.get("enabled_modules") or [])


class OrganizationAddForm(forms.ModelForm):
    """A new organisation with its first administrator, created by `organization_create`."""

    admin_email = forms.EmailField(label=_("First administrator's email"))
    admin_name = forms.CharField(label=_("First administrator's name"), max_length=100, required=False)
    admin_password = forms.CharField(
        label=_("First administrator's password"),
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text=_("Hand it over safely; they can change it in their profile."),
    )
    enabled_modules = forms.MultipleChoiceField(
        label=_("Enabled modules"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )

    class Meta:
        model = Organization
        fields = ("name", "time_zone", "currency", "language", "seats")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["enabled_modules"].choices = _module_choices()
        self.fields["enabled_modules"].initial = [key for key, _label in _module_choices()]
        self.fields["language"].initial = Language.ZH_HANS

    def clean_admin_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["admin_email"]).strip().lower()
        # The platform area is cross-tenant by nature: an email is unique across all organisations.
        if User.objects.dangerously_all_organizations().filter(email=email).exists():
            raise forms.ValidationError(_("A user with this email already exists."))
        return email

    def clean_admin_password(self) -> str:
        password = self.cleaned_data["admin_password"]
        try:
            services.password_validate(password)
        except DomainError as exc:
            raise forms.ValidationError(exc.fields.get("password") or [exc.message]) from exc
        return password


@admin.register(Organization)
class OrganizationAdmin(PlatformOnly, admin.ModelAdmin):
    list_display = ("name", "modules_display", "seats_display", "user_count", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    ordering = ("name",)
    readonly_fields = (
        "name",
        "time_zone",
        "currency",
        "language",
        "require_2fa",
        "password_min_length",
        "session_hours",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(user_count=Count("users"))

    def get_form(self, request: HttpRequest, obj: Organization | None = None, change: bool = False, **kwargs: Any):
        kwargs["form"] = OrganizationChangeForm if obj is not None else OrganizationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Organization | None = None):
        if obj is None:
            return [
                (None, {"fields": ("name", "time_zone", "currency", "language")}),
                (_("First administrator"), {"fields": ("admin_email", "admin_name", "admin_password")}),
                (_("Licence"), {"fields": ("enabled_modules", "seats")}),
            ]
        return [
            (_("Licence"), {"fields": ("enabled_modules", "seats", "is_active")}),
            (
                _("Set by the organisation's administrators"),
                {"fields": self.readonly_fields, "classes": ("collapse",)},
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Organization, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            # The form already set the new values on `obj`; the service diffs against the stored row so the
            # audit entry has the real before/after. Only licence fields: the rest is the organisation's own.
            stored = Organization.objects.get(pk=obj.pk)
            services.organization_license_update(
                actor=request.user,
                organization=stored,
                data={name: data[name] for name in form.changed_data if name in OrganizationChangeForm.Meta.fields},
            )
            return
        org = services.organization_create(
            actor=request.user,
            name=data["name"],
            admin_email=data["admin_email"],
            admin_password=data["admin_password"],
            admin_name=data.get("admin_name", ""),
            modules_enabled=list(data.get("enabled_modules") or []),
            time_zone=data["time_zone"],
            currency=data["currency"],
            language=data["language"],
        )
        if data.get("seats") is not None:
            services.organization_license_update(actor=request.user, organization=org, data={"seats": data["seats"]})
        # The admin redirects and logs by `obj`; make it the saved organisation.
        obj.pk = org.pk
        obj._state.adding = False
        obj._state.db = org._state.db
        obj.refresh_from_db()

    @admin.display(description=_("modules"))
    def modules_display(self, obj: Organization) -> str:
        labels = dict(_module_choices())
        return ", ".join(str(labels.get(key, key)) for key in obj.enabled_modules or []) or "—"

    @admin.display(description=_("seats"), ordering="seats")
    def seats_display(self, obj: Organization) -> Any:
        return obj.seats if obj.seats is not None else _("unlimited")

    @admin.display(description=_("users"), ordering="user_count")
    def user_count(self, obj: Organization) -> int:
        return obj.user_count


@admin.register(User)
class UserAdmin(PlatformOnly, admin.ModelAdmin):
    """Read-only, for support: who belongs where, and whether they can sign in."""

    list_display = ("email", "name", "organization", "role", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "organization")
    list_select_related = ("organization", "role")
    search_fields = ("email", "name", "organization__name")
    ordering = ("email",)
    fields = (
        "email",
        "name",
        "organization",
        "team",
        "role",
        "is_active",
        "is_staff",
        "invited_at",
        "joined_at",
        "deactivated_at",
        "last_login",
        "totp_enabled",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users join through invitations or organisation_create, which check seats

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SupportGrantStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("in_force", _("Active")), ("ended", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SupportGrant]) -> QuerySet[SupportGrant]:
        if self.value() == "in_force":
            return queryset.in_force()
        if self.value() == "ended":
            return queryset.exclude(pk__in=queryset.in_force().values("pk"))
        return queryset


@admin.register(SupportGrant)
class SupportGrantAdmin(PlatformOnly, admin.ModelAdmin):
    """Support access the organisations granted the vendor. Read-only here: organisations grant and revoke
    on their own administration pages. An active grant lets platform staff open a support session, in
    which they see that organisation's data read-only, every request audited in its chain."""

    list_display = ("organization", "status_display", "expires_at", "granted_by", "reason", "created_at", "enter")
    list_filter = (SupportGrantStatusFilter,)
    list_select_related = ("organization", "granted_by")
    search_fields = ("organization__name", "reason")
    ordering = ("-created_at",)
    fields = (
        "organization",
        "granted_by",
        "reason",
        "hours",
        "created_at",
        "expires_at",
        "ended_at",
        "end_reason",
        "ended_by",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the organisation grants access

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        site = self.admin_site
        return [
            path("<int:pk>/enter/", site.admin_view(self.enter_view), name="accounts_supportgrant_enter"),
            path("exit/", site.admin_view(require_POST(self.exit_view)), name="accounts_supportgrant_exit"),
            *super().get_urls(),
        ]

    @admin.display(description=_("status"))
    def status_display(self, obj: SupportGrant) -> str:
        return obj.status_label

    @admin.display(description=_("support session"))
    def enter(self, obj: SupportGrant) -> str:
        if not obj.in_force:
            return "—"
        url = reverse("admin:accounts_supportgrant_enter", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Enter support session"))

    def enter_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what the session allows and records; POST: open it and go to the organisation's pages."""
        grant = SupportGrant.objects.dangerously_all_organizations().select_related("organization", "granted_by")
        grant = grant.filter(pk=pk).first()
        if grant is None:
            raise Http404
        changelist = reverse("admin:accounts_supportgrant_changelist")
        if request.method == "POST":
            current = request.session.get(SUPPORT_SESSION_KEY)
            if current is not None and current != grant.pk:
                support_services.support_session_end(staff=request.user, grant_id=current, reason="switch")
            try:
                support_services.support_session_start(staff=request.user, grant_id=grant.pk)
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
                return redirect(changelist)
            request.session[SUPPORT_SESSION_KEY] = grant.pk
            return redirect("home")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Enter support session"),
            "grant": grant,
            "opts": self.model._meta,
            "changelist_url": changelist,
        }
        return TemplateResponse(request, "admin/accounts/supportgrant/enter.html", context)

    def exit_view(self, request: HttpRequest) -> HttpResponse:
        grant_id = request.session.pop(SUPPORT_SESSION_KEY, None)
        if grant_id is not None:
            support_services.support_session_end(staff=request.user, grant_id=grant_id, reason="exit")
            self.message_user(request, _("The support session has ended."), level=messages.SUCCESS)
        return redirect("admin:accounts_supportgrant_changelist")
