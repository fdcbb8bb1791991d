"""Notify a user in the app (and, where asked, by email after commit)."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from kehu.core.models import Notification


def notify(*, recipient: Any, title: str, body: str = "", url: str = "", email: bool = False) -> Notification:
    note = Notification.objects.create(
        organization_id=recipient.organization_id, recipient=recipient, title=title[:255], body=body, url=url
    )
    if email and recipient.email and recipient.is_active:
        transaction.on_commit(
            lambda: send_mail(
                title, f"{body}\n\n{url}".strip(), settings.DEFAULT_FROM_EMAIL, [recipient.email], fail_silently=True
            )
        )
    return note


def notify_many(*, organization_id: int, notes: Iterable[tuple[Any, str, str, str]]) -> int:
    """In-app notifications for jobs that tell many people at once (the SLA sweep): (recipient, title, body,
    url) each, inserted in bulk; no e-mail. How many were sent."""
    rows = [
        Notification(organization_id=organization_id, recipient=recipient, title=title[:255], body=body, url=url)
        for recipient, title, body, url in notes
    ]
    Notification.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def notification_list_for(*, actor: Any) -> QuerySet[Notification]:
    """A user's own inbox; nobody reads another user's notifications."""
    return Notification.objects.filter(organization_id=actor.organization_id, recipient=actor)


def notifications_mark_read(*, actor: Any) -> int:
    return notification_list_for(actor=actor).filter(read_at__isnull=True).update(read_at=timezone.now())
