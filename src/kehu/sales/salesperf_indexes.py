"""The pipeline summary's two covering indexes (installed by migration 0008_salesperf).

`opportunity_selectors.board_summary_for` (the board's column headers and GET /pipelines/{id}/summary/)
counts and adds up a pipeline's opportunities per stage and currency in two grouped queries:

- the open ones: `opp_board_open` (organization, pipeline, owner, stage) over live open rows, carrying
  currency, amount and probability, so that the aggregate is an index-only scan; the owner comes before
  the stage so that a rep's own summary reads only their entries (a manager's and the administrator's
  read the pipeline's);
- the ones closed in the board's window (30 days): `opp_board_closed` (organization, pipeline, closed_at)
  over live won and lost rows, carrying owner, stage, currency, amount and probability.

With one query (`status = 'open' OR closed_at >= ...`) no index could serve the summary: a parallel
sequential scan of all 500,000 opportunities as a manager (~250 ms under load; benchmarks/RESULTS.md).
Partial indexes with INCLUDE columns on PostgreSQL, plain partial indexes on SQLite, kept in one module
as forecast_indexes.py and salesbench_indexes.py are.
"""

from __future__ import annotations

from typing import Any

# name: (key columns, INCLUDE columns on PostgreSQL, condition)
INDEXES = {
    "opp_board_open": (
        "organization_id, pipeline_id, owner_id, stage_id",
        "currency, amount, probability",
        "deleted_at IS NULL AND status = 'open'",
    ),
    "opp_board_closed": (
        "organization_id, pipeline_id, closed_at",
        "owner_id, stage_id, currency, amount, probability",
        "deleted_at IS NULL AND status IN ('won', 'lost')",
    ),
}


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name, (keys, included, condition) in INDEXES.items():
            include = f" INCLUDE ({included})" if connection.vendor == "postgresql" else ""
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON sales_opportunity ({keys}){include} WHERE {condition}"
            )


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
