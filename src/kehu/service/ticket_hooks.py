"""What happens to tickets, for other parts of the service module (SLA clocks, escalation, surveys).

MINIMAL VERSION written by the "sla" topic to test against, with the interface of the "ticket" topic's
module (which replaces this file at merge):

    ticket_hooks.register(callback)                    callback(ticket, event, **info)
    ticket_hooks.ticket_changed(ticket, event, **info)  called by the ticket services, inside their
                                                        transaction, after the ticket row is written

Events and their `info`: "created" (channel), "first_response" (at), "status_changed" (before, after, at),
"priority_changed" (before, after, at), "customer_replied" (message, reopened), "assigned" (before, after,
reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EVENTS = ("created", "first_response", "status_changed", "priority_changed", "customer_replied", "assigned")

Callback = Callable[..., Any]
_callbacks: dict[str, Callback] = {}


def register(callback: Callback) -> Callback:
    """Add `callback(ticket, event, **info)`; registering the same function again replaces it."""
    _callbacks[f"{callback.__module__}.{callback.__qualname__}"] = callback
    return callback


def unregister(callback: Callback) -> None:
    _callbacks.pop(f"{callback.__module__}.{callback.__qualname__}", None)


def callbacks() -> list[Callback]:
    return list(_callbacks.values())


def ticket_changed(ticket: Any, event: str, **info: Any) -> None:
    """Tell every registered callback."""
    if event not in EVENTS:
        raise ValueError(f"unknown ticket event {event!r}")
    for callback in list(_callbacks.values()):
        callback(ticket, event, **info)
