"""The demo customers: created through the services by the demo's sales people, and only once."""

import pytest

from kehu.core import audit, demo
from kehu.customers.models import Contact, Customer, Tag
from kehu.customers.selectors import customer_list_for

pytestmark = pytest.mark.django_db


def test_the_demo_has_thirty_customers_with_contacts_and_tags_and_is_idempotent():
    ctx = demo.build()
    org = ctx.organization
    customers = Customer.objects.filter(organization=org)
    assert customers.count() == 30
    assert Contact.objects.filter(organization=org).count() >= 28
    assert Tag.objects.filter(organization=org).count() == 5
    assert customers.filter(tags__isnull=False).distinct().count() >= 15
    owners = {c.owner.email.split("@")[0] for c in customers.select_related("owner")}
    assert {"sales_rep", "sales_rep_2", "sales_manager"} <= owners
    assert all(c.phone_normalized and c.created_by_id == c.owner_id for c in customers)
    assert any("customers" in change for change in ctx.changes)
    # Scope shows a difference in the demo: each rep sees only their own.
    rep = ctx.users["sales_rep"]
    assert {c.owner_id for c in customer_list_for(actor=rep, limit=200)} == {rep.pk}
    assert len(customer_list_for(actor=ctx.users["sales_manager"], limit=200)) > len(
        customer_list_for(actor=rep, limit=200)
    )

    again = demo.build()
    assert not [c for c in again.changes if "customer" in c or "tag" in c]
    assert Customer.objects.filter(organization=org).count() == 30
    assert audit.verify() == []
