"""Sales quotas 销售目标 per rep and period (imported at the end of sales/models.py).

A quota is a business record whose `owner` is the rep it sets a target for: the data scope that decides
who sees a rep's opportunities decides who sees their quotas too (a rep their own, a manager their team).
Who may *set* one is the quota policy's question (forecast_policies.py).

A period is stored as its kind and its first day. Monthly and quarterly quotas may both exist; the forecast
reads them month by month: a month's target is its monthly quota, or else a third of its quarter's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel
from kehu.sales.models import MODULE

__all__ = ["Quota"]

LIVE = Q(deleted_at__isnull=True)


class Quota(BusinessModel):
    module = MODULE

    class Period(models.TextChoices):
        MONTH = "month", _("Month")
        QUARTER = "quarter", _("Quarter")

    period_kind = models.CharField(_("period"), max_length=10, choices=Period.choices, default=Period.MONTH)
    period_start = models.DateField(_("period start"))
    amount = models.DecimalField(
        _("target amount"), max_digits=16, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        ordering = ["period_start", "owner_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner", "period_kind", "period_start"],
                condition=LIVE,
                name="quota_unique_period",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organization", "period_start", "owner"], condition=LIVE, name="quota_org_period"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} · {self.period_label}"

    def get_absolute_url(self) -> str:
        return reverse("sales:quota_edit", args=[self.pk])

    @property
    def period_label(self) -> str:
        return period_label(self.period_kind, self.period_start)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.pk, "owner": self.owner_id, "period": self.period_label}


def period_label(kind: str, start: date) -> str:
    """ "2026-04" for a month, "2026 Q2" for a quarter, "2026" for a year (the same in every language)."""
    if kind == "quarter":
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    if kind == "year":
        return str(start.year)
    return f"{start.year}-{start.month:02d}"
