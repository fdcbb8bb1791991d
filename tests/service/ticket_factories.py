"""Queues, tickets and messages made through the services, as an agent or the intake would make them."""

from __future__ import annotations

from itertools import count
from typing import Any

from kehu.service import ticket_config_services, ticket_services
from kehu.service.ticket_models import Queue, Ticket

_seq = count(1)


def make_queue(tenant: Any, *, members: list[Any] | None = None, **fields: Any) -> Queue:
    fields.setdefault("name", f"队列 {next(_seq)}")
    fields.setdefault("assignment", Queue.Assignment.MANUAL)
    if members is None:
        members = [tenant.users["service_agent"]]
    return ticket_config_services.queue_create(actor=tenant.admin, members=members, **fields)


def make_ticket(tenant: Any, owner: Any = None, *, actor: Any = None, **fields: Any) -> Ticket:
    """A ticket of `tenant` logged by the admin (or `actor`), assigned to `owner` (default: the service
    agent). An owner who does not work in service (the matrix's sales colleagues) is set directly: the
    matrix needs tickets whose assignees sit in different teams."""
    owner = owner if owner is not None else tenant.users["service_agent"]
    actor = actor or tenant.admin
    fields.setdefault("subject", f"打印机无法连接 {next(_seq)}")
    fields.setdefault("body", "客户来电：打印机连不上网络。")
    fields.setdefault("requester_email", f"customer{next(_seq)}@example.com")
    fields.setdefault("requester_name", "王先生")
    from kehu.core.permissions import can

    if can(owner, "edit", Ticket):
        return ticket_services.ticket_create(actor=actor, owner=owner, **fields)
    ticket = ticket_services.ticket_create(actor=actor, owner=tenant.admin, **fields)
    Ticket.objects.filter(pk=ticket.pk).update(owner=owner)
    ticket.owner = owner
    return ticket


def make_message(tenant: Any, ticket: Ticket | None = None, **fields: Any) -> Any:
    ticket = ticket or make_ticket(tenant)
    return ticket_services.ticket_note(actor=tenant.admin, ticket=ticket, body=fields.get("body", "内部备注"))


def make_canned(tenant: Any, **fields: Any) -> Any:
    fields.setdefault("title", f"快捷回复 {next(_seq)}")
    fields.setdefault("body", "{{customer_name}} 您好，工单 #{{ticket_number}} 已收到。——{{agent_name}}")
    return ticket_config_services.canned_create(actor=tenant.admin, **fields)
