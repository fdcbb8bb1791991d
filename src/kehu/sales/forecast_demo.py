"""forecast demo data for `kehu seed_demo` (imported by sales/demo.py): this quarter's quotas of the demo's
sales people, set as a user would set them (the manager for the reps, the administrator for the manager).
Idempotent: a quota that exists for a rep and period is left alone."""

from __future__ import annotations

from decimal import Decimal

from kehu.core import demo
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, today_for
from kehu.sales.forecast_services import quota_create

# user key -> (who sets it, kind, amount per month or for the quarter)
QUOTAS = {
    "sales_rep": ("sales_manager", Quota.Period.MONTH, Decimal("300000")),
    "sales_rep_2": ("sales_manager", Quota.Period.MONTH, Decimal("250000")),
    "sales_manager": ("administrator", Quota.Period.QUARTER, Decimal("1500000")),
}


@demo.register(order=28)
def quotas(ctx: demo.DemoContext) -> None:
    quarter = Period.containing("quarter", today_for(ctx.organization))
    created = 0
    for key, (setter, kind, amount) in QUOTAS.items():
        user = ctx.users[key]
        starts = quarter.months if kind == Quota.Period.MONTH else [quarter.start]
        for start in starts:
            exists = Quota.objects.filter(
                organization=ctx.organization, owner=user, period_kind=kind, period_start=start, deleted_at__isnull=True
            ).exists()
            if not exists:
                quota_create(actor=ctx.users[setter], user=user, period_kind=kind, period_start=start, amount=amount)
                created += 1
    if created:
        ctx.created(f"{created} quotas for {quarter.label}")
