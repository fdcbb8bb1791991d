"""The public pool 公海: claim, release, the per-user limit, the reclaim cooldown, the automatic return,
visibility of pool customers, the timeline and notifications, and the recycle-bin purge.

Time-dependent rules are tested by setting timestamps directly (no clock freezing)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry, Notification
from kehu.customers import pool, pool_selectors, selectors, services, tasks
from kehu.customers.models import Contact, Customer, PoolMove, PoolSettings
from kehu.customers.pool import NotInPool, PoolCooldown, PoolLimitReached
from tests.customers.factories import make_contact, make_customer, make_deleted_customer, make_pool_customer


def rules(tenant, **values):
    return pool.pool_settings_update(actor=tenant.admin, data=values)


def fresh(customer):
    return Customer._base_manager.get(pk=customer.pk)


# Visibility ---------------------------------------------------------------------------------------------


def test_pool_customers_are_visible_to_every_member_of_the_organisation_only(tenant_a, tenant_b):
    ours = make_pool_customer(tenant_a, name="公海客户")
    theirs = make_pool_customer(tenant_b, name="别人的公海客户")
    owned = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    rep = tenant_a.users["sales_rep"]

    assert list(pool_selectors.pool_queryset_for(rep)) == [ours]
    assert selectors.customer_get_for(actor=rep, pk=ours.pk) == ours  # open it before claiming
    with pytest.raises(NotFound):
        selectors.customer_get_for(actor=rep, pk=theirs.pk)
    with pytest.raises(NotFound):  # the pool does not widen the scope to colleagues' customers
        selectors.customer_get_for(actor=rep, pk=owned.pk)
    assert list(pool_selectors.pool_queryset_for(tenant_b.users["sales_rep"])) == [theirs]
    # The rep's own list stays "my customers": the pool has its own page.
    assert ours.pk not in [c.pk for c in selectors.customer_list_for(actor=rep)]
    assert selectors.customer_timeline(actor=rep, customer=ours)  # the timeline opens too


def test_a_pool_customer_can_be_viewed_and_claimed_but_not_edited_by_a_rep(tenant_a):
    from kehu.core.permissions import can

    customer = make_pool_customer(tenant_a)
    rep, reader = tenant_a.users["sales_rep"], tenant_a.users["read_only"]
    assert can(rep, "view", customer) and can(rep, "claim", customer)
    assert not can(rep, "edit", customer) and not can(rep, "delete", customer) and not can(rep, "assign", customer)
    assert can(reader, "view", customer) and not can(reader, "claim", customer)
    assert can(tenant_a.users["sales_manager"], "assign", customer)


# Claim and release --------------------------------------------------------------------------------------


def test_release_needs_a_reason_and_puts_the_customer_and_its_contacts_in_the_pool(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    contact = make_contact(tenant_a, customer)
    with pytest.raises(ValidationFailed) as exc:
        pool.customer_release(actor=rep, customer=customer, reason="   ")
    assert "reason" in exc.value.fields
    assert fresh(customer).owner_id == rep.pk

    version = customer.version
    pool.customer_release(actor=rep, customer=customer, reason="客户暂无需求")
    saved = fresh(customer)
    assert saved.owner_id is None and saved.version == version + 1
    assert Contact.objects.get(pk=contact.pk).owner_id is None
    move = PoolMove.objects.get(customer=customer)
    assert (move.kind, move.previous_owner_id, move.reason) == ("release", rep.pk, "客户暂无需求")
    entry = AuditEntry.objects.get(action="customer.release", target_id=str(customer.pk))
    assert entry.changes == {"owner": {"before": rep.pk, "after": None}, "reason": "客户暂无需求"}
    with pytest.raises(ValidationFailed):  # already in the pool
        pool.customer_release(actor=tenant_a.admin, customer=saved, reason="again")


def test_a_rep_cannot_release_a_colleagues_customer(tenant_a):
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    with pytest.raises(NotFound):
        pool.customer_release(actor=tenant_a.users["sales_rep"], customer=customer, reason="x")
    with pytest.raises(PermissionDenied):  # sees the organisation's customers, may not change them
        pool.customer_release(actor=tenant_a.users["read_only"], customer=customer, reason="x")


def test_claim_makes_the_rep_the_owner_and_is_on_the_timeline(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_pool_customer(tenant_a, name="待领取")
    contact = make_contact(tenant_a, customer)
    pool.customer_claim(actor=rep, customer=customer)
    assert fresh(customer).owner_id == rep.pk
    assert Contact.objects.get(pk=contact.pk).owner_id == rep.pk
    assert selectors.customer_get_for(actor=rep, pk=customer.pk).owner_id == rep.pk
    kinds = [item.kind for item in selectors.customer_timeline(actor=rep, customer=customer)]
    assert kinds[:2] == ["contact.create", "customer.claim"] or kinds[:2] == ["customer.claim", "contact.create"]
    assert "customer.release" in kinds
    release = next(i for i in selectors.customer_timeline(actor=rep, customer=customer) if i.kind == "customer.release")
    assert "测试：放入公海" in release.body  # the reason shows on the timeline
    assert [(c.before, c.after) for c in release.changes] == [(str(tenant_a.admin), "—")]


def test_a_claim_of_a_customer_someone_else_claimed_first_is_refused(tenant_a):
    customer = make_pool_customer(tenant_a)
    stale = Customer.objects.get(pk=customer.pk)
    pool.customer_claim(actor=tenant_a.users["sales_rep_2"], customer=customer)
    with pytest.raises((NotInPool, PermissionDenied, NotFound)):
        pool.customer_claim(actor=tenant_a.users["sales_rep"], customer=stale)
    assert fresh(customer).owner_id == tenant_a.users["sales_rep_2"].pk
    assert not AuditEntry.objects.filter(action="customer.claim", actor=tenant_a.users["sales_rep"]).exists()


def test_a_stale_copy_that_passed_the_checks_still_loses_the_race(tenant_a):
    customer = make_pool_customer(tenant_a)
    Customer.objects.filter(pk=customer.pk).update(owner=tenant_a.users["sales_rep_2"])  # a concurrent claim
    with pytest.raises(NotInPool):
        pool.customer_claim(actor=tenant_a.users["sales_rep"], customer=customer)
    assert not PoolMove.objects.filter(customer=customer, kind="claim").exists()


def test_read_only_users_cannot_claim_and_claiming_for_a_colleague_needs_assign(tenant_a):
    customer = make_pool_customer(tenant_a)
    with pytest.raises(PermissionDenied):
        pool.customer_claim(actor=tenant_a.users["read_only"], customer=customer)
    with pytest.raises(PermissionDenied):
        pool.customer_claim(actor=tenant_a.users["sales_rep"], customer=customer, owner=tenant_a.users["sales_rep_2"])
    manager, rep2 = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    pool.customer_claim(actor=manager, customer=customer, owner=rep2)
    assert fresh(customer).owner_id == rep2.pk
    note = Notification.objects.get(recipient=rep2)
    assert customer.name in note.title and note.url.endswith(f"/customers/{customer.pk}/")


def test_claiming_another_organisations_customer_is_not_found(tenant_a, tenant_b):
    theirs = make_pool_customer(tenant_b)
    with pytest.raises(NotFound):
        pool_selectors.pool_customer_get_for(actor=tenant_a.users["sales_rep"], pk=theirs.pk)
    with pytest.raises(NotFound):
        pool.customer_claim(actor=tenant_a.admin, customer=theirs)
    assert fresh(theirs).owner_id is None


def test_the_per_user_limit_refuses_a_claim_naming_the_limit(tenant_a):
    rep = tenant_a.users["sales_rep"]
    rules(tenant_a, max_customers_per_rep=2)
    make_customer(tenant_a, owner=rep)
    first, second = make_pool_customer(tenant_a), make_pool_customer(tenant_a)
    with pytest.raises(PoolLimitReached) as exc:  # bulk: 1 held + 2 > 2, all or nothing
        pool.customers_claim(actor=rep, customers=[first, second])
    assert exc.value.code == "pool_limit_reached" and "2" in exc.value.message
    assert fresh(first).owner_id is None and fresh(second).owner_id is None
    pool.customer_claim(actor=rep, customer=first)
    with pytest.raises(PoolLimitReached):
        pool.customer_claim(actor=rep, customer=second)
    rules(tenant_a, max_customers_per_rep=0)  # 0: no limit
    pool.customer_claim(actor=rep, customer=second)
    assert fresh(second).owner_id == rep.pk


def test_a_released_customer_cannot_be_claimed_back_by_the_same_rep_during_the_cooldown(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    rules(tenant_a, reclaim_cooldown_days=3)
    customer = make_customer(tenant_a, owner=rep)
    pool.customer_release(actor=rep, customer=customer, reason="没有需求")
    released_at = PoolMove.objects.get(customer=customer).at
    with pytest.raises(PoolCooldown) as exc:
        pool.customer_claim(actor=rep, customer=fresh(customer))
    until = timezone.localtime(released_at + timedelta(days=3))
    assert until.strftime("%Y") in exc.value.message and exc.value.code == "pool_cooldown"
    assert pool_selectors.cooldown_until(user=rep, customer=customer, days=3) == released_at + timedelta(days=3)
    # The cooldown is the releasing rep's only, and it ends.
    assert pool_selectors.cooldown_until(user=rep2, customer=customer, days=3) is None
    PoolMove.objects.filter(customer=customer).update(at=timezone.now() - timedelta(days=3, minutes=1))
    pool.customer_claim(actor=rep, customer=fresh(customer))
    assert fresh(customer).owner_id == rep.pk


def test_a_manager_releasing_a_reps_customer_notifies_the_rep(tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep, name="要放回的客户")
    pool.customers_release(actor=manager, customers=[customer], reason="长期未跟进")
    note = Notification.objects.get(recipient=rep)
    assert "长期未跟进" in note.body and "要放回的客户" in note.body
    assert not Notification.objects.filter(recipient=manager).exists()


# Automatic return ---------------------------------------------------------------------------------------


def test_customers_without_follow_up_return_to_the_pool_once(tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    rules(tenant_a, auto_return_days=30)
    now = timezone.now()
    stale = make_customer(tenant_a, owner=rep, name="很久没联系")
    never = make_customer(tenant_a, owner=rep, name="从未联系")
    recent = make_customer(tenant_a, owner=rep, name="刚联系过")
    young = make_customer(tenant_a, owner=rep, name="新客户")
    other_org = make_customer(tenant_b, name="别的组织")  # tenant_b has no rule: untouched
    Customer.objects.filter(pk=stale.pk).update(
        created_at=now - timedelta(days=90), last_contacted_at=now - timedelta(days=31)
    )
    Customer.objects.filter(pk=never.pk).update(created_at=now - timedelta(days=31), last_contacted_at=None)
    Customer.objects.filter(pk=recent.pk).update(
        created_at=now - timedelta(days=90), last_contacted_at=now - timedelta(days=29)
    )
    Customer.objects.filter(pk=other_org.pk).update(created_at=now - timedelta(days=400))

    assert tasks.pool_recycle.delay().get() == 2  # the Celery task (eager in tests) calls the service
    assert fresh(stale).owner_id is None and fresh(never).owner_id is None
    assert fresh(recent).owner_id == rep.pk and fresh(young).owner_id == rep.pk
    assert fresh(other_org).owner_id is not None
    entry = AuditEntry.objects.get(action="customer.auto_return", target_id=str(stale.pk))
    assert entry.actor is None and entry.actor_label == "system" and entry.changes["days"] == 30
    assert PoolMove.objects.get(customer=stale).previous_owner_id == rep.pk
    note = Notification.objects.get(recipient=rep)
    assert "很久没联系" in note.body and "从未联系" in note.body
    item = next(
        i for i in selectors.customer_timeline(actor=rep, customer=fresh(stale)) if i.kind == "customer.auto_return"
    )
    assert "30" in item.body

    assert pool.pool_recycle() == 0  # idempotent
    assert AuditEntry.objects.filter(action="customer.auto_return").count() == 2
    # The former owner sits out the cooldown on an automatically returned customer too.
    with pytest.raises(PoolCooldown):
        pool.customer_claim(actor=rep, customer=fresh(stale))


def test_a_fresh_claim_restarts_the_clock(tenant_a):
    rep = tenant_a.users["sales_rep"]
    rules(tenant_a, auto_return_days=10, reclaim_cooldown_days=0)
    customer = make_pool_customer(tenant_a)
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() - timedelta(days=100))
    pool.customer_claim(actor=rep, customer=fresh(customer))
    assert pool.pool_recycle() == 0
    PoolMove.objects.filter(customer=customer, kind="claim").update(at=timezone.now() - timedelta(days=11))
    assert pool.pool_recycle() == 1


def test_auto_return_is_off_by_default_and_skips_organisations_without_the_module(tenant_a):
    customer = make_customer(tenant_a)
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() - timedelta(days=1000))
    assert pool_selectors.pool_settings_for(organization_id=tenant_a.org.pk).auto_return_days == 0
    assert pool.pool_recycle() == 0
    rules(tenant_a, auto_return_days=5)
    org = tenant_a.org
    type(org).objects.filter(pk=org.pk).update(enabled_modules=[m for m in org.enabled_modules if m != "customers"])
    assert pool.pool_recycle() == 0
    assert fresh(customer).owner_id is not None


def test_the_management_command_runs_the_housekeeping(tenant_a, capsys):
    rules(tenant_a, auto_return_days=1)
    customer = make_customer(tenant_a)
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() - timedelta(days=2))
    call_command("pool_recycle")
    out = capsys.readouterr().out
    assert "returned to the pool: 1" in out and "purged from the recycle bin: 0" in out
    assert fresh(customer).owner_id is None


# Settings -----------------------------------------------------------------------------------------------


def test_only_administrators_change_the_rules_and_values_are_validated(tenant_a):
    with pytest.raises(PermissionDenied):
        pool.pool_settings_update(actor=tenant_a.users["sales_manager"], data={"auto_return_days": 3})
    with pytest.raises(ValidationFailed) as exc:
        pool.pool_settings_update(actor=tenant_a.admin, data={"auto_return_days": 99999})
    assert "auto_return_days" in exc.value.fields
    saved = rules(tenant_a, auto_return_days=14, max_customers_per_rep=100)
    assert PoolSettings.objects.get(organization=tenant_a.org).auto_return_days == 14
    entry = AuditEntry.objects.get(action="customers.pool_settings")
    assert entry.changes["auto_return_days"] == {"before": 0, "after": 14}
    assert saved.recycle_bin_retention_days == 30


# Recycle bin purge --------------------------------------------------------------------------------------


def test_an_administrator_purges_a_deleted_customer_for_good(tenant_a):
    customer = make_deleted_customer(tenant_a, name="要彻底删除")
    contact_customer = make_customer(tenant_a)
    contact = make_contact(tenant_a, contact_customer)
    services.customer_delete(actor=tenant_a.admin, customer=contact_customer)
    with pytest.raises(PermissionDenied):
        pool.customer_purge(actor=tenant_a.users["sales_manager"], customer=fresh(customer))
    pool.customer_purge(actor=tenant_a.admin, customer=fresh(customer))
    pool.customer_purge(actor=tenant_a.admin, customer=fresh(contact_customer))
    assert not Customer._base_manager.filter(pk__in=[customer.pk, contact_customer.pk]).exists()
    assert not Contact._base_manager.filter(pk=contact.pk).exists()
    entry = AuditEntry.objects.get(action="customer.purge", target_id=str(customer.pk))
    assert entry.target_label == "要彻底删除" and entry.changes["purged_by"] == "administrator"


def test_a_live_customer_cannot_be_purged(tenant_a):
    customer = make_customer(tenant_a)
    with pytest.raises(PermissionDenied):
        pool.customer_purge(actor=tenant_a.admin, customer=customer)
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_the_retention_job_purges_what_lay_in_the_bin_too_long(tenant_a, tenant_b):
    old = make_deleted_customer(tenant_a)
    recent = make_deleted_customer(tenant_a)
    theirs = make_deleted_customer(tenant_b)
    live = make_customer(tenant_a)
    Customer._base_manager.filter(pk__in=[old.pk, theirs.pk]).update(deleted_at=timezone.now() - timedelta(days=31))
    rules(tenant_b, recycle_bin_retention_days=0)  # tenant_b keeps its bin forever
    assert tasks.recycle_bin_purge.delay().get() == 1
    assert not Customer._base_manager.filter(pk=old.pk).exists()
    assert Customer._base_manager.filter(pk__in=[recent.pk, theirs.pk, live.pk]).count() == 3
    entry = AuditEntry.objects.get(action="customer.purge", target_id=str(old.pk))
    assert entry.actor_label == "system" and entry.changes["purged_by"] == "retention 30 days"
    assert pool.recycle_bin_purge_expired() == 0  # idempotent
