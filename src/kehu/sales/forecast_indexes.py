"""The indexes the forecast reads, one per aggregate (installed by migration 0002_forecast).

- open pipeline by expected close date: (organization, status, expected_close_date);
- won by the time they were won: (organization, status, closed_at);

both over live rows only. On PostgreSQL they carry the columns the aggregates add up (owner, currency,
amount, probability) as INCLUDE columns, so that the forecast of a quarter is an index-only scan of that
quarter's entries: at 500,000 opportunities, reading 76,000 open rows of a quarter from the table took
~300 ms of heap visits on this machine; from the covering index a fraction of that. SQLite has no
covering indexes: there they are plain indexes (and Django's model indexes cannot declare INCLUDE
without a warning on SQLite, hence this module instead of Meta.indexes).

Index-only scans need the visibility map, which autovacuum keeps up to date; `kehu seed_sales` runs
VACUUM after its bulk load for the same reason.
"""

from __future__ import annotations

from typing import Any

TABLE = "sales_opportunity"
INDEXES = {
    "opp_forecast_open": ("organization_id, status, expected_close_date", "owner_id, currency, amount, probability"),
    "opp_forecast_closed": ("organization_id, status, closed_at", "owner_id, currency, amount"),
}


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name, (keys, included) in INDEXES.items():
            include = f" INCLUDE ({included})" if connection.vendor == "postgresql" else ""
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ({keys}){include} WHERE deleted_at IS NULL")


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
