"""SLA policy, calendar and service report pages, in English (the default language is Chinese)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.service import sla_services
from kehu.service.models import BusinessCalendar, CalendarDay, SlaPolicy, TicketSla
from tests.service.sla_factories import make_policy, make_queue, make_survey, make_ticket


@pytest.fixture
def admin_client(client, tenant_a):
    client.force_login(tenant_a.admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    tenant_a.admin.language = "en"
    tenant_a.admin.save(update_fields=["language"])
    return client


def test_the_policy_list_shows_an_empty_state_then_the_rules(admin_client, tenant_a):
    page = admin_client.get(reverse("service:sla_policies")).content.decode()
    assert 'data-testid="empty"' in page and "No SLA policies yet" in page
    make_policy(tenant_a, name="Key accounts", tiers=["A"])
    make_policy(tenant_a, name="Standard", is_default=True)
    page = admin_client.get(reverse("service:sla_policies")).content.decode()
    assert page.index("Key accounts") < page.index("Standard")
    assert "30m / 4h" in page  # urgent targets


def test_creating_a_policy_keeps_input_on_error_then_saves(admin_client, tenant_a):
    url = reverse("service:sla_policy_create")
    data = {"name": "VIP", "tiers": ["A"], "warning_percent": "80", "fr_urgent": "soon", "res_urgent": "4h"}
    response = admin_client.post(url, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="error-fr_urgent"' in page
    assert 'value="VIP"' in page and 'value="4h"' in page  # the input is kept
    data["fr_urgent"] = "1h30m"
    data["reassign"] = "user"  # without a colleague: the service names the field
    response = admin_client.post(url, data)
    assert 'data-testid="error-reassign_to"' in response.content.decode()
    data["reassign"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 302
    policy = SlaPolicy.objects.get(organization=tenant_a.org, name="VIP")
    assert policy.tiers == ["A"]
    assert sla_services.targets_of(policy) == {"urgent": (90, 240)}


def test_editing_a_policy_with_a_stale_version_keeps_the_input_and_warns(admin_client, tenant_a):
    policy = make_policy(tenant_a, name="Old")
    url = reverse("service:sla_policy_edit", args=[policy.pk])
    assert "Old" in admin_client.get(url).content.decode()
    sla_services.sla_policy_update(actor=tenant_a.admin, policy=policy, expected_version=1, data={"name": "Theirs"})
    response = admin_client.post(url, {"version": "1", "name": "Mine", "warning_percent": "70"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Someone else changed this record" in page and 'value="Mine"' in page and 'value="2"' in page
    response = admin_client.post(url, {"version": "2", "name": "Mine", "warning_percent": "70"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.warning_percent) == ("Mine", 70)


def test_move_and_delete_a_policy(admin_client, tenant_a):
    first = make_policy(tenant_a, name="First")
    second = make_policy(tenant_a, name="Second")
    admin_client.post(reverse("service:sla_policy_move", args=[second.pk]), {"direction": "up"})
    assert list(
        SlaPolicy.objects.filter(organization=tenant_a.org).order_by("position").values_list("name", flat=True)
    ) == [
        "Second",
        "First",
    ]
    admin_client.post(reverse("service:sla_policy_delete", args=[first.pk]))
    assert not SlaPolicy.objects.filter(pk=first.pk).exists()


def test_an_agent_reads_policies_but_cannot_change_them(client, tenant_a):
    policy = make_policy(tenant_a)
    client.force_login(tenant_a.users["service_agent"])
    page = client.get(reverse("service:sla_policies")).content.decode()
    assert policy.name in page and reverse("service:sla_policy_edit", args=[policy.pk]) not in page
    assert client.get(reverse("service:sla_policy_edit", args=[policy.pk])).status_code == 403
    assert client.post(reverse("service:sla_policy_delete", args=[policy.pk])).status_code == 403
    assert client.get(reverse("service:sla_policy_create")).status_code == 403


def test_a_sales_rep_has_no_service_pages(client, tenant_a):
    client.force_login(tenant_a.users["sales_rep"])
    assert client.get(reverse("service:sla_policies")).status_code == 403
    assert client.get(reverse("service:report")).status_code == 403


def test_calendar_pages_apply_holidays_in_one_click_and_edit_a_day(admin_client, tenant_a):
    page = admin_client.get(reverse("service:calendars")).content.decode()
    calendar = BusinessCalendar.objects.get(organization=tenant_a.org, is_default=True)  # made on first look
    assert calendar.name in page and "09:00-18:00" in page
    url = reverse("service:calendar_apply_holidays", args=[calendar.pk])
    response = admin_client.post(url, {"year": "2026"}, follow=True)
    page = response.content.decode()
    assert "Public holidays 2026 applied: 39 added" in page
    assert 'data-day="2026-02-14"' in page  # a make-up working day
    response = admin_client.post(url, {"year": "2027"}, follow=True)
    assert "provisional" in response.content.decode()

    day = CalendarDay.objects.get(calendar=calendar, date="2026-10-07")
    edit = reverse("service:calendar_day_edit", args=[day.pk])
    response = admin_client.post(
        edit, {"version": day.version, "date": "2026-10-07", "kind": "workday", "name": "上班"}
    )
    assert response.status_code == 302
    day.refresh_from_db()
    assert (day.kind, day.source) == ("workday", "manual")
    response = admin_client.post(
        reverse("service:calendar_day_create", args=[calendar.pk]), {"date": "2026-10-07", "kind": "holiday"}
    )
    assert 'data-testid="error-date"' in response.content.decode()
    admin_client.post(reverse("service:calendar_day_delete", args=[day.pk]))
    assert not CalendarDay.objects.filter(pk=day.pk).exists()


def test_calendar_form_parses_weekly_hours_and_refuses_bad_ones(admin_client, tenant_a):
    url = reverse("service:calendar_create")
    data = {
        "name": "Support desk",
        "time_zone": "Asia/Shanghai",
        "day_0": "09:00-12:00, 13:00-18:00",
        "day_5": "nine to five",
    }
    response = admin_client.post(url, data)
    assert 'data-testid="error-day_5"' in response.content.decode()
    data["day_5"] = "10:00-16:00"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(organization=tenant_a.org, name="Support desk")
    assert sla_services.load_calendar(calendar).weekly == {0: ((540, 720), (780, 1080)), 5: ((600, 960),)}
    response = admin_client.post(
        reverse("service:calendar_edit", args=[calendar.pk]),
        {"version": calendar.version, "name": "Support desk", "time_zone": "Asia/Shanghai", "is_default": "on"},
    )
    assert "at least one weekday" in response.content.decode()  # a calendar without working time is refused


def test_the_default_calendar_cannot_be_deleted(admin_client, tenant_a):
    calendar = sla_services.ensure_default_calendar(tenant_a.org)
    response = admin_client.post(reverse("service:calendar_delete", args=[calendar.pk]), follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


def test_the_service_report_shows_compliance_and_csat_with_a_chart(admin_client, tenant_a):
    make_policy(tenant_a, is_default=True)
    queue = make_queue(tenant_a, name="售后")
    agent = tenant_a.users["service_agent"]
    now = timezone.now()
    met = make_ticket(tenant_a, agent, queue=queue, priority="urgent", created_at=now - timedelta(minutes=5))
    met.first_responded_at = now
    met.save()
    sla_services.sla_sync(ticket=met, now=now)
    missed = make_ticket(tenant_a, agent, queue=queue, priority="urgent", created_at=now - timedelta(minutes=1))
    TicketSla.objects.filter(ticket=missed).update(first_response_met=False)
    make_survey(tenant_a, agent, score=5)
    make_survey(tenant_a, agent, score=2)
    make_survey(tenant_a, agent)

    response = admin_client.get(reverse("service:report"), {"period": "last_30_days"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "vendor/echarts/echarts.min.js" in page and 'nonce="' in page
    assert 'id="service-chart-data"' in page
    assert "50.0%" in page  # first response: one met, one missed
    assert "2<span" in page  # two answers of three surveys
    assert "售后" in page


def test_the_report_refuses_a_bad_custom_period_clearly(admin_client):
    response = admin_client.get(
        reverse("service:report"), {"period": "custom", "start": "2026-05-01", "end": "2026-04-01"}
    )
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in response.content.decode()
