"""Quotas made through the services, and won opportunities for the forecast tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from kehu.sales import forecast_services
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, today_for
from kehu.sales.models import Opportunity
from tests.sales.factories import make_opportunity

_reps = count(1)


def this_quarter(tenant: Any) -> Period:
    return Period.containing("quarter", today_for(tenant.org))


def make_quota(
    tenant: Any,
    owner: Any = None,
    *,
    amount: Any = "100000",
    kind: str = Quota.Period.MONTH,
    start: date | None = None,
    actor: Any = None,
    **fields: Any,
) -> Quota:
    """A quota of `owner` (default: the tenant's sales rep) for `start` (default: this month), set by the
    administrator (or `actor`)."""
    owner = owner or tenant.users["sales_rep"]
    if start is None:  # this month (or quarter), else the next one the rep has no quota for yet
        period = Period.containing(kind, today_for(tenant.org))
        taken = Quota.objects.filter(owner=owner, period_kind=kind, deleted_at__isnull=True)
        while taken.filter(period_start=period.start).exists():
            period = period.shifted(1)
        start = period.start
    return forecast_services.quota_create(
        actor=actor or tenant.admin, user=owner, period_kind=kind, period_start=start, amount=Decimal(amount), **fields
    )


def make_deleted_quota(tenant: Any, owner: Any = None, **fields: Any) -> Quota:
    return forecast_services.quota_delete(actor=tenant.admin, quota=make_quota(tenant, owner, **fields))


def make_open(
    tenant: Any, owner: Any = None, *, amount: Any, probability: int, close: date, **fields: Any
) -> Opportunity:
    return make_opportunity(
        tenant, owner, amount=Decimal(amount), probability=probability, expected_close_date=close, **fields
    )


def make_won(tenant: Any, owner: Any = None, *, amount: Any, closed_at: datetime, **fields: Any) -> Opportunity:
    """An opportunity won at `closed_at`. The stage services that close a deal are another topic's; the
    forecast only reads status and closed_at, so the test sets them directly (setup only)."""
    opportunity = make_opportunity(tenant, owner, amount=Decimal(amount), **fields)
    Opportunity.objects.filter(pk=opportunity.pk).update(status=Opportunity.Status.WON, closed_at=closed_at)
    opportunity.refresh_from_db()
    return opportunity


def forecast_owner(tenant: Any) -> Any:
    """For the isolation matrix: a new rep of the tenant with an open opportunity closing this quarter. The
    forecast then has one more line, keyed by that rep's id (the matrix looks for it, and the query-count
    test for a growing number of lines)."""
    from kehu.accounts import services as account_services

    n = next(_reps)
    owner = account_services.user_create(
        actor=tenant.admin,
        organization=tenant.org,
        email=f"forecast_rep_{n}@{tenant.admin.email.split('@')[1]}",
        password="Kehu-test-pw-2026",
        role=tenant.role("sales_rep"),
        name=f"预测销售 {n}",
        team=tenant.teams["east"],
    )
    make_open(tenant, owner, amount="1000", probability=50, close=this_quarter(tenant).start)
    return owner


def make_owned_quota(tenant: Any, owner: Any) -> Quota:
    """For the matrix's scope checks, which need a record owned by each colleague: the service refuses a
    quota for someone who does not sell (a marketer), so that one row is written directly."""
    if "create" in owner.grant_for("sales").actions:
        return make_quota(tenant, owner)
    start = Period.containing("month", today_for(tenant.org)).start
    return Quota.objects.create(
        organization=tenant.org, owner=owner, created_by=tenant.admin, updated_by=tenant.admin,
        period_kind=Quota.Period.MONTH, period_start=start, amount=Decimal("1000"), currency="CNY",
    )  # fmt: skip
