"""Template helpers of the ticket pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from django import template
from django.utils import dateformat, formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()

# The format characters date_formatter() writes itself (what Django's DateFormat gives for them); a format
# with any other (P, a, N, e, ...) goes to dateformat.format.
_PLAIN = {
    "Y": lambda d: f"{d.year:04d}",
    "m": lambda d: f"{d.month:02d}",
    "n": lambda d: str(d.month),
    "d": lambda d: f"{d.day:02d}",
    "j": lambda d: str(d.day),
    "H": lambda d: f"{d.hour:02d}",
    "G": lambda d: str(d.hour),
    "i": lambda d: f"{d.minute:02d}",
    "s": lambda d: f"{d.second:02d}",
}


@lru_cache(maxsize=64)
def date_formatter(format_string: str) -> Callable[[datetime], str]:
    """dateformat.format(value, format_string) as a function, the format parsed once: the ticket list writes
    two dates per row (the due time's exact time on hover, the last change), and Django parses the format
    and builds a DateFormat for each. Formats of digits and literals only (Y-m-d H:i, Y年n月j日 H:i) are
    written directly; others fall back to Django (tests compare the two)."""
    pieces = dateformat.re_formatchars.split(format_string)
    codes = pieces[1::2]
    if not all(code in _PLAIN for code in codes):
        return lambda value: dateformat.format(value, format_string)
    parts: list[Any] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            parts.append(_PLAIN[piece])
        elif piece:
            parts.append(dateformat.re_escaped.sub(r"\1", piece))

    def write(value: datetime) -> str:
        return "".join(part if type(part) is str else part(value) for part in parts)

    return write


class DueText:
    """A due time as time left ("3 hours left"), or how long it is overdue (red while the ticket is open);
    the exact time on hover. One instance serves a page: the clock, the time zone and the date format are
    read once (the list writes two per row, and reading them per cell was most of the rows' cost)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.zone = timezone.get_current_timezone()
        self.exact = date_formatter(formats.get_format("SHORT_DATETIME_FORMAT"))

    def __call__(self, ticket: Any, due: datetime | None) -> SafeString | str:
        if due is None:
            return "—"
        now = self.now
        exact = self.exact(due.astimezone(self.zone))
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
