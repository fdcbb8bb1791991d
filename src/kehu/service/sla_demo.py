"""sla demo data for `kehu seed_demo` (imported by service/demo.py): the working-day calendar with the 2026
public holidays, and two SLA policies (key accounts, and the default for everyone else). Idempotent."""

from __future__ import annotations

from kehu.core import demo
from kehu.service import sla_services
from kehu.service.models import CalendarDay, SlaPolicy

POLICIES = [
    {
        "name": "重点客户 SLA",
        "description": "A 类客户：更快的首次响应和解决时限，超时升级给队列主管并提高优先级。",
        "tiers": ["A"],
        "notify_queue_manager": True,
        "notify_team_manager": True,
        "raise_priority": True,
        "targets": {
            "urgent": {"first_response_minutes": 15, "resolution_minutes": 120},
            "high": {"first_response_minutes": 30, "resolution_minutes": 240},
            "normal": {"first_response_minutes": 60, "resolution_minutes": 540},
            "low": {"first_response_minutes": 120, "resolution_minutes": 1080},
        },
    },
    {
        "name": "标准 SLA",
        "description": "所有其他工单：按工作日 9:00-18:00 计时，节假日不计。",
        "is_default": True,
        "notify_queue_manager": True,
        "reassign": "queue_manager",
        "targets": {
            "urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
            "high": {"first_response_minutes": 60, "resolution_minutes": 540},
            "normal": {"first_response_minutes": 240, "resolution_minutes": 1620},
            "low": {"first_response_minutes": 480, "resolution_minutes": 2700},
        },
    },
]


@demo.register(order=42)
def sla(ctx: demo.DemoContext) -> None:
    calendar = sla_services.ensure_default_calendar(ctx.organization)
    if not CalendarDay.objects.filter(calendar=calendar, date__year=2026).exists():
        sla_services.calendar_apply_cn_holidays(actor=ctx.admin, calendar=calendar, year=2026)
        ctx.created("2026 public holidays")
    for spec in POLICIES:
        if not SlaPolicy.objects.filter(organization=ctx.organization, name=spec["name"]).exists():
            sla_services.sla_policy_create(actor=ctx.admin, **spec)
            ctx.created(f"SLA policy {spec['name']}")
