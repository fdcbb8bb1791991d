"""Panels other topics add to the ticket page (the SLA clock, suggested articles, ...).

MINIMAL VERSION written by the "sla" topic only to test against; the "ticket" topic owns this module and
its version replaces this one at merge. The interface the SLA topic relies on:

    register(fn)                    fn(request, ticket) -> HTML (str) or "" / None for nothing
    render(request, ticket)         the panels' HTML, in registration order
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString, mark_safe

Panel = Callable[[Any, Any], Any]
_panels: list[Panel] = []


def register(fn: Panel) -> Panel:
    if fn not in _panels:
        _panels.append(fn)
    return fn


def render(request: Any, ticket: Any) -> list[SafeString]:
    out = []
    for fn in _panels:
        html = fn(request, ticket)
        if html:
            out.append(mark_safe(str(html)))  # noqa: S308 - each panel renders a template (autoescaped)
    return out
