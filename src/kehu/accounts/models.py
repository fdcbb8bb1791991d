"""Organisations (tenants), users, teams (departments), roles and API tokens."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantQuerySet
from kehu.core.permissions import Scope

TIME_ZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz]


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai", choices=TIME_ZONE_CHOICES)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    enabled_modules = models.JSONField(_("enabled modules"), default=list, blank=True)
    seats = models.PositiveIntegerField(_("seats"), null=True, blank=True, help_text=_("Empty means unlimited."))
    # Security policy
    require_2fa = models.BooleanField(_("require two-factor authentication"), default=False)
    password_min_length = models.PositiveSmallIntegerField(_("minimum password length"), default=8)
    session_hours = models.PositiveSmallIntegerField(_("session length (hours)"), default=12)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A department 部门. Teams form a tree; `path` (/1/4/9/) makes "team and sub-teams" one index scan."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent team")
    )
    manager = models.ForeignKey(
        "User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
        verbose_name=_("manager"),
    )
    path = models.CharField(max_length=255, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "parent", "name"], name="team_unique_name"),
            # NULLs are distinct in unique constraints, so top-level teams need their own.
            models.UniqueConstraint(
                fields=["organization", "name"], condition=models.Q(parent__isnull=True), name="team_unique_root_name"
            ),
        ]
        indexes = [models.Index(fields=["organization", "path"], name="team_org_path")]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)


class Role(models.Model):
    """Grants, per module, a set of actions and a data scope.

    `permissions` is {"customers": {"actions": ["view", "create"], "scope": "own"}, ...}.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    key = models.SlugField(max_length=50, help_text=_("Stable identifier, e.g. sales_rep."))
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    permissions = models.JSONField(_("permissions"), default=dict, blank=True)
    is_system = models.BooleanField(default=False, help_text=_("Shipped with Kehu; can be copied, not deleted."))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="role_unique_key"),
            models.UniqueConstraint(fields=["organization", "name"], name="role_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Grant:
    actions: frozenset[str]
    scope: str


NO_GRANT = Grant(frozenset(), Scope.OWN)


class UserQuerySet(TenantQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        """A platform administrator (the vendor's staff): no organisation, so no customer data."""
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser):
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("organisation"),
    )
    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members", verbose_name=_("team")
    )
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.PROTECT, related_name="users", verbose_name=_("role")
    )
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("platform staff"), default=False)
    is_superuser = models.BooleanField(default=False)
    invited_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_enabled = models.BooleanField(_("two-factor authentication"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["name", "email"]
        indexes = [models.Index(fields=["organization", "is_active"], name="user_org_active")]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def is_pending_invitation(self) -> bool:
        return self.invited_at is not None and self.joined_at is None and self.deactivated_at is None

    @cached_property
    def _grants(self) -> dict[str, Grant]:
        if self.role_id is None:
            return {}
        grants = {}
        for module, spec in (self.role.permissions or {}).items():
            grants[module] = Grant(frozenset(spec.get("actions", [])), spec.get("scope", Scope.OWN))
        return grants

    def grant_for(self, module: str) -> Grant:
        return self._grants.get(module, NO_GRANT)

    # Django's admin site asks these of platform staff only.
    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_active and self.is_superuser

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_superuser


class ApiTokenQuerySet(TenantQuerySet):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A scoped API token. Only a SHA-256 of the token is stored; the token is shown once."""

    class TokenScope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, help_text=_("The first characters, to recognise a token."))
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(_("scope"), max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


# Vendor support access: grants and the read-only support actor (models in their own file).
from kehu.accounts.support_models import *  # noqa: E402,F403
