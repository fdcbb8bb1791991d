"""The public web form /help/<token>/ticket/: the queue behind an address, the per-IP rate limit, and the
submission (a ticket of the queue's organisation, channel "web", assigned by the queue's method, with an
acknowledgement e-mailed to the requester). The visitor is not a user: the audit entry names the form and
records the visitor's IP."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import custom_fields, modules
from kehu.core.errors import ValidationFailed
from kehu.service import ticket_selectors, ticket_services
from kehu.service.ticket_models import Queue, Ticket


def public_queue_for(token: str) -> Queue | None:
    """The queue behind a public address whose organisation has service enabled; else None (the visitor
    sees "not available" either way, and learns nothing about licences)."""
    queue = ticket_selectors.queue_by_token(token)
    if queue is None or not queue.organization.is_active or not modules.is_enabled(queue.organization, "service"):
        return None
    return queue


def _rate() -> tuple[int, int]:
    count, _slash, seconds = str(getattr(settings, "KEHU_TICKET_FORM_RATE", "10/600")).partition("/")
    return int(count), int(seconds or 600)


def rate_limited(ip: str | None) -> bool:
    """Count a submission from `ip`; True once it sent more than the allowed number in the window
    (KEHU_TICKET_FORM_RATE, "10/600"). A fixed window in the shared cache, so every process counts together."""
    limit, window = _rate()
    key = f"kehu:ticketform:ip:{ip or 'unknown'}"
    if cache.add(key, 1, timeout=window):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return False
    return count > limit


def _public_custom(organization_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """A visitor may fill in the public ticket fields only: any other key is refused like an unknown one, and
    the public fields marked required must be answered (the service checks values and types)."""
    public = {d.key: d for d in custom_fields.public_definitions_for(organization_id, ticket_services.TICKET_TYPE)}
    errors = {f"custom.{key}": [_("There is no custom field with this key.")] for key in values if key not in public}
    for key, definition in public.items():
        value = values.get(key)
        if definition.required and (value is None or value == [] or (isinstance(value, str) and not value.strip())):
            errors[definition.param] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(fields=errors)
    return values


@transaction.atomic
def web_form_submit(*, queue: Queue, data: dict[str, Any], ip: str | None) -> Ticket:
    actor = ticket_services.SystemActor(_("Web form of %(queue)s") % {"queue": queue.name}, queue.organization_id, ip)
    body = str(data.get("body") or "").strip()
    if not body:
        raise ticket_services._fail("body", _("Write a message."))
    ticket = ticket_services._create(
        actor=actor,
        organization_id=queue.organization_id,
        subject=data.get("subject", ""),
        body=body,
        kind=data.get("kind") or "",  # empty: the organisation's default type
        channel=Ticket.Channel.WEB,
        queue=queue,
        requester_email=data.get("email", ""),
        requester_name=data.get("name", ""),
        custom=_public_custom(queue.organization_id, data.get("custom") or {}),
    )
    from kehu.service.ticket_tasks import acknowledge

    pk = ticket.pk
    transaction.on_commit(lambda: acknowledge.delay(pk))
    return ticket
