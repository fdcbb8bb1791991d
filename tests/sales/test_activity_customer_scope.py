"""ActivityQuerySet.visible_on_customer: visible_to's rule decided once for the customer (its page's parts). It
must return exactly what visible_to returns for that customer, whoever asks and whatever the customer."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.customers import services as customer_services
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_customer, make_pool_customer
from tests.sales.activity_factories import make_activity
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db

ASKING = ("sales_rep", "sales_rep_2", "sales_manager", "administrator", "marketer", "analyst")


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def _activities_of_everyone(tenant, customer) -> None:
    """Activities of every owner on `customer`, one of each linked to a lead and to an opportunity of another
    owner, and one of each whose lead or opportunity is in the recycle bin (gone with it)."""
    owners = [tenant.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager")] + [tenant.admin]
    for owner in owners:
        make_activity(tenant, owner, customer=customer)
        make_activity(tenant, owner, customer=customer, status=Activity.Status.DONE)
    rep, rep2 = tenant.users["sales_rep"], tenant.users["sales_rep_2"]
    on_lead = make_activity(tenant, tenant.admin, customer=customer)
    Activity.objects.filter(pk=on_lead.pk).update(lead=make_lead(tenant, rep))
    on_deleted_lead = make_activity(tenant, rep, customer=customer)
    gone_lead = make_lead(tenant, rep)
    type(gone_lead).objects.filter(pk=gone_lead.pk).update(deleted_at=timezone.now())
    Activity.objects.filter(pk=on_deleted_lead.pk).update(lead=gone_lead)
    make_activity(
        tenant, tenant.admin, customer=customer, opportunity=make_opportunity(tenant, rep2, customer=customer)
    )
    gone = make_opportunity(tenant, rep, customer=customer)
    make_activity(tenant, rep, customer=customer, opportunity=gone)
    type(gone).objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    gone_activity = make_activity(tenant, rep, customer=customer)
    Activity.objects.filter(pk=gone_activity.pk).update(deleted_at=timezone.now())


def test_it_is_visible_to_of_the_customer_for_every_role_and_customer(tenant_a, tenant_b):
    users = tenant_a.users
    customers = [
        make_customer(tenant_a, users["sales_rep"]),  # the rep's own: the rule's customer branch covers all
        make_customer(tenant_a, users["sales_rep_2"]),  # a teammate's: the rep sees only their own activities
        make_customer(tenant_a, users["sales_manager"]),  # above the reps' team
        make_customer(tenant_a, tenant_a.admin),
        make_pool_customer(tenant_a),  # no owner: what anyone sees of it is through the activities' owners
    ]
    for customer in customers:
        _activities_of_everyone(tenant_a, customer)
    deleted = make_customer(tenant_a, users["sales_rep"])  # in the recycle bin with its activities
    _activities_of_everyone(tenant_a, deleted)
    deleted.refresh_from_db()
    customer_services.customer_delete(actor=tenant_a.admin, customer=deleted)
    elsewhere = make_customer(tenant_b, tenant_b.users["sales_rep"])
    _activities_of_everyone(tenant_b, elsewhere)

    checked = 0
    for key in ASKING:
        actor = users[key]
        for customer in [*customers, deleted, elsewhere]:
            customer.refresh_from_db()
            expected = _ids(Activity.objects.visible_to(actor).filter(customer_id=customer.pk))
            assert _ids(Activity.objects.visible_on_customer(actor, customer)) == expected, (key, customer.name)
            checked += bool(expected)
    assert checked >= 10  # not a matrix of empty sets


def test_a_teammates_customer_shows_a_rep_only_their_own_activities(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    customer = make_customer(tenant_a, rep2)
    make_activity(tenant_a, rep2, customer=customer)
    mine = make_activity(tenant_a, rep, customer=customer)
    assert _ids(Activity.objects.visible_on_customer(rep, customer)) == {mine.pk}
