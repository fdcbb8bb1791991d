"""Public pool 公海 rules per organisation, and the log of pool moves that the rules read.

Imported at the end of customers/models.py so that Django finds the models in the customers app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantQuerySet

__all__ = ["PoolMove", "PoolSettings"]

MAX_DAYS = 3650

# Defaults of an organisation that never saved its settings. Automatic return is off until an
# administrator turns it on: switching it on silently would strip owners from existing customers.
DEFAULT_AUTO_RETURN_DAYS = 0
DEFAULT_MAX_CUSTOMERS = 0
DEFAULT_RECLAIM_COOLDOWN_DAYS = 7
DEFAULT_RETENTION_DAYS = 30


class PoolSettings(models.Model):
    """One row per organisation (absent until an administrator saves; the defaults apply meanwhile)."""

    module = "customers"

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    auto_return_days = models.PositiveIntegerField(
        _("return to the pool after days without follow-up"),
        default=DEFAULT_AUTO_RETURN_DAYS,
        validators=[MaxValueValidator(MAX_DAYS)],
        help_text=_("A customer nobody contacted for this many days goes back to the public pool. 0 turns this off."),
    )
    max_customers_per_rep = models.PositiveIntegerField(
        _("customers a user may hold"),
        default=DEFAULT_MAX_CUSTOMERS,
        validators=[MaxValueValidator(1_000_000)],
        help_text=_("Claiming from the pool is refused above this number. 0 means no limit."),
    )
    reclaim_cooldown_days = models.PositiveIntegerField(
        _("days before a released customer can be claimed again by the same user"),
        default=DEFAULT_RECLAIM_COOLDOWN_DAYS,
        validators=[MaxValueValidator(MAX_DAYS)],
        help_text=_("0 lets a user claim back at once what they released."),
    )
    recycle_bin_retention_days = models.PositiveIntegerField(
        _("days deleted customers stay in the recycle bin"),
        default=DEFAULT_RETENTION_DAYS,
        validators=[MaxValueValidator(MAX_DAYS)],
        help_text=_("After this many days a scheduled job deletes them for good. 0 keeps them forever."),
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("public pool settings")
        verbose_name_plural = _("public pool settings")

    def __str__(self) -> str:
        return f"pool settings of {self.organization_id}"


class PoolMove(models.Model):
    """A customer entering or leaving the pool. The audit log tells the story; this table answers the
    rules' questions (who released it and when: the reclaim cooldown) with an index."""

    class Kind(models.TextChoices):
        CLAIM = "claim", _("Claimed")
        RELEASE = "release", _("Released")
        AUTO_RETURN = "auto_return", _("Returned automatically")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="pool_moves")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The owner before a release or return (the one the cooldown applies to), or after a claim.
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization", "customer", "-at"], name="poolmove_org_customer"),
            models.Index(fields=["organization", "previous_owner", "customer", "-at"], name="poolmove_org_prev"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id}"
