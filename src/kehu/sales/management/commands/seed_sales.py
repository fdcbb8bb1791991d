"""`kehu seed_sales --opportunities N --leads N [--org NAME]`: sales benchmark data on top of `kehu seed`.

Run `kehu seed --customers N` first: every opportunity belongs to one of the organisation's customers and
to that customer's owner (a pool customer's goes to a random sales user), in the default pipeline, with a
realistic mix of statuses: about 30% open (expected to close from two months ago to nine months ahead, in
a stage with its probability), 25% won and 45% lost (closed at some time in the last two years). Leads
are people with companies, sources, statuses, scores, regions, phones and emails, most of them owned by a
sales user. Running again adds N more.

Not audited per row, on purpose, like `kehu seed` (one audit entry records the seeding). Rows are made in
worker processes and written with COPY on PostgreSQL (triggers and foreign-key checks off for the session)
or executemany on SQLite, reusing `kehu seed`'s machinery (kehu.core.management.commands.seed).

Activities: an EXTENSION POINT. The activity model belongs to the activity topic, which plugs its rows in
from `kehu/sales/activity_seed.py` (imported here when it exists) calling
`register_table("activity", Activity, generate_activities, prepare=...)` (see `register_table` below).
Tables are written in the order opportunities, leads, activities, so activities can point at both.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from kehu.accounts.models import Organization, User
from kehu.core import audit
from kehu.core.management.commands.seed import (
    DEFAULT_ORG,
    DOMAINS,
    INDUSTRIES,
    REGION_LIST,
    TITLES,
    Generator,
    Progress,
    Table,
    _copy_value,
)
from kehu.customers.models import Customer
from kehu.sales import search as sales_search
from kehu.sales.models import Lead, Opportunity, Stage
from kehu.sales.opportunity_services import ensure_default_pipeline

PRODUCTS = ["CRM 系统", "ERP 升级", "年度维保", "云服务器", "数据中台", "智能仓储", "安全审计", "培训服务", "办公设备",
            "网络改造", "SaaS 订阅", "定制开发", "管理咨询", "营销自动化"]  # fmt: skip
LOST_REASONS = ["价格过高", "选择了竞争对手", "预算取消", "需求变化", "联系不上", "决策延期"]
COMPETITORS = ["", "", "", "销售易", "纷享销客", "Salesforce", "HubSpot", "悟空CRM"]
NEXT_STEPS = ["", "安排产品演示", "发送报价", "技术交流", "商务谈判", "等待客户内部审批", "拜访决策人"]
LEAD_SOURCES = (
    ["web_form", "import", "api", "campaign", "referral", "exhibition", "other"],
    [25, 20, 10, 15, 10, 10, 10],
)
LEAD_STATUSES = (["new", "contacted", "qualified", "unqualified", "converted"], [35, 25, 15, 15, 10])
# Over two years of history most deals are closed, and more are lost than won.
STATUSES = (["open", "won", "lost"], [30, 25, 45])
REBUILD_INDEXES_FROM = 50_000
PLURAL = {"opportunity": "opportunities", "lead": "leads", "activity": "activities"}

# The customers of the organisation as (id, owner id or 0) in two arrays, read once before the worker
# processes fork (a million pairs are 16 MB and are not pickled per batch).
_CUSTOMER_IDS = array("q")
_CUSTOMER_OWNERS = array("q")
_CUSTOMER_NAMES: list[str] = []  # an opportunity's search data holds its customer's name (sales/search.py)


@dataclass(frozen=True)
class Job:
    """What a worker needs to make batches (no database access there)."""

    org: int
    admin: int
    owners: list[int]
    pipeline: int
    open_stages: list[tuple[int, int, bool]]  # (stage id, probability, needs an amount)
    open_weights: list[int]
    won_stage: int
    lost_stage: int
    now: datetime
    today: date
    seed: int
    pg: bool
    tables: dict[str, Table]


# EXTENSION POINT: further sales tables (activities) plug in here --------------------------------------
# generate(job, gen, n) -> list of rows (Table.row(...) lists) for n records; `job.tables[key]` is the
# table built from `model`. The command then offers --<key>s N (e.g. --activities 2000000).
# `prepare(org)`, when given, runs in the command's process before the workers fork (e.g. to read the ids
# the rows will reference into module-level arrays, which the forked workers then share).
_EXTRA: dict[str, tuple[type, Callable[[Job, Generator, int], list[list[Any]]]]] = {}
_PREPARE: dict[str, Callable[[Organization], None]] = {}


def register_table(
    key: str,
    model: type,
    generate: Callable[[Job, Generator, int], list[list[Any]]],
    prepare: Callable[[Organization], None] | None = None,
) -> None:
    _EXTRA[key] = (model, generate)
    if prepare is not None:
        _PREPARE[key] = prepare


def _amount(gen: Generator) -> Decimal:
    """Deal sizes spread like real ones: many around ¥50,000, a long tail into the millions."""
    value = min(gen.r.lognormvariate(10.8, 1.1), 50_000_000)
    return Decimal(int(value / 100) * 100 + 100)


def _opportunities(job: Job, gen: Generator, n: int) -> list[list[Any]]:
    r = gen.r
    table = job.tables["opportunity"]
    dt = (lambda v: v) if job.pg else connection.ops.adapt_datetimefield_value
    day = (lambda v: v) if job.pg else connection.ops.adapt_datefield_value
    dec = (lambda v: v) if job.pg else str
    rows = []
    count = len(_CUSTOMER_IDS)
    for _ in range(n):
        k = r.randrange(count)
        customer, owner = _CUSTOMER_IDS[k], _CUSTOMER_OWNERS[k] or r.choice(job.owners)
        status = r.choices(*STATUSES)[0]
        created = job.now - timedelta(seconds=r.randrange(730 * 86400))
        amount: Decimal | None = _amount(gen)
        name = f"{r.choice(PRODUCTS)}项目 {r.randrange(1, 10000):04d}"
        # The search data the triggers would compute (they are off for COPY): sales/search.py.
        search_names, grams = sales_search.opportunity_search_data(name=name, customer_name=_CUSTOMER_NAMES[k])
        values: dict[str, Any] = {
            "organization_id": job.org,
            "owner_id": owner,
            "created_by_id": owner,
            "updated_by_id": owner,
            "customer_id": customer,
            "pipeline_id": job.pipeline,
            "name": name,
            "currency": "CNY",
            "competitors": r.choice(COMPETITORS),
            "search_names": search_names,
        }
        if job.pg:
            values["name_grams"] = grams
        if status == "open":
            stage, probability, needs_amount = r.choices(job.open_stages, job.open_weights)[0]
            if not needs_amount and r.random() < 0.05:
                amount = None
            close = job.today + timedelta(days=r.randrange(-60, 271))
            entered = created + timedelta(seconds=r.randrange(max(1, int((job.now - created).total_seconds()))))
            updated = entered
            values.update(stage_id=stage, probability=probability, next_step=r.choice(NEXT_STEPS), closed_at=None)
        else:
            closed = min(created + timedelta(days=r.randrange(7, 181), seconds=r.randrange(86400)), job.now)
            close, entered, updated = closed.date(), closed, closed
            won = status == "won"
            values.update(
                stage_id=job.won_stage if won else job.lost_stage,
                probability=100 if won else 0,
                closed_at=dt(closed),
                lost_reason="" if won else r.choice(LOST_REASONS),
            )
        values.update(
            status=status,
            amount=dec(amount) if amount is not None else None,
            expected_close_date=day(close),
            stage_entered_at=dt(entered),
            created_at=dt(created),
            updated_at=dt(updated),
        )
        rows.append(table.row(values))
    return rows


def _leads(job: Job, gen: Generator, n: int) -> list[list[Any]]:
    r = gen.r
    table = job.tables["lead"]
    dt = (lambda v: v) if job.pg else connection.ops.adapt_datetimefield_value
    rows = []
    for _ in range(n):
        name = gen.person()
        company = gen.company()[0] if r.random() < 0.85 else ""
        mobile = gen.mobile()
        email = f"lead{r.randrange(10**6)}@{r.choice(DOMAINS)}" if r.random() < 0.7 else ""
        province, city, _district = r.choice(REGION_LIST)
        status = r.choices(*LEAD_STATUSES)[0]
        updated = job.now - timedelta(seconds=r.randrange(365 * 86400))
        created = updated - timedelta(seconds=r.randrange(90 * 86400))
        owner = r.choice(job.owners) if r.random() < 0.9 else None
        converted = status == "converted"
        names, text, grams = sales_search.lead_search_data(name=name, company=company, phone=mobile, email=email)
        values = {
            "organization_id": job.org,
            "owner_id": owner,
            "created_by_id": job.admin,
            "updated_by_id": job.admin,
            "created_at": dt(created),
            "updated_at": dt(updated),
            "name": name,
            "company": company,
            "title": r.choice(TITLES),
            "source": r.choices(*LEAD_SOURCES)[0],
            "status": status,
            "score": r.randrange(101),
            "industry": r.choice(INDUSTRIES),
            "province": province,
            "city": city,
            "phone": mobile,
            "phone_normalized": mobile,
            "email": email,
            "email_normalized": email,
            "last_activity_at": dt(updated) if status != "new" else None,
            "converted_at": dt(updated) if converted else None,
            "converted_customer_id": _CUSTOMER_IDS[r.randrange(len(_CUSTOMER_IDS))] if converted else None,
            "search_names": names,
            "search_text": text,
        }
        if job.pg:
            values["name_grams"] = grams
        rows.append(table.row(values))
    return rows


GENERATORS: dict[str, Callable[[Job, Generator, int], list[list[Any]]]] = {
    "opportunity": _opportunities,
    "lead": _leads,
}


def generate(args: tuple[Job, str, int, int]) -> tuple[str, int, Any]:
    """One batch of one table: (key, n, rows), rows as COPY text on PostgreSQL, value lists elsewhere."""
    job, key, index, n = args
    gen = Generator(job.seed * 1_000_003 + index)
    make = GENERATORS.get(key) or _EXTRA[key][1]
    rows = make(job, gen, n)
    if job.pg:
        return key, n, "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows).encode()
    return key, n, rows


class Command(BaseCommand):
    help = "Generate opportunities and leads (and, once plugged in, activities) for benchmarks. Not audited per row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--opportunities", type=int, default=0, help="How many opportunities to add.")
        parser.add_argument("--leads", type=int, default=0, help="How many leads to add.")
        parser.add_argument(
            "--activities", type=int, default=0, help="How many activities to add (needs the activity topic's table)."
        )
        parser.add_argument("--org", default=DEFAULT_ORG, help="Organisation seeded by `kehu seed` before.")
        parser.add_argument("--batch", type=int, default=5000, help="Rows per batch.")
        parser.add_argument("--random-seed", type=int, default=2026, help="Same seed, same data.")

    def handle(self, *args: Any, **options: Any) -> None:
        if find_spec("kehu.sales.activity_seed") is not None:  # the activity topic's register_table call
            import_module("kehu.sales.activity_seed")
        wanted = {"opportunity": options["opportunities"], "lead": options["leads"]}
        if options["activities"]:
            if "activity" not in _EXTRA:
                raise CommandError(
                    "Activities cannot be generated in this build: the activity topic has not registered its "
                    "table (kehu.sales.management.commands.seed_sales.register_table)."
                )
            wanted["activity"] = options["activities"]
        wanted = {key: n for key, n in wanted.items() if n > 0}
        if not wanted:
            raise CommandError("Say how many: --opportunities N and/or --leads N.")
        org = Organization.objects.filter(name=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation {options['org']!r}: run `kehu seed --customers N` first.")
        admin = User.objects.filter(organization=org, role__key="administrator").order_by("pk").first()
        owners = list(
            User.objects.filter(organization=org, is_active=True, role__key__in=["sales_rep", "sales_manager"])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not owners:
            raise CommandError(f"{org.name} has no sales users: run `kehu seed --customers N` first.")
        _load_customers(org)
        if not _CUSTOMER_IDS:
            raise CommandError(f"{org.name} has no customers: run `kehu seed --customers N` first.")
        pipeline = ensure_default_pipeline(org)
        stages = list(pipeline.stages.order_by("position"))
        open_stages = [s for s in stages if s.kind == Stage.Kind.OPEN]
        pg = connection.vendor == "postgresql"
        grams = ("name_grams",) if pg else ()  # PostgreSQL only, not a Django field (sales/search.py)
        tables = {
            "opportunity": Table(Opportunity, with_id=False, extra=grams),
            "lead": Table(Lead, with_id=False, extra=grams),
        }
        tables.update({key: Table(model, with_id=False) for key, (model, _g) in _EXTRA.items()})
        now = timezone.now()
        job = Job(
            org=org.pk,
            admin=admin.pk,
            owners=owners,
            pipeline=pipeline.pk,
            open_stages=[(s.pk, s.probability, "amount" in (s.required_fields or [])) for s in open_stages],
            # Early stages hold more deals than late ones.
            open_weights=[max(1, len(open_stages) - i) * 10 for i in range(len(open_stages))],
            won_stage=next(s.pk for s in stages if s.kind == Stage.Kind.WON),
            lost_stage=next(s.pk for s in stages if s.kind == Stage.Kind.LOST),
            now=now,
            today=now.date(),
            seed=options["random_seed"] + sum(wanted.values()),
            pg=pg,
            tables=tables,
        )
        batch = max(100, options["batch"])
        writer = PostgresWriter(tables) if pg else SqliteWriter(tables)
        results = {}
        connection.close()  # no child process inherits the socket
        workers = max(1, min(os.cpu_count() or 1, 4))
        for key, total in wanted.items():
            if key in _PREPARE:
                _PREPARE[key](org)  # after the tables before it were written (activities reference them)
                connection.close()
            jobs = [(job, key, index, min(batch, total - start)) for index, start in enumerate(range(0, total, batch))]
            progress = Progress(total, PLURAL.get(key, key))
            table = tables[key].model._meta.db_table
            # Above this many rows the search GIN indexes are dropped and built again after the load: one
            # sorted build is several times faster than as many incremental insertions (as `kehu seed` does).
            rebuild = pg and key in ("opportunity", "lead") and total >= REBUILD_INDEXES_FROM
            if rebuild:
                with connection.cursor() as cursor:
                    sales_search.drop_indexes(cursor, table)
                connection.close()  # no child process inherits the socket
            with multiprocessing.get_context("fork").Pool(workers) as pool, writer:
                for _key, n, rows in pool.imap(generate, jobs):
                    writer.write(key, rows)
                    progress.add(n)
            if rebuild:
                with connection.cursor() as cursor:
                    cursor.execute("SET maintenance_work_mem = '512MB'")
                    sales_search.install_indexes(cursor)
                    cursor.execute(f"ANALYZE {table}")
            results[key] = (total, progress.finish())
        audit.record(
            actor=admin,
            action="sales.seed",
            organization=org,
            changes={key: n for key, (n, _s) in results.items()},
        )
        for key, (total, seconds) in results.items():
            self.stdout.write(
                f"Seeded {total:,} {PLURAL.get(key, key)} into {org.name} in {seconds:,.1f} s ({total / max(seconds, 1e-6):,.0f}/s)."
            )


def _load_customers(org: Organization) -> None:
    del _CUSTOMER_IDS[:], _CUSTOMER_OWNERS[:], _CUSTOMER_NAMES[:]
    rows = (
        Customer.objects.filter(organization=org, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", "owner_id", "name")
        .iterator(chunk_size=20_000)
    )
    for pk, owner, name in rows:
        _CUSTOMER_IDS.append(pk)
        _CUSTOMER_OWNERS.append(owner or 0)
        _CUSTOMER_NAMES.append(name)


class SqliteWriter:
    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables

    def __enter__(self) -> SqliteWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def write(self, key: str, rows: list[list[Any]]) -> None:
        table = self.tables[key]
        cols = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        marks = ", ".join(["%s"] * len(table.columns))
        sql = f"INSERT INTO {table.model._meta.db_table} ({cols}) VALUES ({marks})"  # noqa: S608
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)


class PostgresWriter(SqliteWriter):
    """COPY in text format with triggers and foreign-key checks off for the session (the rows reference
    existing customers, users and stages by construction); ANALYZE at the end so the planner knows."""

    def __enter__(self) -> PostgresWriter:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for table in self.tables.values():
                # VACUUM, not only ANALYZE: the visibility map lets the forecast read its covering indexes
                # without visiting the table (autovacuum would get there too, later).
                cursor.execute(f"VACUUM (ANALYZE) {table.model._meta.db_table}")

    def write(self, key: str, rows: bytes) -> None:
        table = self.tables[key]
        connection.ensure_connection()
        cols = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        with transaction.atomic():
            statement = f"COPY {table.model._meta.db_table} ({cols}) FROM STDIN"
            with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(rows)
