"""lead demo data for `kehu seed_demo` (imported by sales/demo.py): two assignment rules by region, a
fallback owner, one web form for the website, and a few Chinese leads that went through the rules.
Idempotent: rules and forms are found by name, leads by name and phone, so a second run creates nothing."""

from __future__ import annotations

from kehu.core import demo
from kehu.sales import lead_assignment, lead_services, lead_webforms
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSettings, WebForm

RULES = [
    # (name, provinces, team)
    ("华南区域线索", ["广东", "广西", "海南", "福建"], "华南销售组"),
    ("华东区域线索", ["上海", "江苏", "浙江", "安徽", "山东"], "华东销售组"),
]

WEB_FORM = {
    "name": "官网咨询表单",
    "title": "联系我们",
    "intro": "留下您的联系方式，我们的销售顾问将在一个工作日内与您联系。",
    "submit_label": "提交",
    "thank_you": "感谢您的咨询！我们已收到您的信息，销售顾问会尽快与您联系。",
    "fields": [
        {"field": "name", "label": "您的姓名", "required": True},
        {"field": "company", "label": "公司名称", "required": False},
        {"field": "phone", "label": "手机号码", "required": True},
        {"field": "email", "label": "电子邮箱", "required": False},
        {"field": "province", "label": "所在省份", "required": False},
        {"field": "notes", "label": "需求描述", "required": False},
    ],
}

# (name, company, title, phone, email, province, city, industry, source, status, score, notes)
LEADS = [
    (
        "黄志强",
        "深圳鹏程电子有限公司",
        "采购经理",
        "13823456781",
        "huang.zq@pengcheng-e.cn",
        "广东省",
        "深圳市",
        "制造业",
        "web_form",
        "new",
        60,
        "官网留言：想了解批量采购价格。",
    ),
    (
        "林晓燕",
        "广州珠江物流有限公司",
        "运营总监",
        "13922334455",
        "",
        "广东省",
        "广州市",
        "交通运输、仓储和邮政业",
        "exhibition",
        "contacted",
        45,
        "广交会上交换名片。",
    ),
    (
        "周建华",
        "苏州博远自动化设备有限公司",
        "总经理",
        "13962112233",
        "zhou@boyuan-auto.com",
        "江苏省",
        "苏州市",
        "制造业",
        "referral",
        "qualified",
        80,
        "老客户恒通精密介绍，预算已确认。",
    ),
    (
        "吴佳怡",
        "杭州云栖文化传媒有限公司",
        "市场经理",
        "15858123456",
        "wujiayi@yunqi-media.cn",
        "浙江省",
        "杭州市",
        "文化、体育和娱乐业",
        "campaign",
        "new",
        30,
        "",
    ),
    (
        "郑伟",
        "上海浦江咨询有限公司",
        "合伙人",
        "13601887766",
        "",
        "上海市",
        "上海市",
        "租赁和商务服务业",
        "web_form",
        "contacted",
        50,
        "希望下周安排线上演示。",
    ),
    (
        "何丽",
        "",
        "",
        "18620001122",
        "heli2026@163.com",
        "福建省",
        "厦门市",
        "",
        "web_form",
        "new",
        20,
        "个人咨询：小团队是否适用。",
    ),
    (
        "孙明",
        "成都天府软件有限公司",
        "技术总监",
        "13880990011",
        "sunming@tianfu-soft.cn",
        "四川省",
        "成都市",
        "信息传输、软件和信息技术服务业",
        "import",
        "new",
        40,
        "",
    ),
]


@demo.register(order=25)
def leads(ctx: demo.DemoContext) -> None:
    admin, org = ctx.admin, ctx.organization
    for name, provinces, team_name in RULES:
        if not AssignmentRule.objects.filter(organization=org, name=name).exists():
            lead_assignment.rule_create(
                actor=admin,
                name=name,
                conditions=[{"field": "province", "op": "in", "value": provinces}],
                action=AssignmentRule.Action.ROUND_ROBIN,
                team=ctx.teams[team_name],
                cap=50,
            )
            ctx.created(f"assignment rule {name}")
    settings = LeadSettings.objects.filter(organization=org).first()
    if settings is None or settings.default_owner_id is None:
        lead_assignment.lead_settings_update(
            actor=admin, expected_version=None, data={"default_owner": ctx.users["sales_manager"]}
        )
        ctx.created("lead fallback owner")
    if not WebForm.objects.filter(organization=org, name=WEB_FORM["name"]).exists():
        lead_webforms.webform_create(actor=admin, **WEB_FORM)
        ctx.created(f"web form {WEB_FORM['name']}")
    for name, company, title, phone, email, province, city, industry, source, status, score, notes in LEADS:
        if Lead.objects.filter(organization=org, name=name, phone=phone).exists():
            continue
        lead_services.lead_create(
            actor=admin,
            name=name,
            company=company,
            title=title,
            phone=phone,
            email=email,
            province=province,
            city=city,
            industry=industry,
            source=source,
            status=status,
            score=score,
            notes=notes,
        )
        ctx.created(f"lead {name}")
