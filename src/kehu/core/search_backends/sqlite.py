"""SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+) for fragments of 3+ characters.

The trigram tokenizer silently finds nothing for fragments under 3 characters, so those are answered by
a LIKE over the names of the queryset's rows, newest first, which stops as soon as it has enough (the
embedded database holds one organisation of tens of thousands of customers, not millions).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from kehu.core.search_backends import SearchBackend, SearchSpec, Terms


def fts_phrase(needle: str) -> str:
    """An FTS5 query matching `needle` as one phrase: with the trigram tokenizer, a substring."""
    return '"' + needle.replace('"', '""') + '"'


class SqliteSearchBackend(SearchBackend):
    vendor = "sqlite"

    def filter(self, qs: QuerySet, terms: Terms, spec: SearchSpec) -> QuerySet:
        if terms.short or not spec.fts_table:
            return super().filter(qs, terms, spec)
        # The table name comes from the spec (code), the query is a bound parameter.
        sql = f"SELECT rowid FROM {spec.fts_table} WHERE {spec.fts_table} MATCH %s"  # noqa: S608
        matching = RawSQL(sql, [fts_phrase(terms.needle)])  # noqa: S611
        qs = qs.filter(pk__in=matching)
        if terms.mode == "names":  # "123": the trigram index narrows, the names decide
            qs = qs.filter(self.predicate(terms, spec))
        return qs
