"""A small API benchmark: median and p95 of GET /api/v1/me/ and /api/v1/users/ with N users.

Runs in-process through Django's test client on an in-memory SQLite database, with a real bearer
token, so it measures Kehu's own overhead (authentication, permissions, visibility, serialisation,
pagination) without a network or a web server. The numbers are printed, never asserted.

    make bench                                   # or:
    DJANGO_SETTINGS_MODULE=kehu.settings.test .venv/bin/python benchmarks/bench_api.py --users 100,1000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

os.environ.pop("DATABASE_URL", None)  # always SQLite: the numbers stay comparable between machines
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static files here

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, setup_test_environment  # noqa: E402

from kehu.accounts import services  # noqa: E402
from kehu.accounts.models import Organization, Team, User  # noqa: E402

ENDPOINTS = ["/api/v1/me/", "/api/v1/users/"]


def build_org() -> tuple[Organization, User, list[Team]]:
    org = services.organization_create(
        actor=None,
        name="基准测试有限公司",
        admin_email="admin@bench.test",
        admin_password="Bench-pw-2026",
        admin_name="管理员",
    )
    admin = User.objects.get(email="admin@bench.test")
    sales = services.team_create(actor=admin, name="销售部")
    teams = [sales] + [services.team_create(actor=admin, name=f"销售{i}组", parent=sales) for i in range(1, 5)]
    return org, admin, teams


def grow_users(org: Organization, teams: list[Team], total: int) -> None:
    """Bulk-insert users up to `total` (services would hash and audit each one: minutes for no insight)."""
    have = User.objects.filter(organization=org).count()
    role = org.roles.get(key="sales_rep")
    password = make_password("Bench-pw-2026")
    User.objects.bulk_create(
        [
            User(
                organization=org,
                email=f"user{n:07d}@bench.test",
                name=f"用户{n}",
                role=role,
                team=teams[n % len(teams)],
                password=password,
            )
            for n in range(have, total)
        ],
        batch_size=1000,
    )


def measure(client: Client, path: str, token: str, requests: int, warmup: int) -> dict[str, float]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(warmup):
        client.get(path, **headers)
    timings = []
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    status, query_count = response.status_code, len(queries)
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path, **headers)
        timings.append((time.perf_counter() - start) * 1000)
    return {
        "status": status,
        "queries": query_count,
        "median": statistics.median(timings),
        "p95": statistics.quantiles(timings, n=20, method="inclusive")[18],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="100,1000,10000", help="Comma-separated user counts (default: %(default)s).")
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per endpoint and size.")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.users.split(","))

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    org, admin, teams = build_org()
    _, token = services.token_create(actor=admin, name="bench", scope="read")
    client = Client()

    print(
        f"Kehu API benchmark: Django test client, in-memory SQLite {connection.Database.sqlite_version}, "
        f"Python {platform.python_version()} on {platform.machine()} with {os.cpu_count()} CPUs."
    )
    print(
        f"The administrator's bearer token; {args.requests} timed requests per row after {args.warmup} warm-up; "
        "list pages of 50."
    )
    print()
    print("| users | endpoint | status | queries | median ms | p95 ms |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for size in sizes:
        grow_users(org, teams, size)
        for path in ENDPOINTS:
            row = measure(client, path, token, args.requests, args.warmup)
            print(
                f"| {size:,} | GET {path} | {row['status']} | {row['queries']} | "
                f"{row['median']:.2f} | {row['p95']:.2f} |"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
