"""Customers 客户, their contacts 联系人 and the organisation's tags.

Every index and unique constraint leads with `organization` (the future shard key). Indexes that serve
the live lists are partial on `deleted_at IS NULL`, which `visible_to()` always adds, so the recycle
bin does not bloat them.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core import choice_lists
from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet, scope_filter
from kehu.customers.normalize import normalize_email, normalize_phone, normalize_website

MODULE = "customers"
LIVE = Q(deleted_at__isnull=True)
TIERS = "customer_tier"  # the editable lists (kehu.core.choice_lists) registered at the end of this file
STAGES = "customer_stage"


class TagQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> TagQuerySet:
        """Tags are shared: the organisation boundary applies, the data scope does not."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)


class Tag(BusinessModel):
    """A label shared by the whole organisation (every member with access to customers sees all tags)."""

    module = MODULE

    name = models.CharField(_("name"), max_length=50)
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#6c757d",
        help_text=_("A colour such as #0d6efd."),
    )

    objects = TagQuerySet.as_manager()

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        if self.colour and not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            raise ValidationError({"colour": _("Enter a colour as # and six hexadecimal digits, e.g. #0d6efd.")})
        self.colour = (self.colour or "#6c757d").lower()


class _ReachableMixin(models.Model):
    """Phone and email kept as typed and in the normalised form that duplicates and search use."""

    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_normalized = models.CharField(max_length=24, blank=True, editable=False)
    email = models.CharField(_("email"), max_length=254, blank=True)
    email_normalized = models.CharField(max_length=254, blank=True, editable=False)

    class Meta:
        abstract = True

    def clean_reachability(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        self.phone = (self.phone or "").strip()
        self.email = (self.email or "").strip()
        try:
            self.phone_normalized = normalize_phone(self.phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages
        try:
            self.email_normalized = normalize_email(self.email)
        except ValidationError as exc:
            errors["email"] = exc.messages
        return errors


class CustomerQuerySet(BusinessQuerySet):
    def in_recycle_bin_for(self, actor: Any) -> CustomerQuerySet:
        """Deleted customers within the actor's organisation and data scope (what they may restore)."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
        return qs.filter(scope_filter(actor, actor.grant_for(self.model.module).scope))


class Customer(_ReachableMixin, BusinessModel):
    module = MODULE

    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        PERSON = "person", _("Person")

    class Tier(models.TextChoices):
        A = "A", _("A (key account)")
        B = "B", _("B")
        C = "C", _("C")
        D = "D", _("D")

    class Stage(models.TextChoices):
        LEAD_IN = "lead_in", _("Lead-in")
        PROSPECT = "prospect", _("Prospect")
        # A context: "Customer" alone is also the record type (客户); as a stage it reads 成交客户.
        CUSTOMER = "customer", pgettext_lazy("lifecycle stage", "Customer")
        REPEAT = "repeat", _("Repeat customer")
        CHURNED = "churned", _("Churned")

    class Source(models.TextChoices):
        WEBSITE = "website", _("Website")
        REFERRAL = "referral", _("Referral")
        EXHIBITION = "exhibition", _("Trade show")
        COLD_CALL = "cold_call", _("Cold call")
        ADVERTISING = "advertising", _("Advertising")
        PARTNER = "partner", _("Partner")
        OTHER = "other", _("Other")

    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    # Tier and stage are keys of the organisation's editable lists (kehu.core.choice_lists: TIERS, STAGES
    # below); the TextChoices above are their built-in options. No `choices=`: an organisation adds its own.
    tier = models.CharField(_("tier"), max_length=20, blank=True)
    stage = models.CharField(_("lifecycle stage"), max_length=20, default=Stage.LEAD_IN)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    tags = models.ManyToManyField(
        Tag, through="CustomerTag", related_name="customers", blank=True, verbose_name=_("tags")
    )
    last_contacted_at = models.DateTimeField(_("last contacted at"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    # Duplicates merge (customers/merge.py): the survivor this soft-deleted record was merged into.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("merged into"),
    )

    # --- Search (kehu.customers.search, kehu.core.search_backends) --------------------------------------
    # Written by database triggers only (migration 0003_search), never by Python code: lower-cased, one
    # field per line. `search_names` holds the names (name, short name, contact names), which 1-2
    # character fragments match; `search_text` holds those plus phones and emails, which 3+ character
    # fragments and 4+ phone digits match. PostgreSQL also keeps a `name_grams` text[] column (not a
    # Django field: arrays are not portable); SQLite an FTS5 trigram table over `search_text`.
    search_names = models.TextField(default="", blank=True, editable=False)
    search_text = models.TextField(default="", blank=True, editable=False)
    # --- end search ------------------------------------------------------------------------------------

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="cust_org_updated"),
            models.Index(
                fields=["organization", "owner", "updated_at", "id"], condition=LIVE, name="cust_org_owner_updated"
            ),
            models.Index(fields=["organization", "created_at", "id"], condition=LIVE, name="cust_org_created"),
            # Keyset chunks by id (exports, kehu.core.exporting.chunks): without it, a table without fresh
            # statistics was read from another index to its end and sorted for every chunk of 5,000.
            models.Index(fields=["organization", "id"], condition=LIVE, name="cust_org_id"),
            models.Index(fields=["organization", "name", "id"], condition=LIVE, name="cust_org_name"),
            models.Index(fields=["organization", "tier", "id"], condition=LIVE, name="cust_org_tier"),
            models.Index(fields=["organization", "phone_normalized"], condition=LIVE, name="cust_org_phone"),
            models.Index(fields=["organization", "email_normalized"], condition=LIVE, name="cust_org_email"),
            models.Index(
                fields=["organization", "deleted_at"], condition=Q(deleted_at__isnull=False), name="cust_org_bin"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])

    @property
    def region(self) -> str:
        return " ".join(part for part in (self.province, self.city, self.district) if part)

    # The organisation's names for the keys (renamed, added or built-in in the reader's language). Lists
    # read them for every row: kehu.core.choice_lists keeps the organisation's lists for the request.
    @property
    def tier_label(self) -> str:
        return choice_lists.label(self.organization_id, TIERS, self.tier)

    @property
    def stage_label(self) -> str:
        return choice_lists.label(self.organization_id, STAGES, self.stage)

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        self.short_name = (self.short_name or "").strip()
        errors = self.clean_reachability()
        try:
            self.website = normalize_website(self.website)
        except ValidationError as exc:
            errors["website"] = exc.messages
        if not isinstance(self.custom, dict):
            errors["custom"] = [_("Custom fields must be an object of field names and values.")]
        if errors:
            raise ValidationError(errors)


class CustomerTag(models.Model):
    """The link between a customer and a tag; carries the organisation so it shards with the customer."""

    # No index of its own: customertag_unique and customertag_org_tag lead with it (one index less to keep
    # up on every import row).
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_links")

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [
            models.UniqueConstraint(fields=["organization", "customer", "tag"], name="customertag_unique"),
        ]
        indexes = [models.Index(fields=["organization", "tag", "customer"], name="customertag_org_tag")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class CustomerPartQuerySet(BusinessQuerySet):
    """Rows visible exactly when their customer is (contacts, notes, files): the organisation, neither deleted,
    the customer's owner within the actor's data scope."""

    def visible_to(self, actor: Any) -> CustomerPartQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(
            organization_id=actor.organization_id, deleted_at__isnull=True, customer__deleted_at__isnull=True
        )
        return qs.filter(scope_filter(actor, actor.grant_for(self.model.module).scope, owner_field="customer__owner"))

    def visible_of(self, actor: Any, customer: Customer) -> CustomerPartQuerySet:
        """visible_to(actor) of one customer whose row the caller has read in this request: the same rule with
        the customer's part asked of that row (owner_in_scope) instead of joined into the statement: a
        customer's page reads its contacts, files and timeline this way."""
        from kehu.core.models import owner_in_scope
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        scope = actor.grant_for(self.model.module).scope
        if (
            customer.organization_id != actor.organization_id
            or customer.deleted_at is not None
            or not owner_in_scope(actor, scope, customer.owner_id)
        ):
            return self.none()
        return self.filter(organization_id=actor.organization_id, customer_id=customer.pk, deleted_at__isnull=True)


class Contact(_ReachableMixin, BusinessModel):
    module = MODULE

    # No index of its own: contact_org_customer (not partial) and the others lead with it (one index less to
    # keep up on every contact written, two per imported customer).
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("customer")
    )
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    wechat = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    # Custom fields (kehu.core.custom_fields): values of the organisation's "customers.contact" fields.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    objects = CustomerPartQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer"],
                condition=Q(is_primary=True, deleted_at__isnull=True),
                name="contact_one_primary",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "customer", "id"], name="contact_org_customer"),
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="contact_org_updated"),
            models.Index(fields=["organization", "name"], condition=LIVE, name="contact_org_name"),
            models.Index(fields=["organization", "phone_normalized"], condition=LIVE, name="contact_org_phone"),
            models.Index(fields=["organization", "email_normalized"], condition=LIVE, name="contact_org_email"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        errors = self.clean_reachability()
        if errors:
            raise ValidationError(errors)


# Notes and attachments (feature "notes"): defined in their own module, registered with the app here.
from kehu.customers.note_models import *  # noqa: E402,F403

# Public pool 公海 settings and moves (customers/pool_models.py).
from kehu.customers.pool_models import *  # noqa: E402,F403

# Tier and lifecycle stage: editable lists of the organisation (kehu.core.choice_lists).
choice_lists.register(
    choice_lists.ChoiceList(
        key=TIERS,
        module=MODULE,
        label=_("Customer tiers"),
        builtins=lambda: Customer.Tier.choices,
        help_text=_("Price lists and SLA policies can apply to a tier."),
    )
)
choice_lists.register(
    choice_lists.ChoiceList(
        key=STAGES,
        module=MODULE,
        label=_("Lifecycle stages"),
        builtins=lambda: Customer.Stage.choices,
    )
)
choice_lists.register_usage(
    TIERS, lambda org, key: Customer._base_manager.filter(organization_id=org, tier=key).exists()
)
choice_lists.register_usage(
    STAGES, lambda org, key: Customer._base_manager.filter(organization_id=org, stage=key).exists()
)
