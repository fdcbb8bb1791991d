"""Ticket events other topics react to (SLA clocks, satisfaction surveys, ...).

MINIMAL VERSION written by the "sla" topic only to test against; the "ticket" topic owns this module and
its version replaces this one at merge. The interface the SLA topic relies on:

    register(callback)                       callback(event, ticket, **details)
    emit(event, ticket, **details)           called by the ticket services after the change is saved,
                                             inside their transaction

Events: "created", "first_response", "status_changed" (details: before=<old status>),
"priority_changed" (details: before=<old priority>), "customer_replied".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EVENTS = ("created", "first_response", "status_changed", "priority_changed", "customer_replied")

Callback = Callable[..., Any]
_callbacks: list[Callback] = []


def register(callback: Callback) -> Callback:
    """Add a callback (registering the same function twice keeps one)."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


def emit(event: str, ticket: Any, **details: Any) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown ticket event {event!r}")
    for callback in list(_callbacks):
        callback(event, ticket, **details)
