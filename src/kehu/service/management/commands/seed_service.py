"""`kehu seed_service --tickets N --messages M [--org NAME]`: service benchmark data on top of `kehu seed`.

Run `kehu seed --customers N` first. The organisation gets (when missing) a service team: a service manager
and 40 agents (password as `kehu seed`'s), five queues with addresses, members and the manager, the default
business calendar and a default SLA policy with targets per priority. Then N tickets with M messages in all:

- statuses as after two years of work: about 10% still active (new, open, pending; created in the last
  three weeks), 4% resolved in the last week, the rest closed (over two years);
- each ticket in a queue, most assigned to one of its members (a third of the new ones wait unassigned),
  most from a customer's contact (by email, web form, phone or API), subjects and bodies in Chinese and
  English, priorities mostly normal;
- a conversation: the customer's message, then agents' public replies, the customer's answers and the odd
  internal note, threaded by Message-ID and In-Reply-To as the intake and mail_out write them;
- SLA clocks computed as sla_services computes them (the policy's targets in business time over the
  calendar, warnings at the policy's percent, the resolution clock paused while pending), with the
  warnings and breaches that have passed recorded as escalated, so the next sweep only sees what falls
  due from now on (`next_check_at`, by sla_services.next_check itself).

Not audited per row, like `kehu seed` (one audit entry records the seeding). Rows are made in worker
processes and written with COPY on PostgreSQL (triggers and foreign-key checks off for the session), or
executemany on SQLite, reusing the machinery of `kehu seed` and `kehu seed_sales`. Running again adds N
more tickets.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from kehu.accounts import services as account_services
from kehu.accounts.models import Organization, User
from kehu.core import audit
from kehu.core.management.commands.seed import (
    DEFAULT_ORG,
    EN_FIRST,
    EN_LAST,
    PASSWORD,
    Generator,
    Progress,
    Table,
    _copy_value,
)
from kehu.customers.models import Contact
from kehu.sales.management.commands import seed_sales
from kehu.service import mail_out, sla_services
from kehu.service.calendar_math import Calendar, NoWorkingTime, add_business_time
from kehu.service.sla_models import SlaPolicy, TicketSla
from kehu.service.ticket_models import Queue, Ticket, TicketCounter, TicketMessage

AGENTS = 40
# (name, address local part, share of the tickets)
QUEUES = [
    ("售后服务", "support", 40),
    ("技术支持", "tech", 25),
    ("投诉处理", "complaints", 10),
    ("账单与发票", "billing", 15),
    ("English Support", "intl", 10),
]
TARGETS = {  # business minutes: first response, resolution
    "urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
    "high": {"first_response_minutes": 60, "resolution_minutes": 540},
    "normal": {"first_response_minutes": 240, "resolution_minutes": 1620},
    "low": {"first_response_minutes": 480, "resolution_minutes": 2700},
}
STATUSES = (["new", "open", "pending", "resolved", "closed"], [2, 5, 3, 4, 86])
PRIORITIES = (["low", "normal", "high", "urgent"], [20, 60, 15, 5])
KINDS = (["inquiry", "request", "incident", "complaint"], [45, 25, 20, 10])
CHANNELS = (["email", "web", "phone", "api"], [55, 25, 15, 5])
SUBJECTS_ZH = [
    "发票抬头开错了，需要重开", "打印机无法连接网络", "送货延迟，什么时候能到", "账号无法登录", "系统报错：{code}",
    "申请退货退款", "合同条款咨询", "产品使用培训预约", "设备保修期查询", "订单 {code} 少发了配件",
    "升级后数据不见了", "报表导出很慢", "短信验证码收不到", "安装上门时间确认", "对客服态度不满意",
    "价格与报价单不一致", "能否开具增值税专用发票", "发票邮寄地址变更", "接口调用返回 500", "续费优惠咨询",
]  # fmt: skip
SUBJECTS_EN = [
    "Cannot log in to my account", "Invoice {code} is wrong", "Delivery is late", "Error {code} after the update",
    "Request for a refund", "Question about the contract", "Export is very slow", "Password reset does not work",
]  # fmt: skip
OPENINGS_ZH = [
    "你好，{subject}。麻烦尽快帮忙处理，谢谢！", "您好：\n\n{subject}，已经影响到我们的正常工作，请尽快回复。",
    "客服你好，{subject}，订单号 {code}，请帮忙看一下。", "{subject}。附上截图，请查收。我们这边比较急。",
]  # fmt: skip
OPENINGS_EN = [
    "Hello, {subject}. Could you please look into it? Order {code}.",
    "Hi team,\n\n{subject} since yesterday. This blocks our work, please help.",
]
REPLIES_ZH = [
    "您好，您的问题已收到，我们正在核实，今天内给您答复。", "您好，已为您提交处理，请留意后续通知。",
    "请提供一下订单号和问题截图，方便我们排查。", "问题已处理完毕，请您再试一下，如有疑问直接回复本邮件。",
    "非常抱歉给您带来不便，我们已安排专人跟进。", "已为您重新开具发票，预计三个工作日内寄出。",
]  # fmt: skip
REPLIES_EN = [
    "Hello, thank you for your message. We are looking into it and will get back to you today.",
    "Could you send us the order number and a screenshot, please?",
    "This has been fixed on our side. Please try again and reply to this mail if it still fails.",
]
ANSWERS_ZH = ["好的，谢谢。", "截图已附上，订单号 {code}。", "试了一下还是不行，麻烦再看看。", "已经可以了，感谢！"]
ANSWERS_EN = ["Thanks, here is the screenshot.", "It still does not work, sorry.", "Works now, thank you!"]
NOTES = [
    "已联系物流确认，明天送达。",
    "需要技术部协助排查日志。",
    "客户是 A 级客户，优先处理。",
    "已申请财务重开发票。",
]


def _cumulative(values: list[str], weights: list[int]) -> tuple[list[str], list[int]]:
    """(values, cumulative weights): random.choices with cum_weights skips summing them on every call."""
    total, cum = 0, []
    for weight in weights:
        total += weight
        cum.append(total)
    return values, cum


STATUSES, PRIORITIES, KINDS, CHANNELS = (_cumulative(*w) for w in (STATUSES, PRIORITIES, KINDS, CHANNELS))
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "foxmail.com"]

# The organisation's contacts as (contact id, customer id, customer tier rank) plus their emails, read once
# before the workers fork (the workers share them; nothing is pickled per batch).
_CONTACT_IDS = array("q")
_CONTACT_CUSTOMERS = array("q")
_CONTACT_EMAILS: list[str] = []
_CONTACT_NAMES: list[str] = []


@dataclass(frozen=True)
class Job:
    org: int
    queues: list[tuple[int, list[int]]]  # (queue id, member ids)
    queue_weights: list[int]  # cumulative
    manager: int
    policy: int
    calendar_id: int
    calendar: Calendar
    targets: dict[str, tuple[int, int]]
    warning_percent: int
    now: datetime
    domain: str
    seed: int
    pg: bool
    tables: dict[str, Table]


def _text(r: Any, english: bool, zh: list[str], en: list[str], **values: str) -> str:
    return r.choice(en if english else zh).format(**values)


def _minutes(r: Any, low: int, high: int) -> timedelta:
    return timedelta(minutes=r.randrange(low, high))


def _add(start: datetime, seconds: float, calendar: Calendar) -> datetime | None:
    try:
        return add_business_time(start, seconds, calendar)
    except NoWorkingTime:
        return None


def _ticket(
    job: Job, gen: Generator, pk: int, number: int, status: str, n_messages: int
) -> tuple[list[Any], list[Any], list]:
    """One ticket, its SLA row and its conversation (rows ready for the tables)."""
    r = gen.r
    active = status in ("new", "open", "pending")
    if active:
        created = job.now - timedelta(seconds=r.randrange(21 * 86400))
    elif status == "resolved":
        created = job.now - timedelta(seconds=r.randrange(7 * 86400, 21 * 86400))
    else:
        created = job.now - timedelta(seconds=r.randrange(21 * 86400, 730 * 86400))
    queue, members = r.choices(job.queues, cum_weights=job.queue_weights)[0]
    english = queue == job.queues[-1][0] or r.random() < 0.05
    priority = r.choices(PRIORITIES[0], cum_weights=PRIORITIES[1])[0]
    channel = r.choices(CHANNELS[0], cum_weights=CHANNELS[1])[0]
    owner = None if status == "new" and r.random() < 0.35 else r.choice(members)
    contact = customer = None
    email, name = "", ""
    if r.random() < 0.85 and _CONTACT_IDS:
        k = r.randrange(len(_CONTACT_IDS))
        contact, customer = _CONTACT_IDS[k], _CONTACT_CUSTOMERS[k]
        email, name = _CONTACT_EMAILS[k], _CONTACT_NAMES[k]
    elif channel in ("email", "web"):
        name = f"{r.choice(EN_FIRST)} {r.choice(EN_LAST)}" if english else gen.person()
        email = f"guest{r.randrange(10**7)}@{r.choice(MAIL_DOMAINS)}"
    code = f"{r.randrange(10**6):06d}"
    subject = _text(r, english, SUBJECTS_ZH, SUBJECTS_EN, code=code)
    # The conversation: times from the creation to the end of the ticket's life.
    end = job.now if active else created + timedelta(seconds=r.randrange(3600, 10 * 86400))
    if status == "resolved":
        end = min(end, job.now - timedelta(seconds=r.randrange(60, 7 * 86400)))
    span = max((end - created).total_seconds(), 60)
    offsets = sorted(r.uniform(0, span) for _ in range(n_messages - 1))
    message_rows, previous_id, references = [], "", ""
    first_response = last_customer = None
    customer_turn = False
    ours = f"@{job.domain}>"
    msg_table = job.tables["ticketmessage"]
    for i in range(n_messages):
        at = created if i == 0 else created + timedelta(seconds=offsets[i - 1])
        if i == 0:
            kind = "customer"
        elif r.random() < 0.1:
            kind = "note"
        else:
            kind = "customer" if customer_turn else "reply"
            customer_turn = not customer_turn
        if kind == "customer":
            body = (
                _text(r, english, OPENINGS_ZH, OPENINGS_EN, subject=subject, code=code)
                if i == 0
                else _text(r, english, ANSWERS_ZH, ANSWERS_EN, code=code)
            )
            msg_id = f"<c{pk}.{i}.{r.randrange(10**9)}@{email.partition('@')[2] or 'mail.example'}>" if email else ""
            author, author_name, author_email = None, name, email
            last_customer = at
        elif kind == "reply":
            body = _text(r, english, REPLIES_ZH, REPLIES_EN)
            msg_id = f"<ticket{number}.{pk}.{i}{ours}"
            author, author_name, author_email = owner or r.choice(members), "", ""
            if first_response is None:
                first_response = at
        else:
            body, msg_id = r.choice(NOTES), ""
            author, author_name, author_email = owner or r.choice(members), "", ""
        values = {
            "organization_id": job.org,
            "ticket_id": pk,
            "kind": kind,
            "author_id": author,
            "author_name": author_name,
            "author_email": author_email,
            "body": body,
            "created_at": at,
            "message_id": msg_id,
            "in_reply_to": previous_id if msg_id else "",
            "references": references if msg_id else "",
            "sent_at": at if kind == "reply" else None,
        }
        message_rows.append(msg_table.row(values))
        if msg_id:
            references = f"{references} {msg_id}".strip()[-2000:]
            previous_id = msg_id
    resolved_at = closed_at = None
    if status in ("resolved", "closed"):
        resolved_at = end
        closed_at = end + timedelta(days=3) if status == "closed" else None
        if closed_at is not None and closed_at > job.now:
            closed_at = job.now
    updated = max(closed_at or resolved_at or created, created + timedelta(seconds=offsets[-1] if offsets else 0))
    ticket = SimpleNamespace(
        status=status,
        first_responded_at=first_response,
        resolved_at=resolved_at,
        closed_at=closed_at,
        first_response_due_at=None,
        resolution_due_at=None,
    )
    state = _sla(job, r, ticket, priority, created, last_customer if status == "pending" else None, updated)
    values = {
        "id": pk,
        "organization_id": job.org,
        "owner_id": owner,
        "created_by_id": None if channel in ("email", "web") else owner or job.manager,
        "updated_by_id": owner or job.manager,
        "created_at": created,
        "updated_at": updated,
        "number": number,
        "subject": subject,
        "kind": r.choices(KINDS[0], cum_weights=KINDS[1])[0],
        "priority": priority,
        "channel": channel,
        "status": status,
        "queue_id": queue,
        "customer_id": customer,
        "contact_id": contact,
        "requester_email": email,
        "requester_name": name,
        "first_responded_at": first_response,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "first_response_due_at": ticket.first_response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "assigned_at": created + timedelta(seconds=r.randrange(1, 600)) if owner else None,
        "assignment_reason": ("least_open" if r.random() < 0.8 else "manual") if owner else "",
        "last_customer_message_at": last_customer,
    }
    return job.tables["ticket"].row(values), job.tables["ticketsla"].row(state), message_rows


def _sla(
    job: Job, r: Any, ticket: Any, priority: str, created: datetime, paused_since: datetime | None, updated: datetime
) -> dict[str, Any]:
    """The SLA row as sla_services would have left it: due dates over the calendar, past warnings and
    breaches recorded, the next check by sla_services.next_check."""
    fr_minutes, res_minutes = job.targets.get(priority, (None, None))
    pct = job.warning_percent
    paused_seconds = r.randrange(0, 4 * 3600) if r.random() < 0.3 else 0
    cal = job.calendar
    state = SimpleNamespace(
        first_response_warn_at=None,
        resolution_warn_at=None,
        first_response_warned_at=None,
        first_response_breached_at=None,
        resolution_warned_at=None,
        resolution_breached_at=None,
        first_response_met=None,
        resolution_met=None,
        paused_since=paused_since if ticket.status == "pending" else None,
        paused_seconds=paused_seconds,
    )
    if fr_minutes:
        ticket.first_response_due_at = _add(created, fr_minutes * 60, cal)
        state.first_response_warn_at = _add(created, fr_minutes * 60 * pct / 100, cal)
    if res_minutes:
        ticket.resolution_due_at = _add(created, res_minutes * 60 + paused_seconds, cal)
        state.resolution_warn_at = _add(created, res_minutes * 60 * pct / 100 + paused_seconds, cal)
    if ticket.status == "resolved" and state.paused_since is None:
        state.paused_since = ticket.resolved_at
    # What the sweep did already: every warning and breach before the end of the clock (or now).
    fr_end = ticket.first_responded_at or ticket.resolved_at or ticket.closed_at or job.now
    res_end = state.paused_since or ticket.resolved_at or ticket.closed_at or job.now
    step = timedelta(seconds=30)
    if state.first_response_warn_at and state.first_response_warn_at < fr_end:
        state.first_response_warned_at = state.first_response_warn_at + step
    if ticket.first_response_due_at and ticket.first_response_due_at < fr_end:
        state.first_response_breached_at = ticket.first_response_due_at + step
    if state.resolution_warn_at and state.resolution_warn_at < res_end:
        state.resolution_warned_at = state.resolution_warn_at + step
    if ticket.resolution_due_at and ticket.resolution_due_at < res_end:
        state.resolution_breached_at = ticket.resolution_due_at + step
    sla_services._record_outcomes(state, ticket, job.now)
    return {
        "organization_id": job.org,
        "ticket_id": None,  # set by the caller (the primary key is the ticket's)
        "policy_id": job.policy,
        "calendar_id": job.calendar_id,
        "first_response_minutes": fr_minutes,
        "resolution_minutes": res_minutes,
        "warning_percent": pct,
        "first_response_warn_at": state.first_response_warn_at,
        "resolution_warn_at": state.resolution_warn_at,
        "first_response_warned_at": state.first_response_warned_at,
        "first_response_breached_at": state.first_response_breached_at,
        "resolution_warned_at": state.resolution_warned_at,
        "resolution_breached_at": state.resolution_breached_at,
        "first_response_met": state.first_response_met,
        "resolution_met": state.resolution_met,
        "paused_since": state.paused_since,
        "paused_seconds": paused_seconds,
        "next_check_at": sla_services.next_check(state, ticket),
        "updated_at": updated,
    }


def generate(args: tuple[Job, int, int, int, int, int]) -> tuple[int, int, Any]:
    """One batch: n tickets from id `first_id` and number `first_number`, m messages among them."""
    job, index, n, m, first_id, first_number = args
    gen = Generator(job.seed * 1_000_003 + index)
    r = gen.r
    statuses = r.choices(STATUSES[0], cum_weights=STATUSES[1], k=n)
    # Every ticket has its opening message, a new one nothing else, an answered one at least the answer;
    # the rest go to answered tickets at random (a long tail of long conversations).
    answered = [k for k, status in enumerate(statuses) if status != "new"]
    counts = [1 if status == "new" else 2 for status in statuses]
    if answered:
        for _ in range(max(m - sum(counts), 0)):
            counts[answered[r.randrange(len(answered))]] += 1
    tickets, slas, messages = [], [], []
    sla_pk = job.tables["ticketsla"].index["ticket_id"]
    for k in range(n):
        ticket, sla, conversation = _ticket(job, gen, first_id + k, first_number + k, statuses[k], counts[k])
        sla[sla_pk] = first_id + k
        tickets.append(ticket)
        slas.append(sla)
        messages.extend(conversation)
    rows = {"ticket": tickets, "ticketsla": slas, "ticketmessage": messages}
    if job.pg:
        rows = {
            key: "".join("\t".join(map(_copy_value, row)) + "\n" for row in table).encode()
            for key, table in rows.items()
        }
    else:
        adapt = connection.ops.adapt_datetimefield_value
        rows = {
            key: [[adapt(v) if isinstance(v, datetime) else v for v in row] for row in t] for key, t in rows.items()
        }
    return n, len(messages), rows


MODELS = {"ticket": Ticket, "ticketsla": TicketSla, "ticketmessage": TicketMessage}


class Command(BaseCommand):
    help = "Generate tickets with their conversations and SLA clocks for benchmarks. Not audited per row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, required=True, help="How many tickets to add.")
        parser.add_argument("--messages", type=int, default=0, help="Messages in all (default 5 per ticket).")
        parser.add_argument("--org", default=DEFAULT_ORG, help="Organisation seeded by `kehu seed` before.")
        parser.add_argument("--batch", type=int, default=2000, help="Tickets per batch.")
        parser.add_argument("--random-seed", type=int, default=2026, help="Same seed, same data.")

    def handle(self, *args: Any, **options: Any) -> None:
        total = options["tickets"]
        messages = options["messages"] or 5 * total
        if total <= 0 or messages < total:
            raise CommandError("Say --tickets N (N > 0) and --messages M with M ≥ N (each ticket has one).")
        org = Organization.objects.filter(name=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation {options['org']!r}: run `kehu seed --customers N` first.")
        admin = User.objects.filter(organization=org, role__key="administrator").order_by("pk").first()
        manager, queues = self.service_team(org, admin)
        calendar = sla_services.ensure_default_calendar(org)
        policy = self.policy(org, admin)
        _load_contacts(org)
        pg = connection.vendor == "postgresql"
        tables = {
            "ticket": Table(Ticket, with_id=True),
            "ticketsla": Table(TicketSla, with_id=True),
            "ticketmessage": Table(TicketMessage, with_id=False),
        }
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM service_ticket")
            first_id = cursor.fetchone()[0]
        counter, _created = TicketCounter.objects.get_or_create(organization=org)
        first_number = counter.last_number + 1
        job = Job(
            org=org.pk,
            queues=[(q.pk, sorted(q.members.values_list("pk", flat=True))) for q in queues],
            queue_weights=_cumulative([], [share for _n, _a, share in QUEUES])[1],
            manager=manager.pk,
            policy=policy.pk,
            calendar_id=calendar.pk,
            calendar=sla_services.load_calendar(calendar),
            targets=sla_services.targets_of(policy),
            warning_percent=policy.warning_percent,
            now=timezone.now(),
            domain=mail_out.mail_domain(),
            seed=options["random_seed"] + first_id,
            pg=pg,
            tables=tables,
        )
        batch = max(100, options["batch"])
        jobs = []
        for index, start in enumerate(range(0, total, batch)):
            n = min(batch, total - start)
            # The batch's share of the messages (the last one takes the rounding).
            m = messages * (start + n) // total - messages * start // total
            jobs.append((job, index, n, max(m, n), first_id + start, first_number + start))
        writer = PostgresWriter(tables) if pg else SqliteWriter(tables)
        progress = Progress(total, "tickets")
        written = 0
        connection.close()  # no child process inherits the socket
        workers = max(1, min(os.cpu_count() or 1, 4))
        with multiprocessing.get_context("fork").Pool(workers) as pool, writer:
            for n, m, rows in pool.imap(generate, jobs):
                writer.write(rows)
                written += m
                progress.add(n)
        seconds = progress.finish()
        TicketCounter.objects.filter(organization=org).update(last_number=first_number + total - 1)
        audit.record(
            actor=admin,
            action="service.seed",
            organization=org,
            changes={"tickets": total, "messages": written, "seconds": round(seconds, 1)},
        )
        self.stdout.write(
            f"Seeded {total:,} tickets and {written:,} messages into {org.name} in {seconds:,.1f} s "
            f"({total / max(seconds, 1e-6):,.0f} tickets/s). Service manager {manager.email}, agents "
            f"agent00…agent{AGENTS - 1:02d}@{manager.email.partition('@')[2]}, password {PASSWORD}"
        )

    def service_team(self, org: Organization, admin: User) -> tuple[User, list[Queue]]:
        """The service manager, the agents and the queues (created when missing; idempotent)."""
        domain = admin.email.split("@", 1)[1]
        users = {u.email: u for u in User.objects.filter(organization=org, role__key__startswith="service_")}
        manager = users.get(f"service_manager@{domain}")
        team = None
        if manager is None:
            team = account_services.team_create(actor=admin, name="客服部")
            manager = account_services.user_create(
                actor=admin,
                organization=org,
                email=f"service_manager@{domain}",
                password=PASSWORD,
                role=org.roles.get(key="service_manager"),
                name="客服经理",
                team=team,
            )
            account_services.team_update(actor=admin, team=team, data={"manager": manager})
        agents = []
        for n in range(AGENTS):
            email = f"agent{n:02d}@{domain}"
            agent = users.get(email)
            if agent is None:
                agent = account_services.user_create(
                    actor=admin,
                    organization=org,
                    email=email,
                    password=PASSWORD,
                    role=org.roles.get(key="service_agent"),
                    name=f"客服{n:02d}",
                    team=team or manager.team,
                )
            agents.append(agent)
        queues = []
        per_queue = AGENTS // len(QUEUES)
        for k, (name, local, _share) in enumerate(QUEUES):
            queue = Queue.objects.filter(organization=org, name=name).first()
            if queue is None:
                queue = Queue.objects.create(
                    organization=org,
                    name=name,
                    email=f"{local}-{org.pk}@{domain}",
                    manager=manager,
                    assignment=Queue.Assignment.LEAST_OPEN,
                    is_default=k == 0,
                )
                # Each agent works in one queue, a few also in the next one.
                queue.members.set(
                    agents[k * per_queue : (k + 1) * per_queue] + agents[((k + 1) * per_queue) % AGENTS :][:2]
                )
            queues.append(queue)
        return manager, queues

    def policy(self, org: Organization, admin: User) -> SlaPolicy:
        policy = SlaPolicy.objects.filter(organization=org, is_default=True, is_active=True).first()
        if policy is None:
            policy = sla_services.sla_policy_create(
                actor=admin,
                name="标准 SLA",
                is_default=True,
                notify_queue_manager=True,
                raise_priority=True,
                targets=TARGETS,
            )
        return policy


def _load_contacts(org: Organization) -> None:
    for values in (_CONTACT_IDS, _CONTACT_CUSTOMERS):
        del values[:]
    _CONTACT_EMAILS.clear()
    _CONTACT_NAMES.clear()
    rows = (
        Contact.objects.filter(organization=org, deleted_at__isnull=True)
        .exclude(email_normalized="")
        .order_by()
        .values_list("pk", "customer_id", "email_normalized", "name")
        .iterator(chunk_size=20_000)
    )
    for pk, customer, email, name in rows:
        _CONTACT_IDS.append(pk)
        _CONTACT_CUSTOMERS.append(customer)
        _CONTACT_EMAILS.append(email)
        _CONTACT_NAMES.append(name[:100])


class SqliteWriter(seed_sales.SqliteWriter):
    """seed_sales' writer, a batch being rows of the three tables (tickets first: the others point at them)."""

    def write(self, rows: dict[str, Any]) -> None:  # type: ignore[override]
        for key in self.tables:
            super().write(key, rows[key])


class PostgresWriter(seed_sales.PostgresWriter):
    """seed_sales' COPY writer (triggers and foreign-key checks off for the session, VACUUM ANALYZE at the
    end); the ticket ids were given here, so their sequence is moved past them."""

    def __exit__(self, *exc: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('service_ticket', 'id'), "
                "(SELECT coalesce(max(id), 1) FROM service_ticket))"
            )
        super().__exit__(*exc)

    def write(self, rows: dict[str, Any]) -> None:  # type: ignore[override]
        for key in self.tables:
            super().write(key, rows[key])
