"""What the shared layout costs every UI page, and the pages that carry most of it, on a database seeded
beforehand (kehu seed, and kehu seed_service for the queue page):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kehu_bench .venv/bin/python benchmarks/bench_layout.py
    ... --profile /tmp/prof     # a cProfile of each case (pstats files, one per case and role)

"Minimal page" is a page registered by this script only: it extends base.html with an empty content block,
behind login_required, so its cost is the middleware stack, the context processors and the layout. The
other cases are the customer list's first page and the service queue's first page. Same measuring as
bench_customers.py (in-process test Client with a real session; median Python CPU ms; queries of one request).
"""

from __future__ import annotations

import cProfile
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_customers import cpu_calibration, measure, module_parser, organization_users
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client
from django.urls import clear_url_caches, path

from kehu import urls

MINIMAL = '{% extends "base.html" %}{% block title %}Minimal{% endblock %}{% block content %}<p>x</p>{% endblock %}'


@login_required
def minimal_page(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(MINIMAL)
    return HttpResponse(template.render({}, request))


def main() -> None:
    roles = ("sales_manager", "service_manager", "administrator")
    parser = module_parser(__doc__, roles)
    parser.add_argument("--profile", default="", help="Directory for one cProfile (pstats) per case and role.")
    args = parser.parse_args()
    urls.urlpatterns.append(path("__bench/minimal/", minimal_page))
    clear_url_caches()
    org, users = organization_users(args.org, roles)
    everyone, sales, service = set(roles), {"sales_manager", "administrator"}, {"service_manager", "administrator"}
    cases = [
        ("Minimal page (base.html)", "/__bench/minimal/", everyone),
        ("Customer list, first page", "/customers/", sales),
        ("Service queue, first page (UI)", "/service/tickets/?status=active&ordering=resolution_due_at", service),
    ]
    calibration = [cpu_calibration()]
    rows = []
    for who in [r.strip() for r in args.roles.split(",") if r.strip()]:
        client = Client()
        client.force_login(users[who])
        for label, url, allowed in cases:
            if who not in allowed:
                continue
            if args.only.lower() not in label.lower() or (args.skip and args.skip.lower() in label.lower()):
                continue
            result = measure(client, "GET", url, args.requests, args.warmup)
            rows.append((label, who, result))
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.requests):
                    client.get(url)
                profile.disable()
                name = label.split(",")[0].split(" (")[0].lower().replace(" ", "-")
                profile.dump_stats(str(Path(args.profile) / f"{name}-{who}.prof"))
            print(f"  {label} [{who}]: CPU {result['cpu']:.1f} ms", file=sys.stderr)
    calibration.append(cpu_calibration())
    print(
        f"\n{connection.vendor}, organisation {org.name}; {args.requests} requests per case after {args.warmup} "
        f"warm-up; CPU check {calibration[0]:.0f} / {calibration[1]:.0f} ms\n"
    )
    print("| case | as | p50 ms | p95 ms | Python CPU ms (p50) | queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, who, r in rows:
        print(f"| {label} | {who} | {r['median']:.1f} | {r['p95']:.1f} | {r['cpu']:.1f} | {r['queries']} |")


if __name__ == "__main__":
    main()
