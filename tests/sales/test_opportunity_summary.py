"""The pipeline summary: the organisation's figures per owner, cached until an opportunity changes, give
each reader exactly what the live query over visible_to gives (scope, owner and team filters); other
filters read live."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db

ROLES = ("sales_rep", "sales_rep_2", "sales_manager", "administrator")


def _live(actor, pipeline, filters=None, closed_days=selectors.RECENTLY_CLOSED_DAYS):
    """The summary from the two live queries (what the cached figures must equal)."""
    summary = {}
    base = selectors.opportunity_queryset_for(actor=actor, filters=selectors._board_filters(filters, pipeline))
    for qs in selectors._summary_queries(base, closed_days):
        for row in selectors._summary_rows(qs):
            selectors._add(summary, row["stage_id"], row["currency"], row["count"], row["total"], row["weighted"])
    return summary


def test_cached_figures_are_what_each_scope_sees_and_follow_every_change(tenant_a):
    stages = list(services.ensure_default_pipeline(tenant_a.org).stages.order_by("position"))
    pipeline = stages[0].pipeline
    rep, rep2, manager = (tenant_a.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager"))
    make_opportunity(tenant_a, rep, amount=Decimal("1000"))
    make_opportunity(tenant_a, rep2, amount=Decimal("300"), currency="USD")
    make_opportunity(tenant_a, manager, amount=Decimal("50"))
    won = make_opportunity(tenant_a, rep, amount=Decimal("200"))
    services.mark_won(actor=tenant_a.admin, opportunity=won)
    for key in ROLES:
        actor = tenant_a.users[key]
        assert selectors.board_summary_for(actor=actor, pipeline=pipeline) == _live(actor, pipeline), key
        for filters in ({"owner": rep2.pk}, {"team": tenant_a.teams["east"].pk}):
            assert selectors.board_summary_for(actor=actor, pipeline=pipeline, filters=filters) == _live(
                actor, pipeline, filters
            ), (key, filters)
        assert selectors.board_summary_for(actor=actor, pipeline=pipeline, closed_days=0) == _live(
            actor, pipeline, closed_days=0
        )
    # A change through the services is counted at once, by every reader.
    before = selectors.board_summary_for(actor=tenant_a.admin, pipeline=pipeline)[stages[0].pk]["count"]
    moved = make_opportunity(tenant_a, rep, amount=Decimal("10"))
    assert selectors.board_summary_for(actor=tenant_a.admin, pipeline=pipeline)[stages[0].pk]["count"] == before + 1
    services.change_stage(actor=tenant_a.admin, opportunity=moved, stage=stages[1])
    after = selectors.board_summary_for(actor=rep, pipeline=pipeline)
    assert after == _live(rep, pipeline) and after[stages[1].pk]["count"] == 1
    services.delete_opportunity(actor=tenant_a.admin, opportunity=moved)
    assert selectors.board_summary_for(actor=rep, pipeline=pipeline) == _live(rep, pipeline)
    assert selectors.board_summary_for(actor=tenant_a.users["read_only"], pipeline=pipeline) == _live(
        tenant_a.users["read_only"], pipeline
    )


def test_a_change_recounts_only_the_owners_it_moves(tenant_a, monkeypatch):
    pipeline = services.ensure_default_pipeline(tenant_a.org)
    rep, rep2, manager = (tenant_a.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager"))
    deal = make_opportunity(tenant_a, rep, amount=Decimal("100"))
    make_opportunity(tenant_a, rep2, amount=Decimal("300"))
    computed = []
    real = selectors._owner_figures

    def counting(organization_id, pipeline, closed_days, owners):
        computed.append(sorted(owners, key=str))
        return real(organization_id, pipeline, closed_days, owners)

    monkeypatch.setattr(selectors, "_owner_figures", counting)
    admin = tenant_a.admin
    assert selectors.board_summary_for(actor=admin, pipeline=pipeline) == _live(admin, pipeline)
    computed.clear()
    assert selectors.board_summary_for(actor=admin, pipeline=pipeline) == _live(admin, pipeline)
    assert computed == []  # all from the cache
    services.update_opportunity(actor=admin, opportunity=deal, expected_version=None, data={"amount": Decimal("7")})
    assert selectors.board_summary_for(actor=admin, pipeline=pipeline) == _live(admin, pipeline)
    assert computed == [[rep.pk]]
    computed.clear()
    services.reassign_opportunities(actor=admin, opportunities=[deal], owner=manager)
    assert selectors.board_summary_for(actor=admin, pipeline=pipeline) == _live(admin, pipeline)
    assert computed == [sorted([rep.pk, manager.pk])]  # the previous owner and the new one, nobody else
    for key in ROLES:
        actor = tenant_a.users[key]
        assert selectors.board_summary_for(actor=actor, pipeline=pipeline) == _live(actor, pipeline), key
