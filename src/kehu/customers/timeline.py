"""The customer timeline's one extension point.

A module that has something to show on a customer's timeline (activities, orders, payments, tickets,
emails) registers a provider once, in its AppConfig.ready():

    from kehu.customers import timeline
    timeline.register(my_provider, module="sales")

`my_provider(*, actor, customer, limit, before)` returns at most `limit` TimelineItems of that customer
that happened before `before` (a datetime, or None for "up to now"), newest first, and only what
`actor` may see. The timeline merges every provider whose module the actor may view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kehu.core.permissions import can


@dataclass(frozen=True)
class TimelineChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # a stable key, e.g. "customer.update", "activity.call", "order.paid"
    title: str
    actor: str = ""
    body: str = ""
    url: str = ""
    icon: str = "clock-history"
    changes: tuple[TimelineChange, ...] = field(default=())
    module: str = "customers"


Provider = Callable[..., Iterable[TimelineItem]]


@dataclass(frozen=True)
class _Registration:
    module: str
    provider: Provider


_registry: dict[str, _Registration] = {}


def register(provider: Provider, *, module: str) -> Provider:
    """Add `provider` for records of `module`; registering the same function again replaces it."""
    key = f"{provider.__module__}.{provider.__qualname__}"
    _registry[key] = _Registration(module=module, provider=provider)
    return provider


def providers() -> list[_Registration]:
    return list(_registry.values())


def collect(*, actor: Any, customer: Any, limit: int = 50, before: datetime | None = None) -> list[TimelineItem]:
    """The newest `limit` items of every provider the actor may see, merged newest first."""
    items: list[TimelineItem] = []
    for registration in _registry.values():
        if not can(actor, "view", registration.module):
            continue
        items.extend(registration.provider(actor=actor, customer=customer, limit=limit, before=before))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]
