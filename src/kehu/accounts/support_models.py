"""Vendor support access: an organisation's administrator grants the vendor's platform staff read-only
access to the organisation's data for a few hours, and platform staff act, during a support session, as
a read-only member of that organisation.

The support actor is the one mechanism again, not a second one: every read still goes through
`visible_to(actor)` and every permission question through `can(actor, ...)`. The actor carries a grant of
`view` with the organisation scope in every module, and `can` refuses every other action to it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Grant, Organization, User
from kehu.core.models import TenantQuerySet
from kehu.core.permissions import Action, Scope

__all__ = [
    "SUPPORT_GRANT_STATUSES",
    "SUPPORT_HOURS_MAX",
    "SUPPORT_HOURS_MIN",
    "SUPPORT_READ_GRANT",
    "SupportActor",
    "SupportGrant",
]

# A grant's status as the API reports it (see SupportGrant.status).
SUPPORT_GRANT_STATUSES = ["active", "revoked", "expired"]
SUPPORT_HOURS_MIN = 1
SUPPORT_HOURS_MAX = 72

# What a support actor may do in every module: look, within the whole organisation. Nothing else.
SUPPORT_READ_GRANT = Grant(frozenset({Action.VIEW.value}), Scope.ORGANIZATION)


class SupportGrantQuerySet(TenantQuerySet):
    def in_force(self, now: Any = None) -> SupportGrantQuerySet:
        """Grants that open support sessions right now: neither ended nor past their expiry."""
        return self.filter(ended_at__isnull=True, expires_at__gt=now or timezone.now())

    def lapsed(self, now: Any = None) -> SupportGrantQuerySet:
        """Grants past their expiry whose end is not yet recorded (the expiry job records it)."""
        return self.filter(ended_at__isnull=True, expires_at__lte=now or timezone.now())


class SupportGrant(models.Model):
    """One grant of read-only access for the vendor's staff, from `created_at` until `expires_at` or an
    earlier revocation. At most one grant of an organisation is open (not yet ended) at a time."""

    class EndReason(models.TextChoices):
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("granted by")
    )
    reason = models.CharField(_("reason"), max_length=500)
    hours = models.PositiveSmallIntegerField(_("hours"))
    created_at = models.DateTimeField(_("granted at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("end"), max_length=10, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("revoked by")
    )

    objects = SupportGrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("support access grant")
        verbose_name_plural = _("support access grants")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(ended_at__isnull=True), name="support_grant_one_open"
            ),
            models.CheckConstraint(
                condition=models.Q(hours__gte=SUPPORT_HOURS_MIN, hours__lte=SUPPORT_HOURS_MAX),
                name="support_grant_hours_range",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="support_grant_org_time"),
            # The expiry job and the platform's list of open grants.
            models.Index(fields=["ended_at", "expires_at"], name="support_grant_open"),
        ]

    def __str__(self) -> str:
        return gettext("Support access #%(id)s") % {"id": self.pk}

    @property
    def in_force(self) -> bool:
        return self.ended_at is None and self.expires_at > timezone.now()

    @property
    def status(self) -> str:
        """active, revoked or expired (also before the expiry job has recorded it)."""
        if self.end_reason:
            return self.end_reason
        return "active" if self.in_force else self.EndReason.EXPIRED.value

    @property
    def status_label(self) -> str:
        if self.status == "active":
            return str(_("Active"))
        return str(self.EndReason(self.status).label)


class SupportActor(User):
    """Platform staff during a support session: a read-only member of one organisation.

    Built in memory for each request by `support_services.support_actor_for`, never saved: it has the
    staff user's id (so the audit log names the real person) and the granting organisation, no team and no
    role, and `SUPPORT_READ_GRANT` in every module. `kehu.core.permissions.can` refuses every action but
    `view` to it, so services refuse writes as they refuse any actor without the grant.
    """

    is_support_actor = True

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("support actor")

    # Set by `for_session`: the real staff user and the grant the session runs under.
    staff: User
    support_grant: SupportGrant

    @classmethod
    def for_session(cls, *, staff: User, grant: SupportGrant) -> SupportActor:
        actor = cls(
            id=staff.pk,
            email=staff.email,
            name=staff.name,
            language=staff.language,
            organization=grant.organization,
            team=None,
            role=None,
            is_active=True,
            is_staff=True,
            is_superuser=False,
            totp_enabled=staff.totp_enabled,
            last_login=staff.last_login,
        )
        actor._state.adding = False
        actor.staff = staff
        actor.support_grant = grant
        return actor

    def grant_for(self, module: str) -> Grant:
        return SUPPORT_READ_GRANT

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise ValueError("A support actor is never saved: support sessions are read-only.")

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("A support actor is never deleted.")
