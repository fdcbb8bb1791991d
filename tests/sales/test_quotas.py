"""Quotas: who may set them for whom, one per rep and period, versioned edits, the recycle bin, the grid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kehu.accounts import services as account_services
from kehu.core import audit, demo
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.sales import forecast_services as services
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, today_for
from kehu.sales.forecast_selectors import quota_grid_for, quota_list_for, rep_choices_for
from kehu.sales.forecast_services import GridCell
from tests.sales.forecast_factories import make_quota

pytestmark = pytest.mark.django_db

Q2 = Period("quarter", date(2026, 4, 1))
APRIL, MAY, JUNE = Q2.months


def north_rep(tenant):
    """A rep outside the sales manager's team tree."""
    north = account_services.team_create(actor=tenant.admin, name="North")
    return account_services.user_create(
        actor=tenant.admin,
        organization=tenant.org,
        email="north@a.test",
        password="Kehu-test-pw-2026",
        role=tenant.role("sales_rep"),
        name="north rep",
        team=north,
    )


def test_a_manager_sets_quotas_for_their_reps_and_it_is_audited(tenant_a):
    manager, rep = tenant_a.users["sales_manager"], tenant_a.users["sales_rep"]

    quota = services.quota_create(
        actor=manager, user=rep, period_kind="month", period_start=APRIL, amount=Decimal("120000")
    )

    assert quota.owner == rep and quota.currency == "CNY" and quota.created_by == manager
    entry = AuditEntry.objects.get(action="quota.create", target_id=str(quota.pk))
    assert entry.changes["amount"] == "120000.00" and entry.changes["period"] == "2026-04"
    assert entry.actor == manager


def test_who_may_set_whose_quota(tenant_a):
    manager, rep, rep2 = (tenant_a.users[k] for k in ("sales_manager", "sales_rep", "sales_rep_2"))
    outsider = north_rep(tenant_a)

    def allowed(actor, user):
        return can(actor, "create", Quota(organization_id=tenant_a.org.pk, owner=user))

    assert allowed(manager, rep) and allowed(manager, rep2)
    assert not allowed(manager, outsider)  # outside their team tree
    assert not allowed(manager, manager)  # their own target is set above them
    assert allowed(tenant_a.admin, manager) and allowed(tenant_a.admin, tenant_a.admin)
    assert not allowed(rep, rep)
    assert not allowed(tenant_a.users["analyst"], rep) and not allowed(tenant_a.users["read_only"], rep)
    choices = {u.pk for u in rep_choices_for(actor=manager)}
    assert {rep.pk, rep2.pk} <= choices and manager.pk not in choices and outsider.pk not in choices
    assert rep_choices_for(actor=rep) == []

    with pytest.raises(PermissionDenied):
        services.quota_create(actor=rep, user=rep, period_kind="month", period_start=APRIL, amount=1)
    with pytest.raises(NotFound):  # a rep the manager cannot see is not found, never "forbidden"
        services.quota_create(actor=manager, user=outsider, period_kind="month", period_start=APRIL, amount=1)
    with pytest.raises(ValidationFailed) as caught:  # a marketer carries no quota
        services.quota_create(
            actor=tenant_a.admin, user=tenant_a.users["marketer"], period_kind="month", period_start=APRIL, amount=1
        )
    assert "user" in caught.value.fields


def test_reps_see_their_own_quotas_managers_their_teams(tenant_a, tenant_b):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    mine = make_quota(tenant_a, rep, start=APRIL)
    theirs = make_quota(tenant_a, rep2, start=APRIL)
    outsider = make_quota(tenant_a, north_rep(tenant_a), start=APRIL)
    other_org = make_quota(tenant_b, start=APRIL)

    assert set(quota_list_for(actor=rep)) == {mine}
    assert set(quota_list_for(actor=tenant_a.users["sales_manager"])) == {mine, theirs}
    assert set(quota_list_for(actor=tenant_a.admin)) == {mine, theirs, outsider}
    assert other_org not in set(quota_list_for(actor=tenant_a.admin))
    assert list(quota_list_for(actor=tenant_a.users["marketer"])) == []


def test_one_quota_per_rep_and_period(tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_quota(tenant_a, rep, start=APRIL)
    make_quota(tenant_a, rep, start=APRIL, kind="quarter")  # a quarter is another period

    with pytest.raises(ValidationFailed) as caught:
        make_quota(tenant_a, rep, start=APRIL)
    assert caught.value.code == "quota_exists" and "period_start" in caught.value.fields


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"period_kind": "week", "period_start": APRIL, "amount": 1}, "period_kind"),
        ({"period_kind": "month", "period_start": date(2026, 4, 2), "amount": 1}, "period_start"),
        ({"period_kind": "quarter", "period_start": MAY, "amount": 1}, "period_start"),
        ({"period_kind": "month", "period_start": APRIL, "amount": -1}, "amount"),
        ({"period_kind": "month", "period_start": APRIL, "amount": "1.234"}, "amount"),
        ({"period_kind": "month", "period_start": APRIL, "amount": "lots"}, "amount"),
        ({"period_kind": "month", "period_start": APRIL, "amount": "1e20"}, "amount"),
        ({"period_kind": "month", "period_start": APRIL, "amount": 1, "currency": "yuan"}, "currency"),
    ],
)
def test_bad_input_fails_on_its_field(tenant_a, data, field):
    with pytest.raises(ValidationFailed) as caught:
        services.quota_create(actor=tenant_a.admin, user=tenant_a.users["sales_rep"], **data)
    assert field in caught.value.fields


def test_edits_are_versioned_and_audited(tenant_a):
    quota = make_quota(tenant_a, start=APRIL, amount="1000")
    manager = tenant_a.users["sales_manager"]

    services.quota_update(actor=manager, quota=quota, expected_version=1, data={"amount": Decimal("2000")})

    assert Quota.objects.get(pk=quota.pk).amount == Decimal("2000.00") and quota.version == 2
    entry = AuditEntry.objects.get(action="quota.update", target_id=str(quota.pk))
    assert entry.changes["amount"] == {"before": "1000.00", "after": "2000.00"}
    stale = Quota.objects.get(pk=quota.pk)
    stale.version = 1
    with pytest.raises(VersionConflict):
        services.quota_update(actor=manager, quota=stale, expected_version=1, data={"amount": Decimal("3000")})
    with pytest.raises(ValidationFailed) as caught:
        services.quota_update(actor=manager, quota=quota, expected_version=2, data={"owner": manager})
    assert "owner" in caught.value.fields
    with pytest.raises(PermissionDenied):
        services.quota_update(
            actor=tenant_a.users["sales_rep"], quota=quota, expected_version=2, data={"amount": Decimal(1)}
        )


def test_delete_and_restore_through_the_recycle_bin(tenant_a):
    quota = make_quota(tenant_a, start=APRIL, amount="1000")

    services.quota_delete(actor=tenant_a.admin, quota=quota)
    assert not quota_list_for(actor=tenant_a.admin).filter(pk=quota.pk).exists()
    replacement = make_quota(tenant_a, start=APRIL, amount="5")  # the period is free again
    with pytest.raises(ValidationFailed) as caught:
        services.quota_restore(actor=tenant_a.admin, quota=Quota.objects.get(pk=quota.pk))
    assert caught.value.code == "quota_exists"

    services.quota_delete(actor=tenant_a.admin, quota=replacement)
    services.quota_restore(actor=tenant_a.admin, quota=Quota.objects.get(pk=quota.pk))
    assert quota_list_for(actor=tenant_a.admin).get(pk=quota.pk).amount == Decimal("1000.00")
    actions = list(AuditEntry.objects.filter(target_id=str(quota.pk)).values_list("action", flat=True))
    assert {"quota.create", "quota.delete", "quota.restore"} <= set(actions)
    assert audit.verify() == []


def test_the_grid_creates_updates_and_deletes_monthly_quotas_all_or_nothing(tenant_a):
    manager, rep, rep2 = (tenant_a.users[k] for k in ("sales_manager", "sales_rep", "sales_rep_2"))
    april = make_quota(tenant_a, rep, start=APRIL, amount="1000")
    may = make_quota(tenant_a, rep, start=MAY, amount="2000")

    saved = services.quota_grid_save(
        actor=manager,
        quarter=Q2,
        cells=[
            GridCell(rep, APRIL, Decimal("1500"), april.version),  # changed
            GridCell(rep, MAY, None, may.version),  # emptied
            GridCell(rep, JUNE, None, None),  # untouched
            GridCell(rep2, APRIL, Decimal("800"), None),  # new
            GridCell(rep2, MAY, Decimal("800"), None),
        ],
    )

    assert (saved.created, saved.updated, saved.deleted) == (2, 1, 1)
    live = {(q.owner_id, q.period_start): q.amount for q in quota_list_for(actor=manager)}
    assert live == {
        (rep.pk, APRIL): Decimal("1500.00"),
        (rep2.pk, APRIL): Decimal("800.00"),
        (rep2.pk, MAY): Decimal("800.00"),
    }

    # Someone changed April since the page was opened: nothing of this save is applied.
    with pytest.raises(VersionConflict):
        services.quota_grid_save(
            actor=manager,
            quarter=Q2,
            cells=[GridCell(rep2, JUNE, Decimal("1"), None), GridCell(rep, APRIL, Decimal("9"), april.version)],
        )
    assert not Quota.objects.filter(owner=rep2, period_start=JUNE).exists()
    with pytest.raises(ValidationFailed):
        services.quota_grid_save(actor=manager, quarter=Q2, cells=[GridCell(rep, date(2026, 7, 1), Decimal(1), None)])


def test_the_grid_lists_every_rep_in_scope_editable_where_allowed(tenant_a):
    manager, rep = tenant_a.users["sales_manager"], tenant_a.users["sales_rep"]
    make_quota(tenant_a, rep, start=MAY, amount="2000")
    make_quota(tenant_a, rep, start=APRIL, amount="6000", kind="quarter")

    rows = {row["user"].pk: row for row in quota_grid_for(actor=manager, quarter=Q2)}

    assert rows[rep.pk]["editable"] and not rows[manager.pk]["editable"]
    assert [q.amount if q else None for _m, q in rows[rep.pk]["months"]] == [None, Decimal("2000.00"), None]
    assert rows[rep.pk]["quarter"].amount == Decimal("6000.00")
    as_rep = quota_grid_for(actor=rep, quarter=Q2)
    assert [row["user"] for row in as_rep] == [rep] and not as_rep[0]["editable"]


def test_the_demo_sets_this_quarters_quotas_once(db):
    ctx = demo.build()
    quarter = Period.containing("quarter", today_for(ctx.organization))
    quotas = Quota.objects.filter(organization=ctx.organization, deleted_at__isnull=True)
    rep = ctx.users["sales_rep"]
    assert quotas.filter(owner=rep, period_kind="month", period_start__in=quarter.months).count() == 3
    assert quotas.filter(owner=ctx.users["sales_manager"], period_kind="quarter", period_start=quarter.start).exists()
    assert (
        quotas.get(owner=rep, period_start=quarter.start, period_kind="month").created_by == ctx.users["sales_manager"]
    )
    count = quotas.count()

    again = demo.build()

    assert not [c for c in again.changes if "quota" in c]
    assert quotas.count() == count
