"""Business calendars, SLA policies and each ticket's SLA state (topic "sla"; imported at the end of
service/models.py).

Calendars and policies are the organisation's configuration (read with `view` in service, changed with
`administer`), so they are tenant rows, not business records. A ticket's SLA state lives in its own
one-to-one row (`TicketSla`) so that the ticket's columns stay the ticket helper's: the two due dates the
lists sort by are on the ticket, everything the clocks and the sweep need is here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core import choice_lists
from kehu.core.models import TenantQuerySet
from kehu.service.models import MODULE
from kehu.service.ticket_models import Ticket

__all__ = ["BusinessCalendar", "CalendarDay", "SlaPolicy", "SlaTarget", "TicketSla", "WorkingPeriod"]

MINUTES_PER_DAY = 24 * 60


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessCalendar(models.Model):
    """Working hours per weekday, holidays and make-up working days 调休, in one time zone. SLA clocks
    count only the working time of their policy's calendar (or of the organisation's default one)."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    is_default = models.BooleanField(_("default calendar"), default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="bcal_unique_name"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="bcal_one_default_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkingPeriod(models.Model):
    """One stretch of working time on a weekday, in minutes after midnight (09:00-12:00 is 540-720;
    the end may be 1440, midnight, for round-the-clock service). A weekday may have several (a lunch
    break), none (a day off)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_minute = models.PositiveSmallIntegerField(_("from"))
    end_minute = models.PositiveSmallIntegerField(_("until"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["weekday", "start_minute"]
        indexes = [models.Index(fields=["organization", "calendar", "weekday"], name="bcal_period_day")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    start_minute__gte=0, end_minute__lte=MINUTES_PER_DAY, start_minute__lt=models.F("end_minute")
                ),
                name="bcal_period_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {minutes_label(self.start_minute)}-{minutes_label(self.end_minute)}"


def minutes_label(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class CalendarDay(models.Model):
    """An exception to the weekly hours: a holiday 节假日 (no working time) or a make-up working day 调休
    (a weekend day worked with the hours of a regular working day)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Make-up working day")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Added by hand")
        CN_OFFICIAL = "cn_official", _("Chinese public holidays")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.HOLIDAY)
    name = models.CharField(_("name"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    provisional = models.BooleanField(
        _("provisional"), default=False, help_text=_("Loaded before the official schedule was published: confirm it.")
    )
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("holiday or make-up day")
        verbose_name_plural = _("holidays and make-up days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["organization", "calendar", "date"], name="bcal_day_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name or self.get_kind_display()}"


class SlaPolicy(models.Model):
    """An ordered rule: the first active policy whose conditions match a ticket gives its targets; the
    default policy applies when none matches. Empty conditions match everything."""

    module = MODULE

    class Reassign(models.TextChoices):
        NONE = "", _("Do not reassign")
        QUEUE_MANAGER = "queue_manager", _("To the queue's manager")
        TEAM_MANAGER = "team_manager", _("To the assignee's team manager")
        USER = "user", _("To a named colleague")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(
        _("default policy"), default=False, help_text=_("Applies to tickets that no other policy matches.")
    )
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    tiers = models.JSONField(_("customer tiers"), default=list, blank=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        verbose_name=_("calendar"),
        help_text=_("Empty: the organisation's default calendar."),
    )
    warning_percent = models.PositiveSmallIntegerField(_("warn at (percent of the target)"), default=80)
    notify_queue_manager = models.BooleanField(_("notify the queue's manager"), default=True)
    notify_team_manager = models.BooleanField(_("notify the assignee's team manager"), default=False)
    reassign = models.CharField(_("reassign"), max_length=20, choices=Reassign.choices, default="", blank=True)
    reassign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reassign to"),
    )
    raise_priority = models.BooleanField(_("raise the priority"), default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["is_default", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="sla_policy_unique_name"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="sla_policy_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """A policy's targets for one priority, in business minutes. An empty target sets no due date."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(_("priority"), max_length=10, choices=Ticket.Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response within (business minutes)"), null=True)
    resolution_minutes = models.PositiveIntegerField(_("resolution within (business minutes)"), null=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        constraints = [models.UniqueConstraint(fields=["organization", "policy", "priority"], name="sla_target_unique")]

    def __str__(self) -> str:
        return f"{self.policy_id}/{self.priority}"


class TicketSla(models.Model):
    """The SLA clocks of one ticket. `next_check_at` is when the sweep must look at it next (a warning or
    a breach becomes due); NULL when nothing is pending, so the sweep reads only what is due."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="sla", primary_key=True)
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    warning_percent = models.PositiveSmallIntegerField(default=80)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    first_response_warned_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_warned_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    first_response_met = models.BooleanField(null=True, blank=True)
    resolution_met = models.BooleanField(null=True, blank=True)
    # The resolution clock stops while the ticket waits on the customer (pending) or is resolved.
    paused_since = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveBigIntegerField(default=0)  # business seconds paused so far
    next_check_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket SLA")
        verbose_name_plural = _("ticket SLAs")
        indexes = [
            # The sweep: per organisation, the rows whose next event is due. Partial, so tickets with nothing
            # pending (answered, resolved, breached twice) cost the index nothing.
            models.Index(
                fields=["organization", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="ticketsla_org_next_check",
            ),
            models.Index(fields=["organization", "policy"], name="ticketsla_org_policy"),
        ]

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"

    @property
    def paused(self) -> bool:
        return self.paused_since is not None


def _tier_in_sla_policies(organization_id: int, key: str) -> bool:
    # Policies are few per organisation; a JSON `contains` lookup is not available on SQLite.
    return any(
        key in (tiers or [])
        for tiers in SlaPolicy.objects.filter(organization_id=organization_id).values_list("tiers", flat=True)
    )


choice_lists.register_usage("customer_tier", _tier_in_sla_policies)
