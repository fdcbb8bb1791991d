"""Sales records made through the services, as a real user would make them."""

from __future__ import annotations

from itertools import count
from typing import Any

from kehu.sales import opportunity_services
from kehu.sales.models import Opportunity
from tests.customers.factories import make_customer

_seq = count(1)


def make_opportunity(tenant: Any, owner: Any = None, *, customer: Any = None, **fields: Any) -> Opportunity:
    """An opportunity of `tenant` owned by `owner` (default: the tenant's sales rep) for `customer` (default:
    a new customer of that owner), created by the administrator."""
    owner = owner or tenant.users["sales_rep"]
    fields.setdefault("name", f"测试商机 {next(_seq)}")
    customer = customer or make_customer(tenant, owner)
    return opportunity_services.create_opportunity(actor=tenant.admin, owner=owner, customer=customer, **fields)


def make_pipeline(tenant: Any, **fields: Any) -> Any:
    """A new pipeline of `tenant` with the standard stages (made by the administrator)."""
    fields.setdefault("name", f"测试流程 {next(_seq)}")
    return opportunity_services.create_pipeline(actor=tenant.admin, **fields)


def make_stage(tenant: Any, **fields: Any) -> Any:
    """A new open stage at the end of the tenant's default pipeline."""
    pipeline = opportunity_services.ensure_default_pipeline(tenant.org)
    fields.setdefault("name", f"测试阶段 {next(_seq)}")
    return opportunity_services.create_stage(actor=tenant.admin, pipeline=pipeline, **fields)
