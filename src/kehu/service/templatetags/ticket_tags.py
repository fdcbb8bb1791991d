"""Template helpers of the ticket pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def ticket_due(ticket: Any, due: Any) -> str:
    """A due time as time left ("3 hours left"), or how long it is overdue (red while the ticket is open);
    the exact time on hover."""
    if due is None:
        return "—"
    now = timezone.now()
    exact = formats.date_format(timezone.localtime(due), "SHORT_DATETIME_FORMAT")
    if due < now:
        text = _("%(since)s overdue") % {"since": timesince(due, now, depth=1)}
        css = "text-nowrap text-danger fw-medium" if ticket.is_open else "text-nowrap"
    else:
        text = _("%(left)s left") % {"left": timeuntil(due, now, depth=1)}
        css = "text-nowrap"
    return format_html('<span class="{}" title="{}" data-due="{}">{}</span>', css, exact, due.isoformat(), text)
