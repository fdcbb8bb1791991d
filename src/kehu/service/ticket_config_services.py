"""The service module's configuration around tickets: queues (members, manager, assignment method,
skills, mailbox, web form), canned replies, and agents' availability. One function per action, each in a
transaction with its audit entry, each checking `require` first."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, choice_lists
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require, validate
from kehu.customers.normalize import normalize_email
from kehu.service import mail_secrets
from kehu.service.ticket_models import KINDS, AgentStatus, CannedReply, Queue, ServiceSettings, Ticket
from kehu.service.ticket_visibility import forget_queues

QUEUE_FIELDS = (
    "name",
    "email",
    "manager",
    "members",
    "assignment",
    "skills",
    "is_default",
    "is_active",
    "web_form_enabled",
    "imap_enabled",
    "imap_host",
    "imap_port",
    "imap_ssl",
    "imap_user",
    "imap_password",
    "imap_folder",
)
CANNED_FIELDS = ("title", "body")
# Placeholders a canned reply may use, and where their values come from (placeholders()).
PLACEHOLDERS = (
    "customer_name",
    "contact_name",
    "requester_name",
    "ticket_number",
    "ticket_subject",
    "agent_name",
    "queue_name",
    "organization_name",
)
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ANY_PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _check_fields(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


# Queues ---------------------------------------------------------------------------------------------------


def _agents_ok(organization_id: int, users: Iterable[Any], field: str) -> list[Any]:
    users = list(users)
    for user in users:
        if (
            getattr(user, "organization_id", None) != organization_id
            or not user.is_active
            or not can(user, "view", Ticket)
        ):
            raise _fail(field, _("Choose active colleagues who work in service."))
    return users


def _clean_queue(queue: Queue, data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` for `queue`; return the values to set (members and password apart)."""
    org = queue.organization_id
    values: dict[str, Any] = {}
    if "name" in data:
        name = " ".join(str(data["name"] or "").split())
        if not name:
            raise _fail("name", _("Enter a name."))
        if len(name) > 100:
            raise _fail("name", _("At most %(n)d characters.") % {"n": 100})
        if Queue.objects.filter(organization_id=org, name=name).exclude(pk=queue.pk).exists():
            raise _fail("name", _("A queue with this name already exists."))
        values["name"] = name
    if "email" in data:
        email = str(data["email"] or "").strip()
        if email:
            try:
                email = normalize_email(email)
            except Exception as exc:
                raise _fail("email", _("Enter a valid email address.")) from exc
            # Mail is routed to a queue by its address alone, across organisations: it must be unique.
            if Queue.objects.dangerously_all_organizations().filter(email__iexact=email).exclude(pk=queue.pk).exists():
                raise _fail("email", _("This address is already used by another queue."))
        values["email"] = email
    if "manager" in data:
        manager = data["manager"]
        if manager is not None:
            _agents_ok(org, [manager], "manager")
        values["manager"] = manager
    if "assignment" in data:
        if data["assignment"] not in Queue.Assignment.values:
            raise _fail(
                "assignment", _("Choose one of: %(choices)s.") % {"choices": ", ".join(Queue.Assignment.values)}
            )
        values["assignment"] = data["assignment"]
    if "skills" in data:
        values["skills"] = _clean_skills(org, data["skills"])
    for name in ("is_default", "is_active", "web_form_enabled", "imap_enabled", "imap_ssl"):
        if name in data:
            if not isinstance(data[name], bool):
                raise _fail(name, _("Say true or false."))
            values[name] = data[name]
    for name, limit in (("imap_host", 255), ("imap_user", 254), ("imap_folder", 100)):
        if name in data:
            value = str(data[name] or "").strip()
            if len(value) > limit:
                raise _fail(name, _("At most %(n)d characters.") % {"n": limit})
            values[name] = value
    if "imap_port" in data:
        try:
            port = int(data["imap_port"])
        except (TypeError, ValueError) as exc:
            raise _fail("imap_port", _("Enter a port number between 1 and 65535.")) from exc
        if not 1 <= port <= 65535:
            raise _fail("imap_port", _("Enter a port number between 1 and 65535."))
        values["imap_port"] = port
    if "imap_folder" in values and not values["imap_folder"]:
        values["imap_folder"] = "INBOX"
    return values


def _clean_skills(organization_id: int, skills: Any) -> dict[str, list[int]]:
    """{ticket type: [user id, ...]}: known types, colleagues of the organisation who work in service."""
    if skills in (None, ""):
        return {}
    if not isinstance(skills, dict):
        raise _fail("skills", _("Skills are an object of ticket types and lists of user ids."))
    from kehu.accounts.models import User

    cleaned: dict[str, list[int]] = {}
    for kind, ids in skills.items():
        if kind not in choice_lists.labels(organization_id, KINDS):
            raise _fail("skills", _("Unknown ticket type %(kind)s.") % {"kind": kind})
        if not isinstance(ids, list | tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise _fail("skills", _("Skills are an object of ticket types and lists of user ids."))
        users = list(User.objects.filter(organization_id=organization_id, pk__in=ids))
        if len(users) != len(set(ids)):
            raise _fail("skills", _("Choose active colleagues who work in service."))
        _agents_ok(organization_id, users, "skills")
        if ids:
            cleaned[kind] = sorted(set(ids))
    return cleaned


def _queue_record(queue: Queue) -> dict[str, Any]:
    record = {
        name: getattr(queue, f"{name}_id" if name == "manager" else name)
        for name in QUEUE_FIELDS
        if name not in ("members", "imap_password")
    }
    record["members"] = sorted(queue.members.values_list("pk", flat=True)) if queue.pk else []
    return record


def _single_default(queue: Queue) -> None:
    if queue.is_default:
        Queue.objects.filter(organization_id=queue.organization_id, is_default=True).exclude(pk=queue.pk).update(
            is_default=False
        )


@transaction.atomic
def queue_create(*, actor: Any, **data: Any) -> Queue:
    require(actor, "create", Queue)
    _check_fields(data, QUEUE_FIELDS)
    if "name" not in data:
        raise _fail("name", _("Enter a name."))
    queue = Queue(organization_id=actor.organization_id)
    values = _clean_queue(queue, data)
    members = _agents_ok(actor.organization_id, data.get("members") or [], "members")
    for name, value in values.items():
        setattr(queue, name, value)
    queue.web_token = secrets.token_urlsafe(32)
    if data.get("imap_password"):
        queue.imap_password_encrypted = mail_secrets.encrypt(str(data["imap_password"]))
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError as exc:
        raise _fail("name", _("A queue with this name already exists.")) from exc
    queue.members.set(members)
    _single_default(queue)
    forget_queues(actor)
    changes = _queue_record(queue)
    if queue.imap_password_encrypted:
        changes["imap_password"] = "set"
    audit.record(actor=actor, action="queue.create", target=queue, changes=changes)
    return queue


@transaction.atomic
def queue_update(*, actor: Any, queue: Queue, expected_version: int | None, data: dict[str, Any]) -> Queue:
    """Change a queue. `imap_password`: a new password ("" keeps the stored one; clear it with
    queue_clear_password). VersionConflict when the queue changed since `expected_version`."""
    require(actor, "edit", queue)
    data = dict(data)
    _check_fields(data, QUEUE_FIELDS)
    if expected_version is not None and expected_version != queue.version:
        raise VersionConflict()
    before = _queue_record(queue)
    values = _clean_queue(queue, data)
    password = data.pop("imap_password", None)
    members = _agents_ok(queue.organization_id, data["members"], "members") if "members" in data else None
    for name, value in values.items():
        setattr(queue, name, value)
    fields = list(values)
    if password:
        queue.imap_password_encrypted = mail_secrets.encrypt(str(password))
        fields.append("imap_password_encrypted")
    if any(name.startswith("imap_") for name in values) or password:
        queue.imap_error = ""  # new mailbox settings: the last error no longer says anything
        fields.append("imap_error")
    now = timezone.now()
    expected = queue.version if expected_version is None else expected_version
    try:
        with transaction.atomic():
            updated = Queue.objects.filter(pk=queue.pk, version=expected).update(
                **{name: getattr(queue, Queue._meta.get_field(name).attname) for name in fields},
                version=expected + 1,
                updated_at=now,
            )
    except IntegrityError as exc:
        raise _fail("name", _("A queue with this name already exists.")) from exc
    if updated != 1:
        raise VersionConflict()
    queue.version, queue.updated_at = expected + 1, now
    if members is not None:
        queue.members.set(members)
    _single_default(queue)
    forget_queues(actor)
    changes = audit.diff(before, _queue_record(queue))
    if password:
        changes["imap_password"] = {"before": "***", "after": "***"}
    audit.record(actor=actor, action="queue.update", target=queue, changes=changes)
    return queue


@transaction.atomic
def queue_new_web_address(*, actor: Any, queue: Queue) -> Queue:
    """A new public web-form address (the old one stops working at once)."""
    require(actor, "edit", queue)
    queue.web_token = secrets.token_urlsafe(32)
    Queue.objects.filter(pk=queue.pk).update(web_token=queue.web_token, updated_at=timezone.now())
    audit.record(actor=actor, action="queue.new_web_address", target=queue)
    return queue


@transaction.atomic
def queue_delete(*, actor: Any, queue: Queue) -> None:
    """Queues are configuration: deleting one is for good (audited). Its tickets stay, without a queue."""
    require(actor, "delete", queue)
    audit.record(actor=actor, action="queue.delete", target=queue, changes={"name": queue.name})
    queue.delete()
    forget_queues(actor)


def mailbox_password(queue: Queue) -> str:
    """The decrypted IMAP password, for the mailbox job only (never shown, never in an API answer)."""
    return mail_secrets.decrypt(queue.imap_password_encrypted)


# Canned replies -------------------------------------------------------------------------------------------


def _clean_canned(reply: CannedReply, data: dict[str, Any]) -> None:
    if "title" in data:
        reply.title = " ".join(str(data["title"] or "").split())
        if not reply.title:
            raise _fail("title", _("Enter a title."))
        if len(reply.title) > 100:
            raise _fail("title", _("At most %(n)d characters.") % {"n": 100})
    if "body" in data:
        reply.body = str(data["body"] or "").replace("\r\n", "\n").strip()
        if not reply.body:
            raise _fail("body", _("Write the reply."))
        if len(reply.body) > 20_000:
            raise _fail("body", _("At most %(n)d characters.") % {"n": 20_000})
        unknown = sorted({m.group(1).strip() for m in ANY_PLACEHOLDER_RE.finditer(reply.body)} - set(PLACEHOLDERS))
        if unknown:
            raise _fail(
                "body",
                _("Unknown placeholders: %(unknown)s. Use: %(known)s.")
                % {
                    "unknown": ", ".join("{{" + u + "}}" for u in unknown),
                    "known": ", ".join("{{" + p + "}}" for p in PLACEHOLDERS),
                },
            )
    if (
        CannedReply.objects.filter(organization_id=reply.organization_id, title=reply.title)
        .exclude(pk=reply.pk)
        .exists()
    ):
        raise _fail("title", _("A canned reply with this title already exists."))


@transaction.atomic
def canned_create(*, actor: Any, title: str, body: str) -> CannedReply:
    require(actor, "create", CannedReply)
    reply = CannedReply(organization_id=actor.organization_id, created_by=actor)
    _clean_canned(reply, {"title": title, "body": body})
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise _fail("title", _("A canned reply with this title already exists.")) from exc
    audit.record(
        actor=actor, action="canned_reply.create", target=reply, changes={"title": reply.title, "body": reply.body}
    )
    return reply


@transaction.atomic
def canned_update(*, actor: Any, reply: CannedReply, expected_version: int | None, data: dict[str, Any]) -> CannedReply:
    require(actor, "edit", reply)
    _check_fields(data, CANNED_FIELDS)
    if expected_version is not None and expected_version != reply.version:
        raise VersionConflict()
    before = {"title": reply.title, "body": reply.body}
    _clean_canned(reply, data)
    changes = audit.diff(before, {"title": reply.title, "body": reply.body})
    if not changes:
        return reply
    now = timezone.now()
    expected = reply.version if expected_version is None else expected_version
    try:
        with transaction.atomic():
            updated = CannedReply.objects.filter(pk=reply.pk, version=expected).update(
                title=reply.title, body=reply.body, version=expected + 1, updated_at=now
            )
    except IntegrityError as exc:
        raise _fail("title", _("A canned reply with this title already exists.")) from exc
    if updated != 1:
        raise VersionConflict()
    reply.version, reply.updated_at = expected + 1, now
    audit.record(actor=actor, action="canned_reply.update", target=reply, changes=changes)
    return reply


@transaction.atomic
def canned_delete(*, actor: Any, reply: CannedReply) -> None:
    require(actor, "delete", reply)
    audit.record(actor=actor, action="canned_reply.delete", target=reply, changes={"title": reply.title})
    reply.delete()


def placeholders(*, ticket: Ticket, agent: Any) -> dict[str, str]:
    """The values a canned reply's placeholders take for `ticket` answered by `agent`."""
    customer = ticket.customer if ticket.customer_id else None
    contact = ticket.contact if ticket.contact_id else None
    requester = ticket.requester_name or (contact.name if contact else "") or ticket.requester_email
    return {
        "customer_name": customer.name if customer else requester,
        "contact_name": contact.name if contact else requester,
        "requester_name": requester,
        "ticket_number": str(ticket.number),
        "ticket_subject": ticket.subject,
        "agent_name": str(agent),
        "queue_name": ticket.queue.name if ticket.queue_id and ticket.queue else "",
        "organization_name": ticket.organization.name,
    }


def render_canned(*, actor: Any, reply: CannedReply, ticket: Ticket) -> str:
    """The reply's text for `ticket`: each {{placeholder}} replaced by its value (a fixed whitelist; plain
    text in, plain text out: no template engine ever sees what a user typed)."""
    require(actor, "view", reply)
    require(actor, "view", ticket)
    values = placeholders(ticket=ticket, agent=actor)
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)


# Agents' availability -------------------------------------------------------------------------------------


@transaction.atomic
def agent_set_away(*, actor: Any, user: Any = None, away: bool, note: str = "") -> AgentStatus:
    """Mark `user` (default: the actor) away or back: automatic assignment passes over agents who are away."""
    user = user or actor
    if getattr(user, "organization_id", None) != actor.organization_id:
        raise _fail("user", _("Choose a colleague of your organisation."))
    status, _created = AgentStatus.objects.select_for_update().get_or_create(
        organization_id=actor.organization_id, user=user
    )
    require(actor, "edit", status)
    if not isinstance(away, bool):
        raise _fail("away", _("Say true or false."))
    note = str(note or "").strip()
    if len(note) > 200:
        raise _fail("note", _("At most %(n)d characters.") % {"n": 200})
    if status.away == away and status.note == note:
        return status
    before = {"away": status.away, "note": status.note}
    status.away, status.note = away, note
    status.away_since = timezone.now() if away else None
    status.save(update_fields=["away", "note", "away_since"])
    audit.record(
        actor=actor,
        action="agent.away" if away else "agent.back",
        target=user,
        changes=audit.diff(before, {"away": away, "note": note}),
    )
    return status


# Settings -------------------------------------------------------------------------------------------------

SETTINGS_FIELDS = ("auto_close_after_days",)


@transaction.atomic
def service_settings_update(
    *, actor: Any, data: dict[str, Any], expected_version: int | None = None
) -> ServiceSettings:
    """Administrators change their organisation's service settings (the auto-close delay); audited as
    `service.settings`. VersionConflict when they changed since `expected_version`."""
    require(actor, "administer", ServiceSettings)
    _check_fields(data, SETTINGS_FIELDS)
    current = ServiceSettings.objects.select_for_update().filter(
        organization_id=actor.organization_id
    ).first() or ServiceSettings(organization_id=actor.organization_id)
    if expected_version is not None and expected_version != current.version:
        raise VersionConflict()
    before = audit.snapshot(current, SETTINGS_FIELDS)
    for name, value in data.items():
        setattr(current, name, value)
    validate(current, exclude=["organization", "updated_by"])
    changes = audit.diff(before, audit.snapshot(current, SETTINGS_FIELDS))
    if not changes and current.pk:
        return current
    if current.pk:
        current.version += 1
    current.updated_at, current.updated_by = timezone.now(), actor
    current.save()
    audit.record(actor=actor, action="service.settings", target=current, changes=changes)
    return current
