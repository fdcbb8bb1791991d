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

A callback may come with a batch form, `batch(event, items)` with `items` a list of (ticket, info) pairs, for
services that change many tickets at once (the SLA sweep's escalations): it must do what calling the callback
for each pair would do, in fewer queries. Callbacks without one are called once per ticket.

    ticket_hooks.register(on_ticket, batch=on_tickets)

Callbacks run inside the ticket service's transaction, after the ticket row is written: they may change and
save the ticket (use `Ticket.objects.filter(pk=...).update(...)` for their own columns), and raising aborts
the whole change. They must be quick: heavy work belongs in a Celery task started with
`transaction.on_commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

EVENTS = ("created", "first_response", "status_changed", "priority_changed", "customer_replied", "assigned")

Callback = Callable[..., Any]
BatchCallback = Callable[[str, Sequence[tuple[Any, dict[str, Any]]]], Any]
_callbacks: dict[str, Callback] = {}
_batch_callbacks: dict[str, BatchCallback] = {}


def _key(callback: Callback) -> str:
    return f"{callback.__module__}.{callback.__qualname__}"


def register(callback: Callback, *, batch: BatchCallback | None = None) -> Callback:
    """Add `callback(ticket, event, **info)`, and its batch form if it has one; registering the same function
    again replaces it."""
    _callbacks[_key(callback)] = callback
    if batch is not None:
        _batch_callbacks[_key(callback)] = batch
    else:
        _batch_callbacks.pop(_key(callback), None)
    return callback


def unregister(callback: Callback) -> None:
    _callbacks.pop(_key(callback), None)
    _batch_callbacks.pop(_key(callback), None)


def callbacks() -> list[Callback]:
    return list(_callbacks.values())


def ticket_changed(ticket: Any, event: str, **info: Any) -> None:
    """Tell every registered callback; called by the ticket services (and the e-mail intake)."""
    tickets_changed(event, [(ticket, info)])


def tickets_changed(event: str, items: Sequence[tuple[Any, dict[str, Any]]]) -> None:
    """The same event for several tickets, (ticket, info) each: batch forms get them at once, the other
    callbacks once per ticket."""
    if event not in EVENTS:
        raise ValueError(f"unknown ticket event {event!r}")
    if not items:
        return
    for key, callback in list(_callbacks.items()):
        batch = _batch_callbacks.get(key)
        if batch is not None:
            batch(event, items)
        else:
            for ticket, info in items:
                callback(ticket, event, **info)
