"""The per-organisation configuration cache (kehu.core.org_cache): a committed change gives a new version, the
writer reads its own uncommitted change from the database, a rolled-back one changes nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from kehu.core import org_cache

pytestmark = pytest.mark.django_db


def loader():
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    return load


def test_a_committed_change_is_read_again_and_the_writer_reads_its_own_before(django_capture_on_commit_callbacks):
    load = loader()
    assert org_cache.get("test", 1, load) == 1
    assert org_cache.get("test", 1, load) == 1  # kept
    assert org_cache.get("test", 2, load) == 2  # per organisation
    with django_capture_on_commit_callbacks(execute=True):
        org_cache.changed("test", 1)
        assert org_cache.get("test", 1, load) == 3  # the uncommitted change, from the database
        assert org_cache.get("test", 1, load) == 4  # and nothing stored meanwhile
    assert org_cache.get("test", 1, load) == 5  # committed: a new version
    assert org_cache.get("test", 1, load) == 5
    assert org_cache.get("test", 2, load) == 2  # the other organisation's stays


def test_a_rolled_back_change_leaves_the_cached_value():
    load = loader()
    assert org_cache.get("test", 1, load) == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        org_cache.changed("test", 1)
        assert org_cache.get("test", 1, load) == 2
        raise RuntimeError
    assert org_cache.get("test", 1, load) == 1
