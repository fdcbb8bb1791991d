"""Trigram indexes for the lead search (installed by migration 0010_salesrate, PostgreSQL only; dropped by
0011_salesgrams, whose search columns and indexes replace them: kehu/sales/search.py. Kept for the migrations
that install and reverse them).

The lead list and the global search (lead_selectors.search_q) look for a fragment with Django's
`icontains` (`UPPER(column::text) LIKE UPPER('%fragment%')`) in the name and company, `contains` in the
normalised email and, for 4+ digits, the normalised phone. pg_trgm GIN indexes on exactly those expressions
turn the four ORs into a BitmapOr of index scans for fragments of 3+ characters: a fragment that matches no
lead took 4.7 ms instead of walking every lead newest first (0.7–1.6 s at 100,000 leads;
benchmarks/RESULTS.md, session 4). Shorter fragments still walk (they match too many rows for an index to help).

Not indexed: the opportunity, quote and order searches. They OR their own column with the customer's name
through a join, and with one column PostgreSQL's estimate for `LIKE '%x%'` (about 1% of the rows) still made
it walk the newest rows for ten matches rather than use a trigram index (tried: EXPLAIN showed the index
unused, 0.6–1.1 s for a rare fragment); those searches need a rewrite (a union of index searches) before an
index pays for its writes. SQLite has no trigram operator class.
"""

from __future__ import annotations

from typing import Any

# name: (table, indexed expression)
INDEXES = {
    "lead_name_trgm": ("sales_lead", "upper(name::text)"),
    "lead_company_trgm": ("sales_lead", "upper(company::text)"),
    "lead_email_trgm": ("sales_lead", "(email_normalized::text)"),
    "lead_phone_trgm": ("sales_lead", "(phone_normalized::text)"),
}


def install(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, (table, expression) in INDEXES.items():
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
                f"USING gin ({expression} gin_trgm_ops) WHERE deleted_at IS NULL"
            )
        # The planner's estimates for the indexed expressions come from the table's statistics.
        cursor.execute("ANALYZE sales_lead")


def uninstall(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
