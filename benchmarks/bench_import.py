"""Import and export throughput: rows/s and peak memory for customers, on SQLite and PostgreSQL.

Each measurement runs in a fresh subprocess (so that its peak RSS is its own) against a fresh database:
SQLite in memory, or PostgreSQL in the database named by --pg (created and dropped).

- import: a generated GBK CSV of N customers (Chinese names, phones, emails, regions, tiers, sources,
  tags, contacts, owners) through the real path: upload (encoding detection, mapping guess), then the
  background task's body (`process_import`), chunks of 5,000 rows, duplicate matching, audit per chunk;
  the next chunk is read and checked by the task's worker thread while one is written.
- dry run: the same file checked without writing.
- export CSV / XLSX: N customers (inserted in bulk beforehand) exported by the administrator through
  `customer_export` (keyset chunks, streaming CSV, write-only XLSX to a temporary file).

Peak memory is the subprocess's maximum resident set size (resource.getrusage), Django included.

    DJANGO_SETTINGS_MODULE=kehu.settings.test .venv/bin/python benchmarks/bench_import.py --rows 10000,100000
    ... --db sqlite            # SQLite only
    ... --db postgres --pg postgres://postgres@127.0.0.1:5432/kehu_imports_bench

"CPU s" is the measuring process's CPU (all its threads), "PG CPU s" the PostgreSQL backends' (the import's
second connection included: its chunks commit on one while the next is written on the other), "main s" the
CPU of the thread that runs the task and writes; "overlap rows/s" is what the rate would be on an idle
2-core machine with the worker thread's work hidden behind the writer's waits for PostgreSQL: rows over the
longer of (main + PG CPU), which run one after the other, and the process's CPU (its threads share a GIL).

Each line ends with a CPU check: a fixed 10^6-step Python loop timed in the measuring process before and
after (tens of ms on an idle core; several times that means the machine was busy and every figure on the
line is inflated as much).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator

PHASES = ("import", "dry run", "export csv", "export xlsx")
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/kehu_imports_bench"


def _setup_django(db: str, pg_url: str, sqlite_file: str = "") -> None:
    if db == "postgres":
        os.environ["DATABASE_URL"] = pg_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
    warnings.filterwarnings("ignore", message="No directory at")
    import django
    from django.conf import settings

    if db == "postgres":
        # The --pg URL's database name (one of our own, never a shared one): created and dropped by
        # setup/teardown below. setup_databases() would otherwise use test_<name>.
        from urllib.parse import urlparse

        name = urlparse(pg_url).path.lstrip("/") or "kehu_imports_bench"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
    elif sqlite_file:
        # A database file instead of memory: then the peak RSS is the process's own, not the database's.
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = sqlite_file
    django.setup()


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
WORDS = [
    "华为",
    "腾讯",
    "海尔",
    "美的",
    "格力",
    "比亚迪",
    "中兴",
    "联想",
    "小米",
    "万科",
    "招商",
    "平安",
    "京东",
    "网易",
]
KINDS = ["科技", "贸易", "制造", "物流", "咨询", "电子", "食品", "医药"]
PLACES = [
    ("广东", "深圳"),
    ("广东", "广州"),
    ("北京", "北京"),
    ("上海", "上海"),
    ("浙江", "杭州"),
    ("江苏", "南京"),
    ("四川", "成都"),
]
TIERS = ["A", "B", "C", "D", ""]
SOURCES = ["官网", "转介绍", "展会", "广告", "合作伙伴", ""]
HEADER = [
    "客户名称",
    "电话",
    "邮箱",
    "省份",
    "城市",
    "地址",
    "等级",
    "来源",
    "行业",
    "标签",
    "联系人",
    "负责人",
    "备注",
]


def customer_row(i: int, owner_email: str) -> list[str]:
    province, city = PLACES[i % len(PLACES)]
    person = SURNAMES[i % 20] + GIVEN[(i // 20) % 20]
    name = f"{city}{WORDS[i % len(WORDS)]}{KINDS[(i // 7) % len(KINDS)]}有限公司{i}"
    return [
        name,
        f"1{3 + i % 7}{i:09d}"[:11],
        f"contact{i}@example{i % 97}.cn",
        province,
        city,
        f"{city}市某某路{i % 999}号",
        TIERS[i % 5],
        SOURCES[i % 6],
        KINDS[i % len(KINDS)],
        "重点,华南" if i % 3 == 0 else "",
        person,
        owner_email,
        "由基准测试导入",
    ]


def _csv_bytes(rows: int, owner_email: str) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow(customer_row(i, owner_email))
    return buffer.getvalue().encode("gb18030")


def cpu_check() -> float:
    """Milliseconds for a fixed pure-Python loop (tens on an idle core)."""
    start = time.perf_counter()
    total = 0
    for i in range(10**6):
        total += i
    return (time.perf_counter() - start) * 1000


def _server_cpu() -> float:
    """CPU seconds the PostgreSQL backend serving this connection has used so far (it runs on this machine:
    /proc/<pid>/stat), or 0.0 on SQLite (which runs inside the measured process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return _pid_cpu(pid)


def _pid_cpu(pid: int) -> float:
    """CPU seconds process `pid` of this machine has used so far (0.0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@contextlib.contextmanager
def _second_backend_cpu(totals: list[float]) -> Iterator[None]:
    """An import on PostgreSQL may commit its chunks on a second connection (kehu.core.imports._Pipeline):
    add that backend's CPU to `totals` when the import closes it (code without it: nothing added)."""
    from kehu.core import imports

    pipeline = getattr(imports, "_Pipeline", None)
    if pipeline is None:
        yield
        return
    close = pipeline.close

    def measured_close(self: object, *args: object, **kwargs: object) -> None:
        raw = self.other.connection  # type: ignore[attr-defined]
        if raw is not None:
            totals.append(_pid_cpu(raw.info.backend_pid))
        close(self, *args, **kwargs)

    pipeline.close = measured_close
    try:
        yield
    finally:
        pipeline.close = close


def _sqlite_mb() -> float:
    """The size of the SQLite database (in memory unless --sqlite-file: then it is part of the peak RSS)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return pages * cursor.fetchone()[0] / 2**20


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextlib.contextmanager
def _profiled(path: str) -> Iterator[None]:
    """cProfile the measured part into `path` (pstats format) when one is given."""
    if not path:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def worker(db: str, rows: int, phase: str, pg_url: str, profile: str = "", sqlite_file: str = "") -> dict[str, float]:
    _setup_django(db, pg_url, sqlite_file)
    from django.core.files.base import ContentFile
    from django.test.utils import override_settings, setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    media = tempfile.TemporaryDirectory()
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media.name}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        with override_settings(STORAGES=storages):
            from kehu.accounts import services as account_services
            from kehu.accounts.models import User
            from kehu.core import imports
            from kehu.customers import exporting

            account_services.organization_create(
                actor=None,
                name="基准测试有限公司",
                admin_email="admin@bench.test",
                admin_password="Bench-pw-2026",
                admin_name="管理员",
            )
            admin = User.objects.get(email="admin@bench.test")
            cpu_before = cpu_check()
            if phase in ("import", "dry run"):
                job = imports.import_job_create(
                    actor=admin, record_type="customers", upload=ContentFile(_csv_bytes(rows, admin.email), "c.csv")
                )
                job = imports.import_job_update(actor=admin, job=job, policy="skip")
                mode = "run" if phase == "import" else "dry_run"
                status = imports.Status.RUNNING if mode == "run" else imports.Status.VALIDATING
                imports.ImportJob.objects.filter(pk=job.pk).update(status=status)
                start, cpu_start, server_start = time.perf_counter(), time.process_time(), _server_cpu()
                thread_start = time.thread_time()
                second: list[float] = []
                with _profiled(profile), _second_backend_cpu(second):
                    imports.process_import(job.pk, mode)
                seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
                thread_seconds = time.thread_time() - thread_start
                server_seconds = _server_cpu() - server_start + sum(second)
                job.refresh_from_db()
                handled = job.created_count if mode == "run" else job.dry_run.get("created", 0)
                assert handled == rows, (phase, handled, job.message)
            else:
                _insert_customers(admin, rows)
                fmt = phase.split()[-1]
                start, cpu_start, server_start = time.perf_counter(), time.process_time(), _server_cpu()
                thread_start = time.thread_time()
                with _profiled(profile):
                    export = exporting.customer_export(actor=admin, filters={}, fmt=fmt)
                    if fmt == "csv":
                        size = sum(len(chunk.encode()) for chunk in imports.csv_stream(export.header, export.rows))
                    else:
                        with imports.xlsx_file(export.header, export.rows) as handle:
                            size = handle.seek(0, 2)
                seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
                thread_seconds = time.thread_time() - thread_start
                server_seconds = _server_cpu() - server_start
                assert export.count == rows and size > 0
            cpu_after = cpu_check()
            sqlite_mb = _sqlite_mb()
    finally:
        teardown_databases(old, verbosity=0)
        media.cleanup()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "thread_seconds": thread_seconds,
        "server_seconds": server_seconds,
        "peak_mb": _peak_mb(),
        "sqlite_mb": sqlite_mb,
        "cpu": f"{cpu_before:.0f}/{cpu_after:.0f}",
    }


def _insert_customers(admin: object, rows: int) -> None:
    """Bulk-insert N customers with tags (in chunks, so that the insert does not set the memory peak)."""
    from kehu.customers import services
    from kehu.customers.models import Customer, CustomerTag
    from kehu.customers.normalize import normalize_email, normalize_phone

    tags = [services.tag_create(actor=admin, name=n) for n in ("重点", "华南")]
    for start in range(0, rows, 5000):
        batch = []
        for i in range(start, min(rows, start + 5000)):
            cells = customer_row(i, admin.email)
            batch.append(
                Customer(
                    organization_id=admin.organization_id,
                    owner=admin,
                    created_by=admin,
                    updated_by=admin,
                    name=cells[0],
                    phone=cells[1],
                    phone_normalized=normalize_phone(cells[1]),
                    email=cells[2],
                    email_normalized=normalize_email(cells[2]),
                    province=cells[3],
                    city=cells[4],
                    address=cells[5],
                    tier=cells[6],
                    source="website",
                    industry=cells[8],
                    notes="=1+1" if i % 50 == 0 else cells[12],
                )
            )
        Customer.objects.bulk_create(batch)
        CustomerTag.objects.bulk_create(
            [CustomerTag(organization_id=c.organization_id, customer=c, tag=t) for c in batch[::3] for t in tags]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (its database name is not used)")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument(
        "--profile",
        default="",
        help="directory: write a cProfile of each measurement there (<db>-<phase>-<rows>.prof; slows it down)",
    )
    parser.add_argument(
        "--sqlite-file",
        action="store_true",
        help="SQLite in a temporary file instead of memory (the peak RSS then leaves the database out)",
    )
    parser.add_argument("--sqlite-path", default="", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=3, metavar=("DB", "ROWS", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        db, rows, phase = args.worker
        print(json.dumps(worker(db, int(rows), phase, args.pg, args.profile, args.sqlite_path)))
        return
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    print(
        f"{'db':<10} {'phase':<12} {'rows':>8} {'seconds':>8} {'rows/s':>9} {'CPU s':>7} {'PG CPU s':>8} {'CPU rows/s':>10}"
        f" {'main s':>7} {'overlap rows/s':>14} {'peak MB':>8} {'SQLite MB':>9} {'CPU check ms':>13}"
    )
    scratch = tempfile.TemporaryDirectory()
    for db in dbs:
        for rows in [int(r) for r in args.rows.split(",")]:
            for phase in phases:
                profile = ""
                if args.profile:
                    profile = os.path.join(args.profile, f"{db}-{phase.replace(' ', '-')}-{rows}.prof")
                command = [
                    sys.executable,
                    __file__,
                    "--pg",
                    args.pg,
                    "--profile",
                    profile,
                    "--sqlite-path",
                    os.path.join(scratch.name, "bench.sqlite3") if args.sqlite_file else "",
                    "--worker",
                    db,
                    str(rows),
                    phase,
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    print(f"{db:<10} {phase:<12} {rows:>8} failed: {done.stderr.strip().splitlines()[-1:]}")
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rate = rows / result["seconds"]
                # CPU rows/s: rows per second of CPU, this process's and the PostgreSQL backend's together
                # (what the rate would be on an idle machine if neither waited for the other or the disk).
                cpu, server = result["cpu_seconds"], result["server_seconds"]
                # main s: the CPU of the thread that runs the task (the import's worker thread, which prepares
                # the next chunk meanwhile, is the rest of "CPU s"). overlap rows/s: the rate on an idle
                # machine if the other thread's work hides behind the main thread's waits for PostgreSQL:
                # the main thread and the backend run one after the other (main + PG CPU), and the
                # process's threads share one GIL (CPU s), whichever is longer.
                main = result["thread_seconds"]
                overlap = rows / max(main + server, cpu)
                print(
                    f"{db:<10} {phase:<12} {rows:>8} {result['seconds']:>8.2f} {rate:>9,.0f} {cpu:>7.2f} {server:>8.2f}"
                    f" {rows / (cpu + server):>10,.0f} {main:>7.2f} {overlap:>14,.0f}"
                    f" {result['peak_mb']:>8.0f} {result['sqlite_mb']:>9.0f}"
                    f" {result['cpu']:>13}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
