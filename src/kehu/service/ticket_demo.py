"""Ticket demo data for `kehu seed_demo` (imported by service/demo.py): two queues worked by the demo's
service agent and service manager, ten Chinese tickets with their conversations, three canned replies.
Idempotent: a queue, ticket (by subject) or canned reply (by title) that exists is left alone.

The demo's replies are written as already sent (no mail leaves a demo).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kehu.core import demo
from kehu.customers.models import Contact
from kehu.service import ticket_config_services, ticket_services
from kehu.service.ticket_models import CannedReply, Queue, Ticket, TicketMessage

QUEUES = [
    # (name, address, assignment, default, web form)
    ("售后服务", "support@demo.kehu.cn", Queue.Assignment.LEAST_OPEN, True, True),
    ("技术支持", "tech@demo.kehu.cn", Queue.Assignment.ROUND_ROBIN, False, False),
]

CANNED = [
    (
        "已收到，正在处理",
        "{{customer_name}} 您好：\n\n您的工单 #{{ticket_number}}「{{ticket_subject}}」已收到，我们正在处理，"
        "预计今天内给您答复。\n\n{{agent_name}}\n{{organization_name}} 客户服务部",
    ),
    (
        "需要补充信息",
        "{{contact_name}} 您好：\n\n为尽快解决您的问题，请补充以下信息：\n1. 设备型号与序列号\n2. 问题出现的时间\n"
        "3. 相关截图\n\n直接回复本邮件即可。\n\n{{agent_name}}",
    ),
    (
        "问题已解决",
        "{{customer_name}} 您好：\n\n工单 #{{ticket_number}} 的问题已处理完毕。如仍有疑问，直接回复本邮件，"
        "工单会自动重新打开。\n\n感谢您的耐心！\n{{agent_name}}",
    ),
]

# (subject, queue, kind, priority, channel, status, hours ago, [(who, text)]) — who: "customer", "agent", "note"
TICKETS = [
    (
        "发票抬头开错了，需要重开",
        "售后服务",
        "request",
        "normal",
        "email",
        "pending",
        30,
        [
            ("customer", "你好，上周收到的增值税专用发票抬头写错了，应为我司全称，麻烦重开一张。"),
            ("agent", "您好，已为您提交重开申请，请将原发票寄回，收到后三个工作日内寄出新发票。"),
        ],
    ),
    (
        "打印机无法连接网络",
        "技术支持",
        "incident",
        "high",
        "phone",
        "open",
        5,
        [
            ("customer", "客户来电：办公室打印机昨天起无法连接无线网络，重启无效。"),
            ("note", "初步判断是路由器更换后未重新配网，已约今天下午远程协助。"),
        ],
    ),
    (
        "投诉：送货延迟三天",
        "售后服务",
        "complaint",
        "urgent",
        "email",
        "open",
        3,
        [("customer", "订单说好周一送达，到现在还没收到，影响了我们的生产安排，请尽快给个说法！")],
    ),
    (
        "咨询年度维保合同价格",
        "售后服务",
        "inquiry",
        "low",
        "web",
        "new",
        2,
        [("customer", "想了解一下明年的年度维保合同报价，包含哪些服务内容？")],
    ),
    (
        "系统登录提示密码错误",
        "技术支持",
        "incident",
        "normal",
        "email",
        "resolved",
        72,
        [
            ("customer", "今天早上开始登录系统一直提示密码错误，确认密码没有输错。"),
            ("agent", "您好，账号因多次输错被临时锁定，已为您解锁，请重新登录试试。"),
            ("customer", "可以登录了，谢谢！"),
        ],
    ),
    (
        "申请增加两个用户账号",
        "技术支持",
        "request",
        "normal",
        "email",
        "closed",
        200,
        [
            ("customer", "新同事入职，麻烦帮忙增加两个用户账号。"),
            ("agent", "已开通，账号信息已单独发送至您的邮箱。"),
        ],
    ),
    (
        "设备异响，怀疑轴承损坏",
        "技术支持",
        "incident",
        "high",
        "phone",
        "pending",
        20,
        [
            ("customer", "客户来电：三号机运行时有明显异响，担心轴承损坏。"),
            ("agent", "您好，请拍一段设备运行的视频发给我们，工程师会据此判断是否需要上门。"),
        ],
    ),
    (
        "退货流程咨询",
        "售后服务",
        "inquiry",
        "normal",
        "email",
        "open",
        8,
        [("customer", "收到的产品规格不符，想退货，请问流程是怎样的？运费谁承担？")],
    ),
    (
        "投诉：客服电话一直占线",
        "售后服务",
        "complaint",
        "high",
        "web",
        "new",
        1,
        [("customer", "打了一上午客服电话都是占线，希望你们增加人手。")],
    ),
    (
        "培训资料索取",
        "售后服务",
        "request",
        "low",
        "email",
        "resolved",
        50,
        [
            ("customer", "上次培训的课件能否发一份给我们？"),
            ("agent", "您好，课件已作为附件发送到您的邮箱，请查收。"),
        ],
    ),
]


def _queues(ctx: demo.DemoContext) -> dict[str, Queue]:
    agent, manager = ctx.users["service_agent"], ctx.users["service_manager"]
    queues = {}
    for name, email, method, default, web_form in QUEUES:
        queue = Queue.objects.filter(organization=ctx.organization, name=name).first()
        if queue is None:
            queue = ticket_config_services.queue_create(
                actor=ctx.admin,
                name=name,
                email=email,
                assignment=method,
                is_default=default,
                web_form_enabled=web_form,
                manager=manager,
                members=[agent, manager],
            )
            ctx.created(f"queue {name}")
        queues[name] = queue
    return queues


def _canned(ctx: demo.DemoContext) -> None:
    for title, body in CANNED:
        if not CannedReply.objects.filter(organization=ctx.organization, title=title).exists():
            ticket_config_services.canned_create(actor=ctx.admin, title=title, body=body)
            ctx.created(f"canned reply {title}")


def _tickets(ctx: demo.DemoContext, queues: dict[str, Queue]) -> None:
    org = ctx.organization
    existing = set(Ticket.objects.filter(organization=org).values_list("subject", flat=True))
    contacts = list(
        Contact.objects.filter(organization=org, deleted_at__isnull=True).exclude(email="").order_by("pk")[:20]
    )
    agent = ctx.users["service_agent"]
    now = timezone.now()
    created = 0
    for i, (subject, queue_name, kind, priority, channel, status, hours, conversation) in enumerate(TICKETS):
        if subject in existing:
            continue
        contact = contacts[i % len(contacts)] if contacts else None
        at = now - timedelta(hours=hours)
        actor = ticket_services.SystemActor("示例数据", org.pk) if channel != "phone" else agent
        ticket = ticket_services._create(
            actor=actor,
            organization_id=org.pk,
            subject=subject,
            body=conversation[0][1],
            kind=kind,
            priority=priority,
            channel=channel,
            queue=queues[queue_name],
            contact=contact,
            requester_email=contact.email_normalized if contact else f"customer{i}@example.cn",
            requester_name=contact.name if contact else "王先生",
        )
        Ticket.objects.filter(pk=ticket.pk).update(created_at=at, updated_at=at)
        TicketMessage.objects.filter(ticket=ticket).update(created_at=at)
        owner = ticket.owner or agent
        first_reply = None
        for j, (who, text) in enumerate(conversation[1:], start=1):
            when = at + timedelta(minutes=40 * j)
            kind_ = {"customer": "customer", "agent": "reply", "note": "note"}[who]
            TicketMessage.objects.create(
                organization_id=org.pk,
                ticket=ticket,
                kind=kind_,
                author=None if who == "customer" else owner,
                author_name=ticket.requester_name if who == "customer" else str(owner),
                author_email=ticket.requester_email if who == "customer" else owner.email,
                body=text,
                created_at=when,
                sent_at=when if who == "agent" else None,
            )
            if who == "agent" and first_reply is None:
                first_reply = when
        closed = status == Ticket.Status.CLOSED
        done = status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
        last = at + timedelta(minutes=40 * len(conversation))
        Ticket.objects.filter(pk=ticket.pk).update(
            status=status,
            owner=None if status == Ticket.Status.NEW else owner,
            first_responded_at=first_reply,
            resolved_at=last if done else None,
            closed_at=last if closed else None,
            updated_at=last,
            first_response_due_at=at + timedelta(hours=4),
            resolution_due_at=at + timedelta(hours=48 if priority in ("low", "normal") else 8),
        )
        created += 1
    if created:
        ctx.created(f"{created} tickets")


@demo.register(order=40)
def create_demo_tickets(ctx: demo.DemoContext) -> None:
    queues = _queues(ctx)
    _canned(ctx)
    _tickets(ctx, queues)
