"""Demo opportunities for `kehu seed_demo`: fifteen deals of the demo customers spread over the default
pipeline's stages (a few won and lost, one rotting), created and moved through the services by their
owners, so that each has its stage history and shows on the customer's timeline. Idempotent: an
opportunity that exists (by name) is left alone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from kehu.core import demo
from kehu.customers.models import Contact, Customer
from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity, Stage, StageChange

# (name, customer, stage index in the default pipeline, amount, days until the expected close,
#  next step, competitors, lost reason)
DEALS = [
    ("云帆贸易 ERP 升级", "上海云帆贸易有限公司", 3, "380000", 20, "周五前提交最终报价", "用友", ""),
    ("青禾软件 年度续约", "杭州青禾软件科技有限公司", 4, "120000", -5, "", "", ""),
    ("恒通精密 MES 试点", "苏州恒通精密机械有限公司", 2, "560000", 45, "安排工厂现场演示", "金蝶, 鼎捷", ""),
    ("金陵医药 会员系统", "南京金陵医药连锁有限公司", 1, "90000", 60, "确认门店数量与预算", "", ""),
    ("海曙服饰 电商对接", "宁波海曙服饰有限公司", 0, None, None, "首次拜访", "", ""),
    ("太湖光伏 售后平台", "无锡太湖光伏科技有限公司", 2, "240000", 30, "技术方案评审", "纷享销客", ""),
    ("徽商智联 数据中台", "合肥徽商智联信息技术有限公司", 5, "300000", -10, "", "阿里云", "预算削减，项目延期到明年"),
    ("瓯江鞋业 渠道管理", "温州瓯江鞋业有限公司", 1, "75000", 40, "收集渠道商清单", "", ""),
    ("前海星辰 CRM 实施", "深圳前海星辰电子有限公司", 3, "450000", 15, "法务审核合同条款", "Salesforce", ""),
    ("南粤食品 经销商门户", "广州南粤食品有限公司", 2, "180000", 35, "约见采购总监", "", ""),
    ("松湖模具 报价系统", "东莞松湖模具有限公司", 0, "60000", 70, "电话沟通需求", "", ""),
    ("顺德家电 服务工单", "佛山顺德家电有限公司", 4, "210000", -2, "", "", ""),
    ("湘江教育 招生管理", "长沙湘江教育科技有限公司", 1, "130000", 50, "准备行业案例", "", ""),
    ("华夏新能源 集团采购", "北京华夏新能源科技有限公司", 2, "880000", 90, "高层拜访", "SAP", ""),
    ("滨海化工 安全巡检", "天津滨海化工有限公司", 5, "160000", -20, "", "", "选择了本地供应商"),
]
# The first open deal of the list sat in its stage long enough to be flagged as rotting.
ROTTING = "金陵医药 会员系统"


@demo.register(order=22)
def create_demo_opportunities(ctx: demo.DemoContext) -> None:
    org = ctx.organization
    pipeline = services.ensure_default_pipeline(org)
    stages = list(pipeline.stages.order_by("position", "id"))
    existing = set(Opportunity.objects.filter(organization=org).values_list("name", flat=True))
    customers = {c.name: c for c in Customer.objects.filter(organization=org, deleted_at__isnull=True)}
    today = timezone.localdate()
    created = 0
    for name, customer_name, target, amount, close_in, next_step, competitors, lost_reason in DEALS:
        customer = customers.get(customer_name)
        if name in existing or customer is None or target >= len(stages):
            continue
        owner = ctx.users.get(_owner_key(ctx, customer)) or ctx.admin
        contact = Contact.objects.filter(organization=org, customer=customer, deleted_at__isnull=True).first()
        opportunity = services.create_opportunity(
            actor=owner,
            name=name,
            customer=customer,
            contact=contact,
            pipeline=pipeline,
            amount=Decimal(amount) if amount else None,
            expected_close_date=today + timedelta(days=close_in) if close_in is not None else None,
            next_step=next_step,
            competitors=competitors,
        )
        # Through the stages one by one, as a rep would: each step is in the stage history.
        for stage in _path(stages, target):
            services.change_stage(actor=owner, opportunity=opportunity, stage=stage)
        if stages[target].kind == Stage.Kind.WON:
            services.mark_won(actor=owner, opportunity=opportunity)
        elif stages[target].kind == Stage.Kind.LOST:
            services.mark_lost(actor=owner, opportunity=opportunity, reason=lost_reason)
        if name == ROTTING and not stages[target].rot_days:
            services.update_stage(actor=ctx.admin, stage=stages[target], data={"rot_days": 14})
        _spread_history(opportunity, recent_days=21 if name == ROTTING else 1 + created % 5, step_days=4 + created % 4)
        created += 1
    if created:
        ctx.created(f"{created} opportunities")


def _spread_history(opportunity: Opportunity, *, recent_days: int, step_days: int) -> None:
    """Demo deals are made in a moment; spread their stage history over the past weeks, so that the time in
    each stage (and the rotting flag) reads like real work."""
    changes = list(StageChange.objects.filter(opportunity=opportunity).order_by("at", "id"))
    now = timezone.now()
    times = [now - timedelta(days=recent_days + step_days * (len(changes) - 1 - i)) for i in range(len(changes))]
    for index, change in enumerate(changes):
        change.at = times[index]
        change.seconds_in_previous = int((times[index] - times[index - 1]).total_seconds()) if index else None
    StageChange.objects.bulk_update(changes, ["at", "seconds_in_previous"])
    closed = {"closed_at": times[-1]} if opportunity.status != Opportunity.Status.OPEN else {}
    Opportunity.objects.filter(pk=opportunity.pk).update(stage_entered_at=times[-1], created_at=times[0], **closed)


def _path(stages: list[Stage], target: int) -> list[Stage]:
    """The open stages a deal goes through to reach stages[target] (a lost one leaves early)."""
    open_indexes = [i for i, stage in enumerate(stages) if stage.kind == Stage.Kind.OPEN]
    if stages[target].kind == Stage.Kind.OPEN:
        return [stages[i] for i in open_indexes if 0 < i <= target]
    if stages[target].kind == Stage.Kind.WON:
        return [stages[i] for i in open_indexes[1:]]
    return [stages[i] for i in open_indexes[1:2]]


def _owner_key(ctx: demo.DemoContext, customer: Customer) -> str | None:
    return next((key for key, user in ctx.users.items() if user.pk == customer.owner_id), None)
