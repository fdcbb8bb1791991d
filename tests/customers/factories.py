"""Customers, contacts and tags made through the services, as a real user would make them."""

from __future__ import annotations

from itertools import count
from typing import Any

from kehu.customers import services
from kehu.customers.models import Contact, Customer, Tag

_seq = count(1)


def make_customer(tenant: Any, owner: Any = None, *, actor: Any = None, **fields: Any) -> Customer:
    """A customer of `tenant` owned by `owner` (default: the tenant's sales rep), created by the admin
    (or `actor`)."""
    owner = owner or tenant.users["sales_rep"]
    actor = actor or tenant.admin
    fields.setdefault("name", f"测试客户 {next(_seq)} 有限公司")
    customer, _dups = services.customer_create(actor=actor, owner=owner, **fields)
    return customer


def make_contact(tenant: Any, customer: Customer | None = None, **fields: Any) -> Contact:
    customer = customer or make_customer(tenant)
    fields.setdefault("name", f"联系人 {next(_seq)}")
    return services.contact_create(actor=tenant.admin, customer=customer, **fields)


def make_tag(tenant: Any, name: str | None = None, colour: str = "#0d6efd") -> Tag:
    return services.tag_create(actor=tenant.admin, name=name or f"标签 {next(_seq)}", colour=colour)


def make_pool_customer(tenant: Any, **fields: Any) -> Customer:
    """A customer in the public pool 公海 of `tenant`, released by the administrator who held it (so no
    rep's reclaim cooldown applies)."""
    from kehu.customers import pool

    customer = make_customer(tenant, tenant.admin, **fields)
    return pool.customer_release(actor=tenant.admin, customer=customer, reason="测试：放入公海")


def make_deleted_customer(tenant: Any, **fields: Any) -> Customer:
    """A customer in the recycle bin of `tenant`."""
    return services.customer_delete(actor=tenant.admin, customer=make_customer(tenant, **fields))
