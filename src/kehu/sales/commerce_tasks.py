"""Scheduled commerce jobs (CELERY_BEAT_SCHEDULE in settings/base.py). Thin and idempotent: each calls one
service, and running it twice changes nothing the first run did not."""

from __future__ import annotations

from celery import shared_task

from kehu.sales import commerce_services


@shared_task(name="sales.quotes_expire")
def quotes_expire(organization_id: int | None = None) -> int:
    """Mark sent quotes whose validity ended (in each organisation's time zone) as expired."""
    return commerce_services.quotes_expire_due(organization_id=organization_id)
