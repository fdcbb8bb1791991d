"""Activities and follow-ups 跟进记录 (imported at the end of sales/models.py).

An activity is a call, visit, meeting, email or task of one owner, linked to a customer, a contact, a
lead or an opportunity (at least one; the customer is derived from the contact or the opportunity).

Visibility. An activity is the owner's record, so the sales data scope applies to its owner, as for
leads and opportunities. It is ALSO visible to whoever's scope covers the owner of the customer, lead or
opportunity it is linked to: a rep sees every follow-up on their own customers and leads, including the
visit their manager logged there (the customer's history is the customer owner's business, which is the
precedent of customer notes in customers/note_models.py, where a note is visible exactly when its
customer is). Editing, completing and deleting stay with the activity's owner and whoever's scope covers
the owner (sales/activity_policies.py). An activity disappears with the customer, lead or opportunity it
is linked to into the recycle bin (and comes back with it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, BusinessQuerySet, _team_member_ids
from kehu.core.permissions import Scope
from kehu.sales.models import MODULE

__all__ = ["Activity"]

LIVE = Q(deleted_at__isnull=True)
MAX_DURATION_MINUTES = 7 * 24 * 60


def scope_owner_ids(actor: Any, scope: str) -> list[int] | None:
    """The users whose records `scope` covers for `actor` (None: the whole organisation). One small query
    for team scopes, so that several owner columns can be filtered by the same list."""
    if scope == Scope.ORGANIZATION:
        return None
    if scope == Scope.OWN or actor.team_id is None:
        return [actor.pk]
    # The same members core's scope_filter reads, once per actor object: a customer's page asked for
    # them again for its activity timeline, its activity panel and the panel's form.
    return list(_team_member_ids(actor, scope))


# The linked records whose owner also makes an activity visible (see the module docstring).
LINK_OWNER_FIELDS = ("customer__owner_id", "lead__owner_id", "opportunity__owner_id")


class ActivityQuerySet(BusinessQuerySet):
    def _live_links(self) -> ActivityQuerySet:
        return self.filter(
            Q(customer__isnull=True) | Q(customer__deleted_at__isnull=True),
            Q(lead__isnull=True) | Q(lead__deleted_at__isnull=True),
            Q(opportunity__isnull=True) | Q(opportunity__deleted_at__isnull=True),
        )

    def visible_to(self, actor: Any) -> ActivityQuerySet:
        """The organisation, not deleted (nor its customer, lead or opportunity), and the sales scope
        covering the activity's owner or the owner of a linked record. Fails closed like every visible_to."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)._live_links()
        ids = scope_owner_ids(actor, actor.grant_for(self.model.module).scope)
        if ids is None:
            return qs
        covered = Q(owner_id__in=ids)
        for field in LINK_OWNER_FIELDS:
            covered |= Q(**{f"{field}__in": ids})
        return qs.filter(covered)

    def visible_on_customer(self, actor: Any, customer: Any) -> ActivityQuerySet:
        """visible_to(actor) of the activities of one customer the caller has read (a live Customer instance):
        the same rule, with what the customer's row already answers taken out of the statement. When the
        actor's scope covers the customer's owner, every live activity on it is visible ("the customer's
        history is the customer owner's business"); otherwise its own, its lead's or its opportunity's owner
        decides. The linked lead and opportunity are asked by EXISTS, not joined: visible_to's four-way OR
        over three joined tables took PostgreSQL 5–20 ms to plan (0.2 ms to run) on every customer page."""
        from kehu.core.permissions import can
        from kehu.sales.models import Lead, Opportunity

        if (
            actor is None
            or not can(actor, "view", self.model)
            or customer.deleted_at is not None
            or customer.organization_id != actor.organization_id
        ):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, customer_id=customer.pk, deleted_at__isnull=True)
        qs = qs.exclude(Exists(Lead.objects.filter(pk=OuterRef("lead_id"), deleted_at__isnull=False))).exclude(
            Exists(Opportunity.objects.filter(pk=OuterRef("opportunity_id"), deleted_at__isnull=False))
        )
        ids = scope_owner_ids(actor, actor.grant_for(self.model.module).scope)
        if ids is None or customer.owner_id in ids:
            return qs
        return qs.filter(
            Q(owner_id__in=ids)
            | Exists(Lead.objects.filter(pk=OuterRef("lead_id"), owner_id__in=ids))
            | Exists(Opportunity.objects.filter(pk=OuterRef("opportunity_id"), owner_id__in=ids))
        )

    def own_for(self, actor: Any) -> ActivityQuerySet:
        """The actor's own activities (BusinessQuerySet.own_for) whose linked records are live: without
        visible_to's OR over the linked records' owners, which makes PostgreSQL join customer, lead and
        opportunity for every row before it can filter ("my day": 17–110 ms for the overdue bucket at
        2,000,000 activities; with the owner alone, an ordered index scan)."""
        return super().own_for(actor)._live_links()

    def owned_within(self, actor: Any) -> ActivityQuerySet:
        """Of these, the ones whose OWNER is in the actor's scope (what they may edit or complete)."""
        ids = scope_owner_ids(actor, actor.grant_for(self.model.module).scope)
        return self if ids is None else self.filter(owner_id__in=ids)

    def in_recycle_bin_for(self, actor: Any) -> ActivityQuerySet:
        """Deleted activities whose owner is in the actor's scope (what they may restore)."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)._live_links()
        return qs.owned_within(actor)


class Activity(BusinessModel):
    """One follow-up. `scheduled_at` (stored, set by the services) is when it is due: `due_at` when given,
    else `starts_at`; "my day", overdue flags, the list's date filters and the reminders read it.
    `remind_at` is absolute; `remind_minutes_before`, when set, keeps it that long before `scheduled_at`
    when the time moves. `reminded_at` marks the reminder as sent (the scheduler's claim)."""

    module = MODULE

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("Email")
        TASK = "task", _("Task")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    starts_at = models.DateTimeField(_("time"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), null=True, blank=True, validators=[MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("scheduled at"), editable=False)
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    remind_minutes_before = models.PositiveIntegerField(
        _("remind minutes before"), null=True, blank=True, validators=[MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        verbose_name=_("customer"),
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
        verbose_name=_("contact"),
    )
    lead = models.ForeignKey(
        "sales.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities", verbose_name=_("lead")
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        verbose_name=_("opportunity"),
    )

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            # An opportunity or a contact always brings its customer, so one of these two is always set.
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(lead__isnull=False), name="activity_has_link"
            ),
            models.CheckConstraint(condition=~Q(status="done") | Q(done_at__isnull=False), name="activity_done_at"),
        ]
        indexes = [
            # My day, the calendar of one user, overdue counts.
            models.Index(
                fields=["organization", "owner", "status", "scheduled_at"], condition=LIVE, name="act_org_owner_sched"
            ),
            # The list and the team calendar.
            models.Index(fields=["organization", "scheduled_at", "id"], condition=LIVE, name="act_org_sched"),
            models.Index(fields=["organization", "customer", "scheduled_at"], condition=LIVE, name="act_org_customer"),
            models.Index(
                fields=["organization", "lead", "scheduled_at"],
                condition=Q(deleted_at__isnull=True, lead__isnull=False),
                name="act_org_lead",
            ),
            models.Index(
                fields=["organization", "opportunity", "scheduled_at"],
                condition=Q(deleted_at__isnull=True, opportunity__isnull=False),
                name="act_org_opp",
            ),
            models.Index(
                fields=["organization", "contact"],
                condition=Q(deleted_at__isnull=True, contact__isnull=False),
                name="act_org_contact",
            ),
            # The scheduler's every-minute look for reminders that are due (all organisations).
            models.Index(
                fields=["remind_at"],
                condition=Q(
                    deleted_at__isnull=True, status="planned", reminded_at__isnull=True, remind_at__isnull=False
                ),
                name="act_reminders_due",
            ),
            models.Index(
                fields=["organization", "deleted_at"], condition=Q(deleted_at__isnull=False), name="act_org_bin"
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("sales:activity_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PLANNED

    def is_overdue(self, now: datetime | None = None) -> bool:
        from django.utils import timezone

        return self.is_open and self.scheduled_at is not None and self.scheduled_at < (now or timezone.now())

    @property
    def calendar_at(self) -> datetime:
        """Where the calendar shows it: its time, or (a task without one) its due date."""
        return self.starts_at or self.due_at or self.scheduled_at

    @property
    def ends_at(self) -> datetime | None:
        from datetime import timedelta

        if self.starts_at and self.duration_minutes:
            return self.starts_at + timedelta(minutes=self.duration_minutes)
        return None

    @property
    def icon(self) -> str:
        return KIND_ICONS.get(self.kind, "calendar-event")

    @property
    def link_label(self) -> str:
        """What it is about, as one line: the opportunity, else the customer (and contact), else the lead."""
        parts = []
        if self.opportunity_id:
            parts.append(str(self.opportunity))
        if self.customer_id:
            parts.append(str(self.customer))
        if self.contact_id:
            parts.append(str(self.contact))
        if self.lead_id and not self.customer_id:
            parts.append(str(self.lead))
        return " · ".join(parts)


KIND_ICONS = {
    Activity.Kind.CALL: "telephone",
    Activity.Kind.VISIT: "geo-alt",
    Activity.Kind.MEETING: "people",
    Activity.Kind.EMAIL: "envelope",
    Activity.Kind.TASK: "check2-square",
}
