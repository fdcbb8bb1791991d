"""Server-side latency of the service pages and API, and the e-mail intake rate, on a database seeded
beforehand:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench kehu migrate
    DATABASE_URL=... kehu seed --customers 100000
    DATABASE_URL=... kehu seed_service --tickets 1000000 --messages 5000000
    DATABASE_URL=... .venv/bin/python benchmarks/bench_service.py

Page cases, each through the whole Django stack in-process (test Client, a real session from force_login,
as bench_customers.py does), as a service agent (own tickets plus the unassigned ones of their queues), the
service manager (manages every queue) and the administrator (the whole organisation):

- the agent's queue, first page sorted by SLA time left (active tickets, resolution due soonest first):
  the list page /service/tickets/ and GET /api/v1/tickets/ (the manager and the administrator look at
  one queue, the agent at everything they see: their tickets and their queues' waiting ones);
- "my tickets": the active tickets assigned to me, by time left (page and API; the agent);
- a ticket with its conversation: the ticket page (conversation, history, the customer's contacts, past
  tickets beside it), the customer timeline box the page loads right after itself (htmx), and
  GET /api/v1/tickets/<id>/ plus /messages/ (a ticket of the agent with one of the longest conversations);
- the ticket search: a common word of the subjects, two characters of a requester's name that few tickets hold
  (rare_fragment: the walk of the newest tickets cannot decide, the name grams' index answers), a ticket number,
  a requester's email fragment.

Then the e-mail intake rate: --mails messages through kehu.service.mail_intake.receive (parse, loop and
duplicate checks, threading, contact matching, the ticket or message with its SLA clock, assignment, the
audit entry and the assignee's notification; an e-mailed ticket gets no acknowledgement mail, only web-form
tickets do), half new tickets from
customers' contacts and strangers, half replies threaded onto them (by In-Reply-To, or by the ticket key
in the subject); and the same through the SMTP daemon's handler (aiosmtpd on 127.0.0.1, a real smtplib
client, one connection). Creates tickets in the benchmark organisation.

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import smtplib
import socket
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
warnings.filterwarnings("ignore", message="No directory at")

from bench_customers import cpu_calibration, estimate, measure, module_parser, organization_users  # noqa: E402 (sets Django up)
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from kehu.accounts.models import Organization, User  # noqa: E402
from kehu.customers.models import Contact  # noqa: E402
from kehu.service import mail_intake  # noqa: E402
from kehu.service.ticket_models import Queue, Ticket, TicketMessage  # noqa: E402

QUEUE_PAGE = "status=active&ordering=resolution_due_at"


def rare_fragment(org: Organization, walked: int = 8000) -> str:
    """Two characters of an old ticket's requester name that the organisation's newest `walked` tickets do not
    hold in their subjects or names: a fragment the walk cannot decide (few matches in all; at 1,000,000
    tickets a given name's two characters are in 100-200 of them), as bench_customers.rare_fragment is."""
    live = Ticket.objects.filter(organization=org, deleted_at__isnull=True)
    newest = live.order_by("-updated_at", "-pk").values_list("subject", "requester_name")[:walked]
    seen = "\n".join(f"{subject}\n{name}" for subject, name in newest)
    for name in live.order_by("pk").values_list("requester_name", flat=True)[:200]:
        if len(name) >= 3 and not any(ch.isascii() for ch in name) and name[-2:] not in seen:
            return name[-2:]
    return "龘龘"


def long_ticket(agent: User) -> Ticket:
    """One of the agent's tickets with a long conversation (the page shows all of it)."""
    candidates = list(
        Ticket.objects.filter(organization_id=agent.organization_id, owner=agent, deleted_at__isnull=True)
        .order_by("-pk")
        .values_list("pk", flat=True)[:2000]
    )
    row = (
        TicketMessage.objects.filter(organization_id=agent.organization_id, ticket_id__in=candidates)
        .values("ticket_id")
        .annotate(n=Count("id"))
        .order_by("-n", "-ticket_id")
        .first()
    )
    return Ticket.objects.get(pk=row["ticket_id"])


def mails(queue: Queue, n: int, run: str) -> list[bytes]:
    """n raw messages: new tickets (from contacts of the organisation, and strangers) each followed later
    by a reply (In-Reply-To the opening message, or the ticket key in the subject: see thread_keys)."""
    contacts = list(
        Contact.objects.filter(organization_id=queue.organization_id, deleted_at__isnull=True)
        .exclude(email_normalized="")
        .order_by("-pk")
        .values_list("email_normalized", "name")[: n // 2]
    )
    raws = []
    for i in range(n // 2):
        if i % 3 == 0 or i >= len(contacts):
            sender, name = f"bench{run}.{i}@guest-mail.cn", f"访客{i}"
        else:
            sender, name = contacts[i]
        raws.append(
            mail_intake.build_message(
                From=f"{name} <{sender}>",
                To=queue.email,
                Subject=f"订单 {run}-{i} 的发票还没收到",
                Message_ID=f"<open.{run}.{i}@guest-mail.cn>",
                body="你好，上个月的订单发票一直没有收到，麻烦帮忙查一下，谢谢！\n\n张先生\n138 0000 0000",
            )
        )
    return raws


def replies(queue: Queue, n: int, run: str) -> list[bytes]:
    """The replies to the messages `mails` made: by In-Reply-To (every other one) or by the ticket key."""
    opened = dict(
        TicketMessage.objects.filter(
            organization_id=queue.organization_id, message_id__startswith=f"<open.{run}."
        ).values_list("message_id", "ticket__number")
    )
    raws = []
    for i in range(n // 2):
        opening = f"<open.{run}.{i}@guest-mail.cn>"
        message = TicketMessage.objects.filter(organization_id=queue.organization_id, message_id=opening).first()
        sender = message.author_email if message else f"bench{run}.{i}@guest-mail.cn"
        headers = {"In_Reply_To": opening} if i % 2 == 0 else {}
        subject = f"Re: [#{opened.get(opening, 0)}] 订单 {run}-{i} 的发票还没收到"
        raws.append(
            mail_intake.build_message(
                From=sender,
                To=queue.email,
                Subject=subject,
                Message_ID=f"<reply.{run}.{i}@guest-mail.cn>",
                body="补充一下：订单号在附件里。\n\n在 2026年11月27日 写道：\n> 您好，已收到",
                **headers,
            )
        )
    return raws


def intake_rate(queue: Queue, n: int, run: str, send) -> dict:
    """Messages per second: n/2 new tickets, then n/2 replies to them, each handed to `send(raw)`."""
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    opening = mails(queue, n, run)
    backend = []  # this connection's PostgreSQL server process (the in-process case's database work)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = [cursor.fetchone()[0]]
    start = time.perf_counter()
    cpu_start = time.process_time()  # this process: the intake, and the SMTP client and server threads
    pg_start = process_cpu(backend)
    timings = []
    with connection.execute_wrapper(count):
        for raw in opening:
            t = time.perf_counter()
            send(raw)
            timings.append((time.perf_counter() - t) * 1000)
    opened_queries = len(queries)
    cpu_new = time.process_time() - cpu_start
    pg_new = process_cpu(backend) - pg_start
    answer = replies(queue, n, run)
    replies_start = time.perf_counter()
    cpu_replies_start = time.process_time()
    pg_replies_start = process_cpu(backend)
    queries.clear()
    with connection.execute_wrapper(count):
        for raw in answer:
            t = time.perf_counter()
            send(raw)
            timings.append((time.perf_counter() - t) * 1000)
    end = time.perf_counter()
    cpu = cpu_new + time.process_time() - cpu_replies_start
    pg_cpu = pg_new + process_cpu(backend) - pg_replies_start
    timings_sorted = sorted(timings)
    threaded = TicketMessage.objects.filter(
        organization_id=queue.organization_id, message_id__startswith=f"<reply.{run}."
    ).count()
    return {
        "rate": len(timings) / (end - start),
        "new_rate": len(opening) / max(replies_start - start, 1e-9),
        "median": statistics.median(timings_sorted),
        "p95": timings_sorted[int(len(timings_sorted) * 0.95) - 1],
        "queries_new": opened_queries / max(len(opening), 1),
        "queries_reply": len(queries) / max(len(answer), 1),
        "threaded": threaded,
        "n": len(timings),
        "cpu_ms": cpu * 1000 / max(len(timings), 1),
        "pg_cpu_ms": pg_cpu * 1000 / max(len(timings), 1) if backend else None,
    }


def smtp_rate(queue: Queue, n: int, run: str) -> dict | None:
    """The same through the SMTP daemon's handler on 127.0.0.1, with smtplib over one connection."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        return None
    from kehu.service.mail_smtpd import MAX_BYTES, IntakeHandler

    with socket.socket() as probe:  # a free port (aiosmtpd's controller cannot be given port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = IntakeHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=MAX_BYTES)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:

            def send(raw: bytes) -> None:
                client.sendmail("customer@guest-mail.cn", [queue.email], raw)

            return intake_rate(queue, n, run, send)
    finally:
        controller.stop()
        handler.close()


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far, from /proc/<pid>/stat."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def smtp_parallel_rate(queue: Queue, n: int, run: str, processes: int, clients: int) -> dict | None:
    """The SMTP daemon with `processes` worker processes (kehu mail_smtpd --processes), fed by `clients` smtplib
    connections at once (as a relay delivers): n/2 new tickets, then n/2 replies to them, each half shared out
    between the connections. The CPU column adds the worker processes' CPU (from /proc) to this process's."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        return None
    import threading

    from kehu.service.mail_smtpd import MAX_BYTES, IntakeHandler

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = IntakeHandler(processes=processes)  # returns once every worker process is up
    pids = handler.workers.pids()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=MAX_BYTES)
    controller.start()
    timings: list[float] = []

    def deliver_all(raws: list[bytes]) -> None:
        def client(share: list[bytes]) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for raw in share:
                    t = time.perf_counter()
                    smtp.sendmail("customer@guest-mail.cn", [queue.email], raw)
                    timings.append((time.perf_counter() - t) * 1000)

        threads = [threading.Thread(target=client, args=(raws[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    try:
        opening = mails(queue, n, run)
        cpu_start, workers_start = time.process_time(), process_cpu(pids)
        start = time.perf_counter()
        deliver_all(opening)
        opened = time.perf_counter()
        cpu_new = time.process_time() - cpu_start
        answer = replies(queue, n, run)
        cpu_replies_start = time.process_time()
        replies_start = time.perf_counter()
        deliver_all(answer)
        end = time.perf_counter()
        cpu = cpu_new + time.process_time() - cpu_replies_start + process_cpu(pids) - workers_start
    finally:
        controller.stop()
        handler.close()
    timings_sorted = sorted(timings)
    threaded = TicketMessage.objects.filter(
        organization_id=queue.organization_id, message_id__startswith=f"<reply.{run}."
    ).count()
    return {
        "rate": len(timings) / ((opened - start) + (end - replies_start)),
        "new_rate": len(opening) / max(opened - start, 1e-9),
        "median": statistics.median(timings_sorted),
        "p95": timings_sorted[int(len(timings_sorted) * 0.95) - 1],
        "queries_new": None,
        "queries_reply": None,
        "threaded": threaded,
        "n": len(timings),
        "cpu_ms": cpu * 1000 / max(len(timings), 1),
        "pg_cpu_ms": None,
    }


def main() -> None:
    roles_all = ("service_agent", "service_manager", "administrator")
    parser = module_parser(__doc__, roles_all)
    parser.add_argument("--mails", type=int, default=400, help="Messages per intake case (half new, half replies).")
    parser.add_argument(
        "--processes", default="2", help="Worker processes of the parallel SMTP cases, comma-separated (0: none)."
    )
    parser.add_argument("--connections", type=int, default=4, help="SMTP client connections of the parallel cases.")
    args = parser.parse_args()
    org, users = organization_users(args.org, roles_all)
    agent = users["service_agent"]
    queue = Queue.objects.filter(organization=org, members=agent).order_by("pk").first()
    ticket = long_ticket(agent)
    n_messages = TicketMessage.objects.filter(ticket=ticket).count()
    everyone = {"service_agent", "service_manager", "administrator"}
    queue_filter = {"service_agent": "", "service_manager": f"&queue={queue.pk}", "administrator": f"&queue={queue.pk}"}
    email_fragment = (ticket.requester_email or "qq.com").split("@")[0]
    rare = rare_fragment(org)
    cases = [
        ("Queue, first page by SLA time left (UI)", "/service/tickets/?" + QUEUE_PAGE + "{q}", everyone),
        ("Queue, first page by SLA time left, API", "/api/v1/tickets/?" + QUEUE_PAGE + "{q}", everyone),
        ("My tickets by time left (UI)", "/service/tickets/?assignee=me&" + QUEUE_PAGE, {"service_agent"}),
        ("My tickets by time left, API", "/api/v1/tickets/?assignee=me&" + QUEUE_PAGE, {"service_agent"}),
        (f"Ticket page with its conversation ({n_messages} messages)", f"/service/tickets/{ticket.pk}/", everyone),
        (
            "Ticket page's customer timeline box (htmx, after the page)",
            f"/service/tickets/{ticket.pk}/customer-timeline/",
            everyone,
        ),
        (
            "Ticket page's side panels: suggestions, contacts, other tickets (htmx, after the page)",
            f"/service/tickets/{ticket.pk}/side-panels/",
            everyone,
        ),
        ("Ticket, API", f"/api/v1/tickets/{ticket.pk}/", everyone),
        ("Ticket conversation, API", f"/api/v1/tickets/{ticket.pk}/messages/", everyone),
        ("Ticket search: 发票 (UI)", "/service/tickets/?search=发票", everyone),
        ("Ticket search: 发票, API", "/api/v1/tickets/?search=发票", everyone),
        (f"Ticket search: rare 2 characters {rare} (UI)", f"/service/tickets/?search={rare}", everyone),
        (f"Ticket search: rare 2 characters {rare}, API", f"/api/v1/tickets/?search={rare}", everyone),
        (f"Ticket search: #{ticket.number}, API", f"/api/v1/tickets/?search=%23{ticket.number}", everyone),
        (f"Ticket search: email {email_fragment}, API", f"/api/v1/tickets/?search={email_fragment}", everyone),
    ]
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    calibration = [cpu_calibration()]
    rows = []
    for who in roles:
        client = Client()
        client.force_login(users[who])
        for label, path, allowed in cases:
            if who not in allowed or args.only.lower() not in label.lower():
                continue
            if args.skip and args.skip.lower() in label.lower():
                continue
            # What htmx loads after the page is asked for as htmx asks (the side panels answer a plain request
            # with a page of their own, for browsers without scripts).
            client.defaults["HTTP_HX_REQUEST"] = "true"
            if "htmx" not in label:
                del client.defaults["HTTP_HX_REQUEST"]
            result = measure(client, "GET", path.format(q=queue_filter[who]), args.requests, args.warmup)
            rows.append((label, who, result))
            print(f"  {label} [{who}]: p95 {result['p95']:.1f} ms", file=sys.stderr)

    calibration.append(cpu_calibration())
    print_header(org, args, calibration)
    print("| case | as | p50 ms | p95 ms | Python CPU ms (p50) | req/s (1 process) | queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, who, r in rows:
        print(
            f"| {label} | {who} | {r['median']:.1f} | {r['p95']:.1f} | {r['cpu']:.1f} | {r['rps']:.0f} | "
            f"{r['queries']} |"
        )
    sys.stdout.flush()  # the page table is kept even if an intake case fails

    if args.only.lower() not in "email intake" or "intake" in args.skip.lower():
        return
    # One line per message from the intake's logger would drown the table.
    logging.getLogger("kehu.service.mail").setLevel(logging.WARNING)
    run = f"{time.time():.0f}"
    before = cpu_calibration()
    intake = []
    result = intake_rate(queue, args.mails, run + "a", lambda raw: mail_intake.receive(raw, recipients=[queue.email]))
    intake.append(("mail_intake.receive (in-process)", result))
    print(f"  intake: {result['rate']:.0f} messages/s", file=sys.stderr)
    result = smtp_rate(queue, args.mails, run + "b")
    if result is not None:
        result["queries_new"] = result["queries_reply"] = None  # the daemon's worker threads: not counted here
        result["pg_cpu_ms"] = None  # nor their database connection
        intake.append(("SMTP: smtplib → aiosmtpd → intake", result))
        print(f"  SMTP intake: {result['rate']:.0f} messages/s", file=sys.stderr)
    for count in [int(p) for p in args.processes.split(",") if p.strip() and int(p) > 1]:
        result = smtp_parallel_rate(queue, args.mails, f"{run}p{count}", count, args.connections)
        if result is not None:
            label = f"SMTP, {count} worker processes, {args.connections} client connections"
            intake.append((label, result))
            print(f"  {label}: {result['rate']:.0f} messages/s", file=sys.stderr)
    print(
        f'\nE-mail intake, CPU check {before:.0f} ms before and {cpu_calibration():.0f} ms after; "Python CPU ms": '
        "this process's CPU time per message (SMTP: client and daemon threads both; with worker processes, theirs "
        "added), without the database server's.\n"
    )
    print(
        "| e-mail intake | messages | messages/s | new tickets/s | p50 ms | p95 ms | queries per new | "
        "queries per reply | replies threaded | Python CPU ms per message | PostgreSQL CPU ms per message |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r in intake:
        per_new = "—" if r["queries_new"] is None else f"{r['queries_new']:.0f}"
        per_reply = "—" if r["queries_reply"] is None else f"{r['queries_reply']:.0f}"
        print(
            f"| {label} | {r['n']} | {r['rate']:.0f} | {r['new_rate']:.0f} | {r['median']:.1f} | {r['p95']:.1f} | "
            f"{per_new} | {per_reply} | {r['threaded']}/{r['n'] // 2} | {r['cpu_ms']:.1f} | "
            f"{'—' if r['pg_cpu_ms'] is None else format(r['pg_cpu_ms'], '.1f')} |"
        )


def print_header(org: Organization, args: argparse.Namespace, calibration: list[float]) -> None:
    vendor = connection.vendor
    version = connection.cursor().connection.info.server_version if vendor == "postgresql" else None
    db = (
        f"PostgreSQL {version // 10000}.{version % 10000}"
        if version
        else f"SQLite {connection.Database.sqlite_version}"
    )
    active = Ticket.objects.filter(organization=org, status__in=["new", "open", "pending"]).count()
    print(
        f"\n{db}, {estimate(Ticket):,} tickets, {estimate(TicketMessage):,} messages, {active:,} active in the "
        f"organisation; Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.requests} runs per case "
        f"after {args.warmup} warm-up, in-process (Django test Client, session auth). CPU check: a 10^6-step "
        f"Python loop took {calibration[0]:.0f} ms before and {calibration[1]:.0f} ms after (tens of ms on an "
        "idle core)\n"
    )


if __name__ == "__main__":
    main()
