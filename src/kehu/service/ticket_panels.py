"""Panels beside a ticket: other parts of the service module add a box to the ticket page's sidebar.

MINIMAL VERSION written by the "sla" topic to test against, with the interface of the "ticket" topic's
module (which replaces this file at merge):

    ticket_panels.register(panel, order=10)        panel(*, actor, ticket) -> None or (title, html)
    ticket_panels.panels_for(actor=, ticket=)      the shown panels, in order
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


_panels: dict[str, tuple[int, Panel]] = {}


def register(panel: Panel, *, order: int = 100) -> Panel:
    _panels[f"{panel.__module__}.{panel.__qualname__}"] = (order, panel)
    return panel


def unregister(panel: Panel) -> None:
    _panels.pop(f"{panel.__module__}.{panel.__qualname__}", None)


def panels_for(*, actor: Any, ticket: Any) -> list[ShownPanel]:
    shown = []
    for key, (_order, panel) in sorted(_panels.items(), key=lambda item: (item[1][0], item[0])):
        result = panel(actor=actor, ticket=ticket)
        if not result:
            continue
        title, html = result
        shown.append(ShownPanel(key=key.rsplit(".", 1)[-1], title=str(title), html=mark_safe(str(html))))  # noqa: S308
    return shown
