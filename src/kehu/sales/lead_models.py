"""Leads 线索 and what a lead needs: the organisation's own sources, web-to-lead forms, assignment rules and
the assignment settings (imported at the end of sales/models.py).

A lead is a business record (owner, data scope, recycle bin). Sources, web forms, rules and settings are
the organisation's configuration: everyone with `view` in sales reads them, changing them needs
`administer` (sales/lead_policies.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, TenantQuerySet
from kehu.customers.models import _ReachableMixin
from kehu.sales.models import MODULE

__all__ = ["AssignmentRule", "Lead", "LeadOwnerLoad", "LeadSettings", "LeadSource", "WebForm"]

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
        """The built-in sources; an organisation adds its own (LeadSource), so the column has no choices."""

        WEB_FORM = "web_form", _("Web form")
        IMPORT = "import", _("Import")
        API = "api", _("API")
        CAMPAIGN = "campaign", _("Campaign")
        REFERRAL = "referral", _("Referral")
        EXHIBITION = "exhibition", _("Trade show")
        OTHER = "other", _("Other")

    # Leads someone still works on: what "open leads" (caps, least-loaded, re-assignment) counts.
    OPEN_STATUSES = (Status.NEW, Status.CONTACTED, Status.QUALIFIED)

    name = models.CharField(_("name"), max_length=100)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=20, default=Source.OTHER)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    # Search data kept by database triggers (kehu/sales/search.py): `search_names` the name and company, which
    # 1-2 character fragments match; `search_text` those plus the normalised phone and email. PostgreSQL also
    # keeps `name_grams` (not a Django field: arrays are not portable).
    search_names = models.TextField(default="", blank=True, editable=False)
    search_text = models.TextField(default="", blank=True, editable=False)
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
    # Automatic assignment 自动分配: the rule that chose the current owner (its name kept, so the lead
    # still says which rule it was after the rule is renamed or deleted). Empty after a manual assignment.
    assigned_rule = models.ForeignKey(
        "sales.AssignmentRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("assignment rule"),
    )
    assigned_rule_name = models.CharField(_("assigned by rule"), max_length=100, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    web_form = models.ForeignKey(
        "sales.WebForm",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("web form"),
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
            models.Index(fields=["organization", "created_at", "id"], condition=LIVE, name="lead_org_created"),
            # Open leads per rep: caps and least-loaded assignment count them for every new lead.
            models.Index(fields=["organization", "owner", "status"], condition=LIVE, name="lead_org_owner_status"),
            models.Index(
                fields=["organization", "deleted_at"], condition=Q(deleted_at__isnull=False), name="lead_org_bin"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:lead_detail", args=[self.pk])

    @property
    def region(self) -> str:
        return " ".join(part for part in (self.province, self.city) if part)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        self.company = (self.company or "").strip()
        errors = self.clean_reachability()
        if not isinstance(self.custom, dict):
            errors["custom"] = [_("Custom fields must be an object of field names and values.")]
        if errors:
            raise ValidationError(errors)


class LeadSource(models.Model):
    """A lead source an organisation adds to the built-in ones (a WeChat group, a partner's portal ...)."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("key"), max_length=20)
    label = models.CharField(_("label"), max_length=50)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead source")
        verbose_name_plural = _("lead sources")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="leadsource_unique_key"),
            models.UniqueConstraint(fields=["organization", "label"], name="leadsource_unique_label"),
        ]

    def __str__(self) -> str:
        return self.label


class WebForm(models.Model):
    """A web-to-lead form: public at /forms/<token>/ (no sign-in), embeddable in an <iframe>; each valid
    submission creates a lead of the organisation and goes through the assignment rules.

    `fields` lists what the form asks, in order: [{"field": "name", "label": "...", "required": true}],
    where field is a lead field (name, company, phone, ...) or "custom.<key>" of a lead custom field."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100, help_text=_("For your team; visitors do not see it."))
    # The public address: 192 random bits, so a form cannot be found by guessing.
    token = models.CharField(max_length=43, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200, blank=True)
    intro = models.TextField(_("introduction"), blank=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    submit_label = models.CharField(_("button text"), max_length=50, blank=True)
    thank_you = models.TextField(_("thank-you text"), blank=True)
    source = models.CharField(_("source of the leads"), max_length=20, default=Lead.Source.WEB_FORM)
    is_active = models.BooleanField(_("active"), default=True)
    embed_origins = models.CharField(
        _("sites that may embed the form"),
        max_length=500,
        blank=True,
        help_text=_("Origins such as https://www.example.com, separated by spaces. Empty: any site may embed it."),
    )
    submission_count = models.PositiveIntegerField(_("submissions"), default=0)
    last_submission_at = models.DateTimeField(_("last submission"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name"], name="webform_org_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:webform_edit", args=[self.pk])

    @property
    def public_path(self) -> str:
        return reverse("lead_forms:public", args=[self.token])


class AssignmentRule(models.Model):
    """One rule of the organisation's ordered automatic assignment 自动分配.

    A new lead (from any channel) takes the first active rule whose conditions all match and whose action
    finds someone under the cap; a rule without conditions matches every lead (the catch-all at the end).
    `conditions`: [{"field": "province", "op": "in", "value": ["广东", "广西"]}, ...] (see lead_assignment)."""

    module = MODULE

    class Action(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round-robin within a team")
        LEAST_LOADED = "least_loaded", _("The team member with the fewest open leads")
        USER = "user", _("A named user")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    action = models.CharField(_("assign to"), max_length=20, choices=Action.choices, default=Action.ROUND_ROBIN)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("team")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    cap = models.PositiveIntegerField(_("open leads per rep at most"), default=0, help_text=_("0 means no limit."))
    # Round-robin's cursor: the member who got the last lead; the next lead goes to the member after them.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "position"], name="assignrule_org_position")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:rule_edit", args=[self.pk])


class LeadSettings(models.Model):
    """One row per organisation: the fallback owner when no rule assigns a lead, and the re-assignment of
    leads nobody touched for N days (0 = never; the scheduler runs it daily)."""

    module = MODULE

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("fallback owner"),
        help_text=_("Gets the leads that no rule assigns. Empty: the person who enters the lead keeps it."),
    )
    reassign_after_days = models.PositiveIntegerField(
        _("re-assign open leads untouched for (days)"), default=0, help_text=_("0 means never.")
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead settings")
        verbose_name_plural = _("lead settings")

    def __str__(self) -> str:
        return f"lead settings of {self.organization_id}"


class LeadOwnerLoad(models.Model):
    """How many open leads (live, status in Lead.OPEN_STATUSES) each owner holds: what caps and least-loaded
    assignment compare, read in one small query instead of counting ~10,000 leads per rep for every new lead.

    Kept by the database, not by Python: triggers on sales_lead (kehu/sales/lead_loads.py) count every
    insert, update and delete however it is made (the services, imports' bulk writes, a user's deletion
    setting owners to NULL, the seed), so the figures are exact in every transaction. Plain integer columns,
    no foreign keys: the rows of a deleted user or organisation go down to zero with their leads."""

    organization_id = models.BigIntegerField()
    owner_id = models.BigIntegerField()
    open_leads = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "owner_id"], name="leadownerload_org_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.open_leads}"
