"""Activity services: links and their validation, the customer's last contact and the lead's last activity,
status changes with their conflicts, versioned edits, soft delete, merge, and visibility."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.customers import merge, pool
from kehu.customers.models import Customer
from kehu.sales import activity_selectors as selectors
from kehu.sales import activity_services as services
from kehu.sales.activity_models import Activity
from kehu.sales.models import Lead
from tests.customers.factories import make_contact, make_customer
from tests.sales.activity_factories import make_activity
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db


def make_lead(tenant, owner=None, **fields):
    fields.setdefault("name", "线索 王先生")
    return Lead.objects.create(
        organization=tenant.org, owner=owner or tenant.users["sales_rep"], created_by=tenant.admin, **fields
    )


# Links ---------------------------------------------------------------------------------------------------


def test_a_planned_call_on_a_customer_is_audited_and_scheduled(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    at = timezone.now() + timedelta(days=1)
    activity = services.activity_create(
        actor=rep, kind="call", subject="  回访   报价  ", customer=customer, starts_at=at, remind_minutes_before=15
    )
    assert activity.subject == "回访 报价"
    assert activity.owner == rep and activity.status == Activity.Status.PLANNED
    assert activity.scheduled_at == at and activity.remind_at == at - timedelta(minutes=15)
    entry = AuditEntry.objects.get(action="activity.create", target_id=str(activity.pk))
    assert entry.changes["customer"] == customer.pk and entry.actor == rep
    customer.refresh_from_db()
    assert customer.last_contacted_at is None  # planning is not contacting


def test_the_customer_follows_from_the_contact_or_the_opportunity(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    contact = make_contact(tenant_a, customer)
    by_contact = make_activity(tenant_a, rep, actor=rep, customer=None, contact=contact)
    assert by_contact.customer == customer
    opportunity = make_opportunity(tenant_a, rep, customer=customer)
    by_opportunity = make_activity(tenant_a, rep, actor=rep, customer=None, opportunity=opportunity)
    assert by_opportunity.customer == customer


def test_at_least_one_link_is_required(tenant_a):
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="无关联", starts_at=timezone.now())
    assert "customer" in caught.value.fields


def test_links_must_belong_together(tenant_a):
    rep = tenant_a.users["sales_rep"]
    one, other = make_customer(tenant_a, rep), make_customer(tenant_a, rep)
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(
            actor=rep, subject="x", starts_at=timezone.now(), customer=one, contact=make_contact(tenant_a, other)
        )
    assert "contact" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(
            actor=rep,
            subject="x",
            starts_at=timezone.now(),
            customer=one,
            opportunity=make_opportunity(tenant_a, rep, customer=other),
        )
    assert "opportunity" in caught.value.fields


def test_a_record_of_another_organisation_is_not_found(tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    theirs = make_customer(tenant_b)
    for link in ({"customer": theirs}, {"contact": make_contact(tenant_b)}, {"lead": make_lead(tenant_b)}):
        with pytest.raises(NotFound):
            services.activity_create(actor=rep, subject="x", starts_at=timezone.now(), **link)
    assert not Activity.objects.filter(organization=tenant_a.org).exists()


def test_a_customer_outside_the_scope_is_not_found(tenant_a):
    colleague_customer = make_customer(tenant_a, tenant_a.users["sales_rep_2"])
    with pytest.raises(NotFound):
        services.activity_create(
            actor=tenant_a.users["sales_rep"], subject="x", starts_at=timezone.now(), customer=colleague_customer
        )


def test_a_planned_activity_needs_a_time_or_a_due_date_and_sane_numbers(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="x", customer=customer)
    assert "starts_at" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(
            actor=rep, subject="x", customer=customer, starts_at=timezone.now(), duration_minutes=10**6
        )
    assert "duration_minutes" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="   ", customer=customer, starts_at=timezone.now())
    assert "subject" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="x", customer=customer, starts_at=timezone.now(), colour="red")
    assert "colour" in caught.value.fields


def test_a_task_is_due_by_its_due_date(tenant_a):
    rep = tenant_a.users["sales_rep"]
    due = timezone.now() + timedelta(days=2)
    task = make_activity(tenant_a, rep, kind="task", starts_at=timezone.now() + timedelta(days=1), due_at=due)
    assert task.scheduled_at == due and task.calendar_at == task.starts_at


def test_a_rep_cannot_give_an_activity_to_a_colleague_a_manager_can(tenant_a):
    rep, rep2, manager = (tenant_a.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager"))
    customer = make_customer(tenant_a, rep2)
    with pytest.raises(PermissionDenied):
        services.activity_create(
            actor=rep, owner=rep2, subject="x", starts_at=timezone.now(), customer=make_customer(tenant_a, rep)
        )
    activity = services.activity_create(
        actor=manager, owner=rep2, subject="陪访", starts_at=timezone.now(), customer=customer
    )
    assert activity.owner == rep2
    with pytest.raises(ValidationFailed) as caught:  # the marketer has no sales
        services.activity_create(
            actor=manager, owner=tenant_a.users["marketer"], subject="x", starts_at=timezone.now(), customer=customer
        )
    assert "owner" in caught.value.fields


def test_a_read_only_user_cannot_create(tenant_a):
    with pytest.raises(PermissionDenied):
        services.activity_create(
            actor=tenant_a.users["read_only"], subject="x", starts_at=timezone.now(), customer=make_customer(tenant_a)
        )


# Last contacted ------------------------------------------------------------------------------------------


def test_logging_a_done_call_moves_last_contacted_forward_only(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    version = customer.version
    yesterday = timezone.now() - timedelta(days=1)
    services.activity_log(actor=rep, subject="电话", customer=customer, starts_at=yesterday)
    customer.refresh_from_db()
    assert customer.last_contacted_at == yesterday
    assert customer.version == version + 1  # an edit form opened before now conflicts instead of reverting it
    # An older follow-up logged later does not move it back.
    services.activity_log(actor=rep, subject="补录上周拜访", customer=customer, starts_at=yesterday - timedelta(days=6))
    customer.refresh_from_db()
    assert customer.last_contacted_at == yesterday
    # No audit entry on the customer of its own: the activity's entry is the record.
    assert (
        not AuditEntry.objects.filter(target_type="customers.customer", target_id=str(customer.pk))
        .exclude(action="customer.create")
        .exists()
    )


def test_completing_a_planned_visit_touches_the_customer_and_the_lead(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    lead = make_lead(tenant_a, rep)
    visit = make_activity(tenant_a, rep, customer=customer, lead=lead, kind="visit")
    before = timezone.now()
    services.activity_complete(actor=rep, activity=visit, outcome="客户同意试用")
    customer.refresh_from_db()
    lead.refresh_from_db()
    visit.refresh_from_db()
    # Done before its planned time: contacted when it was marked done.
    assert customer.last_contacted_at >= before and lead.last_activity_at == customer.last_contacted_at
    assert visit.status == Activity.Status.DONE and visit.outcome == "客户同意试用" and visit.done_at >= before
    assert AuditEntry.objects.filter(action="activity.complete", target_id=str(visit.pk)).exists()


def test_the_pool_rule_no_longer_picks_a_customer_after_a_logged_call(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() - timedelta(days=60))
    customer.refresh_from_db()
    assert pool.neglected_customers(organization_id=tenant_a.org.pk, days=30).filter(pk=customer.pk).exists()
    services.activity_log(actor=rep, subject="电话回访", customer=customer)
    assert not pool.neglected_customers(organization_id=tenant_a.org.pk, days=30).filter(pk=customer.pk).exists()


def test_a_done_time_in_the_future_is_refused(tenant_a):
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(ValidationFailed) as caught:
        services.activity_log(
            actor=rep, subject="x", customer=make_customer(tenant_a, rep), done_at=timezone.now() + timedelta(days=1)
        )
    assert "done_at" in caught.value.fields


# Status changes ------------------------------------------------------------------------------------------


def test_completing_twice_is_a_conflict_and_reopen_plans_it_again(tenant_a):
    rep = tenant_a.users["sales_rep"]
    call = make_activity(tenant_a, rep)
    stale = Activity.objects.get(pk=call.pk)
    services.activity_complete(actor=rep, activity=call)
    with pytest.raises(services.ActivityNotOpen) as caught:
        services.activity_complete(actor=rep, activity=stale)  # a second tab that still shows it planned
    assert caught.value.status == 409
    with pytest.raises(services.ActivityNotOpen):
        services.activity_cancel(actor=rep, activity=Activity.objects.get(pk=call.pk))
    services.activity_reopen(actor=rep, activity=call)
    call.refresh_from_db()
    assert call.status == Activity.Status.PLANNED and call.done_at is None
    with pytest.raises(services.ActivityAlreadyOpen):
        services.activity_reopen(actor=rep, activity=call)
    services.activity_cancel(actor=rep, activity=call, outcome="客户改期")
    call.refresh_from_db()
    assert call.status == Activity.Status.CANCELLED and call.outcome == "客户改期"


def test_a_stale_version_is_a_version_conflict(tenant_a):
    rep = tenant_a.users["sales_rep"]
    call = make_activity(tenant_a, rep)
    services.activity_update(actor=rep, activity=call, expected_version=1, data={"subject": "改期"})
    with pytest.raises(VersionConflict):
        services.activity_update(
            actor=rep, activity=Activity.objects.get(pk=call.pk), expected_version=1, data={"subject": "again"}
        )
    with pytest.raises(VersionConflict):
        services.activity_complete(actor=rep, activity=Activity.objects.get(pk=call.pk), expected_version=1)


def test_moving_the_time_moves_the_reminder_and_arms_it_again(tenant_a):
    rep = tenant_a.users["sales_rep"]
    at = timezone.now() + timedelta(hours=1)
    call = make_activity(tenant_a, rep, starts_at=at, remind_minutes_before=30)
    Activity.objects.filter(pk=call.pk).update(reminded_at=timezone.now())
    call.refresh_from_db()
    later = at + timedelta(days=1)
    services.activity_update(actor=rep, activity=call, expected_version=call.version, data={"starts_at": later})
    call.refresh_from_db()
    assert call.remind_at == later - timedelta(minutes=30) and call.reminded_at is None
    entry = AuditEntry.objects.get(action="activity.update", target_id=str(call.pk))
    assert set(entry.changes) >= {"starts_at", "scheduled_at", "remind_at"}


def test_changing_the_contact_follows_its_customer(tenant_a):
    rep = tenant_a.users["sales_rep"]
    first, second = make_customer(tenant_a, rep), make_customer(tenant_a, rep)
    call = make_activity(tenant_a, rep, customer=first, contact=make_contact(tenant_a, first))
    new_contact = make_contact(tenant_a, second)
    services.activity_update(actor=rep, activity=call, expected_version=call.version, data={"contact": new_contact})
    call.refresh_from_db()
    assert call.customer == second and call.contact == new_contact


def test_delete_and_restore(tenant_a):
    manager = tenant_a.users["sales_manager"]
    call = make_activity(tenant_a, tenant_a.users["sales_rep"])
    services.activity_delete(actor=manager, activity=call)
    assert not selectors.activity_list_for(actor=manager).filter(pk=call.pk).exists()
    assert selectors.activity_recycle_bin_for(actor=manager).filter(pk=call.pk).exists()
    services.activity_restore(actor=manager, activity=selectors.activity_deleted_get_for(actor=manager, pk=call.pk))
    assert selectors.activity_get_for(actor=manager, pk=call.pk)
    with pytest.raises(PermissionDenied):  # reps have no delete right in the default roles
        services.activity_delete(actor=tenant_a.users["sales_rep"], activity=call)


# Visibility ----------------------------------------------------------------------------------------------


def test_a_rep_sees_a_managers_visit_on_their_customer_but_does_not_edit_it(tenant_a):
    rep, rep2, manager = (tenant_a.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager"))
    customer = make_customer(tenant_a, rep)
    visit = make_activity(tenant_a, manager, customer=customer, kind="visit")
    assert selectors.activity_list_for(actor=rep).filter(pk=visit.pk).exists()
    assert can(rep, "view", visit) and not can(rep, "edit", visit)
    assert not selectors.activity_list_for(actor=rep2).filter(pk=visit.pk).exists()
    assert not can(rep2, "view", visit)
    with pytest.raises(PermissionDenied):
        services.activity_complete(actor=rep, activity=visit)
    with pytest.raises(NotFound):
        services.activity_complete(actor=rep2, activity=visit)


def test_activities_go_with_their_customer_into_the_recycle_bin(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    call = make_activity(tenant_a, rep, customer=customer)
    from kehu.customers import services as customer_services

    customer_services.customer_delete(actor=tenant_a.admin, customer=customer)
    assert not selectors.activity_list_for(actor=rep).filter(pk=call.pk).exists()
    assert not can(rep, "view", Activity.objects.get(pk=call.pk))


def test_merging_customers_moves_their_activities_to_the_survivor(tenant_a):
    admin = tenant_a.admin
    survivor, other = make_customer(tenant_a), make_customer(tenant_a)
    call = make_activity(tenant_a, customer=other)
    merge.customer_merge(actor=admin, survivor=survivor, others=[other])
    call.refresh_from_db()
    assert call.customer == survivor
    assert [a.pk for a in selectors.activities_for(actor=admin, customer=survivor)] == [call.pk]


def test_a_converted_leads_activities_join_the_customer(tenant_a):
    rep = tenant_a.users["sales_rep"]
    lead = make_lead(tenant_a, rep)
    call = make_activity(tenant_a, rep, lead=lead)
    customer = make_customer(tenant_a, rep)
    assert services.activities_link_converted_lead(actor=rep, lead=lead, customer=customer) == 1
    call.refresh_from_db()
    assert call.customer == customer and call.lead == lead


def test_clearing_the_reminder_clears_minutes_before_too(tenant_a):
    rep = tenant_a.users["sales_rep"]
    call = make_activity(tenant_a, rep, remind_minutes_before=15)
    services.activity_update(actor=rep, activity=call, expected_version=1, data={"remind_at": None})
    call.refresh_from_db()
    assert call.remind_at is None and call.remind_minutes_before is None
