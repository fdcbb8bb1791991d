"""Template helpers of the SLA clock: `{% load sla_tags %}` then `ticket|sla_clock` for lists (wall-clock
time to the next due date, no query), or a Clock from sla_selectors.ticket_clocks on the ticket page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.service import sla_selectors
from kehu.service.models import Ticket

register = template.Library()


@register.filter
def sla_clock(ticket: Any) -> sla_selectors.Clock | None:
    """The clock a list shows for a ticket: the first response while it is awaited, else the resolution;
    time left in wall-clock time (the ticket page shows business time)."""
    if ticket is None or getattr(ticket, "status", None) in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
        return None
    now = timezone.now()
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        key, label, due = "first_response", _("First response"), ticket.first_response_due_at
    elif ticket.resolution_due_at is not None:
        key, label, due = "resolution", _("Resolution"), ticket.resolution_due_at
    else:
        return None
    if key == "resolution" and ticket.status == Ticket.Status.PENDING:
        return sla_selectors.Clock(key, label, due, "paused", None)
    seconds = int((due - now).total_seconds())
    return sla_selectors.Clock(key, label, due, "overdue" if seconds <= 0 else "running", seconds)


@register.filter
def duration(seconds: Any) -> str:
    try:
        return sla_selectors.duration_label(abs(int(seconds)))
    except (TypeError, ValueError):
        return ""
