"""Every change to activities 跟进记录: one function per business action, each in a transaction with its
audit entry, each checking `require(actor, action, target)` first.

Logging a follow-up as done (creating it done, or completing a planned one) moves the customer's
"last contacted at" forward (customers.services.customer_mark_contacted; the public pool's auto-return
reads it) and the lead's "last activity at". Both only ever move forward: cancelling or deleting an
activity later does not move them back (the contact happened).

Reminders (`activity_reminders_send`, run every minute by the scheduler) claim each due reminder with a
conditional UPDATE before notifying, so two runs at once, or a retried run, notify once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, modules
from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.customers.models import Contact, Customer
from kehu.sales.activity_models import MAX_DURATION_MINUTES, Activity
from kehu.sales.models import MODULE, Lead, Opportunity

logger = logging.getLogger(__name__)

LINK_FIELDS = ("customer", "contact", "lead", "opportunity")
TIME_FIELDS = ("starts_at", "duration_minutes", "due_at", "remind_at", "remind_minutes_before")
EDITABLE_FIELDS = ("kind", "subject", "notes", "outcome", *TIME_FIELDS, *LINK_FIELDS)
CREATE_FIELDS = (*EDITABLE_FIELDS, "status", "done_at")
AUDITED = (*EDITABLE_FIELDS, "status", "done_at", "scheduled_at", "owner")
SUBJECT_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 20000
# A done time a little ahead of the server's clock (a phone's clock) is accepted as "now".
CLOCK_SKEW = timedelta(minutes=5)
# Reminders whose time passed longer ago than this (the scheduler was down, or the activity was entered
# late) are marked handled without a notification: a flood of stale reminders helps nobody, and "my day"
# lists the activity as overdue anyway.
REMINDER_MAX_LATE = timedelta(hours=12)
REMINDER_BATCH = 200
_TRUSTED = ["organization", "owner", "created_by", "updated_by", *LINK_FIELDS]


class ActivityNotOpen(DomainError):
    """Completing or cancelling an activity that is already done or cancelled (someone was first)."""

    code = "activity_not_open"
    status = 409


class ActivityAlreadyOpen(DomainError):
    code = "activity_already_open"
    status = 409


# Checks ------------------------------------------------------------------------------------------------


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _check_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        message = _("This field cannot be set here.")
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [message] for name in unknown},
        )


def _check_owner(actor: Any, owner: Any) -> None:
    """The owner must be an active colleague who works with sales."""
    if (
        owner is None
        or getattr(owner, "organization_id", None) != actor.organization_id
        or not owner.is_active
        or not can(owner, "view", Activity)
    ):
        raise _fail("owner", _("Choose an active colleague who has access to sales."))


def _check_text(data: dict[str, Any]) -> None:
    if "subject" in data:
        subject = " ".join(str(data["subject"] or "").split())
        if not subject:
            raise _fail("subject", _("Say what the activity is about."))
        if len(subject) > SUBJECT_MAX_LENGTH:
            raise _fail("subject", _("Keep the subject under %(n)d characters.") % {"n": SUBJECT_MAX_LENGTH})
        data["subject"] = subject
    for name in ("notes", "outcome"):
        if name in data:
            text = str(data[name] or "").strip()
            if len(text) > TEXT_MAX_LENGTH:
                raise _fail(name, _("Keep this under %(n)d characters.") % {"n": TEXT_MAX_LENGTH})
            data[name] = text


def resolve_links(
    actor: Any,
    *,
    check: set[str] | None = None,
    customer: Customer | None = None,
    contact: Contact | None = None,
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
) -> dict[str, Any]:
    """Check the records an activity is linked to and derive the customer from the contact or the
    opportunity. A record the actor may not see (another organisation's, another scope's) is NotFound;
    records that do not belong together are a validation error naming the field. `check` names the links
    whose visibility is checked (default: all; an edit checks only the links it changes, so a customer
    reassigned since does not block editing the activity's time)."""
    for name, record, model in (
        ("customer", customer, Customer),
        ("contact", contact, Contact),
        ("lead", lead, Lead),
        ("opportunity", opportunity, Opportunity),
    ):
        if record is None or (check is not None and name not in check):
            continue
        if not isinstance(record, model):
            raise _fail(name, _("No such record, or it is not visible to you."))
        require(actor, "view", record)
        if record.deleted_at is not None:
            raise _fail(name, _("No such record, or it is not visible to you."))
    if opportunity is not None:
        if customer is not None and opportunity.customer_id != customer.pk:
            raise _fail("opportunity", _("Choose an opportunity of this customer."))
        customer = customer or opportunity.customer
    if contact is not None:
        if contact.customer.deleted_at is not None:
            raise _fail("contact", _("No such record, or it is not visible to you."))
        if customer is not None and contact.customer_id != customer.pk:
            raise _fail("contact", _("Choose a contact of this customer."))
        customer = customer or contact.customer
    if customer is None and lead is None:
        raise _fail("customer", _("Link the activity to a customer, a contact, a lead or an opportunity."))
    return {"customer": customer, "contact": contact, "lead": lead, "opportunity": opportunity}


def _schedule(activity: Activity, *, explicit_remind_at: bool, now: datetime) -> None:
    """Derive `scheduled_at` and `remind_at`, and check the times of a planned activity."""
    if activity.status == Activity.Status.DONE and not (activity.starts_at or activity.due_at):
        activity.starts_at = activity.done_at
    if activity.status == Activity.Status.PLANNED and not (activity.starts_at or activity.due_at):
        raise _fail("starts_at", _("Give the activity a time or a due date."))
    if activity.duration_minutes is not None and not 0 <= activity.duration_minutes <= MAX_DURATION_MINUTES:
        raise _fail(
            "duration_minutes", _("Enter a duration between 0 and %(n)d minutes.") % {"n": MAX_DURATION_MINUTES}
        )
    activity.scheduled_at = activity.due_at or activity.starts_at
    if explicit_remind_at:
        activity.remind_minutes_before = None
    elif activity.remind_minutes_before is not None:
        if not 0 <= activity.remind_minutes_before <= MAX_DURATION_MINUTES:
            raise _fail(
                "remind_minutes_before",
                _("Enter a number of minutes between 0 and %(n)d.") % {"n": MAX_DURATION_MINUTES},
            )
        activity.remind_at = activity.scheduled_at - timedelta(minutes=activity.remind_minutes_before)
    if activity.remind_at is not None and activity.status != Activity.Status.PLANNED:
        activity.remind_at = None
        activity.remind_minutes_before = None


def _check_done_at(done_at: datetime | None, now: datetime) -> datetime:
    if done_at is None:
        return now
    if timezone.is_naive(done_at):
        done_at = timezone.make_aware(done_at)
    if done_at > now + CLOCK_SKEW:
        raise _fail("done_at", _("An activity cannot be done in the future."))
    return min(done_at, now)


def contacted_at(activity: Activity) -> datetime:
    """When the follow-up happened: its time when that is not after it was marked done, else the time it
    was marked done (a meeting planned for later and done early)."""
    if activity.starts_at and activity.done_at and activity.starts_at <= activity.done_at:
        return activity.starts_at
    return activity.done_at or timezone.now()


def _touch_linked(*, actor: Any, activity: Activity) -> None:
    """A done follow-up: the customer was contacted, the lead had an activity (forward only)."""
    from kehu.customers.services import customer_mark_contacted

    at = contacted_at(activity)
    if activity.customer_id:
        customer_mark_contacted(actor=actor, customer_id=activity.customer_id, at=at)
    if activity.lead_id:
        # The lead is a record of this module; its "last activity at" is not a field a user edits, so a
        # plain conditional UPDATE (no version bump, no audit entry of its own) is the whole change.
        Lead.objects.filter(organization_id=activity.organization_id, pk=activity.lead_id).filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
        ).update(last_activity_at=at)


def _recorded(activity: Activity) -> dict[str, Any]:
    values = audit.snapshot(activity, AUDITED)
    return {k: v for k, v in values.items() if v not in ("", None)}


def _relinked(activity: Activity, changed: dict[str, Any]) -> dict[str, Any]:
    """The links after an edit that changes `changed`: the customer follows a new contact or opportunity,
    and a contact or opportunity left as it was is dropped when it no longer fits the customer."""
    if "customer" in changed:
        target = changed["customer"]
    elif changed.get("opportunity") is not None:
        target = changed["opportunity"].customer
    elif changed.get("contact") is not None:
        target = changed["contact"].customer
    else:
        target = activity.customer
    wanted = {name: getattr(activity, name) for name in LINK_FIELDS}
    wanted.update(changed)
    wanted["customer"] = target
    for name in ("contact", "opportunity"):
        record = wanted[name]
        if name not in changed and record is not None and (target is None or record.customer_id != target.pk):
            wanted[name] = None
    return wanted


# Create, update, delete --------------------------------------------------------------------------------


@transaction.atomic
def activity_create(*, actor: Any, owner: Any = None, **data: Any) -> Activity:
    """Plan an activity (status "planned", the default) or log one that happened (status "done", with
    `done_at` defaulting to now). `owner` defaults to the actor; another owner needs the assign right."""
    require(actor, "create", Activity)
    _check_fields(data, CREATE_FIELDS)
    owner = owner or actor
    if owner.pk != actor.pk:
        require(actor, "assign", Activity)
    _check_owner(actor, owner)
    data = dict(data)
    _check_text(data)
    links = resolve_links(actor, **{name: data.pop(name, None) for name in LINK_FIELDS})
    status = data.pop("status", None) or Activity.Status.PLANNED
    if status not in (Activity.Status.PLANNED, Activity.Status.DONE):
        raise _fail("status", _("A new activity is planned or done."))
    now = timezone.now()
    done_at = data.pop("done_at", None)
    if done_at is not None and status != Activity.Status.DONE:
        raise _fail("done_at", _("Only a done activity has a done time."))
    activity = Activity(
        organization_id=actor.organization_id,
        owner=owner,
        created_by=actor,
        updated_by=actor,
        status=status,
        done_at=_check_done_at(done_at, now) if status == Activity.Status.DONE else None,
        **links,
        **data,
    )
    _schedule(activity, explicit_remind_at=data.get("remind_at") is not None, now=now)
    validate(activity, exclude=[*_TRUSTED, "scheduled_at"])
    activity.save()
    audit.record(actor=actor, action="activity.create", target=activity, changes=_recorded(activity))
    if activity.status == Activity.Status.DONE:
        _touch_linked(actor=actor, activity=activity)
    return activity


def activity_log(*, actor: Any, **data: Any) -> Activity:
    """Log a follow-up that happened (a call just made): an activity created as done."""
    return activity_create(actor=actor, **{**data, "status": Activity.Status.DONE})


@transaction.atomic
def activity_update(*, actor: Any, activity: Activity, expected_version: int | None, data: dict[str, Any]) -> Activity:
    """Change what the activity is, when, its reminder and its links (and, with assign, its owner).
    Refused with VersionConflict when it changed since `expected_version` was read. Moving the time (or
    the reminder) of a planned activity arms its reminder again."""
    require(actor, "edit", activity)
    data = dict(data)
    owner = data.pop("owner", None)
    _check_fields(data, EDITABLE_FIELDS)
    if expected_version is not None and expected_version != activity.version:
        raise VersionConflict()
    _check_text(data)
    if "remind_at" in data and data["remind_at"] is None and "remind_minutes_before" not in data:
        data["remind_minutes_before"] = None  # clearing the reminder clears "N minutes before" too
    before = audit.snapshot(activity, AUDITED)
    if owner is not None and owner.pk != activity.owner_id:
        require(actor, "assign", activity)
        _check_owner(actor, owner)
        activity.owner = owner
    if any(name in data for name in LINK_FIELDS):
        changed = {name: data.pop(name) for name in LINK_FIELDS if name in data}
        links = resolve_links(actor, check=set(changed), **_relinked(activity, changed))
        for name, value in links.items():
            setattr(activity, name, value)
    for name, value in data.items():
        setattr(activity, name, value)
    _schedule(
        activity,
        explicit_remind_at="remind_at" in data and data["remind_at"] is not None,
        now=timezone.now(),
    )
    validate(activity, exclude=[*_TRUSTED, "scheduled_at"])
    changes = audit.diff(before, audit.snapshot(activity, AUDITED))
    if not changes:
        return activity
    fields = [name for name in changes if name != "owner"]
    if "owner" in changes:
        fields.append("owner")
    if "remind_at" in changes or "scheduled_at" in changes:
        activity.reminded_at = None
        fields.append("reminded_at")
    save_versioned(activity, actor=actor, expected_version=expected_version, fields=sorted(set(fields)))
    audit.record(actor=actor, action="activity.update", target=activity, changes=changes)
    return activity


@transaction.atomic
def activity_delete(*, actor: Any, activity: Activity, expected_version: int | None = None) -> Activity:
    """Move to the recycle bin (soft delete); `activity_restore` brings it back."""
    require(actor, "delete", activity)
    activity.deleted_at = timezone.now()
    save_versioned(activity, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="activity.delete", target=activity, changes={"subject": activity.subject})
    return activity


@transaction.atomic
def activity_restore(*, actor: Any, activity: Activity) -> Activity:
    require(actor, "restore", activity)
    if activity.deleted_at is None:
        return activity
    now = timezone.now()
    restored = Activity.objects.filter(pk=activity.pk, version=activity.version, deleted_at__isnull=False).update(
        deleted_at=None, version=activity.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    activity.deleted_at, activity.version, activity.updated_at = None, activity.version + 1, now
    audit.record(actor=actor, action="activity.restore", target=activity)
    return activity


# Complete, cancel, reopen ------------------------------------------------------------------------------


def _change_status(
    activity: Activity, *, actor: Any, expected_version: int | None, values: dict[str, Any], from_status: str
) -> None:
    """One conditional UPDATE from `from_status`: of two people completing the same call, one wins and the
    other gets a conflict (not a second "done")."""
    now = timezone.now()
    filters: dict[str, Any] = {"pk": activity.pk, "status": from_status, "deleted_at__isnull": True}
    if expected_version is not None:
        filters["version"] = expected_version
    updated = Activity.objects.filter(**filters).update(
        **values, version=F("version") + 1, updated_at=now, updated_by_id=actor.pk
    )
    if updated != 1:
        fresh = Activity.objects.filter(pk=activity.pk).values("status", "version").first()
        if fresh and fresh["status"] != from_status:
            if from_status == Activity.Status.PLANNED:
                raise ActivityNotOpen(_("This activity is already done or cancelled."))
            raise ActivityAlreadyOpen(_("This activity is still planned."))
        raise VersionConflict()
    for name, value in values.items():
        setattr(activity, name, value)
    activity.version = Activity.objects.values_list("version", flat=True).get(pk=activity.pk)
    activity.updated_at, activity.updated_by_id = now, actor.pk


@transaction.atomic
def activity_complete(
    *,
    actor: Any,
    activity: Activity,
    expected_version: int | None = None,
    outcome: str | None = None,
    done_at: datetime | None = None,
) -> Activity:
    """Mark a planned activity done (with what came of it). 409 when it is no longer planned."""
    require(actor, "complete", activity)
    if not activity.is_open and expected_version is None:
        raise ActivityNotOpen(_("This activity is already done or cancelled."))
    now = timezone.now()
    values: dict[str, Any] = {"status": Activity.Status.DONE, "done_at": _check_done_at(done_at, now)}
    if outcome is not None:
        data = {"outcome": outcome}
        _check_text(data)
        values["outcome"] = data["outcome"]
    _change_status(
        activity, actor=actor, expected_version=expected_version, values=values, from_status=Activity.Status.PLANNED
    )
    changes = {
        "status": {"before": Activity.Status.PLANNED, "after": Activity.Status.DONE},
        "done_at": values["done_at"],
    }
    if values.get("outcome"):
        changes["outcome"] = values["outcome"]
    audit.record(actor=actor, action="activity.complete", target=activity, changes=changes)
    _touch_linked(actor=actor, activity=activity)
    return activity


@transaction.atomic
def activity_cancel(
    *, actor: Any, activity: Activity, expected_version: int | None = None, outcome: str | None = None
) -> Activity:
    """Call off a planned activity (the reason, if any, as its outcome). 409 when it is no longer planned."""
    require(actor, "cancel", activity)
    if not activity.is_open and expected_version is None:
        raise ActivityNotOpen(_("This activity is already done or cancelled."))
    values: dict[str, Any] = {"status": Activity.Status.CANCELLED}
    if outcome is not None:
        data = {"outcome": outcome}
        _check_text(data)
        values["outcome"] = data["outcome"]
    _change_status(
        activity, actor=actor, expected_version=expected_version, values=values, from_status=Activity.Status.PLANNED
    )
    changes: dict[str, Any] = {"status": {"before": Activity.Status.PLANNED, "after": Activity.Status.CANCELLED}}
    if values.get("outcome"):
        changes["outcome"] = values["outcome"]
    audit.record(actor=actor, action="activity.cancel", target=activity, changes=changes)
    return activity


@transaction.atomic
def activity_reopen(*, actor: Any, activity: Activity, expected_version: int | None = None) -> Activity:
    """Back to planned (marked done or cancelled by mistake). The customer's "last contacted at" stays."""
    require(actor, "reopen", activity)
    if activity.is_open:
        raise ActivityAlreadyOpen(_("This activity is still planned."))
    before = activity.status
    _change_status(
        activity,
        actor=actor,
        expected_version=expected_version,
        values={"status": Activity.Status.PLANNED, "done_at": None},
        from_status=before,
    )
    audit.record(
        actor=actor,
        action="activity.reopen",
        target=activity,
        changes={"status": {"before": before, "after": Activity.Status.PLANNED}},
    )
    return activity


# Other modules --------------------------------------------------------------------------------------------


def activities_move_to_survivor(*, actor: Any, survivor: Customer, others: list[Customer]) -> int:
    """Customers merge handler (customers/merge.py): the merged customers' activities now belong to the
    survivor's history (their contacts moved with them, so the contact links stay right)."""
    return Activity.objects.filter(organization_id=survivor.organization_id, customer__in=others).update(
        customer=survivor, updated_at=timezone.now()
    )


@transaction.atomic
def activities_link_converted_lead(
    *, actor: Any, lead: Lead, customer: Customer, contact: Contact | None = None, opportunity: Any = None
) -> int:
    """For lead conversion: the lead's activities that name no customer yet now also name the customer
    (and contact / opportunity) the lead became, so they show on the customer's timeline. They keep the
    lead link. Returns how many changed."""
    qs = Activity.objects.filter(organization_id=lead.organization_id, lead=lead, customer__isnull=True)
    values: dict[str, Any] = {"customer": customer, "updated_at": timezone.now()}
    if contact is not None and contact.customer_id == customer.pk:
        values["contact"] = contact
    if opportunity is not None and opportunity.customer_id == customer.pk:
        values["opportunity"] = opportunity
    return qs.update(**values)


# Reminders -------------------------------------------------------------------------------------------------


def _due_reminders(now: datetime) -> Any:
    return Activity.objects.filter(
        deleted_at__isnull=True,
        status=Activity.Status.PLANNED,
        reminded_at__isnull=True,
        remind_at__isnull=False,
        remind_at__lte=now,
    )


def _claim_batch(now: datetime) -> list[int]:
    """Lock (PostgreSQL: skipping rows another worker holds) and claim a batch of due reminders. Each
    claim is a conditional UPDATE, so a row is claimed once even where rows cannot be locked (SQLite)."""
    qs = _due_reminders(now).order_by("remind_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    ids = list(qs.values_list("pk", flat=True)[:REMINDER_BATCH])
    claimed = []
    for pk in ids:
        if _due_reminders(now).filter(pk=pk).update(reminded_at=now) == 1:
            claimed.append(pk)
    return claimed


def _reminder_texts(activity: Activity, owner: Any) -> tuple[str, str, str]:
    """(language, title, time as the owner reads it) in the owner's language and the organisation's zone."""
    from kehu.sales.activity_selectors import org_timezone

    language = owner.language or owner.organization.language or settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(org_timezone(owner.organization)):
        when = formats.date_format(timezone.localtime(activity.scheduled_at), "Y-m-d H:i")
        title = _("Reminder: %(kind)s “%(subject)s” at %(when)s") % {
            "kind": activity.get_kind_display(),
            "subject": activity.subject,
            "when": when,
        }
    return language, title, when


def _send_reminder_email(*, activity_id: int, language: str, title: str, when: str, link: str) -> None:
    activity = (
        Activity.objects.select_related("owner__organization", "customer", "contact", "lead", "opportunity")
        .filter(pk=activity_id)
        .first()
    )
    if activity is None or activity.owner is None or not activity.owner.email:
        return
    with translation.override(language):
        body = render_to_string(
            "sales/activity/email/reminder.txt",
            {"activity": activity, "user": activity.owner, "when": when, "link": link},
        )
    send_mail(title, body, settings.DEFAULT_FROM_EMAIL, [activity.owner.email])


def activity_reminders_send(*, now: datetime | None = None) -> int:
    """Notify owners of the planned activities whose reminder time has come (in the app, and by email
    after commit); mark each reminded. Idempotent and safe to run twice at once. Returns how many were
    notified."""
    now = now or timezone.now()
    base_url = getattr(settings, "SITE_URL", "")
    sent = 0
    while True:
        with transaction.atomic():
            claimed = _claim_batch(now)
            if not claimed:
                return sent
            activities = Activity.objects.filter(pk__in=claimed).select_related(
                "owner__organization",
                "owner__role",
                "owner__team",
                "customer__owner",
                "lead__owner",
                "opportunity__owner",
            )
            for activity in activities:
                owner = activity.owner
                if (
                    owner is None
                    or not owner.is_active
                    or activity.remind_at < now - REMINDER_MAX_LATE
                    or not modules.is_enabled(owner.organization, MODULE)
                    or not can(owner, "view", activity)
                ):
                    continue
                language, title, when = _reminder_texts(activity, owner)
                path = activity.get_absolute_url()
                body = activity.link_label
                notify(recipient=owner, title=title, body=body, url=path)
                if owner.email:
                    link = urljoin(base_url, path) if base_url else path
                    transaction.on_commit(
                        lambda pk=activity.pk, language=language, title=title, when=when, link=link: (
                            _send_reminder_email(activity_id=pk, language=language, title=title, when=when, link=link)
                        ),
                        robust=True,
                    )
                sent += 1
