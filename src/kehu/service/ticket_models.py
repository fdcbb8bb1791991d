"""Queues and tickets 工单 (imported at the end of service/models.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, TenantQuerySet
from kehu.service.models import MODULE

__all__ = ["Queue", "Ticket"]

LIVE = Q(deleted_at__isnull=True)


class Queue(models.Model):
    """Where tickets wait for an agent (售后, 技术支持, 投诉): members, an assignment method, a mailbox."""

    module = MODULE

    class Assignment(models.TextChoices):
        MANUAL = "manual", _("Manual")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_OPEN = "least_open", _("Fewest open tickets")
        SKILL = "skill", _("By skill")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    email = models.CharField(_("email address"), max_length=254, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("members"))
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("manager"),
    )
    assignment = models.CharField(
        _("assignment"), max_length=20, choices=Assignment.choices, default=Assignment.LEAST_OPEN
    )
    is_default = models.BooleanField(_("default queue"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="queue_unique_name")]

    def __str__(self) -> str:
        return self.name


class Ticket(BusinessModel):
    """A customer's question or problem. `owner` is the assignee (empty while the ticket waits in its
    queue); `number` is the organisation's ticket key (shown as #123, and as [#123] in e-mail subjects)."""

    module = MODULE

    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        INQUIRY = "inquiry", _("Inquiry")
        REQUEST = "request", _("Request")
        INCIDENT = "incident", _("Incident")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEB = "web", _("Web form")
        PHONE = "phone", _("Phone")
        API = "api", _("API")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    number = models.PositiveIntegerField(_("number"), editable=False)
    subject = models.CharField(_("subject"), max_length=255)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.INQUIRY)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets", verbose_name=_("queue")
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("customer"),
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("contact"),
    )
    requester_email = models.CharField(_("requester email"), max_length=254, blank=True)
    requester_name = models.CharField(_("requester name"), max_length=100, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    first_responded_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # SLA clocks (topic "sla" computes them): when the first response and the resolution are due.
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "number"], name="ticket_unique_number")]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="ticket_org_updated"),
            models.Index(
                fields=["organization", "owner", "status", "resolution_due_at"],
                condition=LIVE,
                name="ticket_org_owner_due",
            ),
            models.Index(
                fields=["organization", "queue", "status", "resolution_due_at"],
                condition=LIVE,
                name="ticket_org_queue_due",
            ),
            models.Index(fields=["organization", "customer"], condition=LIVE, name="ticket_org_customer"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("service:ticket_detail", args=[self.pk])
