"""The pipeline summary's figures per owner, kept in the cache until an opportunity of the organisation changes.

The summary (counts and sums per stage and currency: the board's column headers and
GET /pipelines/{id}/summary/) adds up every open opportunity of the pipeline and those closed in the
last 30 days. Even from covering indexes (salesperf_indexes.py) that is 150,000 + 60,000 rows to add up at
500,000 opportunities: 250–450 ms of PostgreSQL's time on this shared machine for a manager or the
administrator (benchmarks/RESULTS.md, "Sales at scale (session 3)"). So the organisation's figures are
computed once, grouped by owner as well, and kept in the cache; each reader adds up the owners their data
scope covers, in Python (a few hundred rows at most). One computation serves every user of the
organisation.

Freshness: the opportunity services call `opportunities_changed` on every change (a new version key,
at once and again when the transaction commits, so that a reader between the two cannot keep what it read
before the commit); writes that bypass the services (the seed, the demo data) are caught by the entries'
lifetime, SUMMARY_SECONDS, which also moves the 30-day window on. With Redis (production) every process
sees the new version at once; with the local-memory cache (embedded) only the process that changed the
opportunity does, the others within SUMMARY_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction

SUMMARY_SECONDS = 30


def _version_key(organization_id: int) -> str:
    return f"kehu:sales:opportunity-summary-version:{organization_id}"


def _bump(organization_id: int) -> None:
    cache.set(_version_key(organization_id), time.time_ns(), None)


def opportunities_changed(organization_id: int) -> None:
    """The organisation's opportunities changed: cached summaries no longer count (call inside the change's
    transaction; it takes effect at once and again after the commit)."""
    _bump(organization_id)
    transaction.on_commit(lambda: _bump(organization_id))


def cached_figures(
    *, organization_id: int, pipeline: Any, closed_days: int, compute: Callable[[], list[tuple]]
) -> list[tuple]:
    """The organisation's rows for the pipeline from the cache, or `compute()`d and kept."""
    version = cache.get(_version_key(organization_id))
    if version is None:
        cache.add(_version_key(organization_id), time.time_ns(), None)
        version = cache.get(_version_key(organization_id), 0)
    # The pipeline's creation time too: ids come back after a rolled-back transaction (tests, SQLite).
    created = int(pipeline.created_at.timestamp() * 1_000_000) if pipeline.created_at else 0
    key = f"kehu:sales:opportunity-summary:{organization_id}:{pipeline.pk}:{created}:{closed_days}:{version}"
    rows = cache.get(key)
    if rows is None:
        rows = compute()
        cache.set(key, rows, SUMMARY_SECONDS)
    return rows
