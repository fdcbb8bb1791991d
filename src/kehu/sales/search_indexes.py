"""Trigram indexes for the sales searches (installed by migration 0010_salesrate, PostgreSQL only).

The searches are Django's `icontains` (`UPPER(column::text) LIKE UPPER('%fragment%')`) or `contains`
(`column::text LIKE '%fragment%'`) over the columns below: the lead list and the global search
(lead_selectors.search_q: name, company, email, phone digits), the opportunity list and board
(opportunity_selectors: name), quotes and orders (commerce_selectors: number, title). pg_trgm GIN indexes on
exactly those expressions serve fragments of 3+ characters without reading every row; shorter fragments
still scan (they match too many rows for an index to help). The lead search is one table, so its ORs become
a BitmapOr of these indexes; the opportunity, quote and order searches also match the customer's name
through a join (customers' own table and search, not indexed here), which an OR across two tables cannot
serve from indexes, so there they help only the planner's estimates. SQLite has no trigram operator class.
"""

from __future__ import annotations

from typing import Any

# name: (table, indexed expression)
INDEXES = {
    "lead_name_trgm": ("sales_lead", "upper(name::text)"),
    "lead_company_trgm": ("sales_lead", "upper(company::text)"),
    "lead_email_trgm": ("sales_lead", "(email_normalized::text)"),
    "lead_phone_trgm": ("sales_lead", "(phone_normalized::text)"),
    "opp_name_trgm": ("sales_opportunity", "upper(name::text)"),
    "quote_number_trgm": ("sales_quote", "upper(number::text)"),
    "quote_title_trgm": ("sales_quote", "upper(title::text)"),
    "order_number_trgm": ("sales_order", "upper(number::text)"),
    "order_title_trgm": ("sales_order", "upper(title::text)"),
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


def uninstall(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
