"""The pipeline summary's figures per owner, kept in the cache until one of that owner's opportunities changes.

The summary (counts and sums per stage and currency: the board's column headers and
GET /pipelines/{id}/summary/) adds up every open opportunity of the pipeline and those closed in the
last 30 days. Even from covering indexes (salesperf_indexes.py) that is 150,000 + 60,000 rows to add up at
500,000 opportunities: 250–450 ms of PostgreSQL's time on a shared machine for a manager or the
administrator (benchmarks/RESULTS.md, "Sales at scale (session 3)"). So the figures are kept in the cache
per owner (one entry per pipeline, owner and window); each reader adds up the owners its data scope covers,
in Python (a few hundred rows at most). One computation serves every user of the organisation.

Freshness: the opportunity services call `opportunities_changed` with the owners whose figures a change
moves (the opportunity's owner; the previous one too when it is reassigned): those owners get a new version
key, at once and again when the transaction commits (a reader between the two cannot keep what it read
before the commit). Only their entries are computed again, from the covering indexes' entries of those
owners: a rep's move recounts that rep's ~7,500 open opportunities, not the organisation's 150,000 (it was
one organisation-wide entry, ~0.4 s to recompute after any change). `opportunities_changed` without owners
(and an organisation-wide version in every key) drops everything of the organisation. Writes that bypass the
services (the seed, the demo data) are caught by the entries' lifetime, SUMMARY_SECONDS, which also moves
the 30-day window on. With Redis (production) every process sees the new versions at once; with the
local-memory cache (embedded) only the process that changed the opportunity does, the others within
SUMMARY_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

SUMMARY_SECONDS = 30
# The key part of the opportunities without an owner (they count for the scopes that cover everything).
NO_OWNER = "none"


def _version_key(organization_id: int, owner: Any = "*") -> str:
    return f"kehu:sales:opportunity-summary-version:{organization_id}:{NO_OWNER if owner is None else owner}"


def _bump(keys: list[str]) -> None:
    now = time.time_ns()
    cache.set_many(dict.fromkeys(keys, now), None)


def opportunities_changed(organization_id: int, owner_ids: Iterable[int | None] | None = None) -> None:
    """Opportunities of these owners (None: of anyone in the organisation) changed: their cached figures no
    longer count. Call inside the change's transaction; it takes effect at once and again after the commit."""
    if owner_ids is None:
        keys = [_version_key(organization_id)]
    else:
        keys = [_version_key(organization_id, owner) for owner in dict.fromkeys(owner_ids)]
    _bump(keys)
    transaction.on_commit(lambda: _bump(keys))


def _versions(keys: list[str]) -> dict[str, Any]:
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        now = time.time_ns()
        for key in missing:
            cache.add(key, now, None)  # another process may have set it first: read what is there
        found.update(cache.get_many(missing))
        found.update({key: 0 for key in missing if key not in found})
    return found


def cached_figures(
    *,
    organization_id: int,
    pipeline: Any,
    closed_days: int,
    owner_ids: list[int | None],
    compute: Callable[[list[int | None]], list[tuple]],
) -> list[tuple]:
    """The rows (owner id first) of `owner_ids` for the pipeline: from the cache for the owners whose figures
    did not change since they were kept, `compute(owners)`d (one query per part) for the others, and kept."""
    whole = _version_key(organization_id)
    version_keys = {owner: _version_key(organization_id, owner) for owner in owner_ids}
    versions = _versions([whole, *version_keys.values()])
    # The pipeline's creation time too: ids come back after a rolled-back transaction (tests, SQLite).
    created = int(pipeline.created_at.timestamp() * 1_000_000) if pipeline.created_at else 0
    prefix = f"kehu:sales:opportunity-summary:{organization_id}:{pipeline.pk}:{created}:{closed_days}:{versions[whole]}"
    entry_keys = {
        owner: f"{prefix}:{NO_OWNER if owner is None else owner}:{versions[version_keys[owner]]}" for owner in owner_ids
    }
    found = cache.get_many(list(entry_keys.values()))
    rows: list[tuple] = []
    stale = []
    for owner, key in entry_keys.items():
        if key in found:
            rows.extend(found[key])
        else:
            stale.append(owner)
    if stale:
        # The versions were read before the figures: a change committed meanwhile has a newer version, so
        # what is kept here is never taken for the changed figures.
        computed: dict[Any, list[tuple]] = {owner: [] for owner in stale}
        for row in compute(stale):
            computed[row[0]].append(row)
        cache.set_many({entry_keys[owner]: owner_rows for owner, owner_rows in computed.items()}, SUMMARY_SECONDS)
        for owner_rows in computed.values():
            rows.extend(owner_rows)
    return rows
