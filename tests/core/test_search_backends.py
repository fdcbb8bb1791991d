"""The search module: query parsing, backend choice, the index path's plan on PostgreSQL, and the
migration's triggers surviving what Django's migrations do to the table (SQLite) and going back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from kehu.core import search_backends
from kehu.core.search_backends import SearchBackend, get_backend, parse
from kehu.core.search_backends.postgres import PostgresSearchBackend, like_pattern
from kehu.core.search_backends.sqlite import SqliteSearchBackend, fts_phrase
from kehu.customers import search
from kehu.customers.models import Contact, Customer
from kehu.sales import search as sales_search
from tests.customers.factories import make_contact, make_customer


@pytest.mark.parametrize(
    ("query", "needle", "mode"),
    [
        ("张", "张", "names"),
        (" 华为 ", "华为", "names"),
        ("华为科技", "华为科技", "text"),
        ("ACME Co", "acme co", "text"),
        ("Ab", "ab", "names"),
        ("1380013", "1380013", "phone"),
        ("+86 138 0013", "1380013", "phone"),
        ("0086-138-0013", "1380013", "phone"),
        ("１３８００１３", "1380013", "phone"),  # full-width digits
        ("(021) 5555", "0215555", "phone"),
        ("123", "123", "names"),  # fewer than 4 digits is not a phone search
        ("+86", "+86", "names"),
        ("a\nb\tc", "a b c", "text"),  # control characters never reach the LIKE or the line separator
    ],
)
def test_parse(query, needle, mode):
    terms = parse(query)
    assert (terms.needle, terms.mode) == (needle, mode)


def test_parse_empty_and_long():
    assert parse("") is None and parse("   ") is None and parse(None) is None
    assert len(parse("华" * 500).needle) == 100


def test_name_grams_are_every_one_and_two_character_piece_of_each_line():
    assert search.name_grams("华为 ab\n李四") == sorted({"华", "为", "华为", "a", "b", "ab", "李", "四", "李四"})


def test_patterns_are_escaped():
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
    assert fts_phrase('say "hi"') == '"say ""hi"""'


def test_the_backend_follows_the_connection_vendor(db):
    backend = get_backend()
    expected = {"postgresql": PostgresSearchBackend, "sqlite": SqliteSearchBackend}.get(connection.vendor)
    assert type(backend) is (expected or SearchBackend)


def test_wildcards_in_a_query_are_literal(tenant_a, monkeypatch):
    make_customer(tenant_a, name="百分之百_公司")
    make_customer(tenant_a, name="百分之百X公司")
    visible = Customer.objects.visible_to(tenant_a.admin)
    for walk in (2000, 1):  # the walk and the index path
        monkeypatch.setattr(SearchBackend, "walk_rows", walk)
        assert [c.name for c in visible.filter(pk__in=search.search_ids(visible, "百_公司"))] == ["百分之百_公司"]
        assert search.search_ids(visible, "%") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
def test_postgres_has_the_gin_indexes_led_by_the_organisation(db):
    """Which plan uses them depends on the data: benchmarks/RESULTS.md shows EXPLAIN ANALYZE at a million."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers_customer'")
        indexes = dict(cursor.fetchall())
    assert (
        "USING gin (organization_id, search_text gin_trgm_ops) WHERE (deleted_at IS NULL)"
        in indexes["cust_search_trgm"]
    )
    assert "USING gin (organization_id, name_grams) WHERE (deleted_at IS NULL)" in indexes["cust_search_grams"]
    # The walk's, newest first with everything it reads, for an index-only scan (customers/search.py).
    assert (
        "btree (organization_id, updated_at, id) INCLUDE (owner_id, name, search_names, search_text) "
        "WHERE (deleted_at IS NULL)" in indexes["cust_search_walk"]
    )


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite table rebuilds")
@pytest.mark.django_db(transaction=True)
def test_sqlite_triggers_come_back_after_a_table_rebuild(tenant_a):
    """Django's SQLite schema editor rebuilds a table to add most columns, which a trigger referring to
    the table would make fail; pre_migrate drops the triggers, post_migrate restores and re-indexes."""
    customer = make_customer(tenant_a, name="重建前的公司")
    search.suspend_triggers()
    sales_search.suspend_triggers()  # pre_migrate runs every app's: the sales triggers read customers too
    with connection.schema_editor() as editor:
        editor._remake_table(Customer)
        editor._remake_table(Contact)
    Customer.objects.filter(pk=customer.pk).update(name="重建期间改名")  # no triggers at this moment
    search.ensure_schema()
    sales_search.ensure_schema()
    visible = Customer.objects.visible_to(tenant_a.admin)
    assert search.search_ids(visible, "重建前的") == []
    assert search.search_ids(visible, "重建期间") == [customer.pk]
    make_contact(tenant_a, customer, name="重建后联系人")
    assert search.search_ids(visible, "重建后联系") == [customer.pk]


@pytest.mark.django_db(transaction=True)
def test_the_migration_is_reversible_and_backfills(tenant_a, monkeypatch):
    customer = make_customer(tenant_a, name="迁移测试有限公司")
    make_contact(tenant_a, customer, name="回填联系人")
    search.suspend_triggers()  # what `migrate` does before its migrations (pre_migrate)
    sales_search.suspend_triggers()
    executor = MigrationExecutor(connection)
    executor.migrate([("customers", "0002_labels_and_timeline_index")])
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "customers_customer")}
        assert "search_text" not in columns and "name_grams" not in columns
        assert search.FTS_TABLE not in connection.introspection.table_names(cursor)
    executor = MigrationExecutor(connection)
    # Every app forward again: going back unapplied the apps that depend on customers too (sales, service),
    # and later transactional tests need their tables.
    executor.migrate(executor.loader.graph.leaf_nodes())
    search.ensure_schema()  # what `migrate` does after its migrations (post_migrate)
    sales_search.ensure_schema()
    visible = Customer.objects.visible_to(tenant_a.admin)
    assert search.search_ids(visible, "迁移测试") == [customer.pk]
    assert search.search_ids(visible, "回填") == [customer.pk]
    monkeypatch.setattr(SearchBackend, "walk_rows", 1)  # and through the index that the migration built
    assert search.search_ids(visible, "迁移测试") == [customer.pk]
    assert search.search_ids(visible, "回填") == [customer.pk]


def test_every_walk_budget_finds_the_newest_matches(tenant_a, monkeypatch):
    """The walk stops at the last match asked for, goes on from where it stopped when its sample predicts
    enough within max_walk_rows, or leaves it to the index: whichever, the newest matches, in order."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ids = []
    for n in range(14):
        customer = make_customer(tenant_a, name=f"{'星辰' if n % 3 else '月亮'}公司{n}")
        Customer.objects.filter(pk=customer.pk).update(updated_at=now - timedelta(minutes=n))
        ids.append(customer.pk)
    visible = Customer.objects.visible_to(tenant_a.admin)
    newest_first = [pk for n, pk in enumerate(ids) if n % 3]  # ids[0] is the newest
    # Exactly these budgets: on PostgreSQL walk_budget could raise one by the table's statistics.
    monkeypatch.setattr(PostgresSearchBackend, "walk_per_match", 0)
    for walk_rows, min_sample, max_walk_rows in [(2000, 8, 8000), (1, 8, 8000), (2, 1, 6), (3, 1, 100), (4, 1, 5)]:
        monkeypatch.setattr(SearchBackend, "walk_rows", walk_rows)
        monkeypatch.setattr(SearchBackend, "min_sample", min_sample)
        monkeypatch.setattr(SearchBackend, "max_walk_rows", max_walk_rows)
        for limit in (1, 2, 5, 9, 20):
            for query in ("星", "星辰", "星辰公司"):  # name grams / FTS short table, trigram / FTS
                assert search.search_ids(visible, query, limit=limit, rank=False) == newest_first[:limit], (
                    walk_rows,
                    min_sample,
                    max_walk_rows,
                    limit,
                    query,
                )


def test_the_walk_goes_on_within_the_backends_budget_for_the_frequency_it_saw(tenant_a):
    """A first walk whose frequency predicts a page beyond max_walk_rows asks walk_budget(frequency); a
    budget that covers the prediction walks on (no index step), one that does not leaves it to the index."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from kehu.core.search_backends import walk_then_index

    now = timezone.now()
    ids = []
    for n in range(12):
        customer = make_customer(tenant_a, name=f"{'星辰' if n % 2 else '月亮'}公司{n}")
        Customer.objects.filter(pk=customer.pk).update(updated_at=now - timedelta(minutes=n))
        ids.append(customer.pk)
    visible = Customer.objects.visible_to(tenant_a.admin).order_by()
    newest_first = [pk for n, pk in enumerate(ids) if n % 2]
    asked, indexed = [], []

    def run(budget: int) -> list[int]:
        def walk_budget(frequency: float) -> int:
            asked.append(frequency)
            return budget

        def index() -> list[tuple]:
            indexed.append(budget)
            return [(pk,) for pk in newest_first[:5]]

        rows = walk_then_index(
            visible,
            Q(name__contains="星辰"),
            limit=5,
            index=index,
            fields=("pk", "updated_at"),
            walk_rows=4,  # sees 2 matches in 4 rows: 5 more predicted within int(5 * 4 / 2 * 1.3) + 1 = 14 rows
            min_sample=2,
            max_walk_rows=6,
            walk_budget=walk_budget,
        )
        return [row[0] for row in rows]

    assert run(14) == newest_first[:5] and indexed == [] and asked == [0.5]
    # Too few for the prediction (a probe of 4 rows sees 2 more: the same frequency): the index step.
    assert run(13) == newest_first[:5] and indexed == [13]
    assert run(2) == newest_first[:5] and indexed == [13, 2]  # never fewer than max_walk_rows


def test_an_ambiguous_first_walk_probes_one_more_slice_then_decides(tenant_a):
    """When only sample noise separates the first walk's frequency from one that walks on, one more slice is
    walked (one statement) and the decision is taken again on both slices: walk on, or the index step."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from kehu.core.search_backends import walk_then_index

    now = timezone.now()
    names = ["星辰" if n in (0, 9, 10, 11, 13, 15, 17, 19) else "月亮" for n in range(24)]
    ids = []
    for n, name in enumerate(names):
        customer = make_customer(tenant_a, name=f"{name}公司{n}")
        Customer.objects.filter(pk=customer.pk).update(updated_at=now - timedelta(minutes=n))
        ids.append(customer.pk)
    visible = Customer.objects.visible_to(tenant_a.admin).order_by()
    newest_first = [pk for pk, name in zip(ids, names, strict=True) if name == "星辰"]
    indexed = []

    def run(limit: int, budget: int) -> list[int]:
        def index() -> list[tuple]:
            indexed.append(limit)
            return [(pk,) for pk in newest_first[:limit]]

        rows = walk_then_index(
            visible,
            Q(name__contains="星辰"),
            limit=limit,
            index=index,
            walk_rows=6,  # the first slice (rows 0-5) sees 1 match, the probe (rows 6-11) 3 more
            min_sample=1,
            max_walk_rows=budget,
        )
        return [row[0] for row in rows]

    # 1 of 6: 5 matches predicted in int(5 * 6 / 1 * 1.3) + 1 = 40 rows > 20, but plausibly (poisson_upper(1)
    # = 4.7) in 7: probe; then 4 of 12 predict 20 rows: walk on to row 20, no index step.
    with CaptureQueriesContext(connection) as queries:
        assert run(5, 20) == newest_first[:5] and indexed == []
    assert len(queries) == 3  # first walk, probe, walk on
    # The same with a budget of 19 rows: after the probe the index step.
    assert run(5, 19) == newest_first[:5] and indexed == [5]
    # The probe alone finds the page: 4 matches asked, the probe stops at the 4th.
    with CaptureQueriesContext(connection) as queries:
        assert run(4, 19) == newest_first[:4] and indexed == [5]
    assert len(queries) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statistics")
def test_postgres_walk_budget_weighs_the_index_steps_reads(db, monkeypatch):
    """walk_per_match rows per row that the index step would read (the table's rows at that frequency),
    between max_walk_rows and walk_rows_cap."""
    from kehu.core.search_backends import postgres

    backend = PostgresSearchBackend()
    qs = Customer.objects.all()
    for rows, frequency, expected in [
        (0, 0.01, backend.max_walk_rows),  # never analysed
        (100_000, 0.009, backend.max_walk_rows),  # the index step reads 900 rows
        (1_000_000, 0.0075, int(backend.walk_per_match * 7_500)),
        (10_000_000, 0.0075, backend.walk_rows_cap),
    ]:
        monkeypatch.setattr(postgres, "table_rows", lambda qs, rows=rows: rows)
        assert backend.walk_budget(qs, frequency) == expected
    monkeypatch.undo()
    assert postgres.table_rows(qs) >= 0  # the catalog read itself


def _budget_at_a_million(frequency: float) -> int:
    """PostgreSQL's walk_budget for 1,000,154 rows (walk_per_match 2 between 8,000 and 24,000)."""
    return int(min(24000, max(8000, 2 * frequency * 1_000_154)))


@pytest.mark.parametrize(
    ("walked", "found", "expected"),
    [
        (2000, 7, ("index", 0)),  # rare (饕大-like): straight to the index, no probe
        (2000, 8, ("probe", 2000)),  # 0.4% seen, plausibly 0.72%: one more slice
        (2000, 10, ("probe", 2000)),  # info16 at a million: 13,001 predicted > 10,001, plausibly 16.96 of 2,000
        (2000, 12, ("walk", 10001)),  # the point estimate fits its budget: walk on as before
        (2000, 19, ("walk", 17002)),
        (4000, 14, ("index", 0)),  # after a probe, 8013-like (0.29%): no second probe
        (4000, 28, ("walk", 10002)),  # after a probe, info16-like: walk on
    ],
)
def test_next_walk_step_at_a_million_rows(walked, found, expected):
    """The decision alone (no database): deterministic from what the walk saw and the budget."""
    from kehu.core.search_backends import next_walk_step

    probe_rows = 2000 if walked == 2000 else 0
    step = next_walk_step(
        walked=walked, found=found, limit=50, min_sample=8, budget=_budget_at_a_million, probe_rows=probe_rows
    )
    assert (step.action, step.rows) == expected


def test_next_walk_step_probes_only_when_noise_could_explain_the_miss():
    """A fixed budget (SQLite, or a table too small for walk_budget to matter): the point estimate walks on
    when it fits; a sample whose plausible frequency fits probes; one whose plausible frequency does not
    goes to the index, and so does a probe that would not fit the budget."""
    from kehu.core.search_backends import next_walk_step, poisson_upper

    def step(found: int, budget: int = 8000, probe_rows: int = 2000, walked: int = 2000) -> tuple[str, int]:
        result = next_walk_step(
            walked=walked, found=found, limit=51, min_sample=8, budget=lambda _f: budget, probe_rows=probe_rows
        )
        return result.action, result.rows

    assert step(17) == ("walk", 6000)  # int(51 * 2000 / 17 * 1.3) + 1 = 7,801 <= 8,000
    assert step(16) == ("probe", 2000)  # 8,288 > 8,000, but poisson_upper(16) = 24.9: 4,100 rows
    assert step(8) == ("probe", 2000)  # 16,576, plausibly 14.4 matches: 7,069 rows
    assert step(8, budget=7000) == ("index", 0)  # not even plausibly within 7,000 rows
    assert step(16, probe_rows=0) == ("index", 0)  # probed already
    assert step(30, budget=3000) == ("probe", 1000)  # 4,421 > 3,000, plausibly 2,447: within the budget
    assert step(20, budget=2000) == ("index", 0)  # nothing left to walk
    assert step(0, walked=2000) == ("index", 0)
    # The bound itself: the chi-square bound's values at 95%, within 0.1.
    for count, exact in [(0, 2.996), (1, 4.744), (8, 14.435), (10, 16.962), (20, 29.062)]:
        assert abs(poisson_upper(count) - exact) < 0.1


def test_capped_ids_asks_one_more_than_the_cap_to_tell_whether_it_cut(monkeypatch):
    """No database: the list's cap (capped_ids) keeps LIST_LIMIT ids and says it cut only when there were more."""
    monkeypatch.setattr(search_backends, "LIST_LIMIT", 3)
    asked = []

    def search(n: int, found: int) -> list[int]:
        asked.append(n)
        return list(range(min(n, found)))

    assert search_backends.capped_ids(lambda n: search(n, 10)) == ([0, 1, 2], 3)
    assert search_backends.capped_ids(lambda n: search(n, 3)) == ([0, 1, 2], None)
    assert search_backends.capped_ids(lambda n: search(n, 0)) == ([], None)
    assert asked == [4, 4, 4]


def test_among_reads_the_ids_given_and_none_for_no_ids(tenant_a, django_assert_num_queries):
    """A list page cut from a search's ids (PostgreSQL: one array parameter); no ids, no statement."""
    made = [make_customer(tenant_a, name=f"客户{n}") for n in range(3)]
    qs = Customer.objects.filter(organization=tenant_a.org)
    assert set(search_backends.among(qs, [made[0].pk, made[2].pk]).values_list("pk", flat=True)) == {
        made[0].pk,
        made[2].pk,
    }
    with django_assert_num_queries(0):
        assert list(search_backends.among(qs, [])) == []
