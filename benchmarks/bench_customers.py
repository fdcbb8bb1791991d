"""Server-side latency of the customer pages and API at scale, on a database seeded beforehand:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench kehu migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench kehu seed --customers 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench .venv/bin/python benchmarks/bench_customers.py

(SQLite: DATABASE_URL=sqlite:////path/to/bench.sqlite3, e.g. with --customers 100000.)

Each request goes through the whole Django stack in-process (middleware, a real database session from
force_login, permissions, visibility, the selector, serialisation or template rendering) via the test
Client: no network and no web server, so this is what one worker spends per request. For each case:
warm-up requests, then N timed ones; median, p95, sequential throughput of one process (1 / mean) and
the SQL queries of one request. Prints a Markdown table; asserts nothing. Creates customers (the POST
case) and a few audit entries (the detail case's timeline) in the benchmark organisation; `--only search`
(or `--skip create` without the detail case) writes nothing, so it can read a database it must not change.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
# The test settings: local-memory cache, no whitenoise autorefresh (the embedded settings re-scan static
# files on every request), DEBUG off; the database is whatever DATABASE_URL names.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from kehu.accounts.models import Organization, User  # noqa: E402
from kehu.customers import services  # noqa: E402
from kehu.customers.models import Contact, Customer  # noqa: E402

RARE_CHARS = "饕餮龘靐齉爩"  # kehu seed puts these in about 1 in 2,000 company names


def estimate(model: type) -> int:
    """Row count: the planner's estimate on PostgreSQL (exact counts are what we avoid), COUNT on SQLite."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [model._meta.db_table])
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
        return int(cursor.fetchone()[0])


def rare_fragment(org: Organization) -> str:
    """Two characters of a name holding one of the rare characters (rare by construction)."""
    for ch in RARE_CHARS:
        name = (
            Customer.objects.filter(organization=org, deleted_at__isnull=True, name__contains=ch)
            .values_list("name", flat=True)
            .first()
        )
        if name:
            i = name.index(ch)
            return name[i : i + 2]
    return "龘龘"


def sparse_email_fragment(org: Organization) -> str:
    """The email fragment info10-info99 that the organisation's newest 2,000 customers hold least often. Each
    is in ~0.9% of the seeded customers (80% have info<0-99999>@...), about 18 of 2,000; the sparsest is the
    case where the first walk's sample understates the frequency (RESULTS.md, emailsearch and searchtune)."""
    newest = (
        Customer.objects.filter(organization=org, deleted_at__isnull=True)
        .order_by("-updated_at", "-pk")
        .values_list("search_text", flat=True)[:2000]
    )
    texts = list(newest)
    counts = {f"info{n}": sum(f"info{n}" in (text or "") for text in texts) for n in range(10, 100)}
    return min(counts, key=lambda fragment: (counts[fragment], fragment))


def measure(client: Client, method: str, path: str, requests: int, warmup: int, body_factory=None) -> dict:
    # A part that htmx loads into its page is asked for as htmx does (without the header it is a page of its own).
    headers = {"HX-Request": "true"} if path.endswith(("/timeline/", "/panels/")) else {}

    def call(i: int):
        if method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, body_factory(i), content_type="application/json")

    for i in range(warmup):
        response = call(-1 - i)
        if response.status_code not in (200, 201):
            raise SystemExit(f"{method} {path}: HTTP {response.status_code} {response.content[:300]!r}")
    executed = []

    def count(execute, sql, params, many, context):  # every statement of one request, session included
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        call(10**6)
    timings, cpu = [], []
    for i in range(requests):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = call(i)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        if response.status_code not in (200, 201):
            raise SystemExit(f"{method} {path}: HTTP {response.status_code}")
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[int(len(timings) * 0.95) - 1],
        "rps": 1000 / statistics.fmean(timings),
        "cpu": statistics.median(cpu),
        "queries": len(executed),
    }


def module_parser(
    doc: str | None, roles: tuple[str, ...], *, requests: int = 100, warmup: int = 10
) -> argparse.ArgumentParser:
    """The options of the benchmarks (this one, bench_sales, bench_service): organisation, runs, which cases and,
    when `roles` are given, as whom; a script adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", default="基准测试有限公司")
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--only", default="", help="Run only the cases whose label contains this text.")
    parser.add_argument("--skip", default="", help="Skip the cases whose label contains this text.")
    if roles:
        parser.add_argument("--as", dest="roles", default=",".join(roles), help="Comma-separated roles.")
    return parser


def organization_users(org_name: str, roles: tuple[str, ...]) -> tuple[Organization, dict[str, User]]:
    """The benchmark organisation and its first active user of each role, with the test Client's host name
    allowed and mail kept in memory (not setup_test_environment(): see main())."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    org = Organization.objects.get(name=org_name)
    users = {
        key: User.objects.filter(organization=org, role__key=key, is_active=True).order_by("pk").first()
        for key in roles
    }
    return org, users


def cpu_calibration() -> float:
    """Milliseconds for a fixed pure-Python loop: tens on an idle core. Several
    times that means other processes were taking the CPU, and every number below is inflated as much."""
    start = time.perf_counter()
    total = 0
    for i in range(10**6):
        total += i
    return (time.perf_counter() - start) * 1000


def detail_customer(org: Organization) -> Customer:
    """The customer whose page is measured: one with contacts and, when `kehu seed_sales` ran, an opportunity
    and its activities (the customer of the newest activity about an opportunity), not the newest customer,
    which after an earlier run is one the POST case created with nothing on its page."""
    from kehu.sales.activity_models import Activity

    with_sales = (
        Activity.objects.filter(organization=org, opportunity__isnull=False, customer__deleted_at__isnull=True)
        .order_by("-pk")
        .values_list("customer_id", flat=True)
        .first()
    )
    live = Customer.objects.filter(organization=org, deleted_at__isnull=True)
    if with_sales:
        return live.get(pk=with_sales)
    return live.filter(contacts__isnull=False).order_by("-pk").first()


def selected(label: str, args: argparse.Namespace) -> bool:
    """--only / --skip: whether the case labelled `label` runs (a case not run writes nothing)."""
    return (not args.only or args.only in label) and not (args.skip and args.skip in label)


def main() -> None:
    args = module_parser(__doc__, (), requests=200, warmup=20).parse_args()
    # Not setup_test_environment(): it instruments every template render (a signal per template), which
    # would bill the pages for test machinery. Only the test Client's host name and a mail outbox.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    org = Organization.objects.get(name=args.org)
    admin = User.objects.filter(organization=org, role__key="administrator").order_by("pk").first()
    manager = User.objects.filter(organization=org, role__key="sales_manager").order_by("pk").first()
    customer = detail_customer(org)
    wanted = [label for label in ("UI detail page",) if selected(label, args)]
    for n in range(10 if wanted else 0):  # a timeline to show: ten changes, audited as a user would make them
        customer = services.customer_update(
            actor=admin, customer=customer, expected_version=customer.version, data={"notes": f"benchmark {n}"}
        )
    detail_id = customer.pk
    common, rare = "科技", rare_fragment(org)
    sparse = sparse_email_fragment(org) if selected("API search, email fragment, sparsest", args) else "info16"
    run = f"{time.time():.0f}"[-6:]

    def new_customer(i: int) -> str:
        import json

        n = int(run) * 10000 + i + 5000
        return json.dumps({"name": f"基准新建客户{run}-{i}", "phone": f"139{n % 10**8:08d}", "tier": "B"})

    api, ui = "/api/v1/customers/", "/customers/"
    cases = [
        ("API list, first page", "GET", api),
        ("UI list, first page", "GET", ui),
        ("API list, tier + stage filter, sorted by name", "GET", f"{api}?tier=A&stage=customer&ordering=name"),
        ("UI list, province filter, oldest first", "GET", f"{ui}?province={quote('广东省')}&ordering=updated_at"),
        (f"API search, common 2 characters ({common})", "GET", f"{api}?search={quote(common)}"),
        (f"API search, rare 2 characters ({rare})", "GET", f"{api}?search={quote(rare)}"),
        ("API search, 1 character (张)", "GET", f"{api}?search={quote('张')}"),
        ("API search, 4 phone digits (8013)", "GET", f"{api}?search=8013"),
        ("API search, email fragment (info12)", "GET", f"{api}?search=info12"),
        # As frequent as info12 (0.9% of customers), but the newest 2,000 hold 12 in a fresh seed of a million
        # (info12: 19), too few to predict a page within max_walk_rows: the path info12 took once the
        # benchmark's own new customers were the newest (RESULTS.md, emailsearch).
        ("API search, email fragment, sparse among the newest (info16)", "GET", f"{api}?search=info16"),
        # The same, for whichever fragment is sparsest among the newest in this database (info16 was in session
        # 6's seed; in another seed it may see its expected 18).
        (f"API search, email fragment, sparsest among the newest ({sparse})", "GET", f"{api}?search={sparse}"),
        (f"Search box, 2 characters ({common})", "GET", f"/search/?q={quote(common)}"),
        (f"Search box, rare 2 characters ({rare})", "GET", f"/search/?q={quote(rare)}"),
        # The page (with its timeline's first page since session 6), the timeline's own URL (what "show older"
        # and a browser without JavaScript ask for) and the panels, which htmx loads right after the page.
        ("UI detail page", "GET", f"{ui}{detail_id}/"),
        ("UI detail page: its timeline (htmx)", "GET", f"{ui}{detail_id}/timeline/"),
        ("UI detail page: its panels (htmx)", "GET", f"{ui}{detail_id}/panels/"),
        ("API detail", "GET", f"{api}{detail_id}/"),
        ("API create (POST)", "POST", api),
    ]
    cases = [case for case in cases if selected(case[0], args)]
    calibration = [cpu_calibration()]
    rows = []
    for who, user in (("sales_manager", manager), ("administrator", admin)):
        client = Client()
        client.force_login(user)  # a real session row, read by the session middleware on every request
        for label, method, path in cases:
            if method == "POST" and who != "sales_manager":
                continue
            result = measure(client, method, path, args.requests, args.warmup, new_customer)
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
        f"\n{db}, {estimate(Customer):,} customers, {estimate(Contact):,} contacts; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.requests} requests per case after "
        f"{args.warmup} warm-up, in-process (Django test Client, session auth). CPU check: a 10^6-step "
        f"Python loop took {calibration[0]:.0f} ms before and {calibration[1]:.0f} ms after (tens of ms on an idle core)\n"
    )
    # "Python CPU ms": this process's CPU time per request (median), i.e. Kehu's own work without the
    # database server's and without the time spent waiting for a core on a shared machine.
    print("| case | as | median ms | p95 ms | req/s (1 process) | Python CPU ms | queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, who, r in rows:
        print(
            f"| {label} | {who} | {r['median']:.1f} | {r['p95']:.1f} | {r['rps']:.0f} | {r['cpu']:.1f} "
            f"| {r['queries']} |"
        )


if __name__ == "__main__":
    main()
