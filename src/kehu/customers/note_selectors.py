"""Reads of notes and attachments, the mention picker's candidates, and the timeline providers.

Every read starts from `visible_to(actor)`: a note or file is visible exactly when its customer is; a
customer's page, which holds the customer's row, asks with `visible_of(actor, customer)`, the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.core.permissions import can
from kehu.customers import mentions, timeline
from kehu.customers.models import Customer
from kehu.customers.note_models import Attachment, Note

MENTION_LIMIT = 8
MENTION_QUERY_MAX = 50
NEWEST_ATTACHMENTS = 50  # the files panel of the customer's page


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


def note_list_for(*, actor: Any, customer: Customer | int | None = None) -> QuerySet[Note]:
    qs = Note.objects.visible_to(actor).select_related("customer__owner__team", "created_by", "contact")
    if customer is not None:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    return qs


def note_get_for(*, actor: Any, pk: Any) -> Note:
    return _get(note_list_for(actor=actor), pk)


def attachment_list_for(
    *, actor: Any, customer: Customer | int | None = None, note: Note | int | None = None
) -> QuerySet[Attachment]:
    qs = Attachment.objects.visible_to(actor).select_related("customer__owner__team", "created_by")
    if customer is not None:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    if note is not None:
        qs = qs.filter(note_id=getattr(note, "pk", note))
    return qs


def newest_attachments_for(*, actor: Any, customer: Customer) -> list[Attachment]:
    """The customer's newest NEWEST_ATTACHMENTS files that the actor may see, newest first. They are read once
    per customer instance (a view loads its customer afresh for each request): the timeline and the files
    panel of the customer's page share them."""
    memo = customer.__dict__.setdefault("_newest_attachments_for", {})
    if actor.pk not in memo:
        # The customer (with its owner, which the delete policy reads) is at hand: not joined again.
        qs = Attachment.objects.visible_of(actor, customer).select_related("created_by")
        attachments = list(qs.order_by("-created_at", "-pk")[:NEWEST_ATTACHMENTS])
        for attachment in attachments:
            attachment.customer = customer
        memo[actor.pk] = attachments
    return memo[actor.pk]


def attachment_get_for(*, actor: Any, pk: Any) -> Attachment:
    return _get(attachment_list_for(actor=actor), pk)


# Recycle bin -----------------------------------------------------------------------------------------


def note_recycle_bin_for(*, actor: Any, customer: Customer | int | None = None) -> QuerySet[Note]:
    """Deleted notes of live customers in the actor's scope, newest deletion first."""
    qs = Note.objects.in_recycle_bin_for(actor).select_related("customer__owner__team", "created_by", "updated_by")
    if customer is not None:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    return qs.order_by("-deleted_at", "-pk")


def note_deleted_get_for(*, actor: Any, pk: Any) -> Note:
    return _get(note_recycle_bin_for(actor=actor), pk)


def attachment_recycle_bin_for(*, actor: Any, customer: Customer | int | None = None) -> QuerySet[Attachment]:
    """Deleted files of live customers in the actor's scope, newest deletion first, each with its note."""
    qs = Attachment.objects.in_recycle_bin_for(actor).select_related(
        "customer__owner__team", "created_by", "updated_by", "note"
    )
    if customer is not None:
        qs = qs.filter(customer_id=getattr(customer, "pk", customer))
    return qs.order_by("-deleted_at", "-pk")


def attachment_deleted_get_for(*, actor: Any, pk: Any) -> Attachment:
    return _get(attachment_recycle_bin_for(actor=actor), pk)


@dataclass(frozen=True)
class MentionCandidate:
    user: Any
    can_see: bool  # may they open the customer? If not, a mention notifies nobody.

    @property
    def token(self) -> str:
        return mentions.token(str(self.user), self.user.pk)


def mention_candidates_for(*, actor: Any, customer: Customer, query: str, limit: int = MENTION_LIMIT) -> list[Any]:
    """Active colleagues whose name or email contains `query`, each with whether they can see `customer`
    (the picker says so before the author mentions someone who would not be notified)."""
    from kehu.accounts.models import User

    if not can(actor, "view", customer):
        raise NotFound()
    query = (query or "").strip().lstrip("@")[:MENTION_QUERY_MAX]
    qs = User.objects.visible_to(actor).filter(is_active=True).exclude(pk=actor.pk)
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(email__icontains=query))
    users = qs.select_related("role", "team", "organization").order_by("name", "email")[:limit]
    return [MentionCandidate(user=u, can_see=can(u, "view", customer)) for u in users]


# Timeline --------------------------------------------------------------------------------------------


def note_rows(organization_id: Any, customer_id: Any) -> QuerySet[Note]:
    """What note_timeline can show at most (timeline.register's `exists`): the customer's live notes."""
    return Note.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


def attachment_rows(organization_id: Any, customer_id: Any) -> QuerySet[Attachment]:
    """What attachment_timeline can show at most: the customer's live files."""
    return Attachment.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


def note_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The customer's notes, rendered (mentions as @Name), with their author and time."""
    # Only the author and the contact are shown: the customer and its owner are not joined again.
    qs = Note.objects.visible_of(actor, customer).select_related("created_by", "contact")
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    items = []
    for note in qs.order_by("-created_at", "-pk")[:limit]:
        title = _("Note")
        if note.contact_id:
            title = _("Note about %(contact)s") % {"contact": note.contact}
        if note.edited:
            title = f"{title} ({_('edited')})"
        items.append(
            timeline.TimelineItem(
                at=note.created_at,
                kind="note",
                title=title,
                actor=str(note.created_by) if note.created_by else "",
                body=mentions.plain(note.body),
                url=reverse("customers:note_edit", args=[note.pk]),
                icon="sticky",
            )
        )
    return items


def attachment_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    if before is None and limit <= NEWEST_ATTACHMENTS:  # the first page: what the files panel shows too
        attachments = newest_attachments_for(actor=actor, customer=customer)[:limit]
    else:
        qs = Attachment.objects.visible_of(actor, customer).select_related("created_by")
        if before is not None:
            qs = qs.filter(created_at__lt=before)
        attachments = list(qs.order_by("-created_at", "-pk")[:limit])
    items = []
    for attachment in attachments:
        items.append(
            timeline.TimelineItem(
                at=attachment.created_at,
                kind="attachment",
                title=_("Attached %(name)s") % {"name": attachment.original_name},
                actor=str(attachment.created_by) if attachment.created_by else "",
                body=filesizeformat(attachment.size),
                url=reverse("customers:attachment_download", args=[attachment.pk]),
                icon="paperclip",
            )
        )
    return items
