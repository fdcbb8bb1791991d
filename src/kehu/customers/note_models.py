"""Notes 备注/跟进 and attachments 附件 of customers (imported at the end of customers/models.py).

A note or an attachment is part of its customer's record: it is visible exactly when its customer is
(the data scope applies to the customer's owner, as for contacts), and it disappears with the customer
into the recycle bin. Files go through Django's storage API under a per-organisation prefix with a
random name: the original name is kept in a column only, so it never reaches a path or a URL.
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, scope_filter
from kehu.customers.models import LIVE, MODULE, Contact, Customer, CustomerPartQuerySet

__all__ = ["Attachment", "Note", "attachment_upload_to"]


class _PartOfCustomerQuerySet(CustomerPartQuerySet):
    def in_recycle_bin_for(self, actor: Any) -> _PartOfCustomerQuerySet:
        """Deleted notes or files of live customers the actor may see (the customer's own recycle-bin entry
        brings back its notes and files with it: they were never deleted one by one)."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(
            organization_id=actor.organization_id, deleted_at__isnull=False, customer__deleted_at__isnull=True
        )
        return qs.filter(scope_filter(actor, actor.grant_for(self.model.module).scope, owner_field="customer__owner"))


class Note(BusinessModel):
    """A note on a customer (optionally about one of its contacts). `owner` is the author.

    `mentions` holds the ids of the colleagues the body mentions (structured `@[Name](user:ID)` tokens),
    so that a later edit notifies only the newly mentioned ones.
    """

    module = MODULE

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="customer_notes", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact_notes",
        verbose_name=_("contact"),
    )
    body = models.TextField(_("note"))
    mentions = models.JSONField(_("mentions"), default=list, blank=True)

    objects = _PartOfCustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "customer", "created_at", "id"], condition=LIVE, name="note_org_cust"),
        ]

    def __str__(self) -> str:
        text = " ".join((self.body or "").split())
        return text[:60] + ("…" if len(text) > 60 else "")

    @property
    def edited(self) -> bool:
        return self.version > 1


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    """attachments/<organisation>/<yyyy>/<mm>/<random>.<ext>: the typed name never becomes a path."""
    ext = posixpath.splitext(filename)[1].lower()[:10]
    now = timezone.now()
    return f"attachments/{instance.organization_id}/{now:%Y/%m}/{uuid.uuid4().hex}{ext}"


class Attachment(BusinessModel):
    """A file on a customer (optionally attached to one of its notes). `owner` is who uploaded it."""

    module = MODULE

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("customer")
    )
    note = models.ForeignKey(
        Note, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments", verbose_name=_("note")
    )
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=120)
    sha256 = models.CharField(max_length=64)

    objects = _PartOfCustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "customer", "created_at", "id"], condition=LIVE, name="att_org_cust"),
            models.Index(
                fields=["organization", "note"],
                condition=Q(deleted_at__isnull=True, note__isnull=False),
                name="att_org_note",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
