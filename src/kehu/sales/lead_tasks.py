"""Scheduled lead jobs (CELERY_BEAT_SCHEDULE in settings/base.py). Thin and idempotent: a re-assigned lead
was just touched, so running the job twice re-assigns nothing more."""

from __future__ import annotations

from celery import shared_task

from kehu.sales import lead_services


@shared_task(name="sales.leads_reassign_stale")
def leads_reassign_stale(organization_id: int | None = None, days: int | None = None) -> int:
    """Re-apply the assignment rules to open leads untouched for each organisation's N days (its setting)."""
    return lead_services.leads_reassign_stale(organization_id=organization_id, days=days)
