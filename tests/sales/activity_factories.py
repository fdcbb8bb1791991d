"""Activities made through the services, as a real user would make them."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

from django.utils import timezone

from kehu.sales import activity_services
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_customer

_seq = count(1)


def make_activity(
    tenant: Any, owner: Any = None, *, customer: Any = None, actor: Any = None, **fields: Any
) -> Activity:
    """A planned call of `tenant` owned by `owner` (default: the tenant's sales rep) on `customer` (default:
    a new customer of that owner, unless a lead, contact or opportunity is given), an hour from now,
    created by the administrator (or `actor`)."""
    owner = owner or tenant.users["sales_rep"]
    actor = actor or tenant.admin
    if customer is None and not any(fields.get(name) for name in ("lead", "contact", "opportunity")):
        customer = make_customer(tenant, owner)
    fields.setdefault("subject", f"跟进 {next(_seq)}")
    if fields.get("status") != Activity.Status.DONE and not (fields.get("starts_at") or fields.get("due_at")):
        fields["starts_at"] = timezone.now() + timedelta(hours=1)
    return activity_services.activity_create(actor=actor, owner=owner, customer=customer, **fields)
