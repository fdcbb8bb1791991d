"""The open-lead counters (LeadOwnerLoad, kept by triggers on sales_lead: kehu/sales/lead_loads.py) equal a
live count of every owner's open leads after each way a lead changes: the services, an import's bulk writes,
queryset updates and deletes that no Python code sees, and the least-loaded rule reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Count

from kehu.sales import lead_assignment, lead_services
from kehu.sales.lead_models import Lead, LeadOwnerLoad
from tests.sales.lead_factories import make_lead, make_qualified_lead, make_rule
from tests.sales.test_lead_imports import run, upload

pytestmark = pytest.mark.django_db


def live_counts() -> dict[tuple[int, int], int]:
    rows = (
        Lead.objects.dangerously_all_organizations()
        .filter(deleted_at__isnull=True, owner__isnull=False, status__in=Lead.OPEN_STATUSES)
        .order_by()
        .values("organization_id", "owner_id")
        .annotate(n=Count("id"))
    )
    return {(row["organization_id"], row["owner_id"]): row["n"] for row in rows}


def kept_counts() -> dict[tuple[int, int], int]:
    return {
        (row.organization_id, row.owner_id): row.open_leads for row in LeadOwnerLoad.objects.all() if row.open_leads
    }


def assert_counters_right() -> None:
    assert kept_counts() == live_counts()
    assert all(row.open_leads >= 0 for row in LeadOwnerLoad.objects.all())


def test_every_path_a_lead_changes_by_keeps_the_counters_exact(tenant_a, tenant_b, django_capture_on_commit_callbacks):
    rep, rep2, manager = (tenant_a.users[name] for name in ("sales_rep", "sales_rep_2", "sales_manager"))
    assert_counters_right()
    leads = [make_lead(tenant_a, rep) for _ in range(4)] + [make_lead(tenant_b)]
    assert kept_counts()[(tenant_a.org.pk, rep.pk)] == 4
    assert_counters_right()

    lead = lead_services.lead_update(
        actor=tenant_a.admin, lead=leads[0], expected_version=None, data={"status": Lead.Status.CONTACTED}
    )
    assert_counters_right()  # open to open: unchanged
    lead = lead_services.lead_update(
        actor=tenant_a.admin, lead=lead, expected_version=None, data={"status": Lead.Status.UNQUALIFIED}
    )
    assert kept_counts()[(tenant_a.org.pk, rep.pk)] == 3
    assert_counters_right()
    lead_services.lead_update(actor=tenant_a.admin, lead=lead, expected_version=None, data={"status": Lead.Status.NEW})
    assert_counters_right()

    lead_services.leads_assign(actor=tenant_a.admin, leads=leads[1:3], owner=rep2)
    assert kept_counts()[(tenant_a.org.pk, rep2.pk)] == 2
    assert_counters_right()

    deleted = lead_services.lead_delete(actor=tenant_a.admin, lead=Lead.objects.get(pk=leads[3].pk))
    assert_counters_right()
    lead_services.lead_restore(actor=tenant_a.admin, lead=deleted)
    assert_counters_right()
    lead_services.leads_delete(actor=tenant_a.admin, leads=list(Lead.objects.filter(pk__in=[leads[1].pk])))
    assert_counters_right()

    make_rule(tenant_a, name="最少", action="least_loaded", team=tenant_a.teams["east"])
    applied = lead_services.leads_apply_rules(actor=tenant_a.admin, leads=[Lead.objects.get(pk=leads[2].pk)])
    assert applied and applied[0].lead.owner is not None
    assert_counters_right()

    qualified = make_qualified_lead(tenant_a, rep, name="周建华", company="苏州博远自动化", phone="13962112233")
    lead_services.lead_convert(
        actor=rep, lead=qualified, expected_version=qualified.version, create_opportunity=True, amount=Decimal("1")
    )
    assert Lead.objects.get(pk=qualified.pk).status == Lead.Status.CONVERTED
    assert_counters_right()

    rows = [[f"导入{i}", "", f"1370000{i:04d}", "", "广东省", "", "", "", ""] for i in range(6)]
    rows.append(["自带负责人", "", "13900000001", "", "", "", "", "", rep.email])
    job = run(rep, upload(rep, rows), django_capture_on_commit_callbacks)
    assert job.created_count == 7
    assert_counters_right()

    # Writes no service makes: a queryset update, a bulk insert, a hard delete.
    Lead.objects.filter(organization=tenant_a.org, owner=rep).update(owner=manager)
    assert kept_counts().get((tenant_a.org.pk, rep.pk), 0) == 0
    assert_counters_right()
    Lead.objects.bulk_create(
        [Lead(organization=tenant_a.org, owner=rep, name=f"批量{i}", status=Lead.Status.NEW) for i in range(3)]
        + [Lead(organization=tenant_a.org, owner=rep, name="已转化", status=Lead.Status.CONVERTED)]
    )
    assert kept_counts()[(tenant_a.org.pk, rep.pk)] == 3
    assert_counters_right()
    Lead.objects.filter(organization=tenant_a.org, owner=manager).update(status=Lead.Status.QUALIFIED, owner=None)
    assert_counters_right()
    Lead.objects.filter(organization=tenant_a.org).delete()
    assert kept_counts() == {(tenant_b.org.pk, tenant_b.users["sales_rep"].pk): 1}
    assert_counters_right()


def test_least_loaded_gives_each_lead_to_the_member_with_the_fewest_live_open_leads(
    tenant_a, django_capture_on_commit_callbacks
):
    rep = tenant_a.users["sales_rep"]
    with django_capture_on_commit_callbacks(execute=True):
        make_rule(tenant_a, name="最少", action="least_loaded", team=tenant_a.teams["east"])
    for _ in range(3):
        make_lead(tenant_a, rep)
    members = lead_assignment.Assigner(tenant_a.org.pk).members(tenant_a.teams["east"].pk)
    assert len(members) >= 2
    for i in range(2 * len(members)):
        live = live_counts()
        loads = {u.pk: live.get((tenant_a.org.pk, u.pk), 0) for u in members}
        expected = min(members, key=lambda u: (loads[u.pk], u.pk))
        assert lead_services.lead_create(actor=tenant_a.admin, name=f"新{i}").owner == expected
        if i == 1:  # a lead closed by a queryset update no longer counts
            Lead.objects.filter(pk=Lead.objects.filter(owner=expected).order_by("pk")[0].pk).update(
                status="unqualified"
            )
    assert_counters_right()
