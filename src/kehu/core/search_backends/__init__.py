"""Fragment search, one module with a PostgreSQL and a SQLite backend that return the same results.

A searchable model keeps two lower-cased, line-separated columns, maintained by database triggers:
`names` (the record's names, which 1-2 character fragments match: Chinese users type 张 or 华为) and
`text` (names plus phones and emails, which 3+ character fragments and 4+ phone digits match).

The caller passes a queryset that already holds every restriction (organisation, data scope, list
filters): the backend only narrows it, so search can never show what `visible_to(actor)` hides.

How a fragment is found fast at a million rows (measured; see DESIGN.md, Performance):
1. walk the newest `walk_rows` rows of the queryset by the (organization, updated_at) index and test
   each with LIKE, stopping at the last match asked for: cheap whatever the fragment, and enough when the
   fragment is common (PostgreSQL: an index-only scan of a covering index, customers/search.py WALK_INDEX);
   when the first walk saw a frequency that predicts enough matches within the walk's budget, go on from
   where it stopped, and when only sample noise separates it from that, walk one more slice before deciding
   (walk_then_index, next_walk_step). The budget is `max_walk_rows`, and on PostgreSQL more when the
   frequency and the table's size predict that the index step would read more matches than that
   (SearchBackend.walk_budget: at a million rows `info12` is in ~9,000 of them);
2. when that finds fewer than asked and did not cover the whole queryset, ask the backend's index
   (PostgreSQL: pg_trgm GIN for 3+ characters, a GIN over the names' 1- and 2-character grams for
   shorter ones; SQLite: the FTS5 trigram table, and one over the tripled names for short fragments);
3. add the name's exact and prefix matches (a B-tree range on (organization, name)), then rank:
   exact name, name prefix, everything else; newest first within each.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, TextField, Window
from django.db.models.functions import Cast, RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_QUERY_LENGTH = 100
# A searched list sorted by anything but recency pages through at most this many matches, every page cut
# from the same set (keyset order within it): the most relevant where the record type ranks (customers), the
# newest otherwise. Sorting every match of a common fragment by name or amount reads them all: 2,139
# opportunities for 科技 at 50,000 took 47-55 ms, ten times as many at 500,000 (RESULTS.md, salesgrams).
# Newest-first lists page through every match: the search itself pages by recency.
LIST_LIMIT = 500
MIN_PHONE_DIGITS = 4
MIN_TRIGRAM_LENGTH = 3
_PHONE_QUERY_RE = re.compile(r"[\d\s\-+()（）]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
# Above every character: name >= q AND name < q + _TOP is "name starts with q" in a B-tree range.
_TOP = "\U0010ffff"


@dataclass(frozen=True)
class SearchSpec:
    """Where a model keeps its search data (ORM field names)."""

    text_field: str = "search_text"
    names_field: str = "search_names"
    title_field: str = "name"
    recency_field: str = "updated_at"
    grams_column: str = "name_grams"  # PostgreSQL only: text[] of the names' 1- and 2-character grams
    fts_table: str = ""  # SQLite only: FTS5 trigram table over text_field, rowid = primary key
    short_fts_table: str = ""  # SQLite only: FTS5 trigram table over the names tripled (see sqlite.py)


@dataclass(frozen=True)
class Terms:
    """A parsed query. `mode` is "phone" (match `needle`, the digits, in the text), "text" (match the
    lower-cased query in the text) or "names" (match it in the names only)."""

    raw: str
    needle: str
    mode: str

    @property
    def short(self) -> bool:
        return len(self.needle) < MIN_TRIGRAM_LENGTH


def phone_digits(text: str) -> str:
    """The digits of a phone-like query without a +86 / 0086 country code."""
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+86", "0086")) and len(digits) > 2:
        digits = digits[4:] if digits.startswith("0086") else digits[2:]
    return digits


def parse(query: str | None) -> Terms | None:
    """None for an empty query. Phone-like queries with 4+ digits search phones (+86 138 0013 finds
    13800138000); shorter digit runs ("123") and 1-2 character queries search names only."""
    text = unicodedata.normalize("NFKC", query or "")
    text = _CONTROL_RE.sub(" ", text).strip()[:MAX_QUERY_LENGTH].strip()
    if not text:
        return None
    if _PHONE_QUERY_RE.fullmatch(text):
        digits = phone_digits(text)
        if len(digits) >= MIN_PHONE_DIGITS:
            return Terms(raw=text, needle=digits, mode="phone")
        return Terms(raw=text, needle=text.lower(), mode="names")
    lowered = text.lower()
    return Terms(raw=text, needle=lowered, mode="names" if len(lowered) < MIN_TRIGRAM_LENGTH else "text")


def name_grams(names: str) -> list[str]:
    """Every 1- and 2-character substring of each line that holds no whitespace, sorted: what a GIN index over
    them finds a 1-2 character fragment by. The Python twin of PostgreSQL's kehu_name_grams()
    (postgres.GRAMS_FUNCTION), for writers that compute the grams themselves (bulk inserts, seeds)."""
    grams = set()
    for line in names.split("\n"):
        previous = ""
        for ch in line:
            if ch.isspace():
                previous = ""
                continue
            grams.add(ch)
            if previous:
                grams.add(previous + ch)
            previous = ch
    return sorted(grams)


@dataclass(frozen=True)
class Hit:
    pk: int
    title: str
    recency: datetime
    rank: int = 2  # 0 exact name, 1 name prefix, 2 other


def _rank(terms: Terms, pk: int, title: str, recency: datetime) -> Hit:
    if terms.mode != "phone":
        lowered = (title or "").lower()
        if lowered == terms.needle:
            return Hit(pk, title, recency, 0)
        if lowered.startswith(terms.needle):
            return Hit(pk, title, recency, 1)
    return Hit(pk, title, recency, 2)


def _newest_first(hit: Hit) -> tuple:
    return (-hit.recency.timestamp(), -hit.pk)


class SearchBackend:
    """The algorithm of the module docstring; subclasses supply `index_matches` for their database."""

    vendor = ""
    walk_rows = 2000  # the first walk
    min_sample = 8  # matches in the first walk that make its frequency worth trusting
    max_walk_rows = 8000  # measured at a million rows: a longer walk costs more than the index path

    def walk_budget(self, qs: QuerySet, frequency: float) -> int:
        """The rows a walk of `qs` may read in all before the index step, for a fragment that the first walk
        saw in `frequency` of its rows: `max_walk_rows` here; PostgreSQL weighs it against the index step."""
        return self.max_walk_rows

    def predicate(self, terms: Terms, spec: SearchSpec) -> Q:
        """The exact meaning of a match, as an ORM condition (used by the walk and by unbounded filters)."""
        if terms.mode == "names":
            return Q(**{f"{spec.names_field}__contains": terms.needle})
        return Q(**{f"{spec.text_field}__contains": terms.needle})

    def filter(self, qs: QuerySet, terms: Terms, spec: SearchSpec) -> QuerySet:
        """Every match, unbounded and unordered (exports, "select all"): correct, not necessarily fast."""
        return qs.filter(self.predicate(terms, spec))

    def search(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int, rank: bool = True) -> list[int]:
        """Up to `limit` primary keys of `qs` matching `terms`: ranked (exact name, prefix, other) when
        `rank`, else newest first, which is the list's keyset order (so pages stay consistent)."""
        qs = qs.order_by()
        matches = walk_then_index(
            qs,
            self.predicate(terms, spec),
            limit=limit,
            fields=("pk", spec.title_field, spec.recency_field),
            recency_field=spec.recency_field,
            index=lambda: self.index_matches(qs, terms, spec, limit=limit),
            walk_rows=self.walk_rows,
            min_sample=self.min_sample,
            max_walk_rows=self.max_walk_rows,
            walk_budget=lambda frequency: self.walk_budget(qs, frequency),
            recency_as_text=True,  # parsed by self.row() only where ranked
        )
        if not rank:
            # The walk and every index step return the newest matches newest first, each once: the keyset
            # order already (for a capped list, 500 Hits and a sort less: ~1 ms of CPU).
            return [row[0] for row in matches[:limit]]
        hits = {h.pk: h for h in (_rank(terms, *self.row(row)) for row in matches)}
        if rank and terms.mode != "phone":
            for row in self.prefix_matches(qs, terms, spec, limit=limit):
                hits[row[0]] = _rank(terms, *row)
        ordered = sorted(hits.values(), key=lambda h: (h.rank if rank else 0, *_newest_first(h)))
        return [h.pk for h in ordered[:limit]]

    def prefix_matches(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int) -> list[tuple]:
        """Rows whose title starts with the query (in its common capitalisations), by the title index."""
        raw = terms.raw
        variants = {raw, raw.lower(), raw.upper(), raw.title(), raw.capitalize()}
        q = Q()
        for v in variants:
            q |= Q(**{f"{spec.title_field}__gte": v, f"{spec.title_field}__lt": v + _TOP})
        rows = qs.filter(q).order_by(spec.title_field).values_list("pk", spec.title_field, spec.recency_field)
        return [self.row(r) for r in rows[:limit] if (r[1] or "").lower().startswith(terms.needle)]

    def among(self, qs: QuerySet, pks: list[int]) -> QuerySet:
        """The rows of `qs` whose primary key is one of `pks` (a list page cut from a search's ids)."""
        return qs.filter(pk__in=pks)

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
        """`fields` (the pk, then the recency) of the newest `limit` rows of `qs` matching `exact` (the search's
        own condition, which decides) among those whose 1-2 character grams hold `needle` or that match `also`:
        `grams` is the SQL expression of a GIN index (kehu_name_grams() of the searched text, folded by the SQL
        function `fold`, which is applied to `needle` too: postgres.holds_gram). The index step of a short
        fragment for a model without search columns of its own. None when this database keeps no such index (SQLite), or when the planner expects more than
        `most` (if given) rows of `qs` to hold the gram: the step would read them all, and a walk of the newest
        rows by recency finds `limit` of so common a fragment sooner (the caller's plain statement)."""
        return None

    def index_matches(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int) -> list[tuple]:
        """The newest `limit` matches of the whole queryset as (pk, title, recency): the slow-but-simple
        default, which the vendors replace with an indexed one."""
        rows = (
            self.filter(qs, terms, spec)
            .order_by(f"-{spec.recency_field}", "-pk")
            .values_list("pk", spec.title_field, spec.recency_field)
        )
        return [self.row(r) for r in rows[:limit]]

    def row(self, row: tuple) -> tuple:
        """(pk, title, recency) from a raw cursor row, recency as an aware datetime."""
        pk, title, recency = row
        return pk, title, as_datetime(recency)


def as_datetime(value: Any) -> datetime | None:
    """A recency as the cursor returned it (SQLite: text, naive) as an aware datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def walk(
    qs: QuerySet,
    condition: Q,
    *,
    fields: tuple[str, ...],
    rows: int,
    limit: int,
    recency: str = "updated_at",
    recency_as_text: bool = False,
) -> tuple[list[tuple], tuple | None]:
    """`fields` (the pk first, `recency` among them) of the newest rows of `qs` matching `condition`, newest
    first, looking at `rows` rows at most (by `recency`, then pk: an index on (organization, updated_at,
    id)) and stopping at the `limit`-th match; and where to go on from: the (recency, pk) of the last row
    looked at when the walk stopped at `rows` rows with fewer than `limit` matches, else None (it found
    enough, or it saw every row of `qs`).

    One statement, which the database stops as soon as it has `limit` matches: the rows are numbered as
    the index returns them, and the `rows`-th row comes back as well whether it matches or not.

    `recency_as_text`: the matches' recency as the database's text, for callers that parse it only when they
    use it (as_datetime): psycopg's time-zone-aware loader (Django's, in Python) took ~4 us a value, ~2 ms of
    CPU for a capped list's 500 matches whose order the walk already gives."""
    hit = ExpressionWrapper(condition, output_field=BooleanField())
    order = (F(recency).desc(), F("pk").desc())
    annotations = {"_hit": hit, "_n": Window(RowNumber(), order_by=order)}
    selected = fields
    if recency_as_text:
        annotations["_recency_text"] = Cast(recency, output_field=TextField())
        selected = tuple("_recency_text" if name == recency else name for name in fields)
    newest = qs.annotate(**annotations).order_by(*order).values_list(*selected, "_hit", "_n")[:rows]
    sql, params = newest.query.sql_with_params()
    width = len(fields)
    statement = f"SELECT * FROM ({sql}) w WHERE _hit OR _n = %s LIMIT %s"  # noqa: S608 - compiled by the ORM
    with connections[qs.db].cursor() as cursor:
        cursor.execute(statement, [*params, rows, limit + 1])
        result = cursor.fetchall()
    matches = [r[:width] for r in result if r[width]][:limit]
    last = result[-1] if result else None
    if len(matches) < limit and last is not None and last[width + 1] == rows:
        return matches, (as_datetime(last[fields.index(recency)]), last[0])
    return matches, None


def older_than(qs: QuerySet, start: tuple, recency: str = "updated_at") -> QuerySet:
    """The rows of `qs` after `start` = (recency, pk) in the walk's order. The redundant `recency <=` bound
    lets the database start the index scan there rather than skip the rows already walked one by one."""
    value, pk = start
    return qs.filter(Q(**{f"{recency}__lt": value}) | Q(**{recency: value, "pk__lt": pk}), **{f"{recency}__lte": value})


# A one-sided 95% bound: how many matches a slice could plausibly have held when it showed `found`.
NOISE_Z = 1.645


def poisson_upper(count: int, z: float = NOISE_Z) -> float:
    """The upper one-sided confidence bound of a Poisson mean observed as `count` (Wilson-Hilferty's
    approximation of the chi-square bound: within 1% of it from count 0; 10 -> 16.96 at z 1.645)."""
    k = count + 1
    return k * (1 - 1 / (9 * k) + z / (3 * math.sqrt(k))) ** 3


@dataclass(frozen=True)
class WalkStep:
    """What walk_then_index does next: walk on `rows` more rows ("walk": as far as the budget, then the index
    step if that was not enough; "probe": one more slice, then decide again), or ask the index ("index")."""

    action: str
    rows: int = 0


INDEX_STEP = WalkStep("index")


def next_walk_step(
    *, walked: int, found: int, limit: int, min_sample: int, budget: Callable[[float], int], probe_rows: int
) -> WalkStep:
    """The decision after a walk that looked at `walked` rows, found `found` (< `limit`) matches and did not
    reach the end. `budget(frequency)` is the rows a walk may read in all for a fragment of that frequency.

    - fewer than `min_sample` matches: the index step (a rare fragment; its index look-up is cheap);
    - the frequency seen predicts `limit` matches within the budget for it (with a 1.3 margin): walk on;
    - else, when the frequency could plausibly be high enough (the upper bound of a Poisson count, so that
      sample noise alone does not decide) and `probe_rows`: walk one more slice and decide again on both.
      At a million customers the first 2,000 rows showed `info16` 10 times where 0.93% of the table holds
      it (19 expected): the prediction, 13,001 rows, missed the budget for 0.5%, 10,000, and the trigram
      step read ~9,000 rows from the heap (69 ms p95) instead of a walk of ~5,400 index entries (3-5 ms).
      A slice costs ~1 ms and one statement; the index step it may save, tens of ms.
    - else the index step."""
    if found < min_sample or found <= 0:
        return INDEX_STEP
    total = budget(found / walked)
    predicted = int(limit * walked / found * 1.3) + 1
    if predicted <= total:
        return WalkStep("walk", total - walked) if total > walked else INDEX_STEP
    if probe_rows > 0:
        plausible = poisson_upper(found)
        total = budget(min(1.0, plausible / walked))
        if int(limit * walked / plausible) + 1 <= total and total > walked:
            return WalkStep("probe", min(probe_rows, total - walked))
    return INDEX_STEP


def walk_then_index(
    qs: QuerySet,
    condition: Q,
    *,
    limit: int,
    index: Callable[[], list[tuple]],
    fields: tuple[str, ...] = ("pk", "updated_at"),
    recency_field: str = "updated_at",
    walk_rows: int = 2000,
    min_sample: int = 8,
    max_walk_rows: int = 8000,
    walk_budget: Callable[[float], int] | None = None,
    recency_as_text: bool = False,
) -> list[tuple]:
    """The newest `limit` rows of `qs` matching `condition` (as `fields`), found in bounded work whatever
    the fragment's frequency (module docstring, steps 1 and 2):

    - walk the newest `walk_rows` rows, stopping at the `limit`-th match: a common fragment ends here;
    - when that found fewer than `limit`, next_walk_step decides from what it saw: walk on from where it
      stopped (up to the budget in all, again stopping at `limit` matches), walk one more slice of
      `walk_rows` and decide again (once), or go to the index. The budget is `max_walk_rows`, or
      `walk_budget(frequency)` when that is more (if given: the backend's weighing of a longer walk
      against the index step; asked also when the prediction fits: a sample that was lucky walks on);
    - and only then call `index()`, which returns the newest `limit` matches of the whole queryset through
      the database's indexes (a rare fragment's are few). An index alone reads and sorts every match: for a
      fragment most rows hold, hundreds of milliseconds (RESULTS.md, the lead search at 100,000 leads)."""

    def budget(frequency: float) -> int:
        return max_walk_rows if walk_budget is None else max(max_walk_rows, walk_budget(frequency))

    matches, start = walk(
        qs,
        condition,
        fields=fields,
        rows=walk_rows,
        limit=limit,
        recency=recency_field,
        recency_as_text=recency_as_text,
    )
    walked, probe_rows = walk_rows, walk_rows
    while start is not None:
        step = next_walk_step(
            walked=walked, found=len(matches), limit=limit, min_sample=min_sample, budget=budget, probe_rows=probe_rows
        )
        if step.action == "index":
            return index()
        rest = older_than(qs, start, recency_field)
        more, start = walk(
            rest,
            condition,
            fields=fields,
            rows=step.rows,
            limit=limit - len(matches),
            recency=recency_field,
            recency_as_text=recency_as_text,
        )
        matches += more
        walked += step.rows
        if step.action == "walk":
            break
        probe_rows = 0  # one probe: then walk on or take the index step
    if start is not None:
        return index()
    return matches


# The search box's budget for a record type that no index serves for the fragment (newest_walked): the rows
# a longer walk costs more than an index would (SearchBackend.max_walk_rows, measured at a million rows).
BOX_WALK_ROWS = SearchBackend.max_walk_rows


def newest_walked(
    qs: QuerySet,
    condition: Q,
    *,
    limit: int,
    fields: tuple[str, ...] = ("pk", "updated_at"),
    recency: str = "updated_at",
    rows: int | None = None,
) -> tuple[list[tuple], bool]:
    """The search box's bounded search for a record type without an index for the fragment (quotes and
    orders: their numbers, titles and customers' names): `fields` of the
    newest `limit` rows of `qs` matching `condition` among its newest `rows` rows (default BOX_WALK_ROWS),
    one walk() and never the unbounded step, and whether that walk covered every row of `qs` (or found
    `limit` matches). When it did not, older matches may exist: the box links to the list, which searches
    them all. Without this a rare fragment read every row: 饕大 took 8-12 s for opportunities at
    500,000 (RESULTS.md, custsearch)."""
    rows = rows or BOX_WALK_ROWS
    matches, start = walk(qs.order_by(), condition, fields=fields, rows=rows, limit=limit, recency=recency)
    return matches, start is None


def capped_ids(search: Callable[[int], list[int]]) -> tuple[list[int], int | None]:
    """The ids a searched list sorted by anything but recency pages through: `search(n)` (the first `n` matches
    in the search's own order) asked for LIST_LIMIT + 1, so that the one more tells whether the cap was
    reached; and the cap when it was (the list then says so: Page.capped_at, the API's `capped_at`), else None.
    Every list with a search (customers, opportunities, leads) caps through here, with the same limit."""
    ids = search(LIST_LIMIT + 1)
    if len(ids) > LIST_LIMIT:
        return ids[:LIST_LIMIT], LIST_LIMIT
    return ids, None


def among(qs: QuerySet, pks: list[int]) -> QuerySet:
    """The rows of `qs` among a search's ids (`pks`), as the database behind `qs` reads a list of ids best."""
    return get_backend(qs.db).among(qs, pks)


def get_backend(using: str = "default") -> SearchBackend:
    """The backend for the database behind `using` (connection.vendor)."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        from kehu.core.search_backends.postgres import PostgresSearchBackend

        return PostgresSearchBackend()
    if vendor == "sqlite":
        from kehu.core.search_backends.sqlite import SqliteSearchBackend

        return SqliteSearchBackend()
    return SearchBackend()
