"""knowledge demo data for `kehu seed_demo` (imported by service/demo.py): two categories, six published
Chinese articles, and the public help centre at /help/demo/. Idempotent."""

from __future__ import annotations

from kehu.core import demo
from kehu.service import knowledge_services
from kehu.service.models import HelpCentre, KbArticle, KbCategory

HELP_SLUG = "demo"

ARTICLES: dict[str, list[tuple[str, str]]] = {
    "账户与登录": [
        (
            "忘记密码怎么办？",
            "在登录页点击“忘记密码”，输入注册邮箱，系统会发送重置链接。\n\n"
            "## 收不到邮件？\n- 检查垃圾邮件文件夹\n- 确认邮箱地址没有输错\n- 十分钟后仍未收到，请联系客服",
        ),
        (
            "如何开启两步验证",
            "为了账户安全，建议开启两步验证。\n\n"
            "1. 登录后进入“我的资料与安全”\n2. 点击“开启两步验证”，用手机验证器扫描二维码\n3. 输入验证器显示的六位数字完成绑定",
        ),
        (
            "如何修改绑定的手机号",
            "进入“我的资料与安全”，在手机号一栏点击“修改”，按提示完成短信验证即可。"
            "如果原手机号已停用，请提供营业执照照片联系客服人工处理。",
        ),
    ],
    "订单、发票与退款": [
        (
            "如何申请退款",
            "订单签收后七天内可以申请退款。\n\n"
            "- 登录后在“我的订单”中找到对应订单\n- 点击“申请退款”，选择退款原因并上传凭证\n- 审核通过后，款项原路退回，一般三到五个工作日到账",
        ),
        (
            "怎样开具增值税专用发票",
            "在订单详情页点击“申请发票”，选择“增值税专用发票”，填写公司名称、税号、开户行及账号。"
            "发票将在五个工作日内开具，电子发票会发送到您的邮箱。",
        ),
        (
            "物流信息长时间不更新怎么办",
            "物流信息一般每天更新。如果超过 48 小时没有更新，请在工单中提供订单号，我们会联系承运商核实，"
            "并在一个工作日内回复处理结果。",
        ),
    ],
}


@demo.register(order=44)
def knowledge(ctx: demo.DemoContext) -> None:
    org, admin = ctx.organization, ctx.admin
    author = ctx.users.get("service_manager") or admin
    for name, articles in ARTICLES.items():
        category = KbCategory.objects.filter(organization=org, name=name).first()
        if category is None:
            category = knowledge_services.kb_category_create(actor=admin, name=name)
            ctx.created(f"knowledge base category {name}")
        for title, body in articles:
            if KbArticle.objects.filter(organization=org, title=title).exists():
                continue
            knowledge_services.kb_article_create(
                actor=author, title=title, body=body, category=category, status=KbArticle.Status.PUBLISHED
            )
            ctx.created(f"article {title}")
    centre = knowledge_services.help_centre_for(org)
    if centre.slug != HELP_SLUG and not HelpCentre.objects.filter(slug=HELP_SLUG).exclude(pk=centre.pk).exists():
        knowledge_services.help_centre_update(
            actor=admin, expected_version=centre.version, data={"slug": HELP_SLUG, "title": f"{org.name} 帮助中心"}
        )
        ctx.created(f"help centre /help/{HELP_SLUG}/")
