"""Writing, editing and deleting notes; uploading and deleting attachments. One function per action, each
in a transaction with its audit entry, each checking the permission first.

Mentions. A mentioned colleague is notified in the app and by email (after commit) with a link to the
customer. A colleague who cannot see the customer (another rep's "own" scope, a role without customers)
is NOT notified: the link would answer 404 for them, and the notification itself would leak the
customer's name and the note. The service returns them as `not_notified`, and the UI and the API tell
the author ("X cannot see this customer and was not notified") so that they can share it another way.
The mention stays in the text either way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.customers import mentions, uploads
from kehu.customers.models import Contact, Customer
from kehu.customers.note_models import Attachment, Note

logger = logging.getLogger(__name__)

BODY_MAX_LENGTH = 20000
EXCERPT_LENGTH = 200
_TRUSTED = ["organization", "owner", "created_by", "updated_by", "customer", "contact", "note"]


class NoteSaved(NamedTuple):
    note: Note
    notified: list[Any]  # colleagues notified of a (new) mention
    not_notified: list[Any]  # mentioned colleagues who cannot see the customer


def _excerpt(body: str) -> str:
    text = " ".join(mentions.plain(body).split())
    return text[:EXCERPT_LENGTH] + ("…" if len(text) > EXCERPT_LENGTH else "")


def _clean_body(body: Any) -> str:
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        message = _("Write something in the note.")
        raise ValidationFailed(message, fields={"body": [message]})
    if len(body) > BODY_MAX_LENGTH:
        message = _("A note may have at most %(max)d characters (it has %(count)d).") % {
            "max": BODY_MAX_LENGTH,
            "count": len(body),
        }
        raise ValidationFailed(message, fields={"body": [message]})
    return body


def _check_contact(customer: Customer, contact: Contact | None) -> None:
    if contact is None:
        return
    if contact.customer_id != customer.pk or contact.deleted_at is not None:
        message = _("Choose a contact of this customer.")
        raise ValidationFailed(message, fields={"contact": [message]})


def resolve_mentions(*, actor: Any, body: str, known: Iterable[int] = ()) -> list[Any]:
    """The colleagues `body` mentions, each once, in the order written.

    A structured token must name an active colleague of the actor's organisation (an id of anyone else
    fails on "body", like a missing one), unless it was already mentioned before (`known`: a colleague
    deactivated since keeps their old mention). A plain @word mentions the one colleague with that email
    or name, and nobody when none or several match.
    """
    from kehu.accounts.models import User

    found = mentions.find(body)
    if not found:
        return []
    known = set(known)
    ids = {m.user_id for m in found if m.user_id is not None}
    words = {m.word.casefold() for m in found if m.word}
    colleagues = User.objects.visible_to(actor).filter(is_active=True).select_related("role", "team", "organization")
    q = Q(pk__in=ids)
    if words:
        q |= Q(email__in=[w for w in words if "@" in w])
        names = [m.word for m in found if m.word]
        q |= Q(name__in=names)
    users = list(colleagues.filter(q))
    by_id = {u.pk: u for u in users}
    by_word: dict[str, list[Any]] = {}
    for user in users:
        for key in {user.email.casefold(), (user.name or "").casefold()} - {""}:
            by_word.setdefault(key, []).append(user)
    result: dict[int, Any] = {}
    for mention in found:
        if mention.user_id is not None:
            user = by_id.get(mention.user_id)
            if user is None and mention.user_id not in known:
                message = _("%(mention)s is not an active colleague; pick colleagues from the list.") % {
                    "mention": mentions.plain(mention.text)
                }
                raise ValidationFailed(message, fields={"body": [message]})
        else:
            matches = by_word.get(mention.word.casefold(), [])
            user = matches[0] if len(matches) == 1 else None
        if user is not None:
            result.setdefault(user.pk, user)
    return list(result.values())


def _notify_mentions(*, actor: Any, note: Note, users: list[Any], base_url: str) -> tuple[list[Any], list[Any]]:
    customer = note.customer
    notified, not_notified = [], []
    path = reverse("customers:detail", args=[customer.pk])
    link = urljoin(base_url, path) if base_url else path
    excerpt = _excerpt(note.body)
    for user in users:
        if user.pk == actor.pk:
            continue
        if not can(user, "view", customer):
            not_notified.append(user)
            continue
        language = user.language or user.organization.language
        with translation.override(language):
            title = _("%(actor)s mentioned you in a note on %(customer)s") % {"actor": actor, "customer": customer}
        notify(recipient=user, title=title, body=excerpt, url=path)
        if user.email:
            context = {"user": user, "actor": actor, "customer": customer, "excerpt": excerpt, "link": link}
            transaction.on_commit(
                lambda user=user, title=title, context=context, language=language: _send_mention_email(
                    user=user, subject=title, context=context, language=language
                ),
                robust=True,
            )
        notified.append(user)
    return notified, not_notified


def _send_mention_email(*, user: Any, subject: str, context: dict[str, Any], language: str) -> None:
    with translation.override(language):
        body = render_to_string("customers/email/mention.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


# Notes -----------------------------------------------------------------------------------------------


@transaction.atomic
def note_create(
    *,
    actor: Any,
    customer: Customer,
    body: str,
    contact: Contact | None = None,
    files: Iterable[Any] = (),
    base_url: str = "",
) -> NoteSaved:
    """Write a note on `customer` (with `files` attached to it: all or nothing); notify the colleagues it
    mentions who can see the customer.

    `base_url` (e.g. "https://crm.example.com/") makes the link in the email absolute."""
    require(actor, "view", customer)
    require(actor, "create", Note)
    _check_contact(customer, contact)
    body = _clean_body(body)
    mentioned = resolve_mentions(actor=actor, body=body)
    note = Note(
        organization_id=customer.organization_id,
        customer=customer,
        contact=contact,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        body=body,
        mentions=[u.pk for u in mentioned],
    )
    validate(note, exclude=_TRUSTED)
    note.save()
    changes = {"customer": customer.pk, "body": body}
    if contact is not None:
        changes["contact"] = contact.pk
    if mentioned:
        changes["mentions"] = note.mentions
    audit.record(actor=actor, action="note.create", target=note, changes=changes)
    attachments_create(actor=actor, customer=customer, files=files, note=note)
    notified, not_notified = _notify_mentions(actor=actor, note=note, users=mentioned, base_url=base_url)
    return NoteSaved(note, notified, not_notified)


@transaction.atomic
def note_update(
    *, actor: Any, note: Note, expected_version: int | None, data: dict[str, Any], base_url: str = ""
) -> NoteSaved:
    """Change the body (and/or the contact) of a note: its author, or an administrator. Refused with
    VersionConflict when the note changed since `expected_version` was read. Only colleagues newly
    mentioned by this edit are notified."""
    require(actor, "edit", note)
    unknown = sorted(set(data) - {"body", "contact"})
    if unknown:
        message = _("This field cannot be set here.")
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [message] for name in unknown},
        )
    if expected_version is not None and expected_version != note.version:
        raise VersionConflict()
    before = audit.snapshot(note, ["body", "contact", "mentions"])
    if "body" in data:
        note.body = _clean_body(data["body"])
    if "contact" in data:
        _check_contact(note.customer, data["contact"])
        note.contact = data["contact"]
    mentioned = resolve_mentions(actor=actor, body=note.body, known=note.mentions or [])
    previous = set(note.mentions or [])
    note.mentions = [u.pk for u in mentioned] + [
        pk for pk in previous if pk not in {u.pk for u in mentioned} and mentions_still_written(note.body, pk)
    ]
    changes = audit.diff(before, audit.snapshot(note, ["body", "contact", "mentions"]))
    if not changes:
        return NoteSaved(note, [], [])
    save_versioned(note, actor=actor, expected_version=expected_version, fields=["body", "contact", "mentions"])
    audit.record(actor=actor, action="note.update", target=note, changes=changes)
    new = [u for u in mentioned if u.pk not in previous]
    notified, not_notified = _notify_mentions(actor=actor, note=note, users=new, base_url=base_url)
    return NoteSaved(note, notified, not_notified)


def mentions_still_written(body: str, user_id: int) -> bool:
    """Is a structured mention of `user_id` still in the text (of a colleague deactivated since)?"""
    return any(m.user_id == user_id for m in mentions.find(body))


@transaction.atomic
def note_delete(*, actor: Any, note: Note, expected_version: int | None = None) -> Note:
    """Soft delete: the note and the files attached to it leave the customer's page and lists; the rows
    (and the files in storage) stay for the recycle bin's retention."""
    require(actor, "delete", note)
    now = timezone.now()
    note.deleted_at = now
    save_versioned(note, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    files = Attachment.objects.filter(organization_id=note.organization_id, note=note, deleted_at__isnull=True)
    file_ids = list(files.values_list("pk", flat=True))
    files.update(deleted_at=now, updated_at=now, updated_by_id=actor.pk)
    changes: dict[str, Any] = {"customer": note.customer_id}
    if file_ids:
        changes["attachments"] = file_ids
    audit.record(actor=actor, action="note.delete", target=note, changes=changes)
    return note


@transaction.atomic
def note_restore(*, actor: Any, note: Note) -> Note:
    """Bring a note back from the recycle bin with the files that were deleted together with it (the
    uploader or an administrator, like deleting). Refused with VersionConflict when the note changed
    since it was read."""
    require(actor, "restore", note)
    if note.deleted_at is None:
        return note
    deleted_at, now = note.deleted_at, timezone.now()
    restored = Note.objects.filter(pk=note.pk, version=note.version, deleted_at__isnull=False).update(
        deleted_at=None, version=note.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    note.deleted_at, note.version, note.updated_at, note.updated_by_id = None, note.version + 1, now, actor.pk
    # Files deleted on their own before the note keep their own recycle-bin entry.
    files = Attachment.objects.filter(organization_id=note.organization_id, note=note, deleted_at=deleted_at)
    file_ids = list(files.values_list("pk", flat=True))
    files.update(deleted_at=None, updated_at=now, updated_by_id=actor.pk)
    changes: dict[str, Any] = {"customer": note.customer_id}
    if file_ids:
        changes["attachments"] = file_ids
    audit.record(actor=actor, action="note.restore", target=note, changes=changes)
    return note


# Attachments -----------------------------------------------------------------------------------------


@transaction.atomic
def attachment_create(*, actor: Any, customer: Customer, file: Any, note: Note | None = None) -> Attachment:
    """Check and store an uploaded file on `customer` (and, optionally, one of its notes).

    The size, the extension and the content are checked before anything is written (uploads.check_upload).
    The file is written to storage first and removed again if the database write fails."""
    require(actor, "view", customer)
    require(actor, "create", Attachment)
    if note is not None and (note.customer_id != customer.pk or note.deleted_at is not None):
        message = _("Choose a note of this customer.")
        raise ValidationFailed(message, fields={"note": [message]})
    checked = uploads.check_upload(file)
    attachment = Attachment(
        organization_id=customer.organization_id,
        customer=customer,
        note=note,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        original_name=checked.name,
        size=checked.size,
        content_type=checked.content_type,
        sha256=checked.sha256,
    )
    attachment.file.save(checked.name, file, save=False)
    try:
        validate(attachment, exclude=[*_TRUSTED, "file"])
        attachment.save()
        changes = {"customer": customer.pk, "name": checked.name, "size": checked.size, "sha256": checked.sha256}
        if note is not None:
            changes["note"] = note.pk
        audit.record(actor=actor, action="attachment.create", target=attachment, changes=changes)
    except Exception:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def attachments_create(*, actor: Any, customer: Customer, files: Iterable[Any], note: Note | None = None) -> list[Any]:
    """Several files at once, all or nothing: the first refused file names itself and its reason."""
    files = list(files)
    for file in files:  # check every file before storing any, so a refusal leaves nothing behind
        uploads.check_upload(file)
    return [attachment_create(actor=actor, customer=customer, file=file, note=note) for file in files]


@transaction.atomic
def attachment_delete(*, actor: Any, attachment: Attachment) -> Attachment:
    """Soft delete (the uploader or an administrator); the stored file stays for the recycle bin."""
    require(actor, "delete", attachment)
    attachment.deleted_at = timezone.now()
    save_versioned(attachment, actor=actor, expected_version=None, fields=["deleted_at"])
    audit.record(
        actor=actor,
        action="attachment.delete",
        target=attachment,
        changes={"customer": attachment.customer_id, "name": attachment.original_name},
    )
    return attachment


@transaction.atomic
def attachment_restore(*, actor: Any, attachment: Attachment) -> Attachment:
    """Bring a file back from the recycle bin (the uploader or an administrator). A file of a deleted
    note comes back with its note: restore the note."""
    require(actor, "restore", attachment)
    if attachment.deleted_at is None:
        return attachment
    note = attachment.note
    if note is not None and note.deleted_at is not None:
        message = _("This file belongs to a deleted note. Restore the note, and its files come back with it.")
        raise ValidationFailed(message, fields={"note": [message]}, code="note_deleted")
    now = timezone.now()
    restored = Attachment.objects.filter(pk=attachment.pk, version=attachment.version, deleted_at__isnull=False).update(
        deleted_at=None, version=attachment.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    attachment.deleted_at, attachment.version = None, attachment.version + 1
    attachment.updated_at, attachment.updated_by_id = now, actor.pk
    audit.record(
        actor=actor,
        action="attachment.restore",
        target=attachment,
        changes={"customer": attachment.customer_id, "name": attachment.original_name},
    )
    return attachment


# Recycle bin retention ---------------------------------------------------------------------------------


def delete_stored_file(attachment: Attachment) -> None:
    """Remove the stored file through the storage API (disk or S3-compatible). A file already missing (a
    purge interrupted after its file went, a restored backup without the media) is not an error."""
    name = attachment.file.name
    if not name:
        return
    with contextlib.suppress(FileNotFoundError):
        attachment.file.storage.delete(name)


def attachment_purge(*, attachment: Attachment, reason: str, actor: Any = None, actor_label: str | None = None) -> None:
    """Delete a file of the recycle bin for good: the stored file first, then the row with its audit entry.
    In that order a failure leaves at worst a row whose file is gone (which the next run purges), never a
    stored file that nothing points at any more."""
    delete_stored_file(attachment)
    with transaction.atomic():
        audit.record(
            actor=actor,
            actor_label=actor_label,
            action="attachment.purge",
            target=attachment,
            changes={
                "customer": attachment.customer_id,
                "name": attachment.original_name,
                "deleted_at": attachment.deleted_at,
                "purged_by": reason,
            },
        )
        attachment.delete()


def note_purge(*, note: Note, reason: str, actor: Any = None, actor_label: str | None = None) -> None:
    """Delete a note of the recycle bin for good, with the files that were deleted together with it."""
    for attachment in Attachment.objects.filter(organization_id=note.organization_id, note=note).exclude(
        deleted_at__isnull=True
    ):
        attachment_purge(attachment=attachment, reason=reason, actor=actor, actor_label=actor_label)
    with transaction.atomic():
        audit.record(
            actor=actor,
            actor_label=actor_label,
            action="note.purge",
            target=note,
            changes={"customer": note.customer_id, "deleted_at": note.deleted_at, "purged_by": reason},
        )
        note.delete()


def purge_expired_notes_and_files(
    *, organization_id: int, cutoff: Any, reason: str, actor_label: str, batch: int = 200
) -> int:
    """Delete for good the notes and files of one organisation deleted before `cutoff`. Idempotent."""
    total = 0
    while True:  # files first: a note's own files go with it, and files deleted on their own are here
        files = list(
            Attachment.objects.filter(organization_id=organization_id, deleted_at__lt=cutoff).order_by("pk")[:batch]
        )
        for attachment in files:
            attachment_purge(attachment=attachment, reason=reason, actor_label=actor_label)
        total += len(files)
        if len(files) < batch:
            break
    while True:
        notes = list(Note.objects.filter(organization_id=organization_id, deleted_at__lt=cutoff).order_by("pk")[:batch])
        for note in notes:
            note_purge(note=note, reason=reason, actor_label=actor_label)
        total += len(notes)
        if len(notes) < batch:
            break
    return total
