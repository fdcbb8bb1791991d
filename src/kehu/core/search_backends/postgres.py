"""PostgreSQL: pg_trgm for 3+ characters, a GIN over 1- and 2-character name grams for shorter ones.

Both indexes lead with organization_id (btree_gin), as every index here does. The index step
(newest_of_all) runs in a MATERIALIZED CTE so that the planner cannot trade the GIN bitmap for a walk of the
(organization, updated_at) index, the bad choice DESIGN.md measured for rare fragments; and without parallel workers,
which made these millisecond queries slower on 2 cores.
"""

from __future__ import annotations

import json
import time

from django.db import connections, transaction
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from kehu.core.search_backends import SearchBackend, SearchSpec, Terms

# Every 1- and 2-character substring of each line of `names` that holds no whitespace, sorted (the SQL twin of
# kehu.core.search_backends.name_grams). One definition for every table that keeps grams or indexes them: the
# customers', opportunities' and leads' name_grams columns (their triggers) and the tickets' expression index
# (service migration 0008). IMMUTABLE, as an index expression requires: changing what it returns means
# recomputing those columns and rebuilding that index.
GRAMS_FUNCTION = r"""
    CREATE OR REPLACE FUNCTION kehu_name_grams(names text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}')
      FROM unnest(string_to_array(names, E'\n')) AS line,
           generate_series(1, char_length(line)) AS i,
           LATERAL (VALUES (substr(line, i, 1)), (substr(line, i, 2))) AS v(g)
      WHERE g <> '' AND g !~ '\s'
    $$
    """


def holds_gram(grams: str, needle: str, *, fold: str = "") -> RawSQL:
    """The condition "the gram array `grams` (a column or the expression of an index) holds `needle`", which a
    GIN index over `grams` serves. `fold` ("upper", "lower" or "") is applied to the needle in SQL, by the same
    function the grams were folded with."""
    value = f"{fold}(%s)" if fold else "%s"
    return RawSQL(f"{grams} @> ARRAY[{value}]::text[]", [needle], output_field=BooleanField())  # noqa: S611


def like_pattern(needle: str) -> str:
    """A LIKE pattern matching `needle` anywhere (backslash is PostgreSQL's default escape)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def newest_of_all(matching: QuerySet, *, order: tuple[int, int], limit: int) -> list[tuple]:
    """The first `limit` rows of the values query `matching` by its columns `order` (recency, pk; 1-based),
    both descending: every match collected first through the indexes (a MATERIALIZED CTE), then sorted.
    In a transaction, with two local settings (they end with it, other queries keep theirs; one statement):
    no parallel workers, and no sequential scan of the organisation, which is never cheaper here (the walk
    before this step already answered the common fragments)."""
    sql, params = matching.query.sql_with_params()
    recency, pk = order
    statement = f"WITH m AS MATERIALIZED ({sql}) SELECT * FROM m ORDER BY {recency:d} DESC, {pk:d} DESC LIMIT %s"  # noqa: S608
    with transaction.atomic(using=matching.db), connections[matching.db].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true)"
        )
        cursor.execute(statement, [*params, limit])
        return [tuple(r) for r in cursor.fetchall()]


# (database alias, table) -> (monotonic time read, rows): an estimate that changes slowly, read again after
# TABLE_ROWS_SECONDS rather than in every search that asks.
_table_rows: dict[tuple[str, str], tuple[float, int]] = {}
TABLE_ROWS_SECONDS = 300


def table_rows(qs: QuerySet) -> int:
    """The planner's row count of `qs`'s table (pg_class.reltuples, kept by ANALYZE and autovacuum): a
    catalog read, no scan, at most every TABLE_ROWS_SECONDS per process. 0 when the table was never analysed."""
    key = (qs.db, qs.model._meta.db_table)
    cached = _table_rows.get(key)
    if cached and time.monotonic() - cached[0] < TABLE_ROWS_SECONDS:
        return cached[1]
    with connections[qs.db].cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [key[1]])
        row = cursor.fetchone()
    rows = max(0, int(row[0])) if row else 0
    _table_rows[key] = (time.monotonic(), rows)
    return rows


class PostgresSearchBackend(SearchBackend):
    vendor = "postgresql"
    # The index step (trigram or name-gram GIN) reads every row of the table that holds the fragment from
    # the heap (the plans check the organisation, the scope and the filters on each row) to sort them by
    # recency, about 3 us each, ~frequency x the table's rows; walking a row is an index-only step of the
    # covering index, under 1 us. So a walk of `walk_per_match` rows per row that the index step would read
    # still costs less (a sales rep's walk reads the heap, a row about what an index read costs: at most
    # twice the index step for them), up to `walk_rows_cap`. With several organisations in the table this
    # overestimates the index step; the cap bounds what that costs. At a million customers an email fragment
    # in 0.9% of them read ~9,000 rows in the index step (37-137 ms), and now walks ~4,000 more rows (3-7 ms;
    # RESULTS.md, emailsearch).
    walk_per_match = 2
    walk_rows_cap = 24000

    def walk_budget(self, qs: QuerySet, frequency: float) -> int:
        index_reads = frequency * table_rows(qs)
        return int(min(self.walk_rows_cap, max(self.max_walk_rows, self.walk_per_match * index_reads)))

    def index_condition(self, qs: QuerySet, terms: Terms, spec: SearchSpec) -> QuerySet:
        table = qs.model._meta.db_table
        text_col = qs.model._meta.get_field(spec.text_field).column
        names_col = qs.model._meta.get_field(spec.names_field).column
        if terms.short:
            # 1-2 characters: the names' gram array holds every 1- and 2-character substring of each line.
            return qs.filter(holds_gram(f'"{table}"."{spec.grams_column}"', terms.needle))
        where = [f'"{table}"."{text_col}" LIKE %s']
        params = [like_pattern(terms.needle)]
        if terms.mode == "names":  # "123": the trigram index narrows, the names decide
            where.append(f'"{table}"."{names_col}" LIKE %s')
            params.append(like_pattern(terms.needle))
        return qs.extra(where=where, params=params)  # noqa: S610 - names from the model, values bound

    def index_matches(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int) -> list[tuple]:
        matching = self.index_condition(qs, terms, spec).values_list("pk", spec.title_field, spec.recency_field)
        return newest_of_all(matching, order=(3, 1), limit=limit)

    def among(self, qs: QuerySet, pks: list[int]) -> QuerySet:
        # One array parameter rather than one per id: for a capped list's 500 ids, Django's IN prepares each and
        # psycopg's client-side binding quotes each into the statement (1.2 ms of CPU of the page's 3.9).
        if not pks:
            return qs.none()  # as Django's IN with no ids: no statement at all
        meta = qs.model._meta
        where = f'"{meta.db_table}"."{meta.pk.column}" = ANY(%s)'
        return qs.extra(where=[where], params=[[int(pk) for pk in pks]])  # noqa: S610 - names from the model, ids bound

    def gram_matches(
        self,
        qs: QuerySet,
        grams: str,
        needle: str,
        *,
        fold: str = "",
        limit: int,
        fields: tuple[str, ...] = ("pk", "updated_at"),
        also: Q | None = None,
        exact: Q | None = None,
        most: int | None = None,
    ) -> list[tuple] | None:
        found = Q(holds_gram(grams, needle, fold=fold))
        if most is not None and self.estimated_rows(qs.filter(found)) > most:
            return None
        candidates = qs.filter(found | also if also is not None else found)
        if exact is not None:
            # As a CASE, which no index matches: left bare, the planner ANDed the grams' bitmap with the trigram
            # indexes' (lossy) ones for the LIKEs, and the recheck computed kehu_name_grams() again on each row
            # read: 240 ms instead of 11 for 4,187 tickets at 1,000,000 (RESULTS.md, ticketgrams).
            candidates = candidates.filter(Case(When(exact, then=Value(True)), default=Value(False)))
        matching = candidates.values_list(*fields)
        return newest_of_all(matching, order=(2, 1), limit=limit)

    def estimated_rows(self, qs: QuerySet) -> int:
        """The planner's estimate of the rows `qs` returns (one EXPLAIN, no execution): for a gram, from the
        element statistics that ANALYZE keeps for the GIN's expression."""
        sql, params = qs.values_list("pk").query.sql_with_params()
        with connections[qs.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])

    def filter(self, qs: QuerySet, terms: Terms, spec: SearchSpec) -> QuerySet:
        # The same rows as the LIKE predicate, in a form the GIN indexes serve.
        return self.index_condition(qs, terms, spec)
