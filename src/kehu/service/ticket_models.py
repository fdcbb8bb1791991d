"""Queues and tickets 工单, their conversation, canned replies and agents' availability (imported at the end
of service/models.py).

Tickets are business records (BusinessModel): `owner` is the assignee. Who sees a ticket is the role's data
scope on the assignee, widened by the queues (ticket_visibility.py): a queue's members see its unassigned
tickets, its manager every ticket of it. Messages and attachments are part of their ticket: visible exactly
when the ticket is.
"""

from __future__ import annotations

import posixpath
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core import choice_lists
from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet
from kehu.service.models import MODULE

__all__ = [
    "AgentStatus",
    "CannedReply",
    "Queue",
    "ServiceSettings",
    "Ticket",
    "TicketAttachment",
    "TicketCounter",
    "TicketMessage",
    "TicketTag",
]

LIVE = Q(deleted_at__isnull=True)
KINDS = "ticket_kind"  # the editable list of ticket types (kehu.core.choice_lists), registered below
# "No due date" sorts as this far future (ticket_selectors.ORDERINGS and the index behind it).
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


def search_grams_sql(table: str = "") -> str:
    """PostgreSQL: the 1- and 2-character grams of what a ticket search matches (subject, requester's name and
    email, one line each), upper-cased as the search's `icontains` compares (UPPER(column) LIKE UPPER(...)), so
    that a 1-2 character fragment is in the grams exactly when it is in one of the three. The expression of the
    GIN index ticket_search_grams (migration 0008): a query must use this same expression (its columns may be
    qualified by `table`) for the planner to use the index."""
    t = f'"{table}".' if table else ""
    return f"kehu_name_grams(upper({t}subject || E'\\n' || {t}requester_name || E'\\n' || {t}requester_email))"


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
    # --- topic "ticket" -------------------------------------------------------------------------------
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # By skill: {"complaint": [user id, ...], ...}: which members take which ticket type.
    skills = models.JSONField(_("skills"), default=dict, blank=True)
    # Round robin: the member who got the last ticket (the next one goes to the member after them).
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The public web form (/help/<token>/ticket/): an unguessable address per queue.
    web_form_enabled = models.BooleanField(_("web form"), default=False)
    web_token = models.CharField(max_length=64, blank=True, editable=False)
    # The IMAP mailbox read by the scheduled job (service.mailboxes_poll). The password is stored
    # encrypted (kehu.service.mail_secrets) and never shown back.
    imap_enabled = models.BooleanField(_("read the mailbox"), default=False)
    imap_host = models.CharField(_("IMAP server"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_ssl = models.BooleanField(_("SSL/TLS"), default=True)
    imap_user = models.CharField(_("IMAP user name"), max_length=254, blank=True)
    imap_password_encrypted = models.TextField(blank=True, editable=False)
    imap_folder = models.CharField(_("IMAP folder"), max_length=100, default="INBOX")
    # What has been taken from the mailbox: UIDs are only comparable within one UIDVALIDITY.
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    imap_last_uid = models.BigIntegerField(default=0, editable=False)
    imap_checked_at = models.DateTimeField(_("mailbox last read"), null=True, blank=True, editable=False)
    imap_error = models.CharField(_("mailbox error"), max_length=500, blank=True, editable=False)
    # --- end topic "ticket" ---------------------------------------------------------------------------

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="queue_unique_name")]
        indexes = [models.Index(fields=["web_token"], name="queue_web_token")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_imap_password(self) -> bool:
        return bool(self.imap_password_encrypted)


class TicketQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> TicketQuerySet:
        """The role's scope on the assignee, plus the unassigned tickets of the actor's queues and every
        ticket of the queues the actor manages (ticket_visibility.ticket_scope_q)."""
        from kehu.core.permissions import can
        from kehu.service.ticket_visibility import ticket_scope_q

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        return qs.filter(ticket_scope_q(actor))

    def visible_parts(self, actor: Any) -> list[TicketQuerySet]:
        """visible_to(actor) as querysets whose union it is, one per branch of its scope
        (ticket_visibility.ticket_scope_branches; they may overlap): for a list that reads each part by its
        own index and merges them. Empty when the actor sees no ticket."""
        from kehu.core.permissions import can
        from kehu.service.ticket_visibility import ticket_scope_branches

        if actor is None or not can(actor, "view", self.model):
            return []
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        return [qs.filter(branch) for branch in ticket_scope_branches(actor)]

    def in_recycle_bin_for(self, actor: Any) -> TicketQuerySet:
        from kehu.core.permissions import can
        from kehu.service.ticket_visibility import ticket_scope_q

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
        return qs.filter(ticket_scope_q(actor))


class Ticket(BusinessModel):
    """A customer's question or problem. `owner` is the assignee (empty while the ticket waits in its
    queue); `number` is the organisation's ticket key (shown as #123, and as [#123] in e-mail subjects)."""

    module = MODULE

    # The types are the built-in four (not editable per organisation yet); custom fields carry the rest.
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
        # A context: "Open" alone is the timeline's link (查看); as a ticket status it reads 处理中.
        OPEN = "open", pgettext_lazy("ticket status", "Open")
        PENDING = "pending", _("Pending")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    number = models.PositiveIntegerField(_("number"), editable=False)
    subject = models.CharField(_("subject"), max_length=255)
    # A key of the organisation's editable list of ticket types (kehu.core.choice_lists, KINDS below); Kind
    # holds the built-in ones. No `choices=`: an organisation adds its own.
    kind = models.CharField(_("type"), max_length=20, default=Kind.INQUIRY)
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
    # --- topic "ticket" -------------------------------------------------------------------------------
    tags = models.ManyToManyField(
        "customers.Tag", through="TicketTag", related_name="+", blank=True, verbose_name=_("tags")
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    # Why the assignee has the ticket: a key of ticket_assignment.REASONS (the audit entry has the detail).
    assignment_reason = models.CharField(_("assignment reason"), max_length=30, blank=True)
    last_customer_message_at = models.DateTimeField(_("last customer message"), null=True, blank=True)
    # A ticket opened by a customer's reply to a closed ticket.
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("follow-up of")
    )
    # --- end topic "ticket" ---------------------------------------------------------------------------

    objects = TicketQuerySet.as_manager()

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
            # The hourly auto-close reads an organisation's resolved tickets by when they were resolved.
            models.Index(
                fields=["organization", "resolved_at"],
                condition=LIVE & Q(status="resolved"),
                name="ticket_org_resolved",
            ),
            models.Index(
                fields=["organization", "deleted_at"], condition=Q(deleted_at__isnull=False), name="ticket_org_bin"
            ),
            models.Index(fields=["organization", "requester_email"], condition=LIVE, name="ticket_org_requester"),
            # Queues and "my tickets" sorted by time left (topic "servicebench"): the active tickets in the
            # list's sort order (ticket_selectors.ORDERINGS, tickets without a due date last), walked until a
            # page of the actor's is found; assignee and queue are in the index so that the scope filter
            # needs no table row.
            models.Index(
                F("organization"),
                Coalesce("resolution_due_at", Value(FAR_FUTURE)),
                F("id"),
                F("owner"),
                F("queue"),
                condition=LIVE & Q(status__in=["new", "open", "pending"]),
                name="ticket_active_due",
            ),
            # A search for 1-2 characters walks each part of the actor's scope newest first
            # (ticket_selectors.newest_search_ids, topic "ticketsearch"): an assignee's tickets, and the
            # unassigned ones (a queue's members see those; few, so one small index for all queues).
            models.Index(
                fields=["organization", "owner", "updated_at", "id"], condition=LIVE, name="ticket_org_owner_updated"
            ),
            models.Index(
                fields=["organization", "updated_at", "id"],
                condition=LIVE & Q(owner__isnull=True),
                name="ticket_org_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("service:ticket_detail", args=[self.pk])

    @property
    def kind_label(self) -> str:
        """The organisation's name for the type (cached for the request: lists read it for every row)."""
        return choice_lists.label(self.organization_id, KINDS, self.kind)

    @property
    def key(self) -> str:
        """The ticket key as it appears in e-mail subjects."""
        return f"[#{self.number}]"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


OPEN_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING)


class TicketCounter(models.Model):
    """The organisation's last ticket number: the next one is taken by an UPDATE of this row, which the
    database serialises, so two tickets created at once never get the same number."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket counter")

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.last_number}"


class TicketTag(models.Model):
    """The link between a ticket and one of the organisation's tags (the customers' Tag)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey("customers.Tag", on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket tag")
        verbose_name_plural = _("ticket tags")
        constraints = [models.UniqueConstraint(fields=["organization", "ticket", "tag"], name="tickettag_unique")]
        indexes = [models.Index(fields=["organization", "tag", "ticket"], name="tickettag_org_tag")]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.tag_id}"


class PartOfTicketQuerySet(TenantQuerySet):
    def visible_to(self, actor: Any) -> PartOfTicketQuerySet:
        """Visible exactly when the ticket is."""
        if actor is None:
            return self.none()
        return self.filter(
            organization_id=actor.organization_id, ticket__in=Ticket.objects.visible_to(actor).values("pk")
        )


class TicketMessage(models.Model):
    """One entry of a ticket's conversation: a public reply (e-mailed to the requester), an internal note
    (never sent) or a customer's message (from e-mail, the web form, or logged by an agent).

    `message_id` is the e-mail Message-ID (ours for replies, the customer's for their mail): the intake is
    idempotent by it, and replies are threaded back onto the ticket through In-Reply-To/References.
    """

    class Kind(models.TextChoices):
        REPLY = "reply", _("Public reply")
        NOTE = "note", _("Internal note")
        CUSTOMER = "customer", _("Customer message")

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket"))
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    author_name = models.CharField(_("author name"), max_length=100, blank=True)
    author_email = models.CharField(_("author email"), max_length=254, blank=True)
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=255, blank=True)
    references = models.TextField(_("References"), blank=True)
    # Public replies: when the mail went out, or why it did not.
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    send_error = models.CharField(_("sending failed"), max_length=500, blank=True)

    objects = PartOfTicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "message_id"], condition=~Q(message_id=""), name="ticketmessage_unique_msgid"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "ticket", "created_at", "id"], name="ticketmessage_org_ticket"),
            models.Index(fields=["organization", "author_email", "created_at"], name="ticketmessage_org_sender"),
        ]

    def __str__(self) -> str:
        text = " ".join((self.body or "").split())
        return text[:60] + ("…" if len(text) > 60 else "")

    @property
    def by_customer(self) -> bool:
        return self.kind == self.Kind.CUSTOMER


def ticket_attachment_upload_to(instance: TicketAttachment, filename: str) -> str:
    """tickets/<organisation>/<yyyy>/<mm>/<random>.<ext>: the sent name never becomes a path."""
    ext = posixpath.splitext(filename)[1].lower()[:10]
    now = timezone.now()
    return f"tickets/{instance.organization_id}/{now:%Y/%m}/{uuid.uuid4().hex}{ext}"


class TicketAttachment(models.Model):
    """A file of a ticket message (uploaded by an agent, or attached to a customer's e-mail)."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=ticket_attachment_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=120)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = PartOfTicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket attachment")
        verbose_name_plural = _("ticket attachments")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organization", "message"], name="ticketatt_org_message")]

    def __str__(self) -> str:
        return self.original_name


class CannedReply(models.Model):
    """A prepared answer 快捷回复 with placeholders ({{customer_name}}, {{ticket_number}}, ...) that an agent
    inserts into the reply box. Shared by the organisation; administrators of service maintain them."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    module = MODULE
    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "title"], name="cannedreply_unique_title")]

    def __str__(self) -> str:
        return self.title


class AgentStatus(models.Model):
    """An agent's availability: while `away`, automatic assignment passes them over."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    away = models.BooleanField(_("away"), default=False)
    away_since = models.DateTimeField(_("away since"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    module = MODULE
    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("agent status")
        verbose_name_plural = _("agent statuses")
        indexes = [models.Index(fields=["organization", "away"], name="agentstatus_org_away")]

    def __str__(self) -> str:
        return f"{self.user_id}: {'away' if self.away else 'available'}"


DEFAULT_AUTO_CLOSE_DAYS = 7
MAX_AUTO_CLOSE_DAYS = 365


class ServiceSettings(models.Model):
    """One row per organisation (absent until an administrator saves; the defaults apply meanwhile)."""

    module = MODULE

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    auto_close_after_days = models.PositiveIntegerField(
        _("close resolved tickets after days without a customer reply"),
        default=DEFAULT_AUTO_CLOSE_DAYS,
        validators=[MaxValueValidator(MAX_AUTO_CLOSE_DAYS)],
        help_text=_(
            "A resolved ticket the customer does not answer for this many days is closed; a reply after that "
            "opens a follow-up ticket. 0 turns this off."
        ),
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("service settings")
        verbose_name_plural = _("service settings")

    def __str__(self) -> str:
        return f"service settings of {self.organization_id}"


choice_lists.register(
    choice_lists.ChoiceList(key=KINDS, module=MODULE, label=_("Ticket types"), builtins=lambda: Ticket.Kind.choices)
)
choice_lists.register_usage(KINDS, lambda org, key: Ticket._base_manager.filter(organization_id=org, kind=key).exists())
