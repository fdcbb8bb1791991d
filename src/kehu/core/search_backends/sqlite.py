"""SQLite: FTS5 tables with the trigram tokenizer (SQLite 3.34+).

The trigram tokenizer silently finds nothing for fragments under 3 characters, and Chinese users search
by one or two (张, 华为). So a second FTS5 trigram table indexes the names with every character written
three times ("华为" -> "华华华为为为"): a 1- or 2-character fragment, tripled the same way, is 3 or 6
characters long, and it occurs in the tripled names exactly when the fragment occurs in the names (an
occurrence cannot straddle two characters' triples unless the names hold the fragment anyway). Walking
the newest rows still answers the common fragments; the table answers the rare ones, which a LIKE over
every row answered in about half a second at 100,000 customers.

Triggers cannot compute the tripled text in SQL (no per-character functions, and no WITH clause inside a
trigger), so `kehu_tripled()` is a Python function registered on every SQLite connection
(`register_functions`, connected to `connection_created` by the core app).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from kehu.core.search_backends import SearchBackend, SearchSpec, Terms


def fts_phrase(needle: str) -> str:
    """An FTS5 query matching `needle` as one phrase: with the trigram tokenizer, a substring."""
    return '"' + needle.replace('"', '""') + '"'


def tripled(text: str | None) -> str:
    """Every character three times: the form the short-fragment table indexes and is searched with."""
    return "".join(ch * 3 for ch in text or "")


def register_functions(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """connection_created: the SQL functions the search triggers call."""
    if connection is not None and connection.vendor == "sqlite":
        connection.connection.create_function("kehu_tripled", 1, tripled, deterministic=True)


class SqliteSearchBackend(SearchBackend):
    vendor = "sqlite"

    def filter(self, qs: QuerySet, terms: Terms, spec: SearchSpec) -> QuerySet:
        if terms.short:
            if not spec.short_fts_table:
                return super().filter(qs, terms, spec)
            table, needle = spec.short_fts_table, tripled(terms.needle)
        elif spec.fts_table:
            table, needle = spec.fts_table, terms.needle
        else:
            return super().filter(qs, terms, spec)
        # The table name comes from the spec (code), the query is a bound parameter.
        sql = f"SELECT rowid FROM {table} WHERE {table} MATCH %s"  # noqa: S608
        qs = qs.filter(pk__in=RawSQL(sql, [fts_phrase(needle)]))  # noqa: S611
        if terms.mode == "names" and not terms.short:  # "123": the trigram index narrows, the names decide
            qs = qs.filter(self.predicate(terms, spec))
        return qs
