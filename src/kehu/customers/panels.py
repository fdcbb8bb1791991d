"""Panels that other modules add to the customer's page (the right-hand column, under the contacts).

A module registers a panel once, in its AppConfig.ready():

    from kehu.customers import panels
    panels.register(my_panel, module="sales", order=10)

`my_panel(request, customer)` returns the panel's HTML (rendered from the module's own template), or ""
for nothing, showing only what `request.user` may see. Panels of modules the user may not view are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from kehu.core.permissions import can

Panel = Callable[[Any, Any], str]


@dataclass(frozen=True)
class _Registration:
    module: str
    order: int
    panel: Panel


_registry: dict[str, _Registration] = {}


def register(panel: Panel, *, module: str, order: int = 100) -> Panel:
    """Add `panel` for `module`; registering the same function again replaces it."""
    _registry[f"{panel.__module__}.{panel.__qualname__}"] = _Registration(module=module, order=order, panel=panel)
    return panel


def render(request: Any, customer: Any) -> list[SafeString]:
    """The HTML of every panel the user may see, in order."""
    out = []
    for registration in sorted(_registry.values(), key=lambda r: r.order):
        if not can(request.user, "view", registration.module):
            continue
        html = registration.panel(request, customer)
        if html:
            out.append(mark_safe(html))  # noqa: S308 - rendered by the module's template, autoescaped there
    return out
