"""Server-side latency of the sales forecast and the pipeline summary, on a database seeded beforehand:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench kehu migrate
    DATABASE_URL=... kehu seed --customers 1000000
    DATABASE_URL=... kehu seed_sales --opportunities 500000 --leads 300000
    DATABASE_URL=... .venv/bin/python benchmarks/bench_sales.py

Cases, as a sales manager (scope "team and sub-teams") and as the administrator (the whole organisation):

- forecast for a quarter: GET /api/v1/forecast/ (this quarter, by rep), the same grouped by team, and the
  forecast page /sales/forecast/ (table and chart data), through the whole Django stack in-process (test
  Client, real session), as bench_customers.py does;
- pipeline summary (counts and sums per stage of the default pipeline's open opportunities): the aggregate
  query a kanban board's column headers need, run through `visible_to(actor)` as a selector would. (It is
  measured at the query level: the board and its summary endpoint belong to the opportunity topic; when
  that lands, add its URL to CASES.)

For each case: warm-up, then N timed runs; median (p50), p95, sequential throughput of one process and the
SQL statements of one run. Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")

from bench_customers import cpu_calibration, estimate, measure
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client

from kehu.accounts.models import Organization, User
from kehu.sales.models import Lead, Opportunity
from kehu.sales.opportunity_services import ensure_default_pipeline


def pipeline_summary(actor: User, pipeline_id: int) -> list[dict]:
    """Counts and amounts per stage of a pipeline's open opportunities, as `actor` may see them."""
    return list(
        Opportunity.objects.visible_to(actor)
        .filter(pipeline_id=pipeline_id, status=Opportunity.Status.OPEN)
        .order_by()
        .values("stage_id")
        .annotate(count=Count("id"), amount=Sum("amount"))
    )


def measure_call(fn, requests: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn()
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        fn()
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[int(len(timings) * 0.95) - 1],
        "rps": 1000 / statistics.fmean(timings),
        "queries": len(executed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", default="基准测试有限公司")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    org = Organization.objects.get(name=args.org)
    admin = User.objects.filter(organization=org, role__key="administrator").order_by("pk").first()
    manager = User.objects.filter(organization=org, role__key="sales_manager").order_by("pk").first()
    pipeline = ensure_default_pipeline(org)
    cases = [
        ("Forecast for a quarter, API (by rep)", "/api/v1/forecast/?period=quarter"),
        ("Forecast for a quarter, API (by team)", "/api/v1/forecast/?period=quarter&group_by=team"),
        ("Forecast for a year, API (by month)", "/api/v1/forecast/?period=year&group_by=month"),
        ("Forecast page (UI), this quarter", "/sales/forecast/"),
    ]
    calibration = [cpu_calibration()]
    rows = []
    for who, user in (("sales_manager", manager), ("administrator", admin)):
        client = Client()
        client.force_login(user)
        for label, path in cases:
            result = measure(client, "GET", path, args.requests, args.warmup)
            rows.append((label, who, result))
            print(f"  {label} [{who}]: p95 {result['p95']:.1f} ms", file=sys.stderr)
        actor = User.objects.select_related("organization", "role", "team").get(pk=user.pk)
        label = "Pipeline summary (counts and sums per stage), query"
        result = measure_call(lambda a=actor: pipeline_summary(a, pipeline.pk), args.requests, args.warmup)
        rows.append((label, who, result))
        print(f"  {label} [{who}]: p95 {result['p95']:.1f} ms", file=sys.stderr)

    calibration.append(cpu_calibration())
    vendor = connection.vendor
    version = connection.cursor().connection.info.server_version if vendor == "postgresql" else None
    db = (
        f"PostgreSQL {version // 10000}.{version % 10000}"
        if version
        else f"SQLite {connection.Database.sqlite_version}"
    )
    print(
        f"\n{db}, {estimate(Opportunity):,} opportunities, {estimate(Lead):,} leads; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.requests} runs per case after "
        f"{args.warmup} warm-up, in-process (Django test Client, session auth). CPU check: a 10^6-step Python "
        f"loop took {calibration[0]:.0f} ms before and {calibration[1]:.0f} ms after (tens of ms on an idle core)\n"
    )
    print("| case | as | p50 ms | p95 ms | req/s (1 process) | queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, who, r in rows:
        print(f"| {label} | {who} | {r['median']:.1f} | {r['p95']:.1f} | {r['rps']:.0f} | {r['queries']} |")


if __name__ == "__main__":
    main()
