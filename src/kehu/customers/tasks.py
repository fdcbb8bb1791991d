"""Scheduled customers jobs (CELERY_BEAT_SCHEDULE in settings/base.py). Thin and idempotent: each calls
one service, and running it twice changes nothing the first run did not."""

from __future__ import annotations

from celery import shared_task

from kehu.customers import pool


@shared_task(name="customers.pool_recycle")
def pool_recycle(organization_id: int | None = None) -> int:
    """Return customers without follow-up for the organisation's N days to the public pool."""
    return pool.pool_recycle(organization_id=organization_id)


@shared_task(name="customers.recycle_bin_purge")
def recycle_bin_purge(organization_id: int | None = None) -> int:
    """Delete for good what lay in the recycle bin longer than the organisation's retention."""
    return pool.recycle_bin_purge_expired(organization_id=organization_id)
