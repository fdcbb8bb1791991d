"""Every change to tickets: one function per business action, each in a transaction with its audit entry,
each checking `require(actor, action, ticket)` first (except the `_`-prefixed internals that the e-mail
intake and the public web form call with a SystemActor, after their own checks).

Side effects wait for the commit: public replies are e-mailed by a Celery task started with
`transaction.on_commit`; the SLA code (topic "sla") hears of changes through ticket_hooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core import audit, choice_lists, custom_fields
from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.customers import uploads
from kehu.customers.models import Contact, Customer, Tag
from kehu.customers.normalize import normalize_email
from kehu.service import ticket_assignment, ticket_hooks
from kehu.service.ticket_models import (
    KINDS,
    Queue,
    Ticket,
    TicketAttachment,
    TicketCounter,
    TicketMessage,
    TicketTag,
)

TICKET_TYPE = "service.ticket"
TICKET_FIELDS = (
    "subject",
    "kind",
    "priority",
    "channel",
    "queue",
    "customer",
    "contact",
    "requester_email",
    "requester_name",
    "custom",
)
BODY_MAX = 50_000
MAX_FILES = 10
S = Ticket.Status
# Where a status may go by hand (a customer's reply reopens pending and resolved tickets by itself).
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.OPEN, S.PENDING, S.RESOLVED, S.CLOSED},
    S.OPEN: {S.PENDING, S.RESOLVED, S.CLOSED},
    S.PENDING: {S.OPEN, S.RESOLVED, S.CLOSED},
    S.RESOLVED: {S.OPEN, S.CLOSED},
    S.CLOSED: {S.OPEN},
}
_TRUSTED = ["organization", "owner", "created_by", "updated_by", "queue", "customer", "contact", "follow_up_of"]


class SystemActor:
    """Who acts when nobody signed in does: the e-mail intake, the public web form, the scheduler. The
    audit log records no user for it, the label it gives, and the IP when there is one."""

    is_authenticated = False
    is_active = False
    pk = None
    team_id = None

    def __init__(self, label: str, organization_id: int, ip: str | None = None) -> None:
        self.label = label
        self.organization_id = organization_id
        self.request_ip = ip

    def __str__(self) -> str:
        return self.label


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _check_fields(data: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


# Numbers --------------------------------------------------------------------------------------------------


def next_number(organization_id: int) -> int:
    """The organisation's next ticket number. The UPDATE locks the counter row until the caller's
    transaction ends, so concurrent creates wait for each other instead of taking the same number. One
    statement (UPDATE ... RETURNING, PostgreSQL and SQLite 3.35+) once the organisation has its counter."""
    if connection.features.can_return_columns_from_insert:  # the same versions support RETURNING on UPDATE
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TicketCounter._meta.db_table} SET last_number = last_number + 1 "  # noqa: S608 - names from code
                "WHERE organization_id = %s RETURNING last_number",
                [organization_id],
            )
            row = cursor.fetchone()
        if row is not None:
            return row[0]
    with transaction.atomic():
        updated = TicketCounter.objects.filter(organization_id=organization_id).update(last_number=F("last_number") + 1)
        if not updated:
            highest = (
                Ticket.objects.filter(organization_id=organization_id)
                .order_by("-number")
                .values_list("number", flat=True)
            ).first() or 0
            try:
                with transaction.atomic():
                    TicketCounter.objects.create(organization_id=organization_id, last_number=highest + 1)
            except IntegrityError:  # created by a concurrent first ticket: take the next number after it
                TicketCounter.objects.filter(organization_id=organization_id).update(last_number=F("last_number") + 1)
        return TicketCounter.objects.get(organization_id=organization_id).last_number


# Checks ---------------------------------------------------------------------------------------------------


def _clean_body(body: Any, field: str = "body") -> str:
    text = str(body or "").replace("\r\n", "\n").strip()
    if not text:
        raise _fail(field, _("Write a message."))
    if len(text) > BODY_MAX:
        raise _fail(field, _("A message has at most %(n)d characters.") % {"n": BODY_MAX})
    return text


def _clean_email(value: Any, field: str) -> str:
    value = str(value or "").strip()
    if not value:
        return ""
    try:
        return normalize_email(value)
    except Exception as exc:  # django ValidationError: say it on the field
        raise _fail(field, _("Enter a valid email address.")) from exc


def _check_queue(organization_id: int, queue: Queue | None) -> None:
    if queue is not None and queue.organization_id != organization_id:
        raise _fail("queue", _("Choose a queue of your organisation."))


def _check_customer(organization_id: int, customer: Customer | None, contact: Contact | None) -> None:
    if customer is not None and (customer.organization_id != organization_id or customer.deleted_at is not None):
        raise _fail("customer", _("Choose a customer of your organisation."))
    if contact is not None:
        if contact.organization_id != organization_id or contact.deleted_at is not None:
            raise _fail("contact", _("Choose a contact of your organisation."))
        if customer is not None and contact.customer_id != customer.pk:
            raise _fail("contact", _("Choose a contact of the ticket's customer."))


def _check_tags(organization_id: int, tags: Iterable[Tag]) -> list[Tag]:
    tags = list(tags)
    if any(not isinstance(t, Tag) or t.organization_id != organization_id or t.deleted_at for t in tags):
        raise _fail("tags", _("Choose existing tags."))
    return tags


def check_assignee(organization_id: int, user: Any) -> None:
    """An assignee is an active colleague who may work on tickets."""
    if (
        user is None
        or getattr(user, "organization_id", None) != organization_id
        or not user.is_active
        or not can(user, "edit", Ticket)
    ):
        raise _fail("owner", _("Choose an active colleague who works on tickets."))


def _tag_names(tags: Iterable[Tag]) -> list[str]:
    return sorted(t.name for t in tags)


def _now() -> Any:
    return timezone.now()


# Files ----------------------------------------------------------------------------------------------------


def _check_files(files: Sequence[Any]) -> list[uploads.CheckedFile]:
    if len(files) > MAX_FILES:
        raise _fail("files", _("Attach at most %(n)d files.") % {"n": MAX_FILES})
    try:
        return [uploads.check_upload(f) for f in files]
    except ValidationFailed as exc:  # uploads names the field "file"
        raise _fail("files", exc.message) from exc


def _store_files(message: TicketMessage, files: Sequence[Any], checked: Sequence[uploads.CheckedFile]) -> list[Any]:
    stored = []
    try:
        for file, info in zip(files, checked, strict=True):
            attachment = TicketAttachment(
                organization_id=message.organization_id,
                ticket_id=message.ticket_id,
                message=message,
                original_name=info.name,
                size=info.size,
                content_type=info.content_type,
                sha256=info.sha256,
            )
            attachment.file.save(info.name, file, save=False)
            stored.append(attachment)
            attachment.save()
    except Exception:
        for attachment in stored:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return stored


# Writing the ticket row -----------------------------------------------------------------------------------


def _lock(ticket: Ticket) -> Ticket:
    """Re-read the ticket's row FOR UPDATE (state changes are serialised per ticket) and refresh the fields
    the services decide on."""
    if not _lock_many([ticket]):
        raise NotFound()
    return ticket


def _lock_many(tickets: Sequence[Ticket]) -> list[Ticket]:
    """_lock for a batch in one query (rows locked in id order, so two batches cannot deadlock); the tickets
    no longer there (deleted) are left out of the answer."""
    rows = {
        row.pk: row
        for row in Ticket.objects.select_for_update()
        .filter(pk__in=[t.pk for t in tickets], deleted_at__isnull=True)
        .order_by("pk")
        .only(*_LOCKED)
    }
    locked = []
    for ticket in tickets:
        row = rows.get(ticket.pk)
        if row is None:
            continue
        for name in _LOCKED:
            attname = Ticket._meta.get_field(name).attname
            setattr(ticket, attname, getattr(row, attname))
        locked.append(ticket)
    return locked


# The fields the services decide on, refreshed from the locked row.
_LOCKED = [
    "status",
    "owner",
    "queue",
    "priority",
    "version",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "assigned_at",
    "assignment_reason",
    "last_customer_message_at",
    "updated_at",
]


def _write(ticket: Ticket, actor: Any, fields: dict[str, Any]) -> None:
    """Set `fields` on the (locked) row, bumping the version: an open edit form is now stale."""
    _write_many([ticket], actor, fields)


def _write_many(tickets: Sequence[Ticket], actor: Any, fields: dict[str, Any]) -> None:
    """_write for several locked tickets that get the same `fields`: one UPDATE."""
    now = _now()
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        **fields, version=F("version") + 1, updated_at=now, updated_by_id=getattr(actor, "pk", None)
    )
    for ticket in tickets:
        for name, value in fields.items():
            setattr(ticket, name, value)
        ticket.version += 1
        ticket.updated_at = now
        ticket.updated_by_id = getattr(actor, "pk", None)


def _touch(ticket: Ticket) -> None:
    """A new message moves the ticket up the lists without making open edit forms stale."""
    now = _now()
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    ticket.updated_at = now


def _audit(actor: Any, action: str, ticket: Ticket, changes: dict[str, Any] | None = None) -> None:
    audit.record(actor=actor, action=action, target=ticket, changes=changes or {}, actor_label=_actor_label(actor))


def _audit_many(actor: Any, action: str, items: Sequence[tuple[Ticket, dict[str, Any]]]) -> None:
    """_audit for several tickets: the organisation's chain is locked once per organisation."""
    by_org: dict[int, list[tuple[str, Ticket, dict[str, Any]]]] = {}
    for ticket, changes in items:
        by_org.setdefault(ticket.organization_id, []).append((action, ticket, changes or {}))
    for organization_id, entries in by_org.items():
        audit.record_many(
            organization_id=organization_id, items=entries, actor=actor, actor_label=_actor_label(actor) or ""
        )


def _actor_label(actor: Any) -> str | None:
    if getattr(actor, "is_authenticated", False):
        return None
    return str(actor)


# Status ---------------------------------------------------------------------------------------------------


def _status_fields(ticket: Ticket, status: str) -> dict[str, Any]:
    now = _now()
    fields: dict[str, Any] = {"status": status}
    if status == S.RESOLVED:
        fields["resolved_at"] = now
    elif status == S.CLOSED:
        fields["closed_at"] = now
        if ticket.resolved_at is None:
            fields["resolved_at"] = now
    elif status in (S.OPEN, S.NEW, S.PENDING):
        fields.update(resolved_at=None, closed_at=None)
    return fields


def _change_status(
    actor: Any, ticket: Ticket, status: str, *, why: str = "", detail: dict[str, Any] | None = None
) -> bool:
    """Move the locked ticket to `status` (no permission check: callers did), audit and tell the hooks.
    `why` and `detail` go into the audit entry (the ticket's history reads them)."""
    before = ticket.status
    if before == status:
        return False
    _write(ticket, actor, _status_fields(ticket, status))
    changes: dict[str, Any] = {"status": {"before": before, "after": status}, **(detail or {})}
    if why:
        changes["why"] = why
    _audit(actor, "ticket.status", ticket, changes)
    ticket_hooks.ticket_changed(ticket, "status_changed", before=before, after=status, at=ticket.updated_at)
    return True


@transaction.atomic
def ticket_set_status(*, actor: Any, ticket: Ticket, status: str) -> Ticket:
    require(actor, "edit", ticket)
    if status not in S.values:
        raise _fail("status", _("Choose one of: %(choices)s.") % {"choices": ", ".join(S.values)})
    _lock(ticket)
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        raise _fail(
            "status",
            _("A %(before)s ticket cannot become %(after)s.")
            % {"before": S(ticket.status).label, "after": S(status).label},
        )
    _change_status(actor, ticket, status)
    return ticket


def ticket_resolve(*, actor: Any, ticket: Ticket) -> Ticket:
    return ticket_set_status(actor=actor, ticket=ticket, status=S.RESOLVED)


def ticket_close(*, actor: Any, ticket: Ticket) -> Ticket:
    return ticket_set_status(actor=actor, ticket=ticket, status=S.CLOSED)


def ticket_reopen(*, actor: Any, ticket: Ticket) -> Ticket:
    if ticket.status not in (S.RESOLVED, S.CLOSED, S.PENDING):
        raise _fail("status", _("Only pending, resolved or closed tickets can be reopened."))
    return ticket_set_status(actor=actor, ticket=ticket, status=S.OPEN)


@transaction.atomic
def tickets_close(*, actor: Any, tickets: Iterable[Ticket]) -> int:
    """Bulk close: all or nothing (a ticket already closed is skipped)."""
    count = 0
    for ticket in tickets:
        require(actor, "edit", ticket)
        _lock(ticket)
        if ticket.status != S.CLOSED:
            _change_status(actor, ticket, S.CLOSED)
            count += 1
    return count


AUTO_CLOSE_LABEL = "Kehu auto-close"
AUTO_CLOSE_BATCH = 500


def tickets_auto_close(*, now: Any = None, organization_id: int | None = None) -> int:
    """Close the resolved tickets whose customer did not reply for the organisation's
    ServiceSettings.auto_close_after_days (default 7; 0: never), in every organisation with the service
    module (or one). Each close is an ordinary status change: audited (why "auto_close"), the hooks run
    (SLA clocks, surveys), the ticket's history says so. Idempotent (a closed ticket is not taken again);
    a run takes at most AUTO_CLOSE_BATCH tickets per organisation, the next run the rest."""
    from datetime import timedelta

    from django.db.models import Q

    from kehu.accounts.models import Organization
    from kehu.core import modules
    from kehu.service.ticket_models import DEFAULT_AUTO_CLOSE_DAYS, ServiceSettings

    now = now or _now()
    days_by_org = dict(ServiceSettings.objects.values_list("organization_id", "auto_close_after_days"))
    organizations = Organization.objects.filter(is_active=True).order_by("pk")
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    closed = 0
    for org in organizations:
        days = days_by_org.get(org.pk, DEFAULT_AUTO_CLOSE_DAYS)
        if not days or not modules.is_enabled(org, "service"):
            continue
        cutoff = now - timedelta(days=days)
        # Quiet: no customer message since the resolution (or none for the whole delay).
        quiet = (
            Q(last_customer_message_at__isnull=True)
            | Q(last_customer_message_at__lte=F("resolved_at"))
            | Q(last_customer_message_at__lte=cutoff)
        )
        ids = list(
            Ticket.objects.filter(
                organization_id=org.pk, status=S.RESOLVED, deleted_at__isnull=True, resolved_at__lte=cutoff
            )
            .filter(quiet)
            .order_by("resolved_at", "pk")
            .values_list("pk", flat=True)[:AUTO_CLOSE_BATCH]
        )
        actor = SystemActor(AUTO_CLOSE_LABEL, org.pk)
        for pk in ids:
            with transaction.atomic():
                ticket = Ticket.objects.filter(pk=pk).first()
                if ticket is None:
                    continue
                _lock(ticket)
                # Re-checked under the lock: a customer may have replied (and reopened it) meanwhile.
                last = ticket.last_customer_message_at
                if ticket.status != S.RESOLVED or ticket.resolved_at is None or ticket.resolved_at > cutoff:
                    continue
                if last is not None and last > ticket.resolved_at and last > cutoff:
                    continue
                _change_status(actor, ticket, S.CLOSED, why="auto_close", detail={"days": days})
                closed += 1
    return closed


# Assignment -----------------------------------------------------------------------------------------------


def _set_owner(actor: Any, ticket: Ticket, owner: Any, reason: str, detail: str = "") -> bool:
    return bool(_set_owners(actor, [ticket], owner, reason, detail))


def _set_owners(
    actor: Any, tickets: Sequence[Ticket], owner: Any, reason: str, detail: str = "", *, written: bool = False
) -> list[Ticket]:
    """Give the locked `tickets` to `owner` (None: unassigned): one write, the audit entries, the "assigned"
    hooks, and one notification to the new assignee for the batch. The tickets that moved. `written`: new
    tickets whose row was inserted with the owner (_create), unassigned before: all but the write."""
    after = getattr(owner, "pk", None)
    if written:
        moved = list(tickets)
        before: dict[int, int | None] = dict.fromkeys((t.pk for t in moved), None)
    else:
        moved = [t for t in tickets if t.owner_id != after]
        if not moved:
            return []
        before = {t.pk: t.owner_id for t in moved}
        _write_many(
            moved,
            actor,
            {"owner_id": after, "assigned_at": _now() if after else None, "assignment_reason": reason if after else ""},
        )
    changes: list[tuple[Ticket, dict[str, Any]]] = []
    for ticket in moved:
        ticket.owner = owner
        change: dict[str, Any] = {"owner": {"before": before[ticket.pk], "after": after}, "reason": reason}
        if detail:
            change["detail"] = detail
        changes.append((ticket, change))
    _audit_many(actor, "ticket.assign", changes)
    ticket_hooks.tickets_changed(
        "assigned", [(t, {"before": before[t.pk], "after": after, "reason": reason}) for t in moved]
    )
    if owner is not None and owner.pk != getattr(actor, "pk", None):
        _notify_assigned(actor=actor, owner=owner, tickets=moved, reason=reason)
    return moved


def _notify_assigned(*, actor: Any, owner: Any, tickets: list[Ticket], reason: str) -> None:
    with translation.override(owner.language or owner.organization.language):
        if len(tickets) == 1:
            ticket = tickets[0]
            title = _("Ticket #%(number)s was assigned to you: %(subject)s") % {
                "number": ticket.number,
                "subject": ticket.subject,
            }
            url = ticket.get_absolute_url()
        else:
            title = ngettext(
                "%(count)d ticket was assigned to you", "%(count)d tickets were assigned to you", len(tickets)
            ) % {"count": len(tickets)}
            url = f"{reverse('service:ticket_list')}?assignee=me"
        body = _("Why: %(reason)s") % {"reason": ticket_assignment.reason_label(reason)}
        if getattr(actor, "is_authenticated", False):
            body += " · " + _("by %(name)s") % {"name": actor}
    notify(recipient=owner, title=title, body=body, url=url)


def _auto_choice(ticket: Ticket) -> tuple[ticket_assignment.Choice, Queue | None]:
    """Whom the ticket's queue gives it to by its method, and the queue, whose row stays locked to the commit:
    round robin's cursor moves one step per ticket, and least-open counts the tickets given a moment ago, even
    when tickets arrive at once (several intake processes)."""
    if ticket.owner_id is not None or ticket.queue_id is None:
        return ticket_assignment.Choice(ticket.owner, "manual"), None
    queue = Queue.objects.select_for_update().get(pk=ticket.queue_id)
    return ticket_assignment.choose(queue, ticket), queue


def _move_cursor(queue: Queue | None, choice: ticket_assignment.Choice) -> None:
    if queue is not None and choice.user is not None and queue.assignment == Queue.Assignment.ROUND_ROBIN:
        Queue.objects.filter(pk=queue.pk).update(last_assigned=choice.user)


def auto_assign(*, actor: Any, ticket: Ticket) -> ticket_assignment.Choice:
    """Give an unassigned ticket to a member of its queue by the queue's method (no permission check: the
    system does it on create). See _auto_choice."""
    choice, queue = _auto_choice(ticket)
    if choice.user is None or queue is None:
        return choice
    _set_owner(actor, ticket, choice.user, choice.reason, choice.detail)
    _move_cursor(queue, choice)
    return choice


@transaction.atomic
def ticket_assign(*, actor: Any, ticket: Ticket, owner: Any, reason: str = "manual") -> Ticket:
    """Give the ticket to `owner` (None: back to its queue, unassigned). Giving it to someone else needs
    `assign`; taking it oneself needs `edit` (ticket_take)."""
    require(actor, "assign", ticket)
    if owner is not None:
        check_assignee(actor.organization_id, owner)
    _lock(ticket)
    _set_owner(actor, ticket, owner, reason if owner is not None else "unassigned")
    return ticket


@transaction.atomic
def tickets_assign(*, actor: Any, tickets: Iterable[Ticket], owner: Any) -> list[Ticket]:
    """Bulk assign: all or nothing; the new assignee is notified once for the batch."""
    if owner is not None:
        check_assignee(actor.organization_id, owner)
    tickets = list(tickets)
    for ticket in tickets:
        require(actor, "assign", ticket)
    if len(_lock_many(tickets)) != len(tickets):
        raise NotFound()
    return _set_owners(actor, tickets, owner, "manual" if owner is not None else "unassigned")


@transaction.atomic
def ticket_take(*, actor: Any, ticket: Ticket) -> Ticket:
    """The agent picks the ticket up (assigns it to themselves); a new ticket becomes open."""
    require(actor, "take", ticket)
    check_assignee(actor.organization_id, actor)
    _lock(ticket)
    if ticket.owner_id not in (None, actor.pk) and not can(actor, "assign", ticket):
        raise _fail("owner", _("Someone else has this ticket; ask a manager to reassign it."))
    _set_owner(actor, ticket, actor, "taken")
    if ticket.status == S.NEW:
        _change_status(actor, ticket, S.OPEN)
    return ticket


# Creating -------------------------------------------------------------------------------------------------


def match_requester(organization_id: int, email: str) -> tuple[Customer | None, Contact | None]:
    """The contact (and its customer) whose normalised email is `email`; else a customer with that email."""
    if not email:
        return None, None
    contact = (
        Contact.objects.filter(
            organization_id=organization_id,
            email_normalized=email,
            deleted_at__isnull=True,
            customer__deleted_at__isnull=True,
        )
        .select_related("customer")
        .order_by("-is_primary", "pk")
        .first()
    )
    if contact is not None:
        return contact.customer, contact
    customer = (
        Customer.objects.filter(organization_id=organization_id, email_normalized=email, deleted_at__isnull=True)
        .order_by("pk")
        .first()
    )
    return customer, None


def _create(
    *,
    actor: Any,
    organization_id: int,
    subject: str,
    body: str,
    owner: Any = None,
    owner_reason: str = "",
    tags: Sequence[Tag] = (),
    files: Sequence[Any] = (),
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
    author_name: str = "",
    author_email: str = "",
    raw_attachments: Sequence[Any] = (),
    follow_up_of: Ticket | None = None,
    auto: bool = True,
    by_agent: bool = False,
    **fields: Any,
) -> Ticket:
    """Create the ticket and its first (customer) message, then assign it: to `owner`, else by its queue."""
    subject = " ".join(str(subject or "").split())
    if not subject:
        raise _fail("subject", _("Enter a subject."))
    fields["requester_email"] = _clean_email(fields.get("requester_email"), "requester_email")
    fields["requester_name"] = str(fields.get("requester_name") or "").strip()[:100]
    queue, customer, contact = fields.get("queue"), fields.get("customer"), fields.get("contact")
    _check_queue(organization_id, queue)
    if contact is not None and customer is None:
        fields["customer"] = customer = contact.customer
    _check_customer(organization_id, customer, contact)
    if contact is not None and not fields["requester_email"]:
        fields["requester_email"] = contact.email_normalized
    if contact is not None and not fields["requester_name"]:
        fields["requester_name"] = contact.name
    if customer is None and contact is None and fields["requester_email"]:
        fields["customer"], fields["contact"] = match_requester(organization_id, fields["requester_email"])
    tags = _check_tags(organization_id, tags)
    # The type: an active option of the organisation's list (kehu.core.choice_lists), else its default.
    if fields.get("kind"):
        fields["kind"] = choice_lists.validate(organization_id, KINDS, fields["kind"], field="kind")
    else:
        fields["kind"] = choice_lists.default(organization_id, KINDS, Ticket.Kind.INQUIRY)
    checked = _check_files(files)
    fields["custom"] = _clean_new_custom(organization_id, fields.get("custom") or {}, enforce_required=by_agent)
    ticket = Ticket(
        organization_id=organization_id,
        created_by_id=getattr(actor, "pk", None),
        updated_by_id=getattr(actor, "pk", None),
        subject=subject[:255],
        follow_up_of=follow_up_of,
        **fields,
    )
    validate(ticket, exclude=[*_TRUSTED, "number"])
    # The assignee is chosen first and written with the row (no UPDATE after it); the assignment is recorded
    # (audit, hooks, notification) after the creation, as a later assignment is. Locks: the queue's row, then
    # the ticket counter, in that order for every creation.
    assignee, reason, detail, locked_queue = owner, owner_reason or "manual", "", None
    if owner is None and auto:
        choice, locked_queue = _auto_choice(ticket)
        assignee, reason, detail = choice.user, choice.reason, choice.detail
    if assignee is not None:
        ticket.owner, ticket.assigned_at, ticket.assignment_reason = assignee, ticket.created_at, reason
    ticket.number = next_number(organization_id)
    if body:  # the first message is the customer's, at the ticket's creation (written with the row)
        ticket.last_customer_message_at = ticket.created_at
    ticket.save()
    TicketTag.objects.bulk_create([TicketTag(organization_id=organization_id, ticket=ticket, tag=t) for t in tags])
    message = None
    if body:
        message = TicketMessage.objects.create(
            organization_id=organization_id,
            ticket=ticket,
            kind=TicketMessage.Kind.CUSTOMER,
            author_name=(author_name or ticket.requester_name)[:100],
            author_email=(author_email or ticket.requester_email)[:254],
            body=body,
            message_id=message_id[:255],
            in_reply_to=in_reply_to[:255],
            references=references,
            created_at=ticket.created_at,
        )
        _store_files(message, files, checked)
        _store_raw_attachments(message, raw_attachments)
    recorded = {
        name: getattr(ticket, f"{name}_id" if name in ("queue", "customer", "contact") else name)
        for name in TICKET_FIELDS
        if getattr(ticket, f"{name}_id" if name in ("queue", "customer", "contact") else name) not in ("", None, {})
    }
    recorded["number"] = ticket.number
    if tags:
        recorded["tags"] = _tag_names(tags)
    if follow_up_of is not None:
        recorded["follow_up_of"] = follow_up_of.number
    _audit(actor, "ticket.create", ticket, recorded)
    if follow_up_of is not None:
        # The closed ticket's history names its follow-up, as the follow-up names it.
        _audit(actor, "ticket.follow_up", follow_up_of, {"ticket": ticket.pk, "number": ticket.number})
    ticket_hooks.ticket_changed(ticket, "created", channel=ticket.channel)
    if assignee is not None:
        _set_owners(actor, [ticket], assignee, reason, detail, written=True)
        _move_cursor(locked_queue, ticket_assignment.Choice(assignee, reason))
    ticket._first_message = message  # for callers that answer with it
    return ticket


def _clean_new_custom(organization_id: int, values: dict[str, Any], *, enforce_required: bool) -> dict[str, Any]:
    """Custom field values of a new ticket, defaults applied. A customer (e-mail, web form) cannot fill in
    the organisation's required fields: those wait for the agent's first edit."""
    if enforce_required:
        return custom_fields.clean(organization_id, TICKET_TYPE, values, partial=False)
    cleaned = custom_fields.clean(organization_id, TICKET_TYPE, values, partial=True, current={})
    for definition in custom_fields.definitions_for(organization_id, TICKET_TYPE):
        if definition.default is not None and definition.key not in cleaned:
            cleaned[definition.key] = definition.default
    return cleaned


def _store_raw_attachments(message: TicketMessage, attachments: Sequence[Any]) -> list[str]:
    """Files that came with an e-mail or a web form, (name, bytes) pairs: the same checks as uploads; a
    refused file is left out and named in the return value (the message says so)."""
    from django.core.files.base import ContentFile

    refused = []
    files, checked = [], []
    for name, content in list(attachments)[:MAX_FILES]:
        file = ContentFile(content, name=uploads.clean_filename(name))
        try:
            checked.append(uploads.check_upload(file))
        except ValidationFailed as exc:
            refused.append(exc.message)
            continue
        files.append(file)
    if files:
        _store_files(message, files, checked)
    return refused


@transaction.atomic
def ticket_create(
    *,
    actor: Any,
    subject: str,
    body: str = "",
    owner: Any = None,
    assign_to_me: bool = False,
    tags: Sequence[Tag] = (),
    files: Sequence[Any] = (),
    **fields: Any,
) -> Ticket:
    """An agent creates a ticket (a phone call they took, or by hand; the API as channel "api"). `body` is
    what the customer said. The assignee: `owner` (someone else needs `assign`), the agent themselves with
    `assign_to_me`, else the queue's automatic assignment."""
    require(actor, "create", Ticket)
    _check_fields(fields, [f for f in TICKET_FIELDS if f != "subject"])
    fields.setdefault("channel", Ticket.Channel.PHONE)
    body = str(body or "").replace("\r\n", "\n").strip()
    if len(body) > BODY_MAX:
        raise _fail("body", _("A message has at most %(n)d characters.") % {"n": BODY_MAX})
    reason = "manual"
    if owner is not None and owner.pk != actor.pk:
        require(actor, "assign", Ticket)
        check_assignee(actor.organization_id, owner)
    elif owner is not None or assign_to_me:
        check_assignee(actor.organization_id, actor)
        owner, reason = actor, "creator"
    ticket = _create(
        actor=actor,
        organization_id=actor.organization_id,
        subject=subject,
        body=body,
        owner=owner,
        owner_reason=reason,
        tags=tags,
        files=files,
        by_agent=True,
        **fields,
    )
    if ticket.owner_id is None and not can(actor, "view", ticket):
        # The creator should keep seeing what they logged: nobody took it and it is outside their scope.
        check_assignee(actor.organization_id, actor)
        _lock(ticket)
        _set_owner(actor, ticket, actor, "creator")
    return ticket


# Editing --------------------------------------------------------------------------------------------------


def _audit_custom(changes: dict[str, Any]) -> dict[str, Any]:
    change = changes.pop("custom", None)
    if change:
        before, after = change.get("before") or {}, change.get("after") or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"custom.{key}"] = {"before": before.get(key), "after": after.get(key)}
    return changes


@transaction.atomic
def ticket_update(*, actor: Any, ticket: Ticket, expected_version: int | None, data: dict[str, Any]) -> Ticket:
    """Change the ticket's fields (and, with "tags", its exact set of tags). Status and assignee change
    through their own services. VersionConflict when the ticket changed since `expected_version`."""
    require(actor, "edit", ticket)
    return _update(actor, ticket, expected_version, data)


@dataclass(frozen=True)
class Escalation:
    """One ticket of tickets_escalate: its new owner (None: keep) and its new priority ("": keep)."""

    ticket: Ticket
    owner: Any = None
    priority: str = ""


@transaction.atomic
def ticket_escalate(*, actor: Any, ticket: Ticket, owner: Any = None, priority: str = "", detail: str = "") -> Ticket:
    """An SLA escalation (the sweep acts as a SystemActor): give the ticket to `owner` and/or raise it to
    `priority` through the same writes as an agent's reassignment and edit, so the audit entries, the hooks
    (the SLA clocks recompute for the new priority), the new assignee's notification and the ticket's history
    are the same. No permission check: the organisation's SLA policy decided."""
    if not tickets_escalate(actor=actor, escalations=[Escalation(ticket, owner, priority)], detail=detail):
        raise NotFound()
    return ticket


@transaction.atomic
def tickets_escalate(*, actor: Any, escalations: Sequence[Escalation], detail: str = "") -> list[Ticket]:
    """ticket_escalate for a batch (the SLA sweep's breaches): the tickets are locked in one query, written
    with one UPDATE per new owner and per new priority, audited with one chain lock per write, the hooks get
    the batch (the SLA clocks recompute the raised ones together), and each new assignee gets one
    notification for all their tickets. Deleted tickets are skipped; the escalated tickets are returned."""
    locked = {t.pk for t in _lock_many([e.ticket for e in escalations])}
    todo = [e for e in escalations if e.ticket.pk in locked]
    by_owner: dict[int, list[Escalation]] = {}
    for e in todo:
        if e.owner is not None and e.owner.pk != e.ticket.owner_id:
            by_owner.setdefault(e.owner.pk, []).append(e)
    for group in by_owner.values():
        _set_owners(actor, [e.ticket for e in group], group[0].owner, "escalation", detail)
    _update_many(
        actor, [(e.ticket, {"priority": e.priority}) for e in todo if e.priority and e.priority != e.ticket.priority]
    )
    return [e.ticket for e in todo]


def _update(actor: Any, ticket: Ticket, expected_version: int | None, data: dict[str, Any]) -> Ticket:
    data = dict(data)
    new_tags = data.pop("tags", None)
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict()
    before_priority = ticket.priority
    changes = _apply(ticket, data)
    org = ticket.organization_id
    tag_change = None
    if new_tags is not None:
        new_tags = _check_tags(org, new_tags)
        current = list(ticket.tags.all())
        if {t.pk for t in current} != {t.pk for t in new_tags}:
            tag_change = {"before": _tag_names(current), "after": _tag_names(new_tags)}
    if not changes and not tag_change:
        return ticket
    save_versioned(ticket, actor=actor, expected_version=expected_version, fields=list(changes) or ["updated_at"])
    if tag_change:
        wanted = {t.pk for t in new_tags}
        TicketTag.objects.filter(organization_id=org, ticket=ticket).exclude(tag_id__in=wanted).delete()
        have = set(TicketTag.objects.filter(organization_id=org, ticket=ticket).values_list("tag_id", flat=True))
        TicketTag.objects.bulk_create(
            [TicketTag(organization_id=org, ticket=ticket, tag_id=pk) for pk in wanted - have]
        )
        changes["tags"] = tag_change
    _updated(actor, [(ticket, changes, before_priority)])
    return ticket


def _update_many(actor: Any, items: Sequence[tuple[Ticket, dict[str, Any]]]) -> None:
    """_update for locked tickets without tags or an expected version (the SLA sweep's raised priorities):
    the same checks per ticket, one UPDATE per set of new values, the audit entries and hooks as a batch."""
    done: list[tuple[Ticket, dict[str, Any], str]] = []
    groups: dict[str, list[Ticket]] = {}
    for ticket, data in items:
        before_priority = ticket.priority
        changes = _apply(ticket, dict(data))
        if changes:
            done.append((ticket, changes, before_priority))
            key = json.dumps(audit.snapshot(ticket, sorted(changes)), sort_keys=True, default=str)
            groups.setdefault(key, []).append(ticket)
    changed = {id(ticket): list(changes) for ticket, changes, _p in done}
    for group in groups.values():
        first = group[0]
        names = [Ticket._meta.get_field(name).attname for name in changed[id(first)]]
        _write_many(group, actor, {name: getattr(first, name) for name in names})
    _updated(actor, done)


def _updated(actor: Any, items: Sequence[tuple[Ticket, dict[str, Any], str]]) -> None:
    """After tickets were edited: their audit entries, then the "priority_changed" hooks of the raised ones."""
    _audit_many(actor, "ticket.update", [(ticket, _audit_custom(changes)) for ticket, changes, _p in items])
    raised = [
        (ticket, {"before": before, "after": ticket.priority, "at": ticket.updated_at})
        for ticket, changes, before in items
        if "priority" in changes
    ]
    if raised:
        ticket_hooks.tickets_changed("priority_changed", raised)


def _apply(ticket: Ticket, data: dict[str, Any]) -> dict[str, Any]:
    """Check and clean `data` (no tags), set it on the ticket, and return the audit diff of what changed."""
    _check_fields(data, TICKET_FIELDS)
    org = ticket.organization_id
    if "subject" in data:
        data["subject"] = " ".join(str(data["subject"] or "").split())[:255]
        if not data["subject"]:
            raise _fail("subject", _("Enter a subject."))
    if "requester_email" in data:
        data["requester_email"] = _clean_email(data["requester_email"], "requester_email")
    if "kind" in data:  # a deactivated type stays on the tickets that have it, but is not chosen anew
        data["kind"] = choice_lists.validate(org, KINDS, data["kind"], field="kind", current=ticket.kind)
    if "queue" in data:
        _check_queue(org, data["queue"])
    if "contact" in data and data["contact"] is not None and "customer" not in data:
        data["customer"] = data["contact"].customer
    if "customer" in data or "contact" in data:
        customer = data.get("customer", ticket.customer)
        contact = data.get("contact", ticket.contact if "customer" not in data else None)
        if "customer" in data and "contact" not in data and ticket.contact_id and customer is not None:
            contact = ticket.contact if ticket.contact and ticket.contact.customer_id == customer.pk else None
        data["contact"] = contact
        _check_customer(org, customer, contact)
    if "custom" in data:
        data["custom"] = custom_fields.clean(
            org, TICKET_TYPE, data["custom"] or {}, partial=True, current=ticket.custom
        )
    names = list(data)
    before = audit.snapshot(ticket, names)
    for name, value in data.items():
        setattr(ticket, name, value)
    validate(ticket, exclude=[*_TRUSTED, "number"])
    return audit.diff(before, audit.snapshot(ticket, names))


@transaction.atomic
def ticket_delete(*, actor: Any, ticket: Ticket, expected_version: int | None = None) -> Ticket:
    """Move to the recycle bin; ticket_restore brings it back with its conversation."""
    require(actor, "delete", ticket)
    ticket.deleted_at = _now()
    save_versioned(ticket, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    _audit(actor, "ticket.delete", ticket)
    return ticket


@transaction.atomic
def tickets_delete(*, actor: Any, tickets: Iterable[Ticket]) -> int:
    count = 0
    for ticket in tickets:
        ticket_delete(actor=actor, ticket=ticket)
        count += 1
    return count


@transaction.atomic
def ticket_restore(*, actor: Any, ticket: Ticket) -> Ticket:
    require(actor, "restore", ticket)
    if ticket.deleted_at is None:
        return ticket
    now = _now()
    restored = Ticket.objects.filter(pk=ticket.pk, version=ticket.version, deleted_at__isnull=False).update(
        deleted_at=None, version=ticket.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    ticket.deleted_at, ticket.version, ticket.updated_at = None, ticket.version + 1, now
    _audit(actor, "ticket.restore", ticket)
    return ticket


# The conversation -----------------------------------------------------------------------------------------


def reply_recipient(ticket: Ticket) -> str:
    """Where a public reply goes: the requester, else the contact, else the customer."""
    for value in (
        ticket.requester_email,
        getattr(ticket.contact, "email_normalized", "") if ticket.contact_id else "",
        getattr(ticket.customer, "email_normalized", "") if ticket.customer_id else "",
    ):
        if value:
            return value
    return ""


@transaction.atomic
def ticket_reply(
    *, actor: Any, ticket: Ticket, body: str, files: Sequence[Any] = (), status: str | None = None
) -> TicketMessage:
    """A public reply: saved now, e-mailed to the requester after the commit (mail_out.send_reply, with a
    Message-ID of ours so that the customer's answer threads back). The first one sets first_responded_at.
    The ticket then becomes `status` (default: open; pending = waiting for the customer; resolved)."""
    from kehu.service import mail_out

    require(actor, "reply", ticket)
    body = _clean_body(body)
    if not reply_recipient(ticket):
        raise _fail(
            "requester_email",
            _("This ticket has no requester email to send a reply to: add one, or write an internal note."),
        )
    status = status or S.OPEN
    if status not in (S.OPEN, S.PENDING, S.RESOLVED):
        raise _fail("status", _("After a reply the ticket is open, pending or resolved."))
    checked = _check_files(files)
    _lock(ticket)
    previous = ticket.messages.exclude(message_id="").order_by("-created_at", "-pk").first()
    message = TicketMessage(
        organization_id=ticket.organization_id,
        ticket=ticket,
        kind=TicketMessage.Kind.REPLY,
        author=actor,
        author_name=str(actor)[:100],
        author_email=actor.email,
        body=body,
        message_id=mail_out.new_message_id(ticket),
        in_reply_to=previous.message_id if previous else "",
        references=mail_out.references_after(previous),
    )
    message.save()
    _store_files(message, files, checked)
    first = ticket.first_responded_at is None
    if first:
        _write(ticket, actor, {"first_responded_at": message.created_at})
    else:
        _touch(ticket)
    _audit(actor, "ticket.reply", ticket, {"message": message.pk, "files": len(files)})
    if first:
        ticket_hooks.ticket_changed(ticket, "first_response", at=message.created_at)
    if ticket.status != status:
        _change_status(actor, ticket, status)
    pk = message.pk
    transaction.on_commit(lambda: mail_out.queue_reply(pk))
    return message


@transaction.atomic
def ticket_note(*, actor: Any, ticket: Ticket, body: str, files: Sequence[Any] = ()) -> TicketMessage:
    """An internal note: never sent. On a new ticket it counts as the first agent action (it opens)."""
    require(actor, "note", ticket)
    body = _clean_body(body)
    checked = _check_files(files)
    _lock(ticket)
    message = TicketMessage.objects.create(
        organization_id=ticket.organization_id,
        ticket=ticket,
        kind=TicketMessage.Kind.NOTE,
        author=actor,
        author_name=str(actor)[:100],
        author_email=actor.email,
        body=body,
    )
    _store_files(message, files, checked)
    _touch(ticket)
    _audit(actor, "ticket.note", ticket, {"message": message.pk, "files": len(files)})
    if ticket.status == S.NEW:
        _change_status(actor, ticket, S.OPEN)
    return message


def _customer_message(
    *,
    actor: Any,
    ticket: Ticket,
    body: str,
    author_name: str,
    author_email: str,
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
    files: Sequence[Any] = (),
    raw_attachments: Sequence[Any] = (),
    locked: bool = False,
) -> TicketMessage:
    """Append a customer's message (the caller holds the transaction and checked the permission). Reopens a
    pending or resolved ticket. `locked`: the caller read the ticket FOR UPDATE in this transaction."""
    checked = _check_files(files)
    if not locked:
        _lock(ticket)
    message = TicketMessage.objects.create(
        organization_id=ticket.organization_id,
        ticket=ticket,
        kind=TicketMessage.Kind.CUSTOMER,
        author_name=author_name[:100],
        author_email=author_email[:254],
        body=body,
        message_id=message_id[:255],
        in_reply_to=in_reply_to[:255],
        references=references,
    )
    _store_files(message, files, checked)
    _store_raw_attachments(message, raw_attachments)
    Ticket.objects.filter(pk=ticket.pk).update(
        last_customer_message_at=message.created_at, updated_at=message.created_at
    )
    ticket.last_customer_message_at = ticket.updated_at = message.created_at
    _audit(actor, "ticket.customer_message", ticket, {"message": message.pk, "from": author_email})
    reopened = False
    if ticket.status in (S.PENDING, S.RESOLVED):
        reopened = _change_status(actor, ticket, S.OPEN, why="customer_replied")
    ticket_hooks.ticket_changed(ticket, "customer_replied", message=message, reopened=reopened)
    if ticket.owner_id and reopened:
        owner = ticket.owner
        with translation.override(owner.language or owner.organization.language):
            title = _("The customer replied to ticket #%(number)s: %(subject)s") % {
                "number": ticket.number,
                "subject": ticket.subject,
            }
        notify(recipient=owner, title=title, body=str(message), url=ticket.get_absolute_url())
    return message


@transaction.atomic
def ticket_log_customer_message(
    *, actor: Any, ticket: Ticket, body: str, files: Sequence[Any] = (), author_name: str = ""
) -> TicketMessage:
    """An agent writes down what the customer said (a phone call, a chat) as the customer's message."""
    require(actor, "edit", ticket)
    body = _clean_body(body)
    return _customer_message(
        actor=actor,
        ticket=ticket,
        body=body,
        author_name=author_name or ticket.requester_name or (ticket.contact.name if ticket.contact_id else ""),
        author_email=ticket.requester_email,
        files=files,
    )


# Customers merge ------------------------------------------------------------------------------------------


def move_tickets(*, actor: Any, survivor: Customer, others: list[Customer]) -> int:
    """Merging customers (customers/merge.py): their tickets now belong to the survivor. Contacts keep their
    ids when they move, so the tickets' contacts stay right."""
    return Ticket.objects.filter(organization_id=survivor.organization_id, customer__in=others).update(
        customer=survivor, updated_at=_now()
    )


# Subject keys -------------------------------------------------------------------------------------------


KEY_RE = re.compile(r"\[#(\d{1,9})\]")


def subject_key(subject: str) -> int | None:
    match = KEY_RE.search(subject or "")
    return int(match.group(1)) if match else None
