"""activity demo data for `kehu seed_demo` (imported by sales/demo.py): about twenty follow-ups of the demo
sales people on their customers (and on their leads and opportunities where those exist), some overdue,
some today, some upcoming with reminders, some done with an outcome. Created through the services as
the owners. Idempotent: an activity whose subject the owner already has is not created again."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from kehu.core import demo
from kehu.customers.models import Customer
from kehu.sales import activity_services
from kehu.sales.activity_models import Activity
from kehu.sales.activity_selectors import org_timezone
from kehu.sales.models import Lead, Opportunity

# (owner key, customer index among the owner's customers, kind, subject, when, minutes, status, outcome)
# `when`: ("today", hour) = today at that local hour; ("in", hours) = that many hours from now, on the
# hour; ("days", n, hour) = n days from today at that local hour (negative: in the past).
PLAN: list[tuple[str, int, str, str, tuple, int | None, str, str]] = [
    ("sales_rep", 0, "call", "回访云帆贸易：确认二季度采购计划", ("days", -2, 10), 15, "planned", ""),
    ("sales_rep", 1, "task", "整理青禾软件的续约报价", ("days", -1, 17), None, "planned", ""),
    ("sales_rep", 2, "visit", "拜访恒通精密：设备现场演示", ("today", 9), 120, "planned", ""),
    ("sales_rep", 0, "call", "电话确认云帆贸易付款进度", ("in", 2), 10, "planned", ""),
    ("sales_rep", 3, "meeting", "与客户技术团队对接接口方案", ("in", 4), 60, "planned", ""),
    ("sales_rep", 1, "email", "发送青禾软件产品资料", ("days", 1, 10), None, "planned", ""),
    ("sales_rep", 2, "meeting", "恒通精密商务谈判", ("days", 3, 14), 90, "planned", ""),
    ("sales_rep", 3, "task", "准备季度客户拜访计划", ("days", 5, 18), None, "planned", ""),
    ("sales_rep", 0, "call", "首次电话沟通需求", ("days", -6, 15), 20, "done", "客户有采购意向，约下周拜访。"),
    (
        "sales_rep",
        1,
        "visit",
        "上门拜访青禾软件",
        ("days", -4, 10),
        90,
        "done",
        "见到了技术总监，需求已确认，等待报价。",
    ),
    ("sales_rep_2", 0, "call", "回访老客户满意度", ("days", -1, 11), 15, "planned", ""),
    ("sales_rep_2", 1, "visit", "拜访客户财务部门对账", ("today", 10), 60, "planned", ""),
    ("sales_rep_2", 0, "call", "确认合同盖章进度", ("in", 3), 10, "planned", ""),
    ("sales_rep_2", 2, "meeting", "新品发布会邀约", ("days", 2, 15), 60, "planned", ""),
    ("sales_rep_2", 1, "email", "发送对账单", ("days", -3, 9), None, "done", "客户已确认金额无误。"),
    ("sales_manager", 0, "meeting", "华东区重点客户季度复盘", ("in", 5), 60, "planned", ""),
    ("sales_manager", 1, "visit", "陪同拜访重点客户高层", ("days", 1, 14), 120, "planned", ""),
    ("sales_manager", 0, "task", "审批本月大客户折扣申请", ("days", -1, 18), None, "planned", ""),
    (
        "sales_manager",
        2,
        "call",
        "与客户总经理电话沟通合作框架",
        ("days", -2, 16),
        30,
        "done",
        "对方同意下月签署框架协议。",
    ),
    ("sales_manager", 1, "meeting", "团队周会：跟进进度检查", ("days", 4, 9), 60, "planned", ""),
]


def _when(spec: tuple, now: datetime, tz: Any) -> datetime:
    today = timezone.localtime(now, tz).date()
    if spec[0] == "today":
        return datetime.combine(today, time(spec[1]), tzinfo=tz)
    if spec[0] == "in":
        return (now + timedelta(hours=spec[1])).replace(minute=0, second=0, microsecond=0)
    return datetime.combine(today + timedelta(days=spec[1]), time(spec[2]), tzinfo=tz)


@demo.register(order=26)
def create_demo_activities(ctx: demo.DemoContext) -> None:
    org = ctx.organization
    tz = org_timezone(org)
    now = timezone.now()
    created = 0
    customers: dict[str, list[Customer]] = {}
    for owner_key, index, kind, subject, when, minutes, status, outcome in PLAN:
        owner = ctx.users.get(owner_key)
        if owner is None or Activity.objects.filter(organization=org, owner=owner, subject=subject).exists():
            continue
        if owner_key not in customers:
            customers[owner_key] = list(
                Customer.objects.filter(organization=org, owner=owner, deleted_at__isnull=True).order_by("pk")[:4]
            )
        mine = customers[owner_key]
        if not mine:
            continue
        customer = mine[index % len(mine)]
        at = _when(when, now, tz)
        data: dict[str, Any] = {
            "kind": kind,
            "subject": subject,
            "customer": customer,
            "duration_minutes": minutes,
            "notes": "演示数据：可随意修改。",
        }
        if kind == Activity.Kind.TASK:
            data["due_at"] = at
        else:
            data["starts_at"] = at
        contact = customer.contacts.filter(deleted_at__isnull=True).order_by("-is_primary", "pk").first()
        if contact is not None and kind in (Activity.Kind.CALL, Activity.Kind.VISIT):
            data["contact"] = contact
        opportunity = Opportunity.objects.filter(organization=org, customer=customer, deleted_at__isnull=True).first()
        if opportunity is not None and kind == Activity.Kind.MEETING:
            data["opportunity"] = opportunity
        if status == Activity.Status.DONE:
            activity_services.activity_log(
                actor=owner, outcome=outcome, done_at=min(at + timedelta(hours=1), now), **data
            )
        else:
            if at > now:
                data["remind_minutes_before"] = 15
            activity_services.activity_create(actor=owner, **data)
        created += 1
    # A follow-up call on a lead of each rep, where the lead demo made some.
    for owner_key in ("sales_rep", "sales_rep_2"):
        owner = ctx.users.get(owner_key)
        lead = Lead.objects.filter(organization=org, owner=owner, deleted_at__isnull=True).order_by("pk").first()
        subject = "电话跟进线索，确认需求和预算"
        if (
            owner is None
            or lead is None
            or Activity.objects.filter(organization=org, owner=owner, subject=subject).exists()
        ):
            continue
        activity_services.activity_create(
            actor=owner, kind=Activity.Kind.CALL, subject=subject, lead=lead, starts_at=_when(("days", 1, 11), now, tz)
        )
        created += 1
    if created:
        ctx.created(f"{created} activities")
