"""The demo's leads: two region rules, a fallback owner, a web form, and Chinese leads assigned by the rules;
a second run creates nothing."""

from __future__ import annotations

import pytest

from kehu.core import demo
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSettings, WebForm

pytestmark = pytest.mark.django_db


def test_the_demo_leads_went_through_the_rules_and_a_second_run_changes_nothing():
    ctx = demo.build()
    org = ctx.organization
    assert set(AssignmentRule.objects.filter(organization=org).values_list("name", flat=True)) == {
        "华南区域线索",
        "华东区域线索",
    }
    assert WebForm.objects.filter(organization=org, name="官网咨询表单", is_active=True).exists()
    assert LeadSettings.objects.get(organization=org).default_owner == ctx.users["sales_manager"]
    south = Lead.objects.get(organization=org, name="黄志强")
    assert south.owner == ctx.users["sales_rep_2"] and south.assigned_rule_name == "华南区域线索"
    assert Lead.objects.get(organization=org, name="周建华").owner == ctx.users["sales_rep"]
    assert Lead.objects.get(organization=org, name="孙明").owner == ctx.users["sales_manager"]  # no rule: fallback
    count = Lead.objects.filter(organization=org).count()
    again = demo.build()
    assert not [c for c in again.changes if "lead" in c or "rule" in c or "web form" in c]
    assert Lead.objects.filter(organization=org).count() == count
