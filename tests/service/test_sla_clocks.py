"""SLA clocks of tickets: policy choice, due dates in business time, pause while pending, met/missed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kehu.service import sla_services, ticket_hooks
from kehu.service.models import CalendarDay, Ticket, TicketSla
from tests.customers.factories import make_customer
from tests.service.sla_factories import make_calendar, make_policy, make_ticket

SH = ZoneInfo("Asia/Shanghai")


def at(d, hh=0, mm=0, month=3) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=SH)


MONDAY_10 = at(2, 10)  # Monday 2 March 2026, 10:00


@pytest.fixture
def standard(tenant_a):
    return make_policy(tenant_a, name="标准", is_default=True)


def test_a_new_ticket_gets_due_dates_in_business_time(tenant_a, standard):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10, priority="normal")  # 2 h / 18 h
    assert ticket.first_response_due_at == at(2, 12)
    # 18 business hours from Monday 10:00: 8 h Monday, 9 h Tuesday, 1 h Wednesday.
    assert ticket.resolution_due_at == at(4, 10)
    state = TicketSla.objects.get(ticket=ticket)
    assert state.policy == standard
    assert state.first_response_warn_at == at(2, 11, 36)  # 80% of 2 h
    assert state.next_check_at == state.first_response_warn_at


def test_the_first_matching_rule_wins_and_the_default_catches_the_rest(tenant_a, standard):
    vip = make_policy(
        tenant_a, name="VIP", tiers=["A"], targets={"normal": {"first_response_minutes": 30, "resolution_minutes": 240}}
    )
    make_policy(tenant_a, name="A urgent", tiers=["A"], priorities=["urgent"])  # after VIP: never reached
    key_account = make_customer(tenant_a, tier="A")
    other = make_customer(tenant_a, tier="C")

    vip_ticket = make_ticket(tenant_a, created_at=MONDAY_10, customer=key_account)
    assert vip_ticket.sla.policy == vip
    assert vip_ticket.first_response_due_at == at(2, 10, 30)
    assert make_ticket(tenant_a, created_at=MONDAY_10, customer=other).sla.policy == standard
    assert make_ticket(tenant_a, created_at=MONDAY_10).sla.policy == standard  # no customer: no tier

    sla_services.sla_policy_update(actor=tenant_a.admin, policy=vip, expected_version=None, data={"is_active": False})
    assert make_ticket(tenant_a, created_at=MONDAY_10, customer=key_account).sla.policy == standard


def test_a_priority_the_policy_has_no_target_for_gets_no_due_date(tenant_a):
    make_policy(tenant_a, is_default=True, targets={"urgent": {"first_response_minutes": 30}})
    ticket = make_ticket(tenant_a, created_at=MONDAY_10, priority="low")
    assert ticket.first_response_due_at is None and ticket.resolution_due_at is None
    assert ticket.sla.next_check_at is None


def test_without_any_policy_there_is_no_clock(tenant_a):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10)
    assert ticket.first_response_due_at is None
    assert ticket.sla.policy is None


def test_a_priority_change_recomputes_from_the_creation(tenant_a, standard):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10, priority="low")  # 4 h first response
    assert ticket.first_response_due_at == at(2, 14)
    ticket.priority = Ticket.Priority.URGENT
    ticket.save(update_fields=["priority"])
    sla_services.sla_recompute(ticket=ticket, now=at(2, 10, 5))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(2, 10, 30)
    assert ticket.resolution_due_at == at(2, 14)


def test_pending_pauses_the_resolution_clock_and_moves_the_due_date(tenant_a, standard):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10, priority="urgent")  # resolution 4 h: 14:00
    assert ticket.resolution_due_at == at(2, 14)
    ticket.status = Ticket.Status.PENDING
    ticket.save(update_fields=["status"])
    sla_services.sla_sync(ticket=ticket, now=at(2, 11))
    state = TicketSla.objects.get(ticket=ticket)
    assert state.paused_since == at(2, 11)
    assert state.next_check_at == state.first_response_warn_at  # only the first-response clock runs

    # The customer answers on Tuesday at 10:00: 7 h Monday + 1 h Tuesday of business time were paused.
    ticket.status = Ticket.Status.OPEN
    ticket.save(update_fields=["status"])
    sla_services.sla_sync(ticket=ticket, now=at(3, 10))
    ticket.refresh_from_db()
    state.refresh_from_db()
    assert state.paused_since is None
    assert state.paused_seconds == 8 * 3600
    # 3 h were left when the clock stopped: Tuesday 10:00 + 3 h.
    assert ticket.resolution_due_at == at(3, 13)
    # A later priority change keeps the paused time.
    sla_services.sla_recompute(ticket=ticket, now=at(3, 10, 1))
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == at(3, 13)


def test_a_pause_over_a_weekend_and_a_holiday_moves_only_by_business_time(tenant_a, standard):
    calendar = sla_services.ensure_default_calendar(tenant_a.org)
    sla_services.calendar_day_create(actor=tenant_a.admin, calendar=calendar, date="2026-03-09", name="假日")
    ticket = make_ticket(tenant_a, created_at=at(6, 16), priority="urgent")  # Friday 16:00 + 4 h
    assert ticket.resolution_due_at == at(10, 11)  # 2 h Friday, Monday 9 is a holiday, Tuesday 9-11
    ticket.status = Ticket.Status.PENDING
    sla_services.sla_sync(ticket=ticket, now=at(6, 17))
    ticket.status = Ticket.Status.OPEN
    sla_services.sla_sync(ticket=ticket, now=at(7, 12))  # back on Saturday: 1 business hour paused
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == at(10, 12)


def test_resolution_met_and_missed_are_recorded_and_a_reopen_continues(tenant_a, standard):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10, priority="urgent")
    ticket.first_responded_at = at(2, 10, 20)
    sla_services.sla_sync(ticket=ticket, now=at(2, 10, 20))
    assert TicketSla.objects.get(ticket=ticket).first_response_met is True

    ticket.status, ticket.resolved_at = Ticket.Status.RESOLVED, at(2, 13)
    sla_services.sla_sync(ticket=ticket, now=at(2, 13))
    state = TicketSla.objects.get(ticket=ticket)
    assert state.resolution_met is True
    assert state.next_check_at is None

    # Reopened on Monday 17:00: the time it spent resolved (4 h) is added, 1 h was left.
    ticket.status, ticket.resolved_at = Ticket.Status.OPEN, None
    sla_services.sla_sync(ticket=ticket, now=at(2, 17))
    ticket.refresh_from_db()
    state.refresh_from_db()
    assert state.resolution_met is None
    assert ticket.resolution_due_at == at(2, 18)

    ticket.status, ticket.resolved_at = Ticket.Status.RESOLVED, at(3, 9, 30)
    sla_services.sla_sync(ticket=ticket, now=at(3, 9, 30))
    state.refresh_from_db()
    assert state.resolution_met is False


def test_the_policys_own_calendar_is_used(tenant_a):
    weekend = make_calendar(tenant_a, name="全天候", working_hours=[(d, 0, 1440) for d in range(7)])
    make_policy(tenant_a, is_default=True, calendar=weekend)
    ticket = make_ticket(tenant_a, created_at=at(7, 23), priority="urgent")  # Saturday 23:00
    assert ticket.first_response_due_at == at(7, 23, 30)
    assert ticket.resolution_due_at == at(8, 3)


def test_ticket_hooks_drive_the_clocks(tenant_a, standard):
    ticket = make_ticket(tenant_a, start_sla=False, priority="urgent")
    assert not TicketSla.objects.filter(ticket=ticket).exists()
    ticket_hooks.ticket_changed(ticket, "created", channel="web")
    ticket.refresh_from_db()
    assert ticket.first_response_due_at is not None
    before = ticket.resolution_due_at
    ticket.status = Ticket.Status.PENDING
    ticket.save(update_fields=["status"])
    ticket_hooks.ticket_changed(ticket, "status_changed", before="open", after="pending")
    assert TicketSla.objects.get(ticket=ticket).paused_since is not None
    ticket.status = Ticket.Status.OPEN
    ticket_hooks.ticket_changed(ticket, "customer_replied", reopened=True)
    state = TicketSla.objects.get(ticket=ticket)
    assert state.paused_since is None
    ticket.refresh_from_db()
    assert ticket.resolution_due_at >= before


def test_holidays_applied_in_one_click_are_idempotent_and_keep_manual_edits(tenant_a):
    calendar = sla_services.ensure_default_calendar(tenant_a.org)
    first = sla_services.calendar_apply_cn_holidays(actor=tenant_a.admin, calendar=calendar, year=2026)
    assert first.added == 33 + 6 and first.provisional is False
    again = sla_services.calendar_apply_cn_holidays(actor=tenant_a.admin, calendar=calendar, year=2026)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)

    day = CalendarDay.objects.get(calendar=calendar, date="2026-10-07")
    sla_services.calendar_day_update(
        actor=tenant_a.admin, day=day, expected_version=day.version, data={"kind": "workday"}
    )
    third = sla_services.calendar_apply_cn_holidays(actor=tenant_a.admin, calendar=calendar, year=2026)
    assert third.kept == 1
    day.refresh_from_db()
    assert day.kind == "workday" and day.source == "manual"

    provisional = sla_services.calendar_apply_cn_holidays(actor=tenant_a.admin, calendar=calendar, year=2027)
    assert provisional.provisional is True
    assert CalendarDay.objects.filter(calendar=calendar, date__year=2027, provisional=True).count() == provisional.added


def test_recomputing_never_needs_more_than_a_few_queries(tenant_a, standard, django_assert_max_num_queries):
    ticket = make_ticket(tenant_a, created_at=MONDAY_10)
    ticket.priority = "high"
    with django_assert_max_num_queries(12):
        sla_services.sla_recompute(ticket=ticket, now=MONDAY_10 + timedelta(minutes=1))
