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


def make_attachment(tenant: Any, ticket: Ticket | None = None) -> Any:
    """A file on an internal note of `ticket` (default: a new ticket)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = ticket or make_ticket(tenant)
    upload = SimpleUploadedFile("报告.txt", "打印机日志".encode(), content_type="text/plain")
    message = ticket_services.ticket_note(actor=tenant.admin, ticket=ticket, body="日志见附件", files=[upload])
    return message.attachments.get()


def make_agent_status(tenant: Any) -> Any:
    """A new agent of `tenant` who is away (each call a new one: lists must grow)."""
    from kehu.accounts import services as account_services

    n = next(_seq)
    agent = account_services.user_create(
        actor=tenant.admin,
        organization=tenant.org,
        email=f"agent{n}@{tenant.org.pk}.example.com",
        password="Kehu-test-pw-2026",
        role=tenant.role("service_agent"),
        name=f"客服 {n}",
    )
    return ticket_config_services.agent_set_away(actor=agent, away=True, note="休假")
