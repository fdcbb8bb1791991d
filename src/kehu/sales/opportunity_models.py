"""Pipelines, their stages, and opportunities 商机 (imported at the end of sales/models.py).

A pipeline is organisation configuration (every member with `view` in sales sees every pipeline); an
opportunity is a business record in its owner's data scope.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import BusinessModel, TenantQuerySet
from kehu.sales.models import MODULE

__all__ = ["Opportunity", "Pipeline", "Stage", "StageChange"]

LIVE = Q(deleted_at__isnull=True)


class Pipeline(models.Model):
    """An ordered set of stages an opportunity moves through (a company may run several: new business,
    renewals, channel deals)."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_default = models.BooleanField(_("default pipeline"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="pipeline_unique_name")]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One column of a pipeline. `kind` marks the closing stages: entering a won or lost stage closes the
    opportunity. `required_fields` names the opportunity fields that must be filled to enter the stage;
    `rot_days` (0 = never) flags an opportunity that sits in the stage longer."""

    module = MODULE

    class Kind(models.TextChoices):
        OPEN = "open", pgettext_lazy("opportunity status", "Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0, validators=[MaxValueValidator(100)])
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OPEN)
    required_fields = models.JSONField(_("fields required to enter"), default=list, blank=True)
    rot_days = models.PositiveIntegerField(
        _("rotting after days"), default=0, help_text=_("0 means an opportunity never rots in this stage.")
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name")]

    def __str__(self) -> str:
        return self.name


class Opportunity(BusinessModel):
    module = MODULE

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("opportunity status", "Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
        verbose_name=_("contact"),
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="+", verbose_name=_("pipeline"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("stage"))
    amount = models.DecimalField(
        _("amount"), max_digits=16, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0, validators=[MaxValueValidator(100)])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    next_step = models.CharField(_("next step"), max_length=255, blank=True)
    competitors = models.CharField(_("competitors"), max_length=255, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=255, blank=True)
    won_reason = models.CharField(_("won reason"), max_length=255, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    # Search data kept by database triggers (kehu/sales/search.py): the name and the customer's name, one
    # per line, lower-cased. PostgreSQL also keeps `name_grams` (not a Django field: arrays are not portable).
    search_names = models.TextField(default="", blank=True, editable=False)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="opp_org_updated"),
            models.Index(
                fields=["organization", "stage", "updated_at", "id"], condition=LIVE, name="opp_org_stage_updated"
            ),
            models.Index(
                fields=["organization", "owner", "stage", "updated_at", "id"],
                condition=LIVE,
                name="opp_org_owner_stage",
            ),
            models.Index(
                fields=["organization", "status", "expected_close_date"], condition=LIVE, name="opp_org_status_close"
            ),
            models.Index(fields=["organization", "customer"], condition=LIVE, name="opp_org_customer"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:opportunity_detail", args=[self.pk])

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount or Decimal(0)) * Decimal(self.probability) / Decimal(100)

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def rotting_days(self, now: Any = None) -> int:
        """Whole days the opportunity has sat in its stage beyond the stage's `rot_days` (0: not rotting).
        Reads `stage`: select it with the opportunity."""
        if not self.is_open or not self.stage_entered_at or not self.stage.rot_days:
            return 0
        days = ((now or timezone.now()) - self.stage_entered_at).days
        return days if days > self.stage.rot_days else 0

    @property
    def is_rotting(self) -> bool:
        return self.rotting_days() > 0

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        self.currency = (self.currency or "CNY").upper()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.pk, "name": self.name}


class StageChange(models.Model):
    """One move of an opportunity into a stage (its creation too: `from_stage` is then empty), with the time
    it spent in the stage it left. Stage names are copied so that the history reads the same after a stage
    is renamed or deleted."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("from stage")
    )
    to_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("to stage")
    )
    from_stage_name = models.CharField(_("from stage"), max_length=100, blank=True)
    to_stage_name = models.CharField(_("to stage"), max_length=100)
    at = models.DateTimeField(_("time"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    seconds_in_previous = models.PositiveBigIntegerField(_("seconds in the previous stage"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["organization", "opportunity", "at"], name="stagechange_org_opp_at")]

    def __str__(self) -> str:
        return f"{self.from_stage_name or '∅'} → {self.to_stage_name}"
