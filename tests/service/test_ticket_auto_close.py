"""Resolved tickets close by themselves after the organisation's number of days without a customer reply
(ticket_services.tickets_auto_close, the hourly beat job), audited and in the ticket's history. The clock is
passed in (`now`), so nothing here waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.service import ticket_config_services, ticket_selectors, ticket_services
from kehu.service.ticket_models import Ticket
from kehu.service.ticket_tasks import tickets_auto_close as auto_close_task
from tests.service.ticket_factories import make_ticket

pytestmark = pytest.mark.django_db


def resolved(tenant, days_ago: float) -> Ticket:
    ticket = make_ticket(tenant)
    ticket_services.ticket_resolve(actor=tenant.admin, ticket=ticket)
    # The customer wrote when the ticket opened, a day before it was resolved.
    resolved_at = timezone.now() - timedelta(days=days_ago)
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=resolved_at, last_customer_message_at=resolved_at - timedelta(days=1)
    )
    return ticket


def test_resolved_tickets_close_after_seven_days_by_default(tenant_a, tenant_b):
    old = resolved(tenant_a, 8)
    recent = resolved(tenant_a, 3)
    other_org = resolved(tenant_b, 8)
    now = timezone.now()
    assert ticket_services.tickets_auto_close(now=now, organization_id=tenant_a.org.pk) == 1
    assert Ticket.objects.get(pk=old.pk).status == "closed"
    assert Ticket.objects.get(pk=recent.pk).status == "resolved"
    assert Ticket.objects.get(pk=other_org.pk).status == "resolved"
    (entry,) = AuditEntry.objects.filter(action="ticket.status", target_id=str(old.pk), changes__why="auto_close")
    assert entry.actor_label == ticket_services.AUTO_CLOSE_LABEL and entry.changes["days"] == 7
    history = ticket_selectors.ticket_history_for(actor=tenant_a.admin, ticket=old)
    assert any("7" in item.text and item.action == "ticket.status" for item in history)
    # Idempotent; and a frozen clock moved on closes the recent one too.
    assert ticket_services.tickets_auto_close(now=now, organization_id=tenant_a.org.pk) == 0
    assert ticket_services.tickets_auto_close(now=now + timedelta(days=5), organization_id=tenant_a.org.pk) == 1


def test_the_delay_is_per_organisation_and_zero_turns_it_off(tenant_a):
    ticket = resolved(tenant_a, 3)
    ticket_config_services.service_settings_update(actor=tenant_a.admin, data={"auto_close_after_days": 2})
    assert ticket_services.tickets_auto_close(now=timezone.now(), organization_id=tenant_a.org.pk) == 1
    ticket = resolved(tenant_a, 30)
    ticket_config_services.service_settings_update(actor=tenant_a.admin, data={"auto_close_after_days": 0})
    assert ticket_services.tickets_auto_close(now=timezone.now(), organization_id=tenant_a.org.pk) == 0
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
    assert AuditEntry.objects.filter(action="service.settings").count() == 2


def test_a_recent_customer_reply_keeps_it_open(tenant_a):
    ticket = resolved(tenant_a, 10)
    Ticket.objects.filter(pk=ticket.pk).update(last_customer_message_at=timezone.now() - timedelta(days=1))
    assert ticket_services.tickets_auto_close(now=timezone.now(), organization_id=tenant_a.org.pk) == 0


def test_the_job_is_scheduled_and_runs(tenant_a):
    assert settings.CELERY_BEAT_SCHEDULE["service.tickets_auto_close"]["task"] == "service.tickets_auto_close"
    resolved(tenant_a, 8)
    assert auto_close_task() >= 1


def test_settings_page_and_api(tenant_a, client, api):
    from django.urls import reverse

    manager = tenant_a.users["service_manager"]
    client.force_login(manager)
    response = client.post(reverse("service:service_settings"), {"version": 1, "auto_close_after_days": 14})
    assert response.status_code == 302
    assert ticket_selectors.service_settings_for(organization_id=tenant_a.org.pk).auto_close_after_days == 14
    bad = client.post(reverse("service:service_settings"), {"version": 1, "auto_close_after_days": 999})
    assert bad.status_code == 400
    agent_client = api(tenant_a.users["service_agent"])
    assert agent_client.get("/api/v1/service-settings/").status_code == 403
    manager_api = api(manager)
    assert manager_api.get("/api/v1/service-settings/").json()["auto_close_after_days"] == 14
    response = manager_api.put("/api/v1/service-settings/", {"auto_close_after_days": 3}, format="json")
    assert response.status_code == 200 and response.json()["auto_close_after_days"] == 3
    bad = manager_api.put("/api/v1/service-settings/", {"auto_close_after_days": -1}, format="json")
    assert bad.status_code == 400 and "auto_close_after_days" in bad.json()["error"]["fields"]
