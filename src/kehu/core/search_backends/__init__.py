"""Fragment search, one module with a PostgreSQL and a SQLite backend that return the same results.

A searchable model keeps two lower-cased, line-separated columns, maintained by database triggers:
`names` (the record's names, which 1-2 character fragments match: Chinese users type 张 or 华为) and
`text` (names plus phones and emails, which 3+ character fragments and 4+ phone digits match).

The caller passes a queryset that already holds every restriction (organisation, data scope, list
filters): the backend only narrows it, so search can never show what `visible_to(actor)` hides.

How a fragment is found fast at a million rows (measured; see DESIGN.md, Performance):
1. walk the newest `walk_rows` rows of the queryset by the (organization, updated_at) index and test
   each with LIKE: cheap whatever the fragment, and enough when the fragment is common;
2. when that finds fewer than asked and did not cover the whole queryset, ask the backend's index
   (PostgreSQL: pg_trgm GIN for 3+ characters, a GIN over the names' 1- and 2-character grams for
   shorter ones; SQLite: the FTS5 trigram table, and one over the tripled names for short fragments);
3. add the name's exact and prefix matches (a B-tree range on (organization, name)), then rank:
   exact name, name prefix, everything else; newest first within each.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_QUERY_LENGTH = 100
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
        matches, complete = self.walk(qs, terms, spec, limit=limit, rows=self.walk_rows)
        if len(matches) < limit and not complete:
            # In between common and rare: the index would return every match (thousands), so walking a
            # little further is cheaper, sized by the frequency the first walk saw.
            if len(matches) >= self.min_sample:
                rows = int(limit * self.walk_rows / len(matches) * 1.3) + 1
                if rows <= self.max_walk_rows:
                    matches, complete = self.walk(qs, terms, spec, limit=limit, rows=rows)
            if len(matches) < limit and not complete:
                matches = self.index_matches(qs, terms, spec, limit=limit)
        hits = {h.pk: h for h in (_rank(terms, *row) for row in matches)}
        if rank and terms.mode != "phone":
            for row in self.prefix_matches(qs, terms, spec, limit=limit):
                hits[row[0]] = _rank(terms, *row)
        ordered = sorted(hits.values(), key=lambda h: (h.rank if rank else 0, *_newest_first(h)))
        return [h.pk for h in ordered[:limit]]

    def walk(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int, rows: int) -> tuple[list[tuple], bool]:
        """Matches among the newest `rows` rows (bounded work), and whether those were all the rows."""
        hit = ExpressionWrapper(self.predicate(terms, spec), output_field=BooleanField())
        newest = (
            qs.annotate(_hit=hit)
            .order_by(f"-{spec.recency_field}", "-pk")
            .values_list("pk", spec.title_field, spec.recency_field, "_hit")[:rows]
        )
        sql, params = newest.query.sql_with_params()
        # One statement: the matching rows, then one row holding how many rows were walked.
        statement = (
            f"WITH w AS ({sql}) SELECT * FROM w WHERE _hit "  # noqa: S608 - compiled by the ORM, values bound
            f"UNION ALL SELECT count(*), NULL, NULL, NULL FROM w"
        )
        with connections[qs.db].cursor() as cursor:
            cursor.execute(statement, params)
            result = cursor.fetchall()
        walked = result.pop()[0]
        matches = [self.row(r[:3]) for r in result]
        matches.sort(key=lambda r: (r[2], r[0]), reverse=True)
        return matches[:limit], walked < rows

    def prefix_matches(self, qs: QuerySet, terms: Terms, spec: SearchSpec, *, limit: int) -> list[tuple]:
        """Rows whose title starts with the query (in its common capitalisations), by the title index."""
        raw = terms.raw
        variants = {raw, raw.lower(), raw.upper(), raw.title(), raw.capitalize()}
        q = Q()
        for v in variants:
            q |= Q(**{f"{spec.title_field}__gte": v, f"{spec.title_field}__lt": v + _TOP})
        rows = qs.filter(q).order_by(spec.title_field).values_list("pk", spec.title_field, spec.recency_field)
        return [self.row(r) for r in rows[:limit] if (r[1] or "").lower().startswith(terms.needle)]

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
        if isinstance(recency, str):
            recency = parse_datetime(recency)
        if recency is not None and timezone.is_naive(recency):
            recency = timezone.make_aware(recency, UTC)
        return pk, title, recency


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
