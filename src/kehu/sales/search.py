# ruff: noqa: S608 - the SQL below is DDL built from constants in this file; no value from a request.
"""Opportunity and lead search: any fragment of the names, Chinese included (饕, 华为), through the one
search module (kehu.core.search_backends), as customers do (kehu/customers/search.py).

Search data lives in the row and is kept by database triggers, for the reasons customers/search.py gives
(bulk paths that bypass the services stay correct):

- an opportunity's `search_names` is its own name and its customer's name, one per line, lower-cased: an
  opportunity is found by either. The customer's name is copied into the row, and a trigger on the
  customer's name refreshes that customer's opportunities; a merge moves opportunities with an UPDATE of
  customer_id, which the opportunity's own trigger sees. Why copy rather than match the customer part
  through the customers' gram index at query time: the customers' index covers every name of a customer
  (short name, contact names), which an opportunity must not match by, so each hit would need a recheck
  through the join; the walk for common fragments would still read the customer of every row it walks
  (most of the 120 ms at 500,000 opportunities); and "own name OR customer in (...)" cannot be one index
  scan. The price is a write per opportunity when a customer is renamed (a customer has a handful).
  Opportunities have no phones or emails: `search_text` would equal `search_names`, so the spec points both
  at the one column.
- a lead's `search_names` is its name and company; `search_text` adds its normalised phone and email.

PostgreSQL also keeps `name_grams` (text[] of the names' 1- and 2-character grams, kehu_name_grams(), which
customers' migration 0003 created) with a GIN (organization_id, name_grams) index, and a trigram GIN on the
text; SQLite keeps the columns only (its index step is a LIKE over them: the embedded database's sizes).

SQLite triggers step aside while migrations rebuild tables, exactly as the customers' do
(`suspend_triggers` on pre_migrate, `ensure_schema` on post_migrate, which re-computes every row).
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import QuerySet

from kehu.core.search_backends import SearchSpec, get_backend, name_grams, parse

OPPORTUNITY_SPEC = SearchSpec(text_field="search_names", names_field="search_names")
LEAD_SPEC = SearchSpec()


def search_ids(qs: QuerySet, query: str, spec: SearchSpec, *, limit: int, rank: bool = False) -> list[int]:
    """Up to `limit` ids of `qs` (already `visible_to(actor)` and filtered) matching `query`, newest first
    (the lists' keyset order), or ranked exact name / prefix / other with `rank` (needs an index on the
    title: opportunities and leads have none, so their callers keep newest first)."""
    terms = parse(query)
    if terms is None:
        return []
    return get_backend(qs.db).search(qs, terms, spec, limit=limit, rank=rank)


def filter_queryset(qs: QuerySet, query: str, spec: SearchSpec) -> QuerySet:
    """Every row of `qs` matching `query`, unbounded (other orders than newest first, exports, bulk)."""
    terms = parse(query)
    if terms is None:
        return qs
    return get_backend(qs.db).filter(qs, terms, spec)


# Search data computed in Python, exactly as the triggers compute it (the seed writes it directly).


def _lines(*values: str) -> str:
    return "\n".join(v for v in values if v)


def opportunity_search_data(*, name: str, customer_name: str) -> tuple[str, list[str]]:
    """(search_names, name_grams) of an opportunity."""
    names = _lines(name, customer_name).lower()
    return names, name_grams(names)


def lead_search_data(*, name: str, company: str, phone: str, email: str) -> tuple[str, str, list[str]]:
    """(search_names, search_text, name_grams) of a lead, from its normalised phone and email."""
    names = _lines(name, company).lower()
    return names, _lines(names, _lines(phone, email).lower()), name_grams(names)


# DDL ---------------------------------------------------------------------------------------------------

_PG_FUNCTIONS = [
    "ALTER TABLE sales_opportunity ADD COLUMN IF NOT EXISTS name_grams text[] NOT NULL DEFAULT '{}'",
    "ALTER TABLE sales_lead ADD COLUMN IF NOT EXISTS name_grams text[] NOT NULL DEFAULT '{}'",
    r"""
    CREATE OR REPLACE FUNCTION sales_opportunity_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_names := lower(concat_ws(E'\n', nullif(NEW.name, ''),
        (SELECT nullif(c.name, '') FROM customers_customer c WHERE c.id = NEW.customer_id)));
      NEW.name_grams := kehu_name_grams(NEW.search_names);
      RETURN NEW;
    END $$
    """,
    # Setting search_names to NULL asks the opportunity trigger to recompute it (it never stays NULL).
    # Deleted opportunities too: restoring one from the recycle bin changes only deleted_at.
    r"""
    CREATE OR REPLACE FUNCTION sales_customer_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE sales_opportunity SET search_names = NULL WHERE customer_id = NEW.id;
      RETURN NULL;
    END $$
    """,
    r"""
    CREATE OR REPLACE FUNCTION sales_lead_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_names := lower(concat_ws(E'\n', nullif(NEW.name, ''), nullif(NEW.company, '')));
      NEW.search_text := concat_ws(E'\n', nullif(NEW.search_names, ''), nullif(lower(concat_ws(E'\n',
        nullif(NEW.phone_normalized, ''), nullif(NEW.email_normalized, ''))), ''));
      NEW.name_grams := kehu_name_grams(NEW.search_names);
      RETURN NEW;
    END $$
    """,
]
_PG_TRIGGERS = [
    "DROP TRIGGER IF EXISTS sales_opportunity_search_ins ON sales_opportunity",
    """CREATE TRIGGER sales_opportunity_search_ins BEFORE INSERT ON sales_opportunity
       FOR EACH ROW EXECUTE FUNCTION sales_opportunity_search()""",
    "DROP TRIGGER IF EXISTS sales_opportunity_search_upd ON sales_opportunity",
    """CREATE TRIGGER sales_opportunity_search_upd BEFORE UPDATE ON sales_opportunity FOR EACH ROW
       WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.customer_id IS DISTINCT FROM OLD.customer_id
             OR NEW.search_names IS DISTINCT FROM OLD.search_names)
       EXECUTE FUNCTION sales_opportunity_search()""",
    "DROP TRIGGER IF EXISTS sales_customer_renamed ON customers_customer",
    """CREATE TRIGGER sales_customer_renamed AFTER UPDATE OF name ON customers_customer FOR EACH ROW
       WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION sales_customer_renamed()""",
    "DROP TRIGGER IF EXISTS sales_lead_search_ins ON sales_lead",
    """CREATE TRIGGER sales_lead_search_ins BEFORE INSERT ON sales_lead
       FOR EACH ROW EXECUTE FUNCTION sales_lead_search()""",
    "DROP TRIGGER IF EXISTS sales_lead_search_upd ON sales_lead",
    """CREATE TRIGGER sales_lead_search_upd BEFORE UPDATE ON sales_lead FOR EACH ROW
       WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.company IS DISTINCT FROM OLD.company
             OR NEW.phone_normalized IS DISTINCT FROM OLD.phone_normalized
             OR NEW.email_normalized IS DISTINCT FROM OLD.email_normalized
             OR NEW.search_names IS DISTINCT FROM OLD.search_names
             OR NEW.search_text IS DISTINCT FROM OLD.search_text)
       EXECUTE FUNCTION sales_lead_search()""",
]
# The backfill, set-based and before the indexes exist (one pass, no index maintenance per row; the
# triggers are not involved, so the 500,000 opportunities do not look up their customer one by one).
_OPP_NAMES = r"lower(concat_ws(E'\n', nullif(o.name, ''), nullif(c.name, '')))"
_LEAD_NAMES = r"lower(concat_ws(E'\n', nullif(name, ''), nullif(company, '')))"
_PG_BACKFILL = [
    f"""UPDATE sales_opportunity o SET search_names = {_OPP_NAMES}, name_grams = kehu_name_grams({_OPP_NAMES})
        FROM customers_customer c WHERE c.id = o.customer_id""",
    rf"""UPDATE sales_lead SET search_names = {_LEAD_NAMES},
          search_text = concat_ws(E'\n', nullif({_LEAD_NAMES}, ''), nullif(lower(concat_ws(E'\n',
            nullif(phone_normalized, ''), nullif(email_normalized, ''))), '')),
          name_grams = kehu_name_grams({_LEAD_NAMES})""",
]
# name: (table, indexed columns). Trigram for 3+ characters, grams for 1-2, both leading with the
# organisation (btree_gin), over live rows only, like the customers' (cust_search_trgm, cust_search_grams).
INDEXES = {
    "opp_search_trgm": ("sales_opportunity", "organization_id, search_names gin_trgm_ops"),
    "opp_search_grams": ("sales_opportunity", "organization_id, name_grams"),
    "lead_search_trgm": ("sales_lead", "organization_id, search_text gin_trgm_ops"),
    "lead_search_grams": ("sales_lead", "organization_id, name_grams"),
}
# The walk (core.search_backends.walk) in an index-only scan, as the customers' cust_search_walk: newest
# first, with everything it reads (the scope's owner, the title, the search columns), so that it reads a few
# index pages instead of one heap page per row. Walking the newest 2,000 leads for a rare fragment as a
# manager: 3,463 buffers and 19 ms from the table (benchmarks/RESULTS.md, salesgrams).
#
# A sales rep (scope "own") walks their own rows: the organisation-led index makes them read ~20 entries per own
# row where a rep owns 1/20 of it, so a 500-match walk of a common fragment (a searched list sorted by name or
# amount: core.search_backends.capped_ids) read most of the organisation's index (460 ms; RESULTS.md,
# searchtune). The owner-led ones give the planner the rep's rows newest first (owner_id = X is an equality on
# the second column; a team's owner_id IN (...) cannot be read in recency order from it, so managers keep the
# organisation's walk, filtering the owner in the index). The leads' lead_org_owner_updated has the same key
# but no INCLUDE: its walk read the heap, one page per row.
# name: (table, key columns, included columns)
WALK_INDEXES = {
    "opp_search_walk": ("sales_opportunity", "organization_id, updated_at, id", "owner_id, name, search_names"),
    "lead_search_walk": ("sales_lead", "organization_id, updated_at, id", "owner_id, name, search_names, search_text"),
    "opp_search_owner_walk": ("sales_opportunity", "organization_id, owner_id, updated_at, id", "name, search_names"),
    "lead_search_owner_walk": (
        "sales_lead",
        "organization_id, owner_id, updated_at, id",
        "name, search_names, search_text",
    ),
}
OWNER_WALK_INDEXES = ("opp_search_owner_walk", "lead_search_owner_walk")  # added by migration 0012_salescap
_PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS sales_lead_search_upd ON sales_lead",
    "DROP TRIGGER IF EXISTS sales_lead_search_ins ON sales_lead",
    "DROP TRIGGER IF EXISTS sales_customer_renamed ON customers_customer",
    "DROP TRIGGER IF EXISTS sales_opportunity_search_upd ON sales_opportunity",
    "DROP TRIGGER IF EXISTS sales_opportunity_search_ins ON sales_opportunity",
    "DROP FUNCTION IF EXISTS sales_lead_search()",
    "DROP FUNCTION IF EXISTS sales_customer_renamed()",
    "DROP FUNCTION IF EXISTS sales_opportunity_search()",
    *(f"DROP INDEX IF EXISTS {name}" for name in (*INDEXES, *WALK_INDEXES)),
    "ALTER TABLE sales_lead DROP COLUMN IF EXISTS name_grams",
    "ALTER TABLE sales_opportunity DROP COLUMN IF EXISTS name_grams",
]

# SQLite: the row's own columns are bare names inside `UPDATE <table> SET ...` (as in customers/search.py).
_SQ_OPP_NAMES = (
    "lower(sales_opportunity.name || coalesce((SELECT CASE WHEN sales_opportunity.name <> '' AND c.name <> ''"
    " THEN char(10) ELSE '' END || c.name FROM customers_customer c WHERE c.id = sales_opportunity.customer_id), ''))"
)
_SQ_OPP_REFRESH = f"UPDATE sales_opportunity SET search_names = {_SQ_OPP_NAMES}"
_SQ_LEAD_NAMES = "lower(name || CASE WHEN name <> '' AND company <> '' THEN char(10) ELSE '' END || company)"
_SQ_LEAD_OTHER = (
    "lower(CASE WHEN phone_normalized <> '' THEN char(10) || phone_normalized ELSE '' END"
    " || CASE WHEN email_normalized <> '' THEN char(10) || email_normalized ELSE '' END)"
)
_SQ_LEAD_REFRESH = (
    f"UPDATE sales_lead SET search_names = {_SQ_LEAD_NAMES}, search_text = {_SQ_LEAD_NAMES} || {_SQ_LEAD_OTHER}"
)
_SQ_TRIGGERS = {
    # Every update recomputes: a Django save() writes back whatever search_names it loaded. The nested
    # UPDATE does not fire the same trigger again (SQLite's recursive_triggers is off, as Django leaves it).
    "sales_opportunity_search_ai": f"AFTER INSERT ON sales_opportunity BEGIN {_SQ_OPP_REFRESH} WHERE id = NEW.id; END",
    "sales_opportunity_search_au": f"AFTER UPDATE ON sales_opportunity BEGIN {_SQ_OPP_REFRESH} WHERE id = NEW.id; END",
    # Touching the opportunities fires their update trigger, which reads the new name.
    "sales_customer_renamed": """AFTER UPDATE OF name ON customers_customer WHEN NEW.name IS NOT OLD.name BEGIN
        UPDATE sales_opportunity SET search_names = search_names WHERE customer_id = NEW.id; END""",
    "sales_lead_search_ai": f"AFTER INSERT ON sales_lead BEGIN {_SQ_LEAD_REFRESH} WHERE id = NEW.id; END",
    "sales_lead_search_au": f"AFTER UPDATE ON sales_lead BEGIN {_SQ_LEAD_REFRESH} WHERE id = NEW.id; END",
}


def install(connection: Any) -> None:
    """PostgreSQL: the columns, triggers and indexes, and every existing row's search data. SQLite: nothing
    here (post_migrate's ensure_schema creates the triggers and computes the rows)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in _PG_FUNCTIONS + _PG_BACKFILL + _PG_TRIGGERS:
            cursor.execute(statement)
        install_indexes(cursor)
        cursor.execute("ANALYZE sales_opportunity")
        cursor.execute("ANALYZE sales_lead")


def install_indexes(cursor: Any) -> None:
    """PostgreSQL: the search GIN indexes and the walks' (the seed drops them for a bulk load and builds them
    again)."""
    for name, (table, columns) in INDEXES.items():
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({columns}) WHERE deleted_at IS NULL")
    for name in WALK_INDEXES:
        cursor.execute(_walk_index_sql(name))


def _walk_index_sql(name: str) -> str:
    table, key, included = WALK_INDEXES[name]
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({key}) INCLUDE ({included}) WHERE deleted_at IS NULL"


def install_owner_walk_indexes(connection: Any) -> None:
    """PostgreSQL: the owner-led walk indexes (migration 0012_salescap, for databases made before it; newer
    ones got them from install_indexes), then fresh statistics for the planner's choice between the walks."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in OWNER_WALK_INDEXES:
            cursor.execute(_walk_index_sql(name))
        cursor.execute("ANALYZE sales_opportunity")
        cursor.execute("ANALYZE sales_lead")


def uninstall_owner_walk_indexes(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in OWNER_WALK_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def drop_indexes(cursor: Any, table: str) -> None:
    """PostgreSQL: drop `table`'s search indexes (a bulk load builds them again after, in one sorted pass)."""
    for name, (indexed_table, *_columns) in (*INDEXES.items(), *WALK_INDEXES.items()):
        if indexed_table == table:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in _PG_UNINSTALL:
                cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for name in _SQ_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _sqlite_ready(connection: Any) -> bool:
    """Whether this database has the search columns (migration 0011_salesgrams applied, not reversed)."""
    tables = set(connection.introspection.table_names())
    if not {"sales_opportunity", "sales_lead", "customers_customer"} <= tables:
        return False
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "sales_opportunity")}
    return "search_names" in columns


def _sqlite_present(connection: Any) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()} & set(_SQ_TRIGGERS)


def suspend_triggers(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """pre_migrate on SQLite: drop the search triggers when migrations are about to run."""
    connection = connections[using]
    if connection.vendor != "sqlite" or plan == []:
        return
    present = _sqlite_present(connection)
    with connection.cursor() as cursor:
        for name in present:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def ensure_schema(using: str = "default", **kwargs: Any) -> None:
    """post_migrate on SQLite: recompute every row's search data and recreate the triggers when any is
    missing (writes made while they were away did not update the columns)."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not _sqlite_ready(connection):
        return
    if _sqlite_present(connection) == set(_SQ_TRIGGERS):
        return
    with connection.cursor() as cursor:
        for name in _SQ_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(_SQ_OPP_REFRESH)
        cursor.execute(_SQ_LEAD_REFRESH)
        for name, body in _SQ_TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER {name} {body}")
