"""An organisation's configuration (SLA policies and calendars, option lists, custom field definitions) kept in
Django's cache until it changes, for code that reads it for every record it writes: the e-mail intake read
the same policies, calendars, ticket types and field definitions for every message (benchmarks/RESULTS.md,
"E-mail intake rate (session 4, intakerate)").

    lookups = org_cache.get("sla", organization_id, lambda: load(organization_id))
    org_cache.changed("sla", organization_id)  # in the transaction of every write of that configuration

Freshness: each (name, organisation) has a version key; an entry is served only while it was filled under
the current version. `changed` gives a new version when the writing transaction commits; until then the
writing thread reads from the database (its own uncommitted change) and stores nothing, and every other
reader keeps the committed configuration, which is still right. A value filled while the change commits is
stored under the version read before loading it, so it is never taken for the changed configuration. With
Redis (production) every process sees the new version at once; with the local-memory cache (embedded) only
the process that made the change does, the others (the SMTP daemon, a worker) within ENTRY_SECONDS. Writes
that bypass the services are caught by the callers' post_save/post_delete receivers, or by that lifetime.

Values are pickled by the cache: model instances (with their select_related and prefetched objects),
dataclasses and lazy translations are fine. Each process also keeps the values it read, with the version
and the time they were read, so that a read while nothing changed is one small cache read (the version)
instead of unpickling the value again (an organisation's option lists with their lazy labels took ~7 ms).
Callers get the same objects each time and must not change them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

ENTRY_SECONDS = 60
T = TypeVar("T")
_local = threading.local()
# (name, organisation) -> (version, value, until): what this process read, served until the cache's copy
# expires too (the local-memory cache of another process sees no bump).
_memo: dict[tuple[str, int], tuple[Any, Any, float]] = {}


def _changing() -> set[tuple[str, int]]:
    """(name, organisation) that this thread changed in a transaction not committed yet (or rolled back: see
    _pending)."""
    if not hasattr(_local, "changing"):
        _local.changing = set()
    return _local.changing


def _pending(key: tuple[str, int]) -> bool:
    """The change of `key` still waits for its commit: its callback is in the connection's list, which a
    rollback (of the transaction or of the savepoint it was made in) empties."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and any(
        getattr(entry[1], "org_cache_key", None) == key for entry in connection.run_on_commit
    )


def _version_key(name: str, organization_id: int) -> str:
    return f"kehu:org-config-version:{name}:{organization_id}"


def _value_key(name: str, organization_id: int) -> str:
    return f"kehu:org-config:{name}:{organization_id}"


def changed(name: str, organization_id: int) -> None:
    """The organisation's `name` configuration changed (call inside the change's transaction)."""
    key = (name, organization_id)
    if transaction.get_connection().in_atomic_block:
        _changing().add(key)

    def committed() -> None:
        _changing().discard(key)
        cache.set(_version_key(name, organization_id), time.time_ns(), None)

    committed.org_cache_key = key  # type: ignore[attr-defined]
    transaction.on_commit(committed)


def get(name: str, organization_id: int, load: Callable[[], T]) -> T:
    """The organisation's `name` configuration: from the cache (one cache read) while it has not changed,
    else `load()`ed and stored."""
    key = (name, organization_id)
    if key in _changing():
        if _pending(key):
            return load()
        _changing().discard(key)  # that transaction was rolled back: nothing to hide any more
    version_key, value_key = _version_key(name, organization_id), _value_key(name, organization_id)
    version = cache.get(version_key)
    if version is None:
        cache.add(version_key, time.time_ns(), None)
        version = cache.get(version_key, 0)
    now = time.time()
    memo = _memo.get(key)
    if memo is not None and memo[0] == version and memo[2] > now:
        return memo[1]
    stored = cache.get(value_key)
    if stored is not None and stored[0] == version and stored[2] > now:
        memo = stored
    else:
        memo = (version, load(), now + ENTRY_SECONDS)
        cache.set(value_key, memo, ENTRY_SECONDS)
    _memo[key] = memo
    return memo[1]
