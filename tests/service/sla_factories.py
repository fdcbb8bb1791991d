"""Tickets, queues, calendars, SLA policies, articles and surveys for the SLA topic's tests.

Tickets are made with Ticket.objects.create (the ticket services belong to the "ticket" topic); the SLA
clocks are then started by calling the SLA service directly, as the ticket hook would."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any

from django.db.models import Max
from django.utils import timezone

from kehu.service import knowledge_services, sla_services
from kehu.service.models import KbArticle, KbCategory, Queue, SlaPolicy, Survey, Ticket

_seq = count(1)


def make_queue(tenant: Any, *, name: str | None = None, manager: Any = None) -> Queue:
    return Queue.objects.create(
        organization=tenant.org,
        name=name or f"队列 {next(_seq)}",
        manager=manager if manager is not None else tenant.users["service_manager"],
    )


def make_ticket(
    tenant: Any,
    owner: Any = None,
    *,
    start_sla: bool = True,
    created_at: datetime | None = None,
    **fields: Any,
) -> Ticket:
    """A ticket of `tenant` owned by `owner` (default: the service agent). `owner=False` leaves it
    unassigned."""
    if owner is None:
        owner = tenant.users["service_agent"]
    number = (Ticket.objects.filter(organization=tenant.org).aggregate(m=Max("number"))["m"] or 0) + 1
    fields.setdefault("subject", f"测试工单 {next(_seq)}")
    fields.setdefault("requester_email", "customer@example.com")
    created = created_at or timezone.now()
    ticket = Ticket.objects.create(
        organization=tenant.org,
        owner=owner or None,
        created_by=tenant.admin,
        updated_by=tenant.admin,
        number=number,
        created_at=created,
        updated_at=created,
        **fields,
    )
    if start_sla:
        sla_services.sla_start(ticket=ticket, now=created)
        ticket.refresh_from_db()
    return ticket


def make_policy(tenant: Any, *, targets: dict | None = None, **data: Any) -> SlaPolicy:
    data.setdefault("name", f"SLA {next(_seq)}")
    if targets is None:
        targets = {
            "urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
            "high": {"first_response_minutes": 60, "resolution_minutes": 480},
            "normal": {"first_response_minutes": 120, "resolution_minutes": 1080},
            "low": {"first_response_minutes": 240, "resolution_minutes": 2160},
        }
    return sla_services.sla_policy_create(actor=tenant.admin, targets=targets, **data)


def make_calendar(tenant: Any, **data: Any):
    data.setdefault("name", f"日历 {next(_seq)}")
    return sla_services.calendar_create(actor=tenant.admin, **data)


def make_category(tenant: Any, name: str | None = None) -> KbCategory:
    return knowledge_services.kb_category_create(actor=tenant.admin, name=name or f"分类 {next(_seq)}")


def make_article(tenant: Any, owner: Any = None, *, publish: bool = True, **data: Any) -> KbArticle:
    actor = owner or tenant.admin
    data.setdefault("title", f"文章 {next(_seq)}")
    data.setdefault("body", "如何申请退款：登录后在订单页面点击申请退款。")
    data.setdefault("status", KbArticle.Status.PUBLISHED if publish else KbArticle.Status.DRAFT)
    return knowledge_services.kb_article_create(actor=actor, **data)


def make_survey(tenant: Any, owner: Any = None, *, score: int | None = None) -> Survey:
    """A survey of a resolved ticket owned by `owner` (default: the service agent), optionally answered."""
    from datetime import timedelta

    from kehu.service.models import SurveyResponse

    ticket = make_ticket(tenant, owner, status=Ticket.Status.RESOLVED, start_sla=False)
    survey = Survey.objects.create(
        organization=tenant.org,
        ticket=ticket,
        owner=ticket.owner,
        queue=ticket.queue,
        email=ticket.requester_email,
        sent_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=14),
    )
    if score is not None:
        SurveyResponse.objects.create(organization=tenant.org, survey=survey, score=score, responded_at=timezone.now())
    return survey
