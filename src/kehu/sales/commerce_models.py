"""Products, price lists, quotes 报价, orders 订单/合同 and payments 回款 (imported at the end of sales/models.py).

- Products and price lists are the organisation's catalogue: every member with `view` in sales sees all of
  them (no data scope), changing them needs `administer` (commerce_policies.py).
- Quotes and orders are business records in their owner's data scope. They share one abstract document
  (customer, currency, discount, stored totals) and one abstract line; the totals are computed by one
  function (commerce_pricing.document_totals) whenever a line or the discount changes.
- Lines, planned instalments and payments are part of their quote or order: visible exactly when it is.
- Money is Decimal with two places and a currency; percentages are Decimal 0–100 with two places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core import choice_lists
from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet, scope_filter
from kehu.sales.models import MODULE

__all__ = [
    "CommerceSequence",
    "Instalment",
    "Order",
    "OrderLine",
    "Payment",
    "PriceList",
    "PriceListItem",
    "Product",
    "Quote",
    "QuoteLine",
]

LIVE = Q(deleted_at__isnull=True)
ZERO = Decimal("0.00")
# Contexts: "order" alone is also the sort order (排序), "note" a customer's note (笔记).
ORDER_LABEL = pgettext_lazy("sales order", "order")
NOTE_LABEL = pgettext_lazy("commerce", "note")


def _money(verbose_name: Any, **kwargs: Any) -> models.DecimalField:
    kwargs.setdefault("validators", [MinValueValidator(Decimal(0))])
    return models.DecimalField(verbose_name, max_digits=16, decimal_places=2, **kwargs)


def _percent(verbose_name: Any, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(
        verbose_name,
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        **kwargs,
    )


def _currency() -> models.CharField:
    return models.CharField(
        _("currency"), max_length=3, default="CNY", help_text=_("Three-letter ISO code, e.g. CNY, USD.")
    )


# Catalogue ---------------------------------------------------------------------------------------------


class CatalogueQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> CatalogueQuerySet:
        """The catalogue is shared: the organisation boundary applies, the data scope does not."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)

    def in_recycle_bin_for(self, actor: Any) -> CatalogueQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)


class Product(BusinessModel):
    """A product or service the organisation sells. Deactivated products stay on old quotes and orders but
    are no longer offered for new lines."""

    module = MODULE

    sku = models.CharField(_("SKU"), max_length=64, help_text=_("Your article number; unique in the organisation."))
    name = models.CharField(_("name"), max_length=200)
    unit = models.CharField(_("unit"), max_length=20, blank=True, help_text=_("e.g. piece, set, year, hour"))
    price = _money(_("price"), default=ZERO)
    currency = _currency()
    tax_rate = _percent(_("tax rate (%)"))
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "sku"], name="product_unique_sku")]
        indexes = [
            models.Index(fields=["organization", "name", "id"], condition=LIVE, name="product_org_name"),
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="product_org_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("sales:product_edit", args=[self.pk])

    def clean(self) -> None:
        self.sku = (self.sku or "").strip()
        self.name = (self.name or "").strip()
        self.unit = (self.unit or "").strip()
        self.currency = (self.currency or "CNY").strip().upper()


class PriceList(BusinessModel):
    """Prices per currency and, optionally, per customer tier (Customer.tier). A customer's price comes from
    the active list for its tier and the document's currency, else from the active list for every tier of
    that currency, else from the product's own price (commerce_pricing.price_for)."""

    module = MODULE

    name = models.CharField(_("name"), max_length=100)
    currency = _currency()
    # A key of the organisation's list of customer tiers (kehu.core.choice_lists), or empty.
    tier = models.CharField(
        _("customer tier"), max_length=20, blank=True, help_text=_("Empty: the list applies to every tier.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["currency", "tier", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="pricelist_unique_name"),
            # One active list per currency and tier, so that the price a customer gets is never ambiguous.
            models.UniqueConstraint(
                fields=["organization", "currency", "tier"],
                condition=Q(is_active=True, deleted_at__isnull=True),
                name="pricelist_one_active",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:price_list_detail", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.models import TIERS

        self.name = (self.name or "").strip()
        self.currency = (self.currency or "CNY").strip().upper()
        self.tier = (self.tier or "").strip()
        if self.tier:
            # Any tier of the organisation's list (a key or its case-insensitive spelling, "a" for "A").
            keys = {key.casefold(): key for key in choice_lists.labels(self.organization_id, TIERS)}
            if self.tier.casefold() not in keys:
                raise ValidationError(
                    {"tier": _("Choose one of your organisation's customer tiers, or leave it empty.")}
                )
            self.tier = keys[self.tier.casefold()]

    @property
    def tier_label(self) -> str:
        from kehu.customers.models import TIERS

        return choice_lists.label(self.organization_id, TIERS, self.tier) if self.tier else str(_("Every tier"))


class PriceListItem(models.Model):
    """One product's price in a price list (configuration, part of its list: changed and audited with it)."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", verbose_name=_("product"))
    price = _money(_("price"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("price list item")
        verbose_name_plural = _("price list items")
        constraints = [
            models.UniqueConstraint(fields=["organization", "price_list", "product"], name="pricelistitem_unique")
        ]
        indexes = [models.Index(fields=["organization", "product"], name="pricelistitem_org_product")]

    def __str__(self) -> str:
        return f"{self.price_list_id}:{self.product_id}={self.price}"


class CommerceSequence(models.Model):
    """The last number given to a quote or order of one organisation in one year (Q-2026-0001).

    Incremented by one UPDATE (commerce_services.next_number), which locks the row: two concurrent
    creations cannot get the same number, and a rolled-back creation gives its number back.
    """

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("number sequence")
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "year"], name="commerceseq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}-{self.year}: {self.last}"


# Quotes and orders --------------------------------------------------------------------------------------


class DocumentQuerySet(BusinessQuerySet):
    def in_recycle_bin_for(self, actor: Any) -> DocumentQuerySet:
        """Deleted documents within the actor's organisation and data scope (what they may restore)."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
        return qs.filter(scope_filter(actor, actor.grant_for(self.model.module).scope))


class _Document(BusinessModel):
    """What quotes and orders share: the customer, the money settings and the stored totals."""

    module = MODULE

    number = models.CharField(_("number"), max_length=30, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="%(class)ss", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    currency = _currency()
    discount_percent = _percent(
        _("overall discount (%)"), help_text=_("Taken off the subtotal, before tax (整单折扣).")
    )
    subtotal = _money(_("subtotal"), default=ZERO, editable=False)
    discount_total = _money(_("discount"), default=ZERO, editable=False)
    tax_total = _money(_("tax"), default=ZERO, editable=False)
    total = _money(_("total"), default=ZERO, editable=False)
    terms = models.TextField(
        _("terms"), blank=True, help_text=_("Payment and delivery terms; printed on the document.")
    )
    notes = models.TextField(_("internal notes"), blank=True, help_text=_("Not printed or sent."))

    objects = DocumentQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return self.number

    def clean(self) -> None:
        self.title = (self.title or "").strip()
        self.currency = (self.currency or "CNY").strip().upper()


class Quote(_Document):
    """A priced offer to a customer 报价单. Revising a sent quote creates the next revision (same number,
    revision + 1) and keeps the earlier one readable; only the current revision changes status."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")

    opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quotes",
        verbose_name=_("opportunity"),
    )
    revision = models.PositiveSmallIntegerField(_("revision"), default=1, editable=False)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    is_current = models.BooleanField(_("current revision"), default=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    issue_date = models.DateField(_("quote date"))
    valid_until = models.DateField(_("valid until"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    sent_to = models.CharField(_("sent to"), max_length=254, blank=True, editable=False)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True, editable=False)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True, editable=False)
    rejection_reason = models.CharField(_("reason for rejection"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number", "revision"], name="quote_unique_number"),
        ]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="quote_org_updated"),
            models.Index(
                fields=["organization", "owner", "updated_at", "id"], condition=LIVE, name="quote_org_owner_updated"
            ),
            models.Index(fields=["organization", "customer", "updated_at"], condition=LIVE, name="quote_org_customer"),
            models.Index(fields=["organization", "status", "valid_until"], condition=LIVE, name="quote_org_status"),
            models.Index(fields=["organization", "opportunity"], condition=LIVE, name="quote_org_opportunity"),
        ]

    @property
    def display_number(self) -> str:
        return f"{self.number} v{self.revision}" if self.revision > 1 else self.number

    def get_absolute_url(self) -> str:
        return reverse("sales:quote_detail", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT and self.is_current and self.deleted_at is None


class Order(_Document):
    """A sales order or contract 订单/合同: from an accepted quote (at most one order per quote) or directly.
    `received_total` is the sum of its live payments, kept by the payment services."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        CONFIRMED = "confirmed", _("Confirmed")
        FULFILLED = "fulfilled", _("Fulfilled")
        CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")

    quote = models.ForeignKey(
        Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders", verbose_name=_("quote")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    order_date = models.DateField(_("order date"))
    received_total = _money(_("received"), default=ZERO, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True, editable=False)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="order_unique_number"),
            # One order per accepted quote; a deleted or cancelled order still holds it (restore it instead).
            models.UniqueConstraint(
                fields=["organization", "quote"], condition=Q(quote__isnull=False), name="order_one_per_quote"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="order_org_updated"),
            models.Index(
                fields=["organization", "owner", "updated_at", "id"], condition=LIVE, name="order_org_owner_updated"
            ),
            models.Index(fields=["organization", "customer", "updated_at"], condition=LIVE, name="order_org_customer"),
            models.Index(fields=["organization", "status", "updated_at"], condition=LIVE, name="order_org_status"),
        ]

    def get_absolute_url(self) -> str:
        return reverse("sales:order_detail", args=[self.pk])

    @property
    def outstanding(self) -> Decimal:
        """What the customer still owes: nothing on a cancelled order."""
        if self.status == self.Status.CANCELLED:
            return ZERO
        return max(self.total - self.received_total, ZERO)

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT and self.deleted_at is None

    @property
    def accepts_payments(self) -> bool:
        return self.status in (self.Status.CONFIRMED, self.Status.FULFILLED) and self.deleted_at is None


# Parts of a quote or an order ----------------------------------------------------------------------------


class _PartOfQuerySet(BusinessQuerySet):
    """Rows that are part of a document (`parent`): visible exactly when the document is."""

    parent = ""

    def visible_to(self, actor: Any) -> _PartOfQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(
            organization_id=actor.organization_id,
            deleted_at__isnull=True,
            **{f"{self.parent}__deleted_at__isnull": True},
        )
        scope = actor.grant_for(self.model.module).scope
        return qs.filter(scope_filter(actor, scope, owner_field=f"{self.parent}__owner"))

    def in_recycle_bin_for(self, actor: Any) -> _PartOfQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(
            organization_id=actor.organization_id,
            deleted_at__isnull=False,
            **{f"{self.parent}__deleted_at__isnull": True},
        )
        scope = actor.grant_for(self.model.module).scope
        return qs.filter(scope_filter(actor, scope, owner_field=f"{self.parent}__owner"))


class PartOfQuoteQuerySet(_PartOfQuerySet):
    parent = "quote"


class PartOfOrderQuerySet(_PartOfQuerySet):
    parent = "order"


class _Line(BusinessModel):
    """One line of a quote or an order: a product (its SKU, name and unit copied, so later catalogue edits
    do not rewrite sent documents) or free text. `amount` is quantity × unit price less the line discount,
    rounded half up to 0.01 (commerce_pricing.line_amount)."""

    module = MODULE

    position = models.PositiveIntegerField(_("position"), default=0)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("product")
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("description"), max_length=255)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    unit_price = _money(_("unit price"))
    discount_percent = _percent(_("discount (%)"))
    tax_rate = _percent(_("tax rate (%)"))
    amount = _money(_("amount"), default=ZERO, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        self.unit = (self.unit or "").strip()
        self.sku = (self.sku or "").strip()


class QuoteLine(_Line):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines", verbose_name=_("quote"))

    objects = PartOfQuoteQuerySet.as_manager()

    class Meta:
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "quote", "position"], name="quoteline_org_quote")]


class OrderLine(_Line):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=ORDER_LABEL)

    objects = PartOfOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "order", "position"], name="orderline_org_order")]


class Instalment(BusinessModel):
    """A planned payment 回款计划 of an order: an amount due on a date. It is covered when the payments
    received, applied to the instalments in due-date order, reach it; past due and not covered is overdue."""

    module = MODULE

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="instalments", verbose_name=ORDER_LABEL)
    due_date = models.DateField(_("due date"))
    amount = _money(_("amount"), validators=[MinValueValidator(Decimal("0.01"))])
    note = models.CharField(NOTE_LABEL, max_length=255, blank=True)

    objects = PartOfOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("planned instalment")
        verbose_name_plural = _("planned instalments")
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["organization", "order", "due_date"], name="instalment_org_order"),
            models.Index(fields=["organization", "due_date"], condition=LIVE, name="instalment_org_due"),
        ]

    def __str__(self) -> str:
        return f"{self.due_date}: {self.amount}"


class Payment(BusinessModel):
    """A payment received 回款 against an order. Deleting one moves it to the recycle bin and the order's
    received total goes down; restoring it brings it back (if the balance still allows it)."""

    module = MODULE

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        CASH = "cash", _("Cash")
        ALIPAY = "alipay", _("Alipay")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")
        CHEQUE = "cheque", _("Cheque")
        ACCEPTANCE_BILL = "acceptance_bill", _("Bank acceptance bill")
        OTHER = "other", _("Other")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments", verbose_name=ORDER_LABEL)
    received_on = models.DateField(_("received on"))
    amount = _money(_("amount"), validators=[MinValueValidator(Decimal("0.01"))])
    method = models.CharField(_("method"), max_length=20, choices=Method.choices, default=Method.BANK_TRANSFER)
    reference = models.CharField(
        _("reference"), max_length=100, blank=True, help_text=_("Bank slip, transaction or cheque number.")
    )
    note = models.CharField(NOTE_LABEL, max_length=255, blank=True)

    objects = PartOfOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_on", "-id"]
        indexes = [
            models.Index(fields=["organization", "order", "received_on"], name="payment_org_order"),
            models.Index(fields=["organization", "received_on", "id"], condition=LIVE, name="payment_org_received"),
        ]

    def __str__(self) -> str:
        return f"{self.received_on}: {self.amount}"


# A tier that a price list names is in use: it can be deactivated, not deleted (kehu.core.choice_lists).
choice_lists.register_usage(
    "customer_tier", lambda org, key: PriceList._base_manager.filter(organization_id=org, tier=key).exists()
)
