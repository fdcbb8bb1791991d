"""Panels beside a ticket: other parts of the service module (knowledge suggestions, SLA clocks, surveys)
add a box to the ticket page's sidebar without editing its template.

    from kehu.service import ticket_panels

    def suggestions(*, actor, ticket):
        articles = ...  # what the actor may see
        if not articles:
            return None                      # no panel
        return _("Suggested articles"), render_to_string("service/knowledge/_suggestions.html", {...})

    ticket_panels.register(suggestions, order=10)   # once, in an AppConfig.ready()

A panel function returns None or (title, html); the html must be safe (rendered from a template, which
escapes what it shows). Panels are shown in `order`, then by name. A panel that raises breaks the page:
keep them small and defensive.

A panel the agent does not need to read and answer the ticket is registered `deferred=True`: it is not on
the page itself but in the side panels the page loads right after itself (ticket_views.ticket_side_panels,
one more request with the customer's contacts, other tickets and orders).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe

Panel = Callable[..., Any]


@dataclass(frozen=True)
class ShownPanel:
    key: str
    title: str
    html: SafeString


_panels: dict[str, tuple[int, Panel, bool]] = {}


def register(panel: Panel, *, order: int = 100, deferred: bool = False) -> Panel:
    _panels[f"{panel.__module__}.{panel.__qualname__}"] = (order, panel, deferred)
    return panel


def unregister(panel: Panel) -> None:
    _panels.pop(f"{panel.__module__}.{panel.__qualname__}", None)


def panels_for(*, actor: Any, ticket: Any, deferred: bool | None = None) -> list[ShownPanel]:
    """The panels shown for the ticket: all of them, or only those on the page itself (deferred=False) or
    only those of the side panels loaded after it (deferred=True)."""
    shown = []
    for key, (_order, panel, later) in sorted(_panels.items(), key=lambda item: (item[1][0], item[0])):
        if deferred is not None and later != deferred:
            continue
        result = panel(actor=actor, ticket=ticket)
        if not result:
            continue
        title, html = result
        # The panel's html comes from a template (escaped there); this only keeps Django from escaping it twice.
        shown.append(ShownPanel(key=key.rsplit(".", 1)[-1], title=str(title), html=mark_safe(str(html))))  # noqa: S308
    return shown
