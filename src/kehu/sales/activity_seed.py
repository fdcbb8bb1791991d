"""Activities for `kehu seed_sales --activities N` (plugged into the command with `register_table`).

Spread like a team's real history: about half about an opportunity (its customer and owner), a third about
a customer only (its owner, a random sales user for a pool customer) and the rest about a lead (its owner,
else a random sales user). Most are done, in the last two years; some planned ones are overdue (the last
30 days), some due from today to two months ahead (a few every day per rep, so "my day" has something to
show), a few cancelled. Calls and emails have no duration, visits and meetings do; tasks have a due time.

The ids the rows reference are read once in the command's process before the workers fork (`_prepare`),
into arrays the workers share: no database access while generating.
"""

from __future__ import annotations

from array import array
from datetime import timedelta
from typing import Any

from django.db import connection

from kehu.accounts.models import Organization
from kehu.core.management.commands.seed import Generator
from kehu.sales.activity_models import Activity
from kehu.sales.management.commands import seed_sales
from kehu.sales.models import Lead, Opportunity

KINDS = (["call", "visit", "meeting", "email", "task"], [35, 15, 15, 20, 15])
SUBJECTS = {
    "call": ["电话回访", "确认需求", "跟进报价", "预约拜访", "催款提醒", "续约沟通"],
    "visit": ["上门拜访", "现场演示", "实地考察", "拜访决策人", "售后巡检"],
    "meeting": ["方案评审会", "商务谈判", "技术交流会", "项目启动会", "季度回顾"],
    "email": ["发送报价单", "发送产品资料", "发送合同草稿", "会议纪要", "节日问候"],
    "task": ["准备方案", "整理需求清单", "更新报价", "提交审批", "安排交付"],
}
OUTCOMES = [
    "",
    "",
    "客户有兴趣，下周再联系",
    "已发送资料",
    "需要再次报价",
    "决策人出差，改期",
    "达成初步意向",
    "无人接听",
]
NOTES = ["", "", "", "客户关注价格和交付周期", "需要技术人员陪同", "带上案例资料"]
# Where the activity points: an opportunity (with its customer), a customer only, a lead.
LINKS = (["opportunity", "customer", "lead"], [50, 35, 15])
# What state and when: done in the past, planned and overdue, planned from today on, cancelled.
STATES = (["done", "overdue", "upcoming", "cancelled"], [82, 3, 12, 3])

_OPP_IDS = array("q")
_OPP_CUSTOMERS = array("q")
_OPP_OWNERS = array("q")
_LEAD_IDS = array("q")
_LEAD_OWNERS = array("q")


def _prepare(org: Organization) -> None:
    """Read the organisation's opportunities and leads (ids and owners) before the workers fork."""
    for a in (_OPP_IDS, _OPP_CUSTOMERS, _OPP_OWNERS, _LEAD_IDS, _LEAD_OWNERS):
        del a[:]
    rows = (
        Opportunity.objects.filter(organization=org, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", "customer_id", "owner_id")
        .iterator(chunk_size=20_000)
    )
    for pk, customer, owner in rows:
        _OPP_IDS.append(pk)
        _OPP_CUSTOMERS.append(customer)
        _OPP_OWNERS.append(owner or 0)
    leads = (
        Lead.objects.filter(organization=org, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", "owner_id")
        .iterator(chunk_size=20_000)
    )
    for pk, owner in leads:
        _LEAD_IDS.append(pk)
        _LEAD_OWNERS.append(owner or 0)


def generate_activities(job: seed_sales.Job, gen: Generator, n: int) -> list[list[Any]]:
    r = gen.r
    table = job.tables["activity"]
    dt = (lambda v: v) if job.pg else connection.ops.adapt_datetimefield_value
    customers, customer_owners = seed_sales._CUSTOMER_IDS, seed_sales._CUSTOMER_OWNERS
    links = LINKS
    if not _OPP_IDS:
        links = (["customer", "lead"], [70, 30]) if _LEAD_IDS else (["customer"], [1])
    elif not _LEAD_IDS:
        links = (["opportunity", "customer"], [60, 40])
    rows = []
    for _ in range(n):
        link = r.choices(*links)[0]
        customer = lead = opportunity = None
        if link == "opportunity":
            k = r.randrange(len(_OPP_IDS))
            opportunity, customer, owner = _OPP_IDS[k], _OPP_CUSTOMERS[k], _OPP_OWNERS[k]
        elif link == "customer":
            k = r.randrange(len(customers))
            customer, owner = customers[k], customer_owners[k]
        else:
            k = r.randrange(len(_LEAD_IDS))
            lead, owner = _LEAD_IDS[k], _LEAD_OWNERS[k]
        owner = owner or r.choice(job.owners)
        kind = r.choices(*KINDS)[0]
        state = r.choices(*STATES)[0]
        if state == "upcoming":
            # Working hours, today to two months ahead, front-loaded: the next days are the busiest.
            day = min(int(r.expovariate(1 / 12)), 60)
            when = job.now.replace(hour=1, minute=0, second=0, microsecond=0) + timedelta(
                days=day, minutes=r.randrange(0, 600, 15)
            )
        elif state == "overdue":
            when = job.now - timedelta(seconds=r.randrange(60, 30 * 86400))
        else:
            when = job.now - timedelta(seconds=r.randrange(3600, 730 * 86400))
        is_task = kind == "task"
        starts = None if is_task else when
        due = when if is_task else None
        duration = r.choice([30, 60, 90, 120]) if kind in ("visit", "meeting") else None
        created = min(when, job.now) - timedelta(seconds=r.randrange(14 * 86400))
        done = state == "done"
        done_at = when + timedelta(minutes=duration or r.randrange(5, 120)) if done else None
        if done_at is not None and done_at > job.now:
            done_at = job.now
        remind = when - timedelta(minutes=15) if state == "upcoming" and r.random() < 0.5 else None
        if remind is not None and remind <= job.now:
            remind = None  # no burst of past reminders for the scheduler
        values: dict[str, Any] = {
            "organization_id": job.org,
            "owner_id": owner,
            "created_by_id": owner,
            "updated_by_id": owner,
            "created_at": dt(created),
            "updated_at": dt(done_at or created),
            "kind": kind,
            "subject": r.choice(SUBJECTS[kind]),
            "notes": r.choice(NOTES),
            "status": "done" if done else ("cancelled" if state == "cancelled" else "planned"),
            "starts_at": dt(starts) if starts else None,
            "duration_minutes": duration,
            "due_at": dt(due) if due else None,
            "scheduled_at": dt(when),
            "remind_at": dt(remind) if remind else None,
            "remind_minutes_before": 15 if remind else None,
            "done_at": dt(done_at) if done_at else None,
            "outcome": r.choice(OUTCOMES) if done else "",
            "customer_id": customer,
            "lead_id": lead,
            "opportunity_id": opportunity,
        }
        rows.append(table.row(values))
    return rows


seed_sales.register_table("activity", Activity, generate_activities, prepare=_prepare)
