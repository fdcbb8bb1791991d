"""What happens to tickets, for other parts of the service module (SLA clocks, escalation, surveys) that
must react without editing the ticket services.

    from kehu.service import ticket_hooks

    def on_ticket(ticket, event, **info):
        if event in ("created", "priority_changed"):
            ...  # compute ticket.first_response_due_at / resolution_due_at and save them

    ticket_hooks.register(on_ticket)   # once, in an AppConfig.ready()

Events and their `info`:

- "created": the ticket was just created (its first message, if any, is saved). info: channel.
- "first_response": the first public reply went out. info: at (the reply's time).
- "status_changed": info: before, after (Ticket.Status values), at.
- "priority_changed": info: before, after, at.
- "customer_replied": a customer's message was added. info: message (the TicketMessage), reopened (bool).
- "assigned": the assignee changed. info: before (user id or None), after (user id or None), reason.

Callbacks run inside the ticket service's transaction, after the ticket row is written: they may change and
save the ticket (use `Ticket.objects.filter(pk=...).update(...)` for their own columns), and raising aborts
the whole change. They must be quick: heavy work belongs in a Celery task started with
`transaction.on_commit`.
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
    """Tell every registered callback; called by the ticket services (and the e-mail intake)."""
    if event not in EVENTS:
        raise ValueError(f"unknown ticket event {event!r}")
    for callback in list(_callbacks.values()):
        callback(ticket, event, **info)
