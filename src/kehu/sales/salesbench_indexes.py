"""Indexes the sales benchmark at scale showed missing (installed by migration 0007_salesbench).

- "my day"'s done-today bucket: the owner's activities done since the start of the day, (organization,
  owner, done_at) over live done ones. Without it the bucket read all of the owner's activities (100,000
  at 2,000,000 activities and 20 reps: ~370 ms); with it a few ms.

- the assignment rules' caps and least-loaded choice (open leads held per rep): (organization, owner) over
  live open leads, carrying the id the count reads on PostgreSQL, so that counting a rep's 10,000 open leads
  is an index-only scan (~110 ms from the table on this loaded machine at 300,000 leads; see RESULTS.md).

Partial indexes with a condition on a status, kept in one module as forecast_indexes.py does (the models
belong to their topics; this migration only adds indexes).

Not here: a covering index (organization, pipeline, status, stage) INCLUDE (owner, amount, ...) for the
pipeline summary. The summary's real query (opportunity_selectors.board_summary_for) selects open OR
recently closed opportunities (`status = 'open' OR closed_at >= ...`), which no such index can serve: the
planner kept its sequential scan (manager) or owner bitmap scan (rep) with the index in place, so it would
only have cost writes. See benchmarks/RESULTS.md ("Sales at scale"). The summary is now two queries, each
with its own index: salesperf_indexes.py.
"""

from __future__ import annotations

from typing import Any

# name: (table, key columns, INCLUDE columns on PostgreSQL, condition)
INDEXES = {
    "lead_org_owner_open": (
        "sales_lead",
        "organization_id, owner_id",
        "id",
        "deleted_at IS NULL AND status IN ('new', 'contacted', 'qualified')",
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
