"""Leads and their configuration made through the services, as a real user would make them."""

from __future__ import annotations

from itertools import count
from typing import Any

from kehu.sales import lead_assignment, lead_services, lead_webforms
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSource, WebForm

_seq = count(1)


def make_lead(tenant: Any, owner: Any = None, *, actor: Any = None, **fields: Any) -> Lead:
    """A lead of `tenant` owned by `owner` (default: the tenant's sales rep), created by the administrator
    (or `actor`) with that owner given, so no assignment rule applies."""
    owner = owner or tenant.users["sales_rep"]
    fields.setdefault("name", f"测试线索 {next(_seq)}")
    return lead_services.lead_create(actor=actor or tenant.admin, owner=owner, **fields)


def make_qualified_lead(tenant: Any, owner: Any = None, **fields: Any) -> Lead:
    fields.setdefault("status", Lead.Status.QUALIFIED)
    return make_lead(tenant, owner, **fields)


def make_rule(tenant: Any, **fields: Any) -> AssignmentRule:
    fields.setdefault("name", f"规则 {next(_seq)}")
    fields.setdefault("action", AssignmentRule.Action.ROUND_ROBIN)
    if fields["action"] != AssignmentRule.Action.USER:
        fields.setdefault("team", tenant.teams["east"])
    return lead_assignment.rule_create(actor=tenant.admin, **fields)


def make_webform(tenant: Any, **fields: Any) -> WebForm:
    fields.setdefault("name", f"官网表单 {next(_seq)}")
    return lead_webforms.webform_create(actor=tenant.admin, **fields)


def make_source(tenant: Any, **fields: Any) -> LeadSource:
    fields.setdefault("label", f"来源 {next(_seq)}")
    return lead_services.source_create(actor=tenant.admin, **fields)


def make_deleted_lead(tenant: Any, **fields: Any) -> Lead:
    return lead_services.lead_delete(actor=tenant.admin, lead=make_lead(tenant, **fields))
