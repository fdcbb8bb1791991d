"""Blocks that other modules add to the customer's page: the only way a module shows something there
(the customers templates never load another module's template tags).

A module registers a block once, in its AppConfig.ready():

    from kehu.customers import panels
    panels.register(my_panel, module="sales", order=10)                    # a panel in the right column
    panels.register(my_button, module="sales", order=10, place="actions")  # a button in the page header

`my_panel(request, customer)` returns the block's HTML (rendered from the module's own template), or ""
for nothing, showing only what `request.user` may see. Blocks of modules the user may not view are skipped.
Places: "column" (the right-hand column, under the contacts; the default) and "actions" (the header buttons).
The page renders its header buttons itself; the column's blocks are loaded by htmx right after the page
(customers:panels), so `request` is then that request, not the page's: link back with the customer's URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from kehu.core.permissions import can

Panel = Callable[[Any, Any], str]


PLACES = ("column", "actions")


@dataclass(frozen=True)
class _Registration:
    module: str
    order: int
    panel: Panel
    place: str


_registry: dict[str, _Registration] = {}


def register(panel: Panel, *, module: str, order: int = 100, place: str = "column") -> Panel:
    """Add `panel` for `module` at `place`; registering the same function again replaces it."""
    if place not in PLACES:
        raise ValueError(f"Unknown panel place {place!r}; one of {PLACES}.")
    _registry[f"{panel.__module__}.{panel.__qualname__}"] = _Registration(
        module=module, order=order, panel=panel, place=place
    )
    return panel


def shown(actor: Any, *, place: str = "column") -> bool:
    """Whether some block at `place` is of a module the actor may view (the customer's page then loads the
    column's blocks after itself: customers.views.customer_panels)."""
    return any(r.place == place and can(actor, "view", r.module) for r in _registry.values())


def render(request: Any, customer: Any, *, place: str = "column") -> list[SafeString]:
    """The HTML of every block at `place` the user may see, in order."""
    out = []
    registrations = (r for r in _registry.values() if r.place == place)
    for registration in sorted(registrations, key=lambda r: r.order):
        if not can(request.user, "view", registration.module):
            continue
        html = registration.panel(request, customer)
        if html:
            out.append(mark_safe(html))  # noqa: S308 - rendered by the module's template, autoescaped there
    return out
