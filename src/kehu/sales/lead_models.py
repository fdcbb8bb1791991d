"""Leads 线索 (imported at the end of sales/models.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel
from kehu.customers.models import _ReachableMixin
from kehu.sales.models import MODULE

__all__ = ["Lead"]

LIVE = Q(deleted_at__isnull=True)


class Lead(_ReachableMixin, BusinessModel):
    """A person (and their company) who may become a customer. Conversion links the lead to the
    customer, contact and opportunity it became; a converted lead stays for the record."""

    module = MODULE

    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        QUALIFIED = "qualified", _("Qualified")
        UNQUALIFIED = "unqualified", _("Unqualified")
        CONVERTED = "converted", _("Converted")

    class Source(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        IMPORT = "import", _("Import")
        API = "api", _("API")
        CAMPAIGN = "campaign", _("Campaign")
        REFERRAL = "referral", _("Referral")
        EXHIBITION = "exhibition", _("Trade show")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.OTHER)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="lead_org_updated"),
            models.Index(
                fields=["organization", "owner", "updated_at", "id"], condition=LIVE, name="lead_org_owner_updated"
            ),
            models.Index(fields=["organization", "status", "updated_at"], condition=LIVE, name="lead_org_status"),
            models.Index(fields=["organization", "phone_normalized"], condition=LIVE, name="lead_org_phone"),
            models.Index(fields=["organization", "email_normalized"], condition=LIVE, name="lead_org_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:lead_detail", args=[self.pk])

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        self.company = (self.company or "").strip()
        errors = self.clean_reachability()
        if errors:
            raise ValidationError(errors)
