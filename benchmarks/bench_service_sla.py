"""The SLA sweep at scale: bulk-create N open tickets with their SLA rows in a fresh organisation of the
configured database, then time the sweep (kehu.service.sla_sweep) in three situations:

- steady: a minute like any other: --due tickets (default 1% of N) cross their warning or breach time,
  half of each, the rest are due later;
- again: the same minute swept a second time (idempotent: nothing left to do);
- catch-up: every ticket breached at once (a sweep after hours of downtime): N escalations, each with
  notifications, a reassignment, a raised priority with recomputed due dates and an audit entry.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_sla .venv/bin/kehu migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_sla .venv/bin/python benchmarks/bench_service_sla.py
    (--tickets 100000 is the default; SQLite: DATABASE_URL=sqlite:////tmp/sla.sqlite3)

Prints a Markdown table; asserts nothing. Each run makes a new organisation (the audit log is append-only):
use a scratch database.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from kehu.accounts import services as account_services  # noqa: E402
from kehu.accounts.models import User  # noqa: E402
from kehu.core.models import AuditEntry, Notification  # noqa: E402
from kehu.service import sla_services  # noqa: E402
from kehu.service.models import Queue, Ticket, TicketSla  # noqa: E402
from kehu.service.sla_sweep import sla_sweep  # noqa: E402

PASSWORD = "Bench-pw-2026"
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]


def build_org(tag: str):
    org = account_services.organization_create(
        actor=None,
        name=f"SLA 基准测试 {tag}",
        admin_email=f"admin-{tag}@sla-bench.test",
        admin_password=PASSWORD,
        admin_name="管理员",
        modules_enabled=["customers", "service"],
    )
    admin = User.objects.get(email=f"admin-{tag}@sla-bench.test")
    team = account_services.team_create(actor=admin, name="客服部")
    manager = account_services.user_create(
        actor=admin,
        organization=org,
        email=f"manager-{tag}@sla-bench.test",
        password=PASSWORD,
        role=org.roles.get(key="service_manager"),
        name="客服经理",
        team=team,
    )
    account_services.team_update(actor=admin, team=team, data={"manager": manager})
    agents = [
        account_services.user_create(
            actor=admin,
            organization=org,
            email=f"agent{i}-{tag}@sla-bench.test",
            password=PASSWORD,
            role=org.roles.get(key="service_agent"),
            name=f"客服{i}",
            team=team,
        )
        for i in range(20)
    ]
    queue = Queue.objects.create(organization=org, name="售后", manager=manager)
    sla_services.ensure_default_calendar(org)
    policy = sla_services.sla_policy_create(
        actor=admin,
        name="标准 SLA",
        is_default=True,
        notify_queue_manager=True,
        notify_team_manager=True,
        reassign="queue_manager",
        raise_priority=True,
        targets={
            "urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
            "high": {"first_response_minutes": 60, "resolution_minutes": 540},
            "normal": {"first_response_minutes": 240, "resolution_minutes": 1620},
            "low": {"first_response_minutes": 480, "resolution_minutes": 2700},
        },
    )
    return org, admin, agents, queue, policy


def create_tickets(org, admin, agents, queue, policy, total: int, due: int, now) -> float:
    """N open tickets without a first response: `due` of them need the sweep now (half warning, half
    breach), the others are due within the next ten hours."""
    started = time.monotonic()
    rng = random.Random(2026)
    calendar = sla_services.ensure_default_calendar(org)
    batch, number = 5000, 0
    while number < total:
        tickets, warnings_at = [], []
        for _ in range(min(batch, total - number)):
            number += 1
            if number <= due // 2:  # the warning falls due now
                fr_due, warn = now + timedelta(minutes=10), now - timedelta(minutes=1)
            elif number <= due:  # the breach falls due now
                fr_due, warn = now - timedelta(minutes=5), now - timedelta(minutes=20)
            else:
                fr_due = now + timedelta(minutes=rng.randint(30, 600))
                warn = fr_due - timedelta(minutes=10)
            created = now - timedelta(minutes=rng.randint(1, 600))
            warnings_at.append(warn)
            tickets.append(
                Ticket(
                    organization=org,
                    owner=agents[number % len(agents)],
                    created_by=admin,
                    updated_by=admin,
                    number=number,
                    subject=f"基准工单 {number}",
                    priority=PRIORITIES[number % len(PRIORITIES)],
                    status=Ticket.Status.OPEN,
                    queue=queue,
                    created_at=created,
                    updated_at=created,
                    first_response_due_at=fr_due,
                    resolution_due_at=fr_due + timedelta(hours=8),
                )
            )
        Ticket.objects.bulk_create(tickets, batch_size=batch)
        TicketSla.objects.bulk_create(
            [
                TicketSla(
                    organization=org,
                    ticket=ticket,
                    policy=policy,
                    calendar=calendar,
                    first_response_minutes=240,
                    resolution_minutes=1620,
                    first_response_warn_at=warn,
                    resolution_warn_at=ticket.resolution_due_at - timedelta(hours=1),
                    next_check_at=warn,
                )
                for ticket, warn in zip(tickets, warnings_at, strict=True)
            ],
            batch_size=batch,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE service_ticket")
            cursor.execute("ANALYZE service_ticketsla")
    return time.monotonic() - started


def arm_catch_up(org, now) -> None:
    """Every ticket's first response breached an hour ago, nothing escalated yet."""
    Ticket.objects.filter(organization=org).update(first_response_due_at=now - timedelta(hours=1))
    TicketSla.objects.filter(organization=org).update(
        first_response_warn_at=now - timedelta(hours=2),
        first_response_warned_at=None,
        first_response_breached_at=None,
        next_check_at=now - timedelta(hours=2),
    )


def cpu_calibration() -> float:
    """Milliseconds for a fixed pure-Python loop: tens on an idle core. Several times that means other
    processes were taking the CPU, and every number below is inflated as much."""
    start = time.perf_counter()
    total = 0
    for i in range(10**6):
        total += i
    return (time.perf_counter() - start) * 1000


def row(name: str, result, tickets: int) -> str:
    return (
        f"| {name} | {tickets:,} | {result.checked:,} | {result.warned:,} | {result.breached:,} | "
        f"{result.notifications:,} | {result.reassigned:,} | {result.raised:,} | {result.seconds:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=None, help="tickets due in the steady minute (default 1%%)")
    parser.add_argument("--no-catch-up", action="store_true", help="skip the everything-breached run")
    args = parser.parse_args()
    total = args.tickets
    due = args.due if args.due is not None else max(total // 100, 2)
    tag = timezone.now().strftime("%Y%m%d%H%M%S")
    now = timezone.now()

    org, admin, agents, queue, policy = build_org(tag)
    seconds = create_tickets(org, admin, agents, queue, policy, total, due, now)
    print(f"Created {total:,} open tickets in {seconds:.1f} s ({connection.vendor}).", file=sys.stderr)

    lines = [
        f"SLA sweep, {connection.vendor} ({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores), one organisation, {total:,} open tickets",
        "",
        "| run | open tickets | rows read | warned | breached | notifications | reassigned | raised | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sweep_now = now + timedelta(seconds=1)
    calibration = [cpu_calibration()]
    lines.append(row("steady minute", sla_sweep(now=sweep_now, organization_id=org.pk), total))
    lines.append(row("same minute again", sla_sweep(now=sweep_now, organization_id=org.pk), total))
    if not args.no_catch_up:
        arm_catch_up(org, now)
        result = sla_sweep(now=sweep_now, organization_id=org.pk, time_budget=None)
        lines.append(row("catch-up (all breached)", result, total))
    calibration.append(cpu_calibration())
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    lines += [
        "",
        f"CPU check: a 10^6-step Python loop took {calibration[0]:.0f} ms before and {calibration[1]:.0f} ms after "
        f"(tens of ms on an idle core); load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end.",
        f"Audit entries written: {AuditEntry.objects.filter(organization=org, action='ticket.sla_breach').count():,}; "
        f"notifications: {Notification.objects.filter(organization=org).count():,}.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
