"""Indexes the sales benchmark at scale showed missing (installed by migration 0007_salesbench).

- the pipeline summary and the kanban board's column headers (counts and sums per stage of one pipeline's
  open and recently closed opportunities): (organization, pipeline, status, stage), carrying on PostgreSQL
  the columns the aggregate reads (owner for the visibility scope, amount, probability, closed_at) as
  INCLUDE columns, so that it is an index-only scan instead of visits to 150,000 table rows;
- "my day"'s done-today bucket: the owner's activities done since the start of the day, (organization,
  owner, done_at) over live done ones. Without it the bucket read all of the owner's activities (100,000
  at 2,000,000 activities and 20 reps: ~370 ms); with it a few ms.

SQLite has no covering indexes: there they are plain partial indexes (hence this module instead of
Meta.indexes, as in forecast_indexes.py).
"""

from __future__ import annotations

from typing import Any

# name: (table, key columns, INCLUDE columns on PostgreSQL, condition)
INDEXES = {
    "opp_pipeline_summary": (
        "sales_opportunity",
        "organization_id, pipeline_id, status, stage_id",
        "owner_id, amount, probability, closed_at",
        "deleted_at IS NULL",
    ),
    "act_org_owner_done": (
        "sales_activity",
        "organization_id, owner_id, done_at",
        "",
        "deleted_at IS NULL AND status = 'done'",
    ),
}


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name, (table, keys, included, condition) in INDEXES.items():
            include = f" INCLUDE ({included})" if included and connection.vendor == "postgresql" else ""
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({keys}){include} WHERE {condition}")


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
