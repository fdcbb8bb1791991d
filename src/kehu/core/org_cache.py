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
dataclasses and lazy translations are fine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

ENTRY_SECONDS = 60
T = TypeVar("T")
_local = threading.local()


def _changing() -> set[tuple[str, int]]:
    """(name, organisation) that this thread changed in a transaction not committed yet."""
    if not hasattr(_local, "changing"):
        _local.changing = set()
    return _local.changing


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

    transaction.on_commit(committed)


def get(name: str, organization_id: int, load: Callable[[], T]) -> T:
    """The organisation's `name` configuration: from the cache (one cache read) while it has not changed,
    else `load()`ed and stored."""
    key = (name, organization_id)
    if key in _changing():
        if transaction.get_connection().in_atomic_block:
            return load()
        _changing().discard(key)  # that transaction was rolled back: nothing to hide any more
    version_key, value_key = _version_key(name, organization_id), _value_key(name, organization_id)
    found = cache.get_many([version_key, value_key])
    version = found.get(version_key)
    if version is None:
        cache.add(version_key, time.time_ns(), None)
        version = cache.get(version_key, 0)
    stored = found.get(value_key)
    if stored is not None and stored[0] == version:
        return stored[1]
    value = load()
    cache.set(value_key, (version, value), ENTRY_SECONDS)
    return value
