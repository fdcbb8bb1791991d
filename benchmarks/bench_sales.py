"""Server-side latency of the sales forecast and the pipeline summary, on a database seeded beforehand:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench kehu migrate
    DATABASE_URL=... kehu seed --customers 1000000
    DATABASE_URL=... kehu seed_sales --opportunities 500000 --leads 300000
    DATABASE_URL=... .venv/bin/python benchmarks/bench_sales.py

(add `--activities 2000000` to seed_sales for the "my day" cases.)

Cases, each through the whole Django stack in-process (test Client, a real session from force_login, as
bench_customers.py does), as a sales rep (own records), a sales manager (scope "team and sub-teams") and the
administrator (the whole organisation):

- the kanban board page /sales/opportunities/board/ (default pipeline: column counts and sums, and the
  first page of cards of every column);
- the pipeline summary API /api/v1/pipelines/<id>/summary/ (counts, sums and weighted sums per stage);
- the forecast for a quarter: GET /api/v1/forecast/ (by rep and by team), for a year by month, and the
  forecast page /sales/forecast/;
- "my day": the page /sales/my-day/ and the API /api/v1/my-day/ (overdue, today, upcoming, done today);
- lead creation: POST /api/v1/leads/ without an owner, so the organisation's 20 assignment rules choose one
  (the benchmark creates the rules, named "基准规则 NN", when they are missing: conditions on province,
  source, industry and company; round-robin, least-loaded with a cap and named-user actions; a catch-all
  last). Creates leads in the benchmark organisation.
- the opportunity and lead lists' `?search=` (API, first page): a common and a rare 2-character fragment and a
  longer one (the search box's cases are in bench_customers.py, `--only box`), and the common one sorted by
  name (and opportunities by -amount);
- the pipeline summary's aggregate alone (through `visible_to`, no HTTP), for comparison.

For each case: warm-up, then N timed runs; median (p50), p95, sequential throughput of one process and the
SQL statements of one run. Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")

from urllib.parse import quote

from bench_customers import cpu_calibration, estimate, measure, module_parser, organization_users, rare_fragment
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client

from kehu.accounts.models import Organization, User
from kehu.customers.models import Customer
from kehu.sales.activity_models import Activity
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


RULE_PREFIX = "基准规则"
RULES = 20


def ensure_rules(org: Organization, admin: User) -> int:
    """The organisation's 20 active assignment rules for the lead-creation case (made when missing, through
    the rules' service as an administrator would): 19 with conditions, a catch-all round-robin last."""
    from kehu.accounts.models import Team
    from kehu.core.management.commands.seed import INDUSTRIES, REGION_LIST
    from kehu.sales.lead_assignment import rule_create
    from kehu.sales.lead_models import AssignmentRule

    team = Team.objects.filter(organization=org).order_by("pk").first()
    reps = list(User.objects.filter(organization=org, role__key="sales_rep").order_by("pk"))
    provinces = sorted({province for province, _city, _district in REGION_LIST})
    sources = ["web_form", "import", "api", "campaign", "referral", "exhibition"]
    existing = AssignmentRule.objects.filter(organization=org, name__startswith=RULE_PREFIX).count()
    for n in range(existing, RULES):
        name = f"{RULE_PREFIX} {n + 1:02d}"
        if n == RULES - 1:
            rule_create(actor=admin, name=name, conditions=[], action="round_robin", team=team)
            continue
        two = [provinces[(2 * n) % len(provinces)], provinces[(2 * n + 1) % len(provinces)]]
        kind = n % 4
        if kind == 0:
            conditions = [{"field": "province", "op": "in", "value": two}]
            rule_create(actor=admin, name=name, conditions=conditions, action="round_robin", team=team)
        elif kind == 1:
            conditions = [
                {"field": "source", "op": "equals", "value": sources[n % len(sources)]},
                {"field": "region", "op": "in", "value": two},
            ]
            rule_create(actor=admin, name=name, conditions=conditions, action="least_loaded", team=team, cap=50_000)
        elif kind == 2:
            conditions = [
                {"field": "industry", "op": "equals", "value": INDUSTRIES[n % len(INDUSTRIES)]},
                {"field": "province", "op": "in", "value": two},
            ]
            user = reps[n % len(reps)]
            rule_create(actor=admin, name=name, conditions=conditions, action="user", user=user, cap=50_000)
        else:
            conditions = [{"field": "company", "op": "contains", "value": "饕餮"}]
            rule_create(actor=admin, name=name, conditions=conditions, action="round_robin", team=team)
    return AssignmentRule.objects.filter(organization=org, is_active=True).count()


def new_lead_factory():
    import json
    import random

    from kehu.core.management.commands.seed import INDUSTRIES, REGION_LIST

    r = random.Random(2026)
    run = f"{time.time():.0f}"[-6:]
    sources = ["web_form", "import", "api", "campaign", "referral", "exhibition", "other"]

    def body(i: int) -> str:
        province, city, _district = r.choice(REGION_LIST)
        n = (int(run) * 10000 + i + 5000) % 10**8
        return json.dumps(
            {
                "name": f"基准线索{run}-{i}",
                "company": f"基准{run}科技有限公司",
                "phone": f"137{n:08d}",
                "source": r.choice(sources),
                "industry": r.choice(INDUSTRIES),
                "province": province,
                "city": city,
            }
        )

    return body


def main() -> None:
    roles_all = ("sales_rep", "sales_manager", "administrator")
    parser = module_parser(__doc__, roles_all)
    args = parser.parse_args()
    org, users = organization_users(args.org, roles_all)
    admin = users["administrator"]
    pipeline = ensure_default_pipeline(org)
    # The rules only for the case that uses them: a run of other cases writes nothing (a shared database).
    creation = f"Lead creation, API POST, {RULES} assignment rules".lower()
    creating = args.only.lower() in creation and not (args.skip and args.skip.lower() in creation)
    rules = ensure_rules(org, admin) if creating else RULES
    new_lead = new_lead_factory()
    everyone = {"sales_rep", "sales_manager", "administrator"}
    people = {"sales_rep", "sales_manager"}  # "my day" is one's own: the administrator owns no activities
    cases = [
        ("Kanban board page, first page of every column", "GET", "/sales/opportunities/board/", everyone),
        ("Pipeline summary, API", "GET", f"/api/v1/pipelines/{pipeline.pk}/summary/", everyone),
        ("Forecast for a quarter, API (by rep)", "GET", "/api/v1/forecast/?period=quarter", everyone),
        ("Forecast for a quarter, API (by team)", "GET", "/api/v1/forecast/?period=quarter&group_by=team", everyone),
        ("Forecast for a year, API (by month)", "GET", "/api/v1/forecast/?period=year&group_by=month", everyone),
        ("Forecast page (UI), this quarter", "GET", "/sales/forecast/", everyone),
        ("My day page (UI)", "GET", "/sales/my-day/", people),
        ("My day, API", "GET", "/api/v1/my-day/", people),
        (f"Lead creation, API POST, {rules} assignment rules", "POST", "/api/v1/leads/", everyone),
    ]
    # The lists' `?search=` (newest first, the first page): a fragment most records hold, a rare one (a rare
    # character of the seeded customer names: opportunities are found by their customer's name; the leads'
    # companies come from the same generator) and one of 3+ characters (trigram index).
    common, rare = "科技", rare_fragment(org)
    for kind, api in (("Opportunity", "/api/v1/opportunities/"), ("Lead", "/api/v1/leads/")):
        for what, fragment in (
            ("common 2 characters", common),
            ("rare 2 characters", rare),
            ("4 characters", "数据中台"),
        ):
            if kind == "Lead" and fragment == "数据中台":
                fragment = "有限公司"
            cases.append(
                (f"{kind} list search, API, {what} ({fragment})", "GET", f"{api}?search={quote(fragment)}", everyone)
            )
    # A common fragment in another order than newest first: the page is cut from the LIST_LIMIT newest matches
    # (before session 7 every match was read and sorted).
    for kind, api, order in (
        ("Opportunity", "/api/v1/opportunities/", "name"),
        ("Opportunity", "/api/v1/opportunities/", "-amount"),
        ("Lead", "/api/v1/leads/", "name"),
    ):
        label = f"{kind} list search, API, common 2 characters ({common}), sorted by {order}"
        cases.append((label, "GET", f"{api}?search={quote(common)}&ordering={order}", everyone))
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    calibration = [cpu_calibration()]
    rows = []
    for who in roles:
        user = users[who]
        client = Client()
        client.force_login(user)
        for label, method, path, allowed in cases:
            if who not in allowed or args.only.lower() not in label.lower():
                continue
            if args.skip and args.skip.lower() in label.lower():
                continue
            result = measure(client, method, path, args.requests, args.warmup, new_lead)
            rows.append((label, who, result))
            print(f"  {label} [{who}]: p95 {result['p95']:.1f} ms", file=sys.stderr)
        label = "Pipeline summary aggregate alone (query, no HTTP)"
        if args.only.lower() in label.lower():
            actor = User.objects.select_related("organization", "role", "team").get(pk=user.pk)
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
        f"\n{db}, {estimate(Customer):,} customers, {estimate(Opportunity):,} opportunities, "
        f"{estimate(Lead):,} leads, {estimate(Activity):,} activities; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.requests} runs per case after "
        f"{args.warmup} warm-up, in-process (Django test Client, session auth). CPU check: a 10^6-step Python "
        f"loop took {calibration[0]:.0f} ms before and {calibration[1]:.0f} ms after (tens of ms on an idle core)\n"
    )
    # "Python CPU ms": this process's CPU time per request (median), Kehu's own work without the database's.
    print("| case | as | p50 ms | p95 ms | req/s (1 process) | Python CPU ms | queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, who, r in rows:
        cpu = f"{r['cpu']:.1f}" if "cpu" in r else "—"
        print(f"| {label} | {who} | {r['median']:.1f} | {r['p95']:.1f} | {r['rps']:.0f} | {cpu} | {r['queries']} |")


if __name__ == "__main__":
    main()
