"""Template helpers of the ticket pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import dateformat, formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()


class DueText:
    """A due time as time left ("3 hours left"), or how long it is overdue (red while the ticket is open);
    the exact time on hover. One instance serves a page: the clock, the time zone and the date format are
    read once (the list writes two per row, and reading them per cell was most of the rows' cost)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.zone = timezone.get_current_timezone()
        self.exact_format = formats.get_format("SHORT_DATETIME_FORMAT")

    def __call__(self, ticket: Any, due: datetime | None) -> SafeString | str:
        if due is None:
            return "—"
        now = self.now
        exact = dateformat.format(due.astimezone(self.zone), self.exact_format)
        if due < now:
            text = _("%(since)s overdue") % {"since": timesince(due, now, depth=1)}
            css = "text-nowrap text-danger fw-medium" if ticket.is_open else "text-nowrap"
        else:
            text = _("%(left)s left") % {"left": timeuntil(due, now, depth=1)}
            css = "text-nowrap"
        # format_html's markup, escaped the same way, without its per-call formatting machinery.
        return mark_safe(  # noqa: S308 - every value is escaped
            f'<span class="{css}" title="{escape(exact)}" data-due="{due.isoformat()}">{escape(text)}</span>'
        )


@register.simple_tag
def ticket_due(ticket: Any, due: Any) -> str:
    """DueText for one due time (the ticket page)."""
    return DueText()(ticket, due)
