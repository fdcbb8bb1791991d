"""`kehu seed --customers N [--org NAME] [--batch 5000]`: realistic benchmark data, fast.

Customers with Chinese and English company names, people's names, short names, unique-ish mobiles,
emails, regions (省-市-区), industries, tiers, stages, sources, tags, two contacts each, owners spread
over the organisation's sales users. The organisation (and its sales team of 20) is created when it
does not exist; running again adds N more customers.

Not audited per row, on purpose: this is seeded benchmark data, not a user's action (the audit chain
would triple the rows written and measure nothing). One audit entry records the seeding itself.

Speed: rows are generated with their normalised phones and emails and their search data precomputed
(kehu.customers.search.search_data, which the tests prove equal to what the triggers compute). On
PostgreSQL they are written with COPY, with triggers and foreign-key checks off for the session
(session_replication_role = replica; superuser); on SQLite with bulk_create, the search triggers
suspended and one re-index at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from kehu.accounts import services as account_services
from kehu.accounts.models import Organization, User
from kehu.core import audit
from kehu.core.management import domain_errors
from kehu.customers import search
from kehu.customers.models import Contact, Customer, CustomerTag, Tag

DEFAULT_ORG = "基准测试有限公司"
PASSWORD = "Kehu-bench-2026"
SALES_USERS = 20

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉婷建国志文斌宇浩凯欣怡佳琪子轩雨涵梓萱博文俊杰思远晨阳嘉怡海燕小龙晓东春梅丹丹"
BRAND = "华腾盛鑫达信诚泰恒通宏远金银天地海星光明新联创智博源众合安康永兴瑞祥富德嘉隆顺昌凯立美佳润成宝力大中東方鼎峰汇祥云龙凤麒麟"
RARE = "饕餮龘靐齉爩"  # a handful of rare characters, for the "rare fragment" benchmark
TRADE = [
    "科技",
    "贸易",
    "实业",
    "电子",
    "机械",
    "食品",
    "医药",
    "建设",
    "物流",
    "教育",
    "咨询",
    "网络",
    "文化",
    "化工",
    "服饰",
    "能源",
]
SUFFIX = ["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]
EN_ADJ = [
    "Global",
    "Pacific",
    "Golden",
    "Bright",
    "Blue",
    "Silver",
    "Eastern",
    "Smart",
    "Green",
    "Prime",
    "United",
    "Nova",
]
EN_NOUN = ["Bridge", "Harbor", "Peak", "River", "Star", "Stone", "Wave", "Field", "Crown", "Summit", "Lotus", "Dragon"]
EN_TRADE = ["Trading", "Technologies", "Logistics", "Foods", "Medical", "Consulting", "Industries", "Electronics"]
EN_SUFFIX = ["Co., Ltd.", "Inc.", "Limited", "Group"]
EN_FIRST = ["James", "Mary", "John", "Linda", "David", "Susan", "Michael", "Karen", "Peter", "Lucy", "Tom", "Emma"]
EN_LAST = ["Smith", "Brown", "Wilson", "Taylor", "Clark", "Walker", "Young", "King", "Wright", "Green", "Hall", "Lee"]
DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "aliyun.com", "foxmail.com"]
REGIONS = {
    "北京市": {"北京市": ["朝阳区", "海淀区", "东城区", "西城区", "丰台区"]},
    "上海市": {"上海市": ["浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区"]},
    "广东省": {
        "广州市": ["天河区", "越秀区", "海珠区"],
        "深圳市": ["南山区", "福田区", "宝安区"],
        "东莞市": ["南城街道"],
    },
    "浙江省": {"杭州市": ["西湖区", "滨江区", "余杭区"], "宁波市": ["鄞州区", "海曙区"]},
    "江苏省": {"南京市": ["鼓楼区", "玄武区"], "苏州市": ["工业园区", "姑苏区"], "无锡市": ["滨湖区"]},
    "四川省": {"成都市": ["武侯区", "锦江区", "高新区"]},
    "湖北省": {"武汉市": ["江汉区", "洪山区", "武昌区"]},
    "山东省": {"济南市": ["历下区"], "青岛市": ["市南区", "崂山区"]},
    "福建省": {"福州市": ["鼓楼区"], "厦门市": ["思明区", "湖里区"]},
    "河南省": {"郑州市": ["金水区", "二七区"]},
}
INDUSTRIES = [
    "农、林、牧、渔业", "制造业", "批发和零售业", "信息传输、软件和信息技术服务业", "建筑业", "金融业", "房地产业",
    "交通运输、仓储和邮政业", "住宿和餐饮业", "租赁和商务服务业", "科学研究和技术服务业", "教育", "卫生和社会工作",
]  # fmt: skip
TITLES = ["总经理", "采购经理", "技术总监", "财务主管", "销售经理", "行政专员", "CEO", "Purchasing Manager"]
DEPARTMENTS = ["采购部", "技术部", "财务部", "总经办", "市场部", "行政部"]
TAGS = [("重点客户", "#dc3545"), ("老客户", "#198754"), ("待跟进", "#fd7e14"), ("渠道", "#0d6efd"), ("VIP", "#6f42c1"),
        ("展会", "#20c997"), ("招投标", "#6c757d"), ("海外", "#0dcaf0"), ("政府", "#d63384"), ("转介绍", "#ffc107")]  # fmt: skip
WEIGHTED = {
    "tier": (["A", "B", "C", "D", ""], [5, 15, 35, 25, 20]),
    "stage": (["lead_in", "prospect", "customer", "repeat", "churned"], [30, 30, 25, 10, 5]),
    "source": (["website", "referral", "exhibition", "cold_call", "advertising", "partner", "other", ""],
               [20, 15, 10, 15, 10, 10, 5, 15]),
}  # fmt: skip
REGION_LIST = [(p, c, d) for p, cities in REGIONS.items() for c, ds in cities.items() for d in ds]


class Generator:
    """Deterministic for a given --random-seed: the same command makes the same data."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.used_phones: set[str] = set()

    def person(self) -> str:
        r = self.r
        if r.random() < 0.08:
            return f"{r.choice(EN_FIRST)} {r.choice(EN_LAST)}"
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def mobile(self) -> str:
        r = self.r
        while True:
            number = f"1{r.choice('3456789')}{r.randrange(10**9):09d}"
            if number not in self.used_phones:
                if len(self.used_phones) < 5_000_000:
                    self.used_phones.add(number)
                return number

    def company(self) -> tuple[str, str]:
        """(name, short name)."""
        r = self.r
        if r.random() < 0.12:
            brand = f"{r.choice(EN_ADJ)} {r.choice(EN_NOUN)}"
            return f"{brand} {r.choice(EN_TRADE)} {r.choice(EN_SUFFIX)}", brand
        chars = RARE if r.random() < 0.0005 else BRAND
        brand = r.choice(chars) + r.choice(BRAND)
        trade = r.choice(TRADE)
        city = r.choice(REGION_LIST)[1].removesuffix("市")
        name = f"{city}{brand}{trade}{r.choice(SUFFIX)}" if r.random() < 0.7 else f"{brand}{trade}{r.choice(SUFFIX)}"
        return name, brand + trade

    def email(self, local: str) -> str:
        return f"{local}{self.r.randrange(100000)}@{self.r.choice(DOMAINS)}"


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start, self.done = total, label, time.monotonic(), 0

    def add(self, n: int) -> None:
        self.done += n
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done:,}/{self.total:,} {rate:,.0f}/s ETA {eta:,.0f}s ")
        sys.stderr.flush()

    def finish(self) -> float:
        sys.stderr.write("\n")
        return time.monotonic() - self.start


class Command(BaseCommand):
    help = "Generate N realistic customers (two contacts each) for benchmarks. Not audited per row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True, help="How many customers to add.")
        parser.add_argument("--org", default=DEFAULT_ORG, help="Organisation name (created when missing).")
        parser.add_argument("--batch", type=int, default=5000, help="Rows per batch.")
        parser.add_argument("--random-seed", type=int, default=2026, help="Same seed, same data.")

    def handle(self, *args: Any, **options: Any) -> None:
        total, batch = options["customers"], max(100, options["batch"])
        with domain_errors():
            org, admin, owners = self.organisation(options["org"])
        tags = self.tags(org, admin)
        writer = PostgresWriter(total) if connection.vendor == "postgresql" else SqliteWriter()
        first_id = writer.next_customer_id()
        base = Job(
            org=org.pk,
            admin=admin.pk,
            owners=[u.pk for u in owners],
            tags=[t.pk for t in tags],
            now=timezone.now(),
            seed=options["random_seed"] + first_id,
            pg=connection.vendor == "postgresql",
            tables=writer.tables,
        )
        jobs = [
            (base, index, start, min(batch, total - start), first_id + start)
            for index, start in enumerate(range(0, total, batch))
        ]
        progress = Progress(total, "customers")
        # Generating rows is Python work: worker processes make batches while this one writes them. The
        # connection is closed first so that no child inherits its socket.
        connection.close()
        workers = max(1, min(os.cpu_count() or 1, 4))
        with multiprocessing.get_context("fork").Pool(workers) as pool, writer:
            for n, rows in pool.imap(generate, jobs):
                writer.write(rows)
                progress.add(n)
        seconds = progress.finish()
        audit.record(
            actor=admin,
            action="customer.seed",
            organization=org,
            changes={"customers": total, "contacts": 2 * total, "seconds": round(seconds, 1)},
        )
        self.stdout.write(
            f"Seeded {total:,} customers and {2 * total:,} contacts into {org.name} in {seconds:,.1f} s "
            f"({total / max(seconds, 1e-6):,.0f} customers/s). Sales users: {len(owners)}, password {PASSWORD}"
        )

    def organisation(self, name: str) -> tuple[Organization, User, list[User]]:
        org = Organization.objects.filter(name=name).first()
        if org is None:
            slug = f"seed{Organization.objects.count() + 1}"
            org = account_services.organization_create(
                actor=None, name=name, admin_email=f"admin@{slug}.bench", admin_password=PASSWORD, admin_name="管理员"
            )
        admin = User.objects.filter(organization=org, role__key="administrator").order_by("pk").first()
        sales = list(User.objects.filter(organization=org, role__key__in=["sales_rep", "sales_manager"]))
        if len(sales) < SALES_USERS:
            domain = admin.email.split("@", 1)[1]
            team = account_services.team_create(actor=admin, name=f"销售{len(sales) + 1}部")
            for n in range(len(sales), SALES_USERS):
                key = "sales_manager" if n == 0 else "sales_rep"
                sales.append(
                    account_services.user_create(
                        actor=admin,
                        organization=org,
                        email=f"{key}{n}@{domain}",
                        password=PASSWORD,
                        role=org.roles.get(key=key),
                        name=f"销售{n:02d}",
                        team=team,
                    )
                )
        return org, admin, sales

    def tags(self, org: Organization, admin: User) -> list[Tag]:
        existing = {t.name: t for t in Tag.objects.filter(organization=org)}
        for name, colour in TAGS:
            if name not in existing:
                existing[name] = Tag.objects.create(
                    organization=org, name=name, colour=colour, owner=admin, created_by=admin, updated_by=admin
                )
        return list(existing.values())


def _choice(gen: Generator, key: str) -> str:
    values, weights = WEIGHTED[key]
    return gen.r.choices(values, weights)[0]


class Table:
    """Rows of one model as lists of database-ready values: the model's defaults (so columns added later
    by other modules get theirs) with the generated columns set by name. No model instances: at a
    million rows, Model.__init__ alone would take minutes. `id` is left to the database except for
    customers, whose ids the contacts need."""

    def __init__(self, model: type, *, with_id: bool, extra: tuple[str, ...] = ()) -> None:
        self.model = model
        fields = [f for f in model._meta.concrete_fields if with_id or f.column != "id"]
        prototype = model()
        self.columns = [f.column for f in fields] + list(extra)
        self.defaults = [f.get_db_prep_save(getattr(prototype, f.attname), connection) for f in fields]
        self.defaults = [json.dumps(v.obj) if hasattr(v, "obj") else v for v in self.defaults]  # Jsonb
        self.defaults += [None] * len(extra)
        self.index = {name: i for i, name in enumerate(self.columns)}

    def row(self, values: dict[str, Any]) -> list[Any]:
        row = list(self.defaults)
        index = self.index
        for name, value in values.items():
            row[index[name]] = value
        return row


@dataclass(frozen=True)
class Job:
    """What a worker process needs to generate batches (no database access there)."""

    org: int
    admin: int
    owners: list[int]
    tags: list[int]
    now: datetime
    seed: int
    pg: bool
    tables: dict[str, Table]


def _copy_value(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):  # text[]
        value = "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def generate(args: tuple[Job, int, int, int, int]) -> tuple[int, dict[str, Any]]:
    """One batch: (n, rows per table), rows as COPY text on PostgreSQL, value lists elsewhere."""
    job, index, _start, n, first_id = args
    gen = Generator(job.seed * 1_000_003 + index)
    r = gen.r
    dt = (lambda value: value) if job.pg else connection.ops.adapt_datetimefield_value
    customer_t, contact_t, link_t = job.tables["customer"], job.tables["contact"], job.tables["customertag"]
    customers, contacts, links = [], [], []
    for pk in range(first_id, first_id + n):
        person = r.random() < 0.2
        if person:
            name, short = gen.person(), ""
        else:
            name, short = gen.company()
        mobile = gen.mobile()
        phone = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}" if r.random() < 0.5 else mobile
        email = gen.email("user" if person else "info")
        province, city, district = r.choice(REGION_LIST)
        updated = job.now - timedelta(seconds=r.randrange(3 * 365 * 86400))
        created = updated - timedelta(seconds=r.randrange(365 * 86400))
        common = {
            "organization_id": job.org,
            "owner_id": r.choice(job.owners),
            "created_by_id": job.admin,
            "updated_by_id": job.admin,
            "created_at": dt(created),
            "updated_at": dt(updated),
        }
        people = []
        for k in range(2):
            cm, ce = gen.mobile(), gen.email("contact")
            cname = name if person and k == 0 else gen.person()
            people.append((cname, cm, ce))
            values = {
                "customer_id": pk,
                "name": cname,
                "title": r.choice(TITLES),
                "department": r.choice(DEPARTMENTS),
                "phone": cm,
                "phone_normalized": cm,
                "email": ce,
                "email_normalized": ce,
                "is_primary": k == 0,
            }
            contacts.append(contact_t.row({**values, **common}))
        names, text, grams = search.search_data(name=name, short_name=short, phone=mobile, email=email, contacts=people)
        values = {
            "id": pk,
            "kind": "person" if person else "company",
            "name": name,
            "short_name": short,
            "industry": r.choice(INDUSTRIES),
            "tier": _choice(gen, "tier"),
            "stage": _choice(gen, "stage"),
            "source": _choice(gen, "source"),
            "province": province,
            "city": city,
            "district": district,
            "address": f"{district}{r.randrange(1, 999)}号",
            "phone": phone,
            "phone_normalized": mobile,
            "email": email,
            "email_normalized": email,
            "last_contacted_at": dt(updated - timedelta(days=r.randrange(60))) if r.random() < 0.6 else None,
            "search_names": names,
            "search_text": text,
        }
        if job.pg:
            values["name_grams"] = grams
        customers.append(customer_t.row({**values, **common}))
        for tag in r.sample(job.tags, r.choice((0, 0, 1, 1, 2))):
            links.append(link_t.row({"organization_id": job.org, "customer_id": pk, "tag_id": tag}))
    rows = {"customer": customers, "contact": contacts, "customertag": links}
    if job.pg:
        rows = {
            key: "".join("\t".join(map(_copy_value, row)) + "\n" for row in table).encode()
            for key, table in rows.items()
        }
    return n, rows


MODELS = {"customer": Customer, "contact": Contact, "customertag": CustomerTag}


class Writer:
    def __init__(self) -> None:
        pg = connection.vendor == "postgresql"
        self.tables = {
            "customer": Table(Customer, with_id=True, extra=("name_grams",) if pg else ()),
            "contact": Table(Contact, with_id=False),
            "customertag": Table(CustomerTag, with_id=False),
        }

    def next_customer_id(self) -> int:
        """Customer ids are handed out here (one seeding at a time: this is a benchmark tool)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM customers_customer")
            return cursor.fetchone()[0]


class SqliteWriter(Writer):
    """executemany, one transaction per batch; search triggers suspended, one re-index at the end."""

    def __enter__(self) -> SqliteWriter:
        search.suspend_triggers()
        return self

    def __exit__(self, *exc: Any) -> None:
        search.ensure_schema()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # without statistics SQLite picks the owner index for most lookups

    def write(self, rows: dict[str, list[list[Any]]]) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            for key, table in self.tables.items():
                cols = ", ".join(connection.ops.quote_name(c) for c in table.columns)
                marks = ", ".join(["%s"] * len(table.columns))
                sql = f"INSERT INTO {table.model._meta.db_table} ({cols}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, rows[key])


class PostgresWriter(Writer):
    """COPY in text format, with triggers and foreign-key checks off for the session (the rows are
    consistent by construction and carry their search data); the customer id sequence is moved past
    the ids used."""

    # Above this many new rows, the search GIN indexes are dropped and built again at the end: one
    # sorted build is several times faster than a million incremental GIN insertions.
    REBUILD_INDEXES_FROM = 50_000

    def __init__(self, total: int = 0) -> None:
        super().__init__()
        self.rebuild = total >= self.REBUILD_INDEXES_FROM

    def __enter__(self) -> PostgresWriter:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            if self.rebuild:
                cursor.execute("DROP INDEX IF EXISTS cust_search_trgm")
                cursor.execute("DROP INDEX IF EXISTS cust_search_grams")
                cursor.execute("DROP INDEX IF EXISTS cust_search_walk")
        return self

    def __exit__(self, *exc: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            if self.rebuild:
                sys.stderr.write("Building the search indexes...\n")
                cursor.execute("SET maintenance_work_mem = '512MB'")
                search.install_indexes(cursor)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
                "(SELECT coalesce(max(id), 1) FROM customers_customer))"
            )
            for model in MODELS.values():
                cursor.execute(f"ANALYZE {model._meta.db_table}")

    def write(self, rows: dict[str, bytes]) -> None:
        connection.ensure_connection()
        with transaction.atomic():
            for key, table in self.tables.items():
                cols = ", ".join(connection.ops.quote_name(c) for c in table.columns)
                statement = f"COPY {table.model._meta.db_table} ({cols}) FROM STDIN"
                with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
                    copy.write(rows[key])
