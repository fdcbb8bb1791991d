"""Opportunity services: the stage gate, won/lost and reopening, stage history with durations, rotting,
reassignment, the recycle bin, and pipeline/stage administration."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry, Notification
from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity, Pipeline, Stage, StageChange
from tests.customers.factories import make_contact, make_customer
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db


def stages(tenant) -> dict[str, Stage]:
    """The default pipeline's stages by English name (the tenant's language is Chinese: look up by position)."""
    pipeline = services.ensure_default_pipeline(tenant.org)
    keys = ["qualification", "needs", "proposal", "negotiation", "won", "lost"]
    return dict(zip(keys, pipeline.stages.order_by("position"), strict=True))


def age(opportunity: Opportunity, days: float) -> None:
    """Pretend the opportunity entered its stage `days` ago."""
    when = timezone.now() - timedelta(days=days)
    Opportunity.objects.filter(pk=opportunity.pk).update(stage_entered_at=when)
    StageChange.objects.filter(opportunity=opportunity).update(at=when)
    opportunity.refresh_from_db()


# The gate --------------------------------------------------------------------------------------------


def test_the_gate_names_every_missing_field_and_changes_nothing(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(ValidationFailed) as caught:
        services.change_stage(actor=rep, opportunity=opportunity, stage=s["negotiation"])
    assert set(caught.value.fields) == {"amount", "expected_close_date"}
    assert "Amount" in caught.value.message or "金额" in caught.value.message
    opportunity.refresh_from_db()
    assert opportunity.stage == s["qualification"]
    assert StageChange.objects.filter(opportunity=opportunity).count() == 1  # only the creation


def test_filling_the_missing_fields_in_the_same_step_passes_the_gate(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    rep = tenant_a.users["sales_rep"]
    close = timezone.localdate() + timedelta(days=30)
    services.change_stage(
        actor=rep,
        opportunity=opportunity,
        stage=s["negotiation"],
        data={"amount": Decimal("50000"), "expected_close_date": close},
    )
    opportunity.refresh_from_db()
    assert opportunity.stage == s["negotiation"]
    assert opportunity.amount == Decimal("50000") and opportunity.expected_close_date == close
    assert opportunity.probability == s["negotiation"].probability
    entry = AuditEntry.objects.filter(target_id=str(opportunity.pk), action="opportunity.stage_change").get()
    assert entry.changes["stage"] == {"before": s["qualification"].name, "after": s["negotiation"].name}
    assert entry.changes["amount"] == {"before": None, "after": "50000"}


def test_a_custom_field_can_be_required_by_a_stage(tenant_a):
    from kehu.core import custom_fields

    custom_fields.definition_create(
        actor=tenant_a.admin, record_type="sales.opportunity", key="budget_owner", label="预算负责人", field_type="text"
    )
    s = stages(tenant_a)
    services.update_stage(actor=tenant_a.admin, stage=s["needs"], data={"required_fields": ["custom.budget_owner"]})
    opportunity = make_opportunity(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["needs"])
    assert caught.value.fields == {"custom.budget_owner": ["Required in this stage."]} or "custom.budget_owner" in (
        caught.value.fields
    )
    assert "预算负责人" in caught.value.message
    services.change_stage(
        actor=tenant_a.admin, opportunity=opportunity, stage=s["needs"], data={"custom": {"budget_owner": "王总"}}
    )
    assert Opportunity.objects.get(pk=opportunity.pk).custom == {"budget_owner": "王总"}


def test_an_edit_cannot_empty_a_field_the_current_stage_requires(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(
        tenant_a, amount=Decimal("100"), stage=s["proposal"], pipeline=s["proposal"].pipeline
    )
    with pytest.raises(ValidationFailed) as caught:
        services.update_opportunity(
            actor=tenant_a.admin, opportunity=opportunity, expected_version=opportunity.version, data={"amount": None}
        )
    assert "amount" in caught.value.fields


def test_a_field_required_later_does_not_block_unrelated_edits(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    services.update_stage(actor=tenant_a.admin, stage=s["qualification"], data={"required_fields": ["next_step"]})
    services.update_opportunity(
        actor=tenant_a.admin, opportunity=opportunity, expected_version=opportunity.version, data={"name": "改名"}
    )
    assert Opportunity.objects.get(pk=opportunity.pk).name == "改名"


def test_a_stage_of_another_organisation_is_refused(tenant_a, tenant_b):
    theirs = stages(tenant_b)["needs"]
    opportunity = make_opportunity(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=theirs)
    assert "stage" in caught.value.fields


# Won, lost, reopened -----------------------------------------------------------------------------------


def test_entering_the_won_stage_closes_the_opportunity(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a, amount=Decimal("8000"))
    services.mark_won(actor=tenant_a.users["sales_rep"], opportunity=opportunity, reason="价格有优势")
    opportunity.refresh_from_db()
    assert opportunity.status == Opportunity.Status.WON and opportunity.stage == s["won"]
    assert opportunity.closed_at is not None and opportunity.probability == 100
    assert opportunity.won_reason == "价格有优势"
    assert AuditEntry.objects.filter(target_id=str(opportunity.pk), action="opportunity.won").exists()


def test_won_stage_gate_applies_to_mark_won(tenant_a):
    opportunity = make_opportunity(tenant_a)  # no amount, which the won stage requires
    with pytest.raises(ValidationFailed) as caught:
        services.mark_won(actor=tenant_a.admin, opportunity=opportunity)
    assert "amount" in caught.value.fields


def test_lost_needs_a_reason(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.mark_lost(actor=tenant_a.admin, opportunity=opportunity, reason="  ")
    assert "reason" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["lost"])
    assert "lost_reason" in caught.value.fields
    services.mark_lost(actor=tenant_a.admin, opportunity=opportunity, reason="预算取消")
    opportunity.refresh_from_db()
    assert opportunity.status == Opportunity.Status.LOST and opportunity.lost_reason == "预算取消"
    assert opportunity.stage == s["lost"] and opportunity.closed_at is not None


def test_a_closed_opportunity_can_be_reopened(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    services.mark_lost(actor=tenant_a.admin, opportunity=opportunity, reason="预算取消")
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["needs"])
    opportunity.refresh_from_db()
    assert opportunity.status == Opportunity.Status.OPEN
    assert opportunity.closed_at is None and opportunity.lost_reason == ""
    assert AuditEntry.objects.filter(target_id=str(opportunity.pk), action="opportunity.reopen").exists()


def test_creating_in_a_lost_stage_needs_the_reason_and_creates_it_closed(tenant_a):
    s = stages(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        make_opportunity(tenant_a, stage=s["lost"], pipeline=s["lost"].pipeline)
    assert "lost_reason" in caught.value.fields
    opportunity = make_opportunity(tenant_a, stage=s["lost"], pipeline=s["lost"].pipeline, lost_reason="选了竞品")
    assert opportunity.status == Opportunity.Status.LOST and opportunity.closed_at is not None


def test_a_version_conflict_is_refused(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    stale = opportunity.version
    services.update_opportunity(
        actor=tenant_a.admin, opportunity=opportunity, expected_version=stale, data={"next_step": "约见客户"}
    )
    with pytest.raises(VersionConflict):
        services.change_stage(
            actor=tenant_a.admin,
            opportunity=Opportunity.objects.get(pk=opportunity.pk),
            stage=s["needs"],
            expected_version=stale,
        )


# History and rotting ---------------------------------------------------------------------------------


def test_every_stage_change_is_recorded_with_the_time_spent_in_the_stage_before(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    age(opportunity, 3)
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["needs"])
    changes = list(StageChange.objects.filter(opportunity=opportunity).order_by("at"))
    assert [(c.from_stage_name, c.to_stage_name) for c in changes] == [
        ("", s["qualification"].name),
        (s["qualification"].name, s["needs"].name),
    ]
    assert changes[0].seconds_in_previous is None
    assert abs(changes[1].seconds_in_previous - 3 * 86400) < 60
    assert changes[1].by == tenant_a.admin

    visits = selectors.opportunity_history_for(actor=tenant_a.admin, opportunity=opportunity)
    assert [v.change.to_stage_name for v in visits] == [s["qualification"].name, s["needs"].name]
    assert abs(visits[0].seconds - 3 * 86400) < 60 and not visits[0].current
    assert visits[1].current and visits[1].seconds < 60
    assert visits[0].duration in ("3 days", "3天")


def test_time_in_stages_adds_up_repeated_visits(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["needs"])
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=s["qualification"])
    visits = selectors.opportunity_history_for(actor=tenant_a.admin, opportunity=opportunity)
    totals = selectors.time_in_stages(visits)
    assert [t.stage for t in totals] == [s["qualification"].name, s["needs"].name]


def test_history_of_an_invisible_opportunity_is_not_found(tenant_a):
    opportunity = make_opportunity(tenant_a, owner=tenant_a.users["sales_rep_2"])
    with pytest.raises(NotFound):
        selectors.opportunity_history_for(actor=tenant_a.users["sales_rep"], opportunity=opportunity)


def test_rotting_is_computed_and_filterable(tenant_a):
    s = stages(tenant_a)
    services.update_stage(actor=tenant_a.admin, stage=s["qualification"], data={"rot_days": 7})
    fresh = make_opportunity(tenant_a)
    stale = make_opportunity(tenant_a)
    age(stale, 10)
    closed = make_opportunity(tenant_a)
    services.mark_lost(actor=tenant_a.admin, opportunity=closed, reason="无预算")
    age(closed, 10)
    for opportunity in (fresh, stale, closed):
        opportunity.stage.refresh_from_db()
    assert not fresh.is_rotting
    assert stale.is_rotting and stale.rotting_days() == 10
    assert not Opportunity.objects.get(pk=closed.pk).is_rotting
    page = selectors.opportunity_list_for(actor=tenant_a.admin, filters={"rotting": True})
    assert [o.pk for o in page.items] == [stale.pk]


# Reassign, delete, restore -----------------------------------------------------------------------------


def test_reassign_notifies_the_new_owner(tenant_a, smtp_server):
    opportunity = make_opportunity(tenant_a)
    new_owner = tenant_a.users["sales_rep_2"]
    moved = services.reassign_opportunities(
        actor=tenant_a.users["sales_manager"], opportunities=[opportunity], owner=new_owner
    )
    assert moved == [opportunity]
    assert Opportunity.objects.get(pk=opportunity.pk).owner == new_owner
    assert Notification.objects.filter(recipient=new_owner, url__contains=str(opportunity.pk)).exists()
    assert AuditEntry.objects.filter(target_id=str(opportunity.pk), action="opportunity.assign").exists()


def test_a_rep_may_not_reassign(tenant_a):
    opportunity = make_opportunity(tenant_a)
    with pytest.raises(PermissionDenied):
        services.reassign_opportunities(
            actor=tenant_a.users["sales_rep"], opportunities=[opportunity], owner=tenant_a.users["sales_rep_2"]
        )


def test_delete_and_restore(tenant_a):
    opportunity = make_opportunity(tenant_a)
    manager = tenant_a.users["sales_manager"]
    services.delete_opportunity(actor=manager, opportunity=opportunity)
    assert not Opportunity.objects.visible_to(manager).filter(pk=opportunity.pk).exists()
    deleted = selectors.opportunity_deleted_get_for(actor=manager, pk=opportunity.pk)
    services.restore_opportunity(actor=manager, opportunity=deleted)
    assert Opportunity.objects.visible_to(manager).filter(pk=opportunity.pk).exists()


def test_merging_customers_moves_their_opportunities(tenant_a):
    from kehu.customers.merge import customer_merge

    survivor, other = make_customer(tenant_a), make_customer(tenant_a)
    contact = make_contact(tenant_a, other)
    opportunity = make_opportunity(tenant_a, customer=other, contact=contact)
    customer_merge(actor=tenant_a.admin, survivor=survivor, others=[other])
    opportunity.refresh_from_db()
    assert opportunity.customer == survivor and opportunity.contact == contact


# Pipelines and stages ----------------------------------------------------------------------------------


def test_an_administrator_builds_a_second_pipeline(tenant_a):
    services.ensure_default_pipeline(tenant_a.org)
    renewals = services.create_pipeline(
        actor=tenant_a.admin,
        name="续约",
        stages=[
            {"name": "待续约", "probability": 50},
            {"name": "已续约", "probability": 100, "kind": "won"},
            {"name": "流失", "kind": "lost"},
        ],
    )
    assert [s.name for s in renewals.stages.order_by("position")] == ["待续约", "已续约", "流失"]
    services.update_pipeline(actor=tenant_a.admin, pipeline=renewals, data={"is_default": True})
    assert list(Pipeline.objects.filter(organization=tenant_a.org, is_default=True)) == [renewals]
    opportunity = make_opportunity(tenant_a)
    assert opportunity.pipeline == renewals


def test_stage_names_are_unique_in_a_pipeline(tenant_a):
    s = stages(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.create_stage(actor=tenant_a.admin, pipeline=s["needs"].pipeline, name=s["needs"].name)
    assert "name" in caught.value.fields


def test_unknown_required_fields_are_refused(tenant_a):
    s = stages(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.update_stage(actor=tenant_a.admin, stage=s["needs"], data={"required_fields": ["owner", "amount"]})
    assert "required_fields" in caught.value.fields


def test_a_stage_with_opportunities_cannot_be_deleted(tenant_a):
    s = stages(tenant_a)
    opportunity = make_opportunity(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        services.delete_stage(actor=tenant_a.admin, stage=s["qualification"])
    assert caught.value.code == "stage_in_use"
    assert "1" in caught.value.message
    services.delete_opportunity(actor=tenant_a.admin, opportunity=opportunity)
    with pytest.raises(ValidationFailed) as caught:  # the recycle bin still holds it
        services.delete_stage(actor=tenant_a.admin, stage=s["qualification"])
    assert caught.value.code == "stage_in_use"
    services.delete_stage(actor=tenant_a.admin, stage=s["needs"])
    assert not Stage.objects.filter(pk=s["needs"].pk).exists()
    assert list(s["proposal"].pipeline.stages.order_by("position").values_list("position", flat=True)) == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_reorder_needs_every_stage_once(tenant_a):
    s = stages(tenant_a)
    pipeline = s["needs"].pipeline
    ids = [st.pk for st in pipeline.stages.order_by("position")]
    with pytest.raises(ValidationFailed):
        services.reorder_stages(actor=tenant_a.admin, pipeline=pipeline, stage_ids=ids[:-1])
    services.reorder_stages(actor=tenant_a.admin, pipeline=pipeline, stage_ids=[ids[1], ids[0], *ids[2:]])
    assert [st.pk for st in pipeline.stages.order_by("position")][:2] == [ids[1], ids[0]]
    services.move_stage(actor=tenant_a.admin, stage=s["qualification"], offset=1)
    assert [st.pk for st in pipeline.stages.order_by("position")][:3] == [ids[1], ids[2], ids[0]]


def test_the_default_pipeline_and_a_used_one_cannot_be_deleted(tenant_a):
    default = services.ensure_default_pipeline(tenant_a.org)
    with pytest.raises(ValidationFailed):
        services.delete_pipeline(actor=tenant_a.admin, pipeline=default)
    other = services.create_pipeline(actor=tenant_a.admin, name="渠道")
    opportunity = make_opportunity(tenant_a, pipeline=other)
    with pytest.raises(ValidationFailed) as caught:
        services.delete_pipeline(actor=tenant_a.admin, pipeline=other)
    assert caught.value.code == "pipeline_in_use"
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=default.stages.first())
    services.delete_pipeline(actor=tenant_a.admin, pipeline=other)
    assert not Pipeline.objects.filter(pk=other.pk).exists()


def test_only_administrators_change_pipelines(tenant_a):
    pipeline = services.ensure_default_pipeline(tenant_a.org)
    with pytest.raises(PermissionDenied):
        services.update_pipeline(actor=tenant_a.users["sales_manager"], pipeline=pipeline, data={"name": "x"})
    with pytest.raises(PermissionDenied):
        services.create_pipeline(actor=tenant_a.users["sales_rep"], name="x")


def test_the_last_open_stage_stays(tenant_a):
    pipeline = services.create_pipeline(
        actor=tenant_a.admin, name="简单", stages=[{"name": "进行中"}, {"name": "成交", "kind": "won"}]
    )
    only_open = pipeline.stages.get(kind="open")
    with pytest.raises(ValidationFailed):
        services.delete_stage(actor=tenant_a.admin, stage=only_open)
    with pytest.raises(ValidationFailed):
        services.update_stage(actor=tenant_a.admin, stage=only_open, data={"kind": "won"})
