# ruff: noqa: S608 - the SQL below is DDL built from constants in this file; no value from a request.
"""Customer search: any fragment of a name, short name, contact name, phone (4+ digits) or email, Chinese
included (张, 华为, 1380013), through kehu.core.search_backends (pg_trgm + name grams on PostgreSQL,
FTS5 trigram on SQLite).

Search data lives in the customer row (`search_names`, `search_text`; PostgreSQL also `name_grams`,
SQLite also the FTS5 table `customers_customer_fts`) and is maintained by database triggers, not by the
services. Why triggers: every path that changes what search sees, including the bulk ones that bypass
model methods (QuerySet.update when contacts move in a merge, bulk_create in imports, the seed's COPY,
raw fixes by an operator), stays correct without each of them remembering to refresh; the contact
triggers refresh their customer's row, and a write that ends up stale is recomputed by the customer
trigger. The cost is one indexed look-up of the customer's contacts per changed row.

SQLite and migrations: Django's SQLite schema editor rebuilds a table to add most columns (create a new
table, copy, drop, rename), and SQLite refuses that rename while a trigger elsewhere refers to the
dropped table. So on SQLite the triggers exist only between migrations: `suspend_triggers` (pre_migrate)
drops them when `migrate` has work to do, migration 0003_search creates the FTS5 table and fills it, and
`ensure_schema` (post_migrate) recreates the triggers and re-indexes from the rows. PostgreSQL never
rebuilds tables; its triggers and indexes are created by the migration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from kehu.core.search_backends import LIST_LIMIT as LIST_LIMIT  # the lists' cap, shared with sales
from kehu.core.search_backends import SearchSpec, get_backend, name_grams, parse
from kehu.core.search_backends.postgres import GRAMS_FUNCTION

FTS_TABLE = "customers_customer_fts"
SHORT_FTS_TABLE = "customers_customer_names3"  # the names tripled, for 1-2 character fragments
SPEC = SearchSpec(fts_table=FTS_TABLE, short_fts_table=SHORT_FTS_TABLE)
# The global search box shows a handful; a searched list sorted by anything but recency pages through the
# LIST_LIMIT most relevant matches (core.search_backends: the one cap of every searched list).
BOX_LIMIT = 10


def search_ids(qs: QuerySet, query: str, *, limit: int = 50, rank: bool = True) -> list[int]:
    """Up to `limit` ids of customers in `qs` (already `visible_to(actor)` and filtered) that match
    `query`: exact name first, then name prefix, then the rest, newest first within each."""
    terms = parse(query)
    if terms is None:
        return []
    return get_backend(qs.db).search(qs, terms, SPEC, limit=limit, rank=rank)


def filter_queryset(qs: QuerySet, query: str) -> QuerySet:
    """Every customer of `qs` matching `query`, unbounded (exports, "select all matching")."""
    terms = parse(query)
    if terms is None:
        return qs
    return get_backend(qs.db).filter(qs, terms, SPEC)


def contact_matches(contact: Any, query: str) -> bool:
    """Whether the contact itself matches `query`, by the rules its customer's search data follows."""
    terms = parse(query)
    if terms is None:
        return False
    names, text, _grams = search_data(name=contact.name, phone=contact.phone_normalized, email=contact.email_normalized)
    return terms.needle in (names if terms.mode == "names" else text)


# Search data computed in Python, exactly as the triggers compute it (the seed writes it directly).


def _lines(*values: str) -> str:
    return "\n".join(v for v in values if v)


def search_data(
    *, name: str, short_name: str = "", phone: str = "", email: str = "", contacts: list[tuple[str, str, str]] = ()
) -> tuple[str, str, list[str]]:
    """(search_names, search_text, name_grams) for normalised values; contacts as (name, phone, email)."""
    names = _lines(name, short_name, *(c[0] for c in contacts)).lower()
    other = _lines(phone, email, *(_lines(c[1], c[2]) for c in contacts)).lower()
    return names, _lines(names, other), name_grams(names)


# Printable ASCII: lower() and whitespace agree between Python and the database in every locale.
_ASCII_PRINTABLE = re.compile(r"[\x20-\x7e]+")


def search_data_exact(
    *, name: str, short_name: str = "", phone: str = "", email: str = "", contacts: list[tuple[str, str, str]] = ()
) -> tuple[str, str, list[str]] | None:
    """search_data(), or None when the values hold a character for which Python and the database could
    disagree (a non-ASCII letter with a lower case, a control or non-ASCII space character): the caller
    then lets the triggers compute that row (refresh()). Chinese text and ASCII are always computed here."""
    raw = "".join((name, short_name, phone, email, *(part for contact in contacts for part in contact)))
    rest = _ASCII_PRINTABLE.sub("", raw)
    if rest and not (rest.isprintable() and rest.lower() == rest):
        return None
    return search_data(name=name, short_name=short_name, phone=phone, email=email, contacts=contacts)


# DDL ---------------------------------------------------------------------------------------------------

_PG_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "ALTER TABLE customers_customer ADD COLUMN IF NOT EXISTS name_grams text[] NOT NULL DEFAULT '{}'",
    GRAMS_FUNCTION,
    r"""
    CREATE OR REPLACE FUNCTION customers_customer_search() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      contact_names text;
      contact_other text;
    BEGIN
      -- A bulk writer that computed the search columns itself (see precomputed_search()).
      IF current_setting('kehu.search_precomputed', true) = 'on' THEN
        RETURN NEW;
      END IF;
      SELECT string_agg(nullif(c.name, ''), E'\n' ORDER BY c.id),
             string_agg(nullif(concat_ws(E'\n', nullif(c.phone_normalized, ''), nullif(c.email_normalized, '')), ''),
                        E'\n' ORDER BY c.id)
        INTO contact_names, contact_other
        FROM customers_contact c
       WHERE c.customer_id = NEW.id AND c.deleted_at IS NULL;
      NEW.search_names := lower(concat_ws(E'\n', nullif(NEW.name, ''), nullif(NEW.short_name, ''), contact_names));
      NEW.search_text := concat_ws(E'\n', nullif(NEW.search_names, ''), nullif(lower(concat_ws(E'\n',
        nullif(NEW.phone_normalized, ''), nullif(NEW.email_normalized, ''), contact_other)), ''));
      NEW.name_grams := kehu_name_grams(NEW.search_names);
      RETURN NEW;
    END $$
    """,
    r"""
    CREATE OR REPLACE FUNCTION customers_contact_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('kehu.search_precomputed', true) = 'on' THEN
        RETURN NULL;  -- the bulk writer computed the customers' search columns with their contacts
      END IF;
      -- Setting search_text to NULL asks the customer trigger to recompute it (it never stays NULL).
      IF TG_OP <> 'INSERT' THEN
        UPDATE customers_customer SET search_text = NULL WHERE id = OLD.customer_id;
      END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.customer_id IS DISTINCT FROM OLD.customer_id) THEN
        UPDATE customers_customer SET search_text = NULL WHERE id = NEW.customer_id;
      END IF;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS customers_customer_search_ins ON customers_customer",
    """CREATE TRIGGER customers_customer_search_ins BEFORE INSERT ON customers_customer
       FOR EACH ROW EXECUTE FUNCTION customers_customer_search()""",
    "DROP TRIGGER IF EXISTS customers_customer_search_upd ON customers_customer",
    """CREATE TRIGGER customers_customer_search_upd BEFORE UPDATE ON customers_customer FOR EACH ROW
       WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.short_name IS DISTINCT FROM OLD.short_name
             OR NEW.phone_normalized IS DISTINCT FROM OLD.phone_normalized
             OR NEW.email_normalized IS DISTINCT FROM OLD.email_normalized
             OR NEW.search_text IS DISTINCT FROM OLD.search_text
             OR NEW.search_names IS DISTINCT FROM OLD.search_names)
       EXECUTE FUNCTION customers_customer_search()""",
    "DROP TRIGGER IF EXISTS customers_contact_search_insdel ON customers_contact",
    """CREATE TRIGGER customers_contact_search_insdel AFTER INSERT OR DELETE ON customers_contact
       FOR EACH ROW EXECUTE FUNCTION customers_contact_search()""",
    "DROP TRIGGER IF EXISTS customers_contact_search_upd ON customers_contact",
    """CREATE TRIGGER customers_contact_search_upd AFTER UPDATE ON customers_contact FOR EACH ROW
       WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.phone_normalized IS DISTINCT FROM OLD.phone_normalized
             OR NEW.email_normalized IS DISTINCT FROM OLD.email_normalized
             OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at OR NEW.customer_id IS DISTINCT FROM OLD.customer_id)
       EXECUTE FUNCTION customers_contact_search()""",
]
# The walk (core.search_backends.walk) in an index-only scan: newest first, with everything it reads (the
# scope's owner, the title, both search columns), so that it reads ~25 rows per index page instead of one
# heap page per row. Walking the newest 7,367 customers for "info12" at 100,000: 8,097 -> 332 buffers,
# 51 -> 8-11 ms under load (benchmarks/RESULTS.md, custsearch).
WALK_INDEX = """CREATE INDEX IF NOT EXISTS cust_search_walk ON customers_customer
       (organization_id, updated_at, id) INCLUDE (owner_id, name, search_names, search_text) WHERE deleted_at IS NULL"""
# Backfill before the indexes exist (one pass, no index maintenance per row).
_PG_BACKFILL = "UPDATE customers_customer SET search_text = NULL"
_PG_INDEXES = [
    """CREATE INDEX IF NOT EXISTS cust_search_trgm ON customers_customer
       USING gin (organization_id, search_text gin_trgm_ops) WHERE deleted_at IS NULL""",
    """CREATE INDEX IF NOT EXISTS cust_search_grams ON customers_customer
       USING gin (organization_id, name_grams) WHERE deleted_at IS NULL""",
    WALK_INDEX,
]
_PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS customers_contact_search_upd ON customers_contact",
    "DROP TRIGGER IF EXISTS customers_contact_search_insdel ON customers_contact",
    "DROP TRIGGER IF EXISTS customers_customer_search_upd ON customers_customer",
    "DROP TRIGGER IF EXISTS customers_customer_search_ins ON customers_customer",
    "DROP FUNCTION IF EXISTS customers_contact_search()",
    "DROP FUNCTION IF EXISTS customers_customer_search()",
    "DROP FUNCTION IF EXISTS kehu_name_grams(text)",
    "DROP INDEX IF EXISTS cust_search_walk",
    "DROP INDEX IF EXISTS cust_search_grams",
    "DROP INDEX IF EXISTS cust_search_trgm",
    "ALTER TABLE customers_customer DROP COLUMN IF EXISTS name_grams",
    # The extensions stay: other tables may use them, and they cost nothing unused.
]

# SQLite: the customer row's own columns are bare names inside `UPDATE customers_customer SET ...`.
_SQ_CONTACTS = "FROM customers_contact c WHERE c.customer_id = customers_customer.id AND c.deleted_at IS NULL"
_SQ_NAMES = (
    "lower(name || CASE WHEN short_name <> '' THEN char(10) || short_name ELSE '' END"
    f" || coalesce((SELECT group_concat(char(10) || c.name, '') {_SQ_CONTACTS} AND c.name <> ''), ''))"
)
_SQ_OTHER = (
    "lower(CASE WHEN phone_normalized <> '' THEN char(10) || phone_normalized ELSE '' END"
    " || CASE WHEN email_normalized <> '' THEN char(10) || email_normalized ELSE '' END"
    " || coalesce((SELECT group_concat("
    "CASE WHEN c.phone_normalized <> '' THEN char(10) || c.phone_normalized ELSE '' END"
    f" || CASE WHEN c.email_normalized <> '' THEN char(10) || c.email_normalized ELSE '' END, '') {_SQ_CONTACTS}), ''))"
)
_SQ_REFRESH = f"UPDATE customers_customer SET search_names = {_SQ_NAMES}, search_text = {_SQ_NAMES} || {_SQ_OTHER}"
_SQ_TOUCH = "UPDATE customers_customer SET search_text = search_text WHERE id"
_SQ_FTS_DELETE = f"""INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
        INSERT INTO {SHORT_FTS_TABLE}({SHORT_FTS_TABLE}, rowid, names) VALUES ('delete', OLD.id, kehu_tripled(OLD.search_names))"""
_SQ_SHORT_INSERT = (
    f"INSERT INTO {SHORT_FTS_TABLE}(rowid, names) SELECT id, kehu_tripled(search_names) FROM customers_customer"
)
_SQ_TRIGGERS = {
    # Index what the row holds now (the AFTER UPDATE trigger below removes exactly that), then recompute.
    "customers_customer_search_ai": f"""AFTER INSERT ON customers_customer BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (NEW.id, NEW.search_text);
        INSERT INTO {SHORT_FTS_TABLE}(rowid, names) VALUES (NEW.id, kehu_tripled(NEW.search_names));
        {_SQ_TOUCH} = NEW.id;
    END""",
    # Every update recomputes: a Django save() writes back whatever search_text it loaded. The nested
    # UPDATE does not fire this trigger again (SQLite's recursive_triggers is off, as Django leaves it).
    "customers_customer_search_au": f"""AFTER UPDATE ON customers_customer BEGIN
        {_SQ_FTS_DELETE};
        {_SQ_REFRESH} WHERE id = NEW.id;
        INSERT INTO {FTS_TABLE}(rowid, search_text) SELECT id, search_text FROM customers_customer WHERE id = NEW.id;
        {_SQ_SHORT_INSERT} WHERE id = NEW.id;
    END""",
    "customers_customer_search_ad": f"""AFTER DELETE ON customers_customer BEGIN
        {_SQ_FTS_DELETE};
    END""",
    "customers_contact_search_ai": f"""AFTER INSERT ON customers_contact BEGIN
        {_SQ_TOUCH} = NEW.customer_id;
    END""",
    "customers_contact_search_au": f"""AFTER UPDATE OF name, phone_normalized, email_normalized, deleted_at,
        customer_id ON customers_contact BEGIN
        {_SQ_TOUCH} IN (OLD.customer_id, NEW.customer_id);
    END""",
    "customers_contact_search_ad": f"""AFTER DELETE ON customers_contact BEGIN
        {_SQ_TOUCH} = OLD.customer_id;
    END""",
}
_SQ_FTS_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "search_text, content='customers_customer', content_rowid='id', tokenize='trigram')"
)
# Contentless: it indexes a computed text; a delete passes the text that was indexed (the triggers do).
_SQ_SHORT_FTS_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SHORT_FTS_TABLE} USING fts5(names, content='', tokenize='trigram')"
)


def install(connection: Any) -> None:
    """Create the search columns' triggers and indexes for `connection`'s vendor and fill them in for
    the rows that exist. Idempotent; a no-op on other vendors."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in _PG_INSTALL:
                cursor.execute(statement)
            cursor.execute(_PG_BACKFILL)
            install_indexes(cursor)
        elif connection.vendor == "sqlite":
            # The triggers come with post_migrate (ensure_schema), after every migration of this run.
            cursor.execute(_SQ_FTS_CREATE)
            cursor.execute(_SQ_SHORT_FTS_CREATE)
            _sqlite_refresh(cursor)


def install_functions(connection: Any) -> None:
    """PostgreSQL: (re)create the trigger functions only (migration 0007: they learnt precomputed_search)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in _PG_INSTALL:
            if "CREATE OR REPLACE FUNCTION" in statement:  # GRAMS_FUNCTION among them
                cursor.execute(statement)


@contextmanager
def precomputed_search(connection: Any) -> Iterator[None]:
    """PostgreSQL, inside a transaction: rows inserted in this block carry their own search columns
    (search_names, search_text, name_grams, computed with search_data_exact() over the customer and ALL
    its contacts), so the row triggers of customers and contacts do nothing. For a bulk insert of new
    customers with their contacts: the per-row trigger work (a contacts look-up, the grams, and a second
    version of the customer row for each contact) was most of an import's time. Only for INSERTs of new
    customers and their contacts: updates of existing rows must run outside it. The setting is local to
    the transaction (a rollback, of a savepoint too, restores it) and reset at the end of the block."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('kehu.search_precomputed', 'on', true)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('kehu.search_precomputed', 'off', true)")


def refresh(connection: Any, ids: list[int]) -> None:
    """Have the triggers recompute the search columns of these customers (outside precomputed_search)."""
    if not ids:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE customers_customer SET search_text = NULL WHERE id = ANY(%s)", [ids])
        else:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                cursor.execute(f"{_SQ_TOUCH} IN ({', '.join(['%s'] * len(part))})", part)


def install_indexes(cursor: Any) -> None:
    """PostgreSQL: the two GIN indexes and the walk's (the seed drops them for a bulk load and builds them
    again)."""
    for statement in _PG_INDEXES:
        cursor.execute(statement)


def _sqlite_refresh(cursor: Any) -> None:
    """Recompute every row's search columns and rebuild the FTS index from them (no triggers present)."""
    cursor.execute(_SQ_REFRESH)
    cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    cursor.execute(f"INSERT INTO {SHORT_FTS_TABLE}({SHORT_FTS_TABLE}) VALUES ('delete-all')")
    cursor.execute(_SQ_SHORT_INSERT)


def install_walk_index(connection: Any) -> None:
    """PostgreSQL: the walk's covering index (migration 0010_custsearch, for databases made before it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(WALK_INDEX)


def uninstall_walk_index(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS cust_search_walk")


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in _PG_UNINSTALL:
                cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for name in _SQ_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
            cursor.execute(f"DROP TABLE IF EXISTS {SHORT_FTS_TABLE}")


def _sqlite_state(connection: Any) -> tuple[bool, set[str]]:
    """(whether the FTS tables exist, the names of the search triggers present). The short-fragment table
    came after the first databases were made: its absence counts as a missing trigger (ensure_schema
    then creates it and re-indexes)."""
    tables = set(connection.introspection.table_names())
    if "customers_customer" not in tables or FTS_TABLE not in tables:
        return False, set()
    if SHORT_FTS_TABLE not in tables:
        with connection.cursor() as cursor:
            cursor.execute(_SQ_SHORT_FTS_CREATE)
        return True, set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return True, {row[0] for row in cursor.fetchall()} & set(_SQ_TRIGGERS)


def suspend_triggers(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """pre_migrate on SQLite: drop the search triggers when migrations are about to run (see above)."""
    connection = connections[using]
    if connection.vendor != "sqlite" or plan == []:
        return
    _installed, present = _sqlite_state(connection)
    with connection.cursor() as cursor:
        for name in present:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def ensure_schema(using: str = "default", **kwargs: Any) -> None:
    """post_migrate on SQLite: recreate missing search triggers and re-index from the rows (a rebuilt
    table kept their search columns, but writes made without triggers did not update them)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    installed, present = _sqlite_state(connection)
    if not installed or present == set(_SQ_TRIGGERS):
        return  # before migration 0003_search (or after reversing it), or nothing to do
    with connection.cursor() as cursor:
        for name in _SQ_TRIGGERS:  # present ones, and old versions of them when the short table was new
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        _sqlite_refresh(cursor)
        for name, body in _SQ_TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER {name} {body}")
