"""Automatic assignment 自动分配: matching, round-robin order and cursor, least loaded, caps, fallbacks,
named users, re-applying to untouched leads (service, task, command), and the rules' own services."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.accounts import services as account_services
from kehu.core import custom_fields
from kehu.core.errors import PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.sales import lead_assignment, lead_services, lead_tasks
from kehu.sales.lead_models import AssignmentRule, Lead
from tests.conftest import PASSWORD
from tests.sales.lead_factories import make_lead, make_rule

pytestmark = pytest.mark.django_db


def new_lead(tenant, **fields):
    fields.setdefault("name", "自动分配")
    return lead_services.lead_create(actor=tenant.admin, **fields)


@pytest.fixture
def east_reps(tenant_a):
    """Three reps in Sales East, in id order (the order round-robin walks)."""
    rep3 = account_services.user_create(
        actor=tenant_a.admin,
        organization=tenant_a.org,
        email="rep3@a.test",
        password=PASSWORD,
        role=tenant_a.role("sales_rep"),
        name="a rep three",
        team=tenant_a.teams["east"],
    )
    return [tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"], rep3]


def test_round_robin_takes_turns_and_keeps_its_cursor(tenant_a, east_reps):
    rule = make_rule(tenant_a, name="华东轮流", team=tenant_a.teams["east"])
    owners = [new_lead(tenant_a).owner for _ in range(5)]
    assert owners == [east_reps[0], east_reps[1], east_reps[2], east_reps[0], east_reps[1]]
    rule.refresh_from_db()
    assert rule.last_assigned == east_reps[1]
    # A new Assigner (another request) continues where the cursor stands.
    assert new_lead(tenant_a).owner == east_reps[2]


def test_round_robin_includes_sub_teams_and_skips_inactive_members(tenant_a, east_reps):
    make_rule(tenant_a, team=tenant_a.teams["sales"])  # the parent team: its sub-team's reps take part
    account_services.user_deactivate(actor=tenant_a.admin, user=east_reps[1])
    owners = {new_lead(tenant_a).owner for _ in range(8)}
    assert east_reps[0] in owners and east_reps[2] in owners and east_reps[1] not in owners
    assert tenant_a.users["marketer"] not in owners  # in the team, but without access to sales


def test_least_loaded_gives_the_lead_to_the_rep_with_fewest_open_leads(tenant_a, east_reps):
    for _ in range(3):
        make_lead(tenant_a, east_reps[0])
    make_lead(tenant_a, east_reps[1])
    make_lead(tenant_a, east_reps[2], status="unqualified")  # closed: does not count
    make_lead(tenant_a, east_reps[2])
    make_rule(tenant_a, action="least_loaded", team=tenant_a.teams["east"])
    first = new_lead(tenant_a).owner
    assert first in (east_reps[1], east_reps[2])
    second = new_lead(tenant_a).owner  # the other one of the two, now that the first holds one more
    assert {first, second} == {east_reps[1], east_reps[2]}
    assert new_lead(tenant_a).owner in (east_reps[1], east_reps[2])


def test_a_cap_skips_full_reps_and_passes_on_to_the_next_rule(tenant_a, east_reps):
    make_lead(tenant_a, east_reps[0])
    make_lead(tenant_a, east_reps[1])
    make_rule(tenant_a, name="封顶", team=tenant_a.teams["east"], cap=1)
    fallback = make_rule(tenant_a, name="兜底", action="user", user=tenant_a.users["sales_manager"])
    lead = new_lead(tenant_a)
    assert lead.owner == east_reps[2] and lead.assigned_rule_name == "封顶"
    lead = new_lead(tenant_a)  # everyone of the team holds one now
    assert lead.owner == tenant_a.users["sales_manager"] and lead.assigned_rule == fallback


def test_conditions_match_source_region_industry_and_custom_fields(tenant_a, east_reps):
    custom_fields.definition_create(
        actor=tenant_a.admin,
        record_type="sales.lead",
        key="product",
        label="产品",
        field_type="single_select",
        options=["CRM", "ERP"],
    )
    rep, rep2, rep3 = east_reps
    make_rule(
        tenant_a,
        name="华南",
        action="user",
        user=rep2,
        conditions=[{"field": "region", "op": "in", "value": "广东、广西"}],
    )
    make_rule(
        tenant_a,
        name="展会制造",
        action="user",
        user=rep3,
        conditions=[
            {"field": "source", "op": "equals", "value": "exhibition"},
            {"field": "industry", "op": "contains", "value": "制造"},
        ],
    )
    make_rule(
        tenant_a,
        name="ERP",
        action="user",
        user=rep,
        conditions=[{"field": "custom.product", "op": "equals", "value": "erp"}],
    )
    assert new_lead(tenant_a, city="广州市", province="广东省").owner == rep2
    assert new_lead(tenant_a, province="广西壮族自治区").owner == rep2
    assert new_lead(tenant_a, source="exhibition", industry="通用设备制造业").owner == rep3
    assert new_lead(tenant_a, source="exhibition", industry="零售").owner == tenant_a.admin  # nothing matched
    assert new_lead(tenant_a, custom={"product": "ERP"}).owner == rep


def test_a_named_user_who_left_is_skipped(tenant_a):
    rep2 = tenant_a.users["sales_rep_2"]
    make_rule(tenant_a, action="user", user=rep2)
    make_rule(tenant_a, action="user", user=tenant_a.users["sales_manager"])
    assert new_lead(tenant_a).owner == rep2
    account_services.user_deactivate(actor=tenant_a.admin, user=rep2)
    assert new_lead(tenant_a).owner == tenant_a.users["sales_manager"]


def test_the_organisation_fallback_owner_and_the_creator(tenant_a):
    make_rule(
        tenant_a,
        action="user",
        user=tenant_a.users["sales_rep"],
        conditions=[{"field": "province", "op": "equals", "value": "西藏"}],
    )
    rep2 = tenant_a.users["sales_rep_2"]
    assert lead_services.lead_create(actor=rep2, name="无匹配").owner == rep2  # the creator keeps it
    lead_assignment.lead_settings_update(
        actor=tenant_a.admin, expected_version=None, data={"default_owner": tenant_a.users["sales_manager"]}
    )
    lead = lead_services.lead_create(actor=rep2, name="兜底人")
    assert lead.owner == tenant_a.users["sales_manager"] and lead.assigned_rule is None
    entry = AuditEntry.objects.get(action="lead.assign", target_id=str(lead.pk))
    assert entry.changes["via"] == "default"


def test_inactive_rules_are_ignored(tenant_a):
    make_rule(tenant_a, action="user", user=tenant_a.users["sales_rep_2"], is_active=False)
    assert new_lead(tenant_a).owner == tenant_a.admin


def test_apply_rules_again_to_chosen_leads(tenant_a):
    lead = make_lead(tenant_a, tenant_a.users["sales_rep"], province="广东")
    rule = make_rule(
        tenant_a,
        action="user",
        user=tenant_a.users["sales_rep_2"],
        conditions=[{"field": "province", "op": "equals", "value": "广东省"}],
    )
    (outcome,) = lead_services.leads_apply_rules(actor=tenant_a.users["sales_manager"], leads=[lead])
    assert outcome.changed and lead.owner == tenant_a.users["sales_rep_2"] and lead.assigned_rule == rule
    (outcome,) = lead_services.leads_apply_rules(actor=tenant_a.users["sales_manager"], leads=[lead])
    assert not outcome.changed
    with pytest.raises(PermissionDenied):
        lead_services.leads_apply_rules(actor=tenant_a.users["sales_rep_2"], leads=[lead])


def _age(lead: Lead, days: int) -> None:
    Lead.objects.filter(pk=lead.pk).update(updated_at=timezone.now() - timedelta(days=days))


def test_reapply_moves_untouched_open_leads_to_someone_else(tenant_a, east_reps):
    make_rule(tenant_a, team=tenant_a.teams["east"])
    stale = make_lead(tenant_a, east_reps[0])
    fresh = make_lead(tenant_a, east_reps[0])
    closed = make_lead(tenant_a, east_reps[0], status="unqualified")
    touched = make_lead(tenant_a, east_reps[0])
    for lead in (stale, closed, touched):
        _age(lead, 10)
    Lead.objects.filter(pk=touched.pk).update(last_activity_at=timezone.now())
    assert lead_services.leads_reassign_stale(organization_id=tenant_a.org.pk, days=7) == 1
    stale.refresh_from_db()
    assert stale.owner in east_reps[1:] and stale.assigned_rule_name
    for lead in (fresh, closed, touched):
        lead.refresh_from_db()
        assert lead.owner == east_reps[0]
    entry = AuditEntry.objects.get(action="lead.assign", target_id=str(stale.pk))
    assert entry.changes["via"] == "reassign" and entry.changes["days"] == 7 and entry.actor is None
    # Idempotent: the lead was just re-assigned, so it is not untouched any more.
    assert lead_services.leads_reassign_stale(organization_id=tenant_a.org.pk, days=7) == 0


def test_the_daily_task_uses_each_organisations_setting(tenant_a, tenant_b):
    make_rule(tenant_a, action="user", user=tenant_a.users["sales_rep_2"])
    make_rule(tenant_b, action="user", user=tenant_b.users["sales_rep_2"])
    a_lead, b_lead = make_lead(tenant_a), make_lead(tenant_b)
    _age(a_lead, 5)
    _age(b_lead, 5)
    lead_assignment.lead_settings_update(actor=tenant_a.admin, expected_version=None, data={"reassign_after_days": 3})
    assert lead_tasks.leads_reassign_stale.delay().get() == 1
    a_lead.refresh_from_db()
    b_lead.refresh_from_db()
    assert a_lead.owner == tenant_a.users["sales_rep_2"] and b_lead.owner == tenant_b.users["sales_rep"]


def test_the_reassign_leads_command(tenant_a):
    make_rule(tenant_a, action="user", user=tenant_a.users["sales_rep_2"])
    lead = make_lead(tenant_a)
    _age(lead, 30)
    out = StringIO()
    call_command("reassign_leads", "--days", "20", "--org", tenant_a.org.name, stdout=out)
    assert "re-assigned leads: 1" in out.getvalue()
    lead.refresh_from_db()
    assert lead.owner == tenant_a.users["sales_rep_2"]
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("reassign_leads", "--days", "0")


# The rules' own services ---------------------------------------------------------------------------------


def test_rules_are_validated_with_field_names(tenant_a, tenant_b):
    admin = tenant_a.admin
    cases = [
        ({"name": "", "action": "user", "user": tenant_a.users["sales_rep"]}, "name"),
        ({"name": "x", "action": "round_robin"}, "team"),
        ({"name": "x", "action": "round_robin", "team": tenant_b.teams["east"]}, "team"),
        ({"name": "x", "action": "user", "user": tenant_a.users["marketer"]}, "user"),
        (
            {"name": "x", "action": "user", "user": tenant_a.users["sales_rep"], "conditions": [{"field": "password"}]},
            "conditions",
        ),
        (
            {
                "name": "x",
                "action": "user",
                "user": tenant_a.users["sales_rep"],
                "conditions": [{"field": "city", "op": "in", "value": []}],
            },
            "conditions",
        ),
        (
            {
                "name": "x",
                "action": "user",
                "user": tenant_a.users["sales_rep"],
                "conditions": [{"field": "city", "op": "like", "value": "a"}],
            },
            "conditions",
        ),
        ({"name": "x", "action": "user", "user": tenant_a.users["sales_rep"], "cap": -1}, "cap"),
        ({"name": "x", "action": "boss"}, "action"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            lead_assignment.rule_create(actor=admin, **data)
        assert field in caught.value.fields, (data, caught.value.fields)
    with pytest.raises(PermissionDenied):
        lead_assignment.rule_create(
            actor=tenant_a.users["sales_manager"], name="x", action="user", user=tenant_a.users["sales_rep"]
        )


def test_rules_update_with_the_version_move_and_delete(tenant_a):
    first = make_rule(tenant_a, name="一")
    second = make_rule(tenant_a, name="二")
    third = make_rule(tenant_a, name="三")
    assert [r.position for r in (first, second, third)] == [0, 1, 2]
    lead_assignment.rule_update(actor=tenant_a.admin, rule=second, expected_version=1, data={"cap": 5})
    with pytest.raises(VersionConflict):
        lead_assignment.rule_update(
            actor=tenant_a.admin, rule=AssignmentRule.objects.get(pk=second.pk), expected_version=1, data={"cap": 6}
        )
    lead_assignment.rule_move(actor=tenant_a.admin, rule=third, position=0)
    order = list(
        AssignmentRule.objects.filter(organization=tenant_a.org).order_by("position").values_list("name", flat=True)
    )
    assert order == ["三", "一", "二"]
    lead = lead_services.lead_create(actor=tenant_a.admin, name="规则删除前")
    assert lead.assigned_rule == third
    lead_assignment.rule_delete(actor=tenant_a.admin, rule=third)
    lead.refresh_from_db()
    assert lead.assigned_rule is None and lead.assigned_rule_name == "三"  # the lead still says which rule


def test_creating_a_lead_with_twenty_rules_stays_within_a_few_queries(tenant_a, django_assert_max_num_queries):
    for n in range(19):
        make_rule(
            tenant_a,
            name=f"不匹配 {n}",
            action="user",
            user=tenant_a.users["sales_rep"],
            conditions=[{"field": "city", "op": "equals", "value": f"城市{n}"}],
        )
    make_rule(tenant_a, name="轮流", team=tenant_a.teams["east"], cap=100)
    admin = type(tenant_a.admin).objects.select_related("organization", "role").get(pk=tenant_a.admin.pk)
    # Sources, custom fields, the rules (one query for all twenty), the team, the loads, the cursor, the
    # insert and its update; then two chained audit entries (six each, with savepoints) and a notification.
    with django_assert_max_num_queries(24):
        lead = lead_services.lead_create(actor=admin, name="性能")
    assert lead.assigned_rule_name == "轮流"
