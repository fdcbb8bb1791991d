"""Scheduled activity jobs (CELERY_BEAT_SCHEDULE in settings/base.py; imported by SalesConfig.ready, since
Celery's autodiscovery looks for `tasks.py` only). Thin and idempotent: running it twice, or twice at
once, notifies each reminder once (the service claims each one before it notifies)."""

from __future__ import annotations

from celery import shared_task

from kehu.sales import activity_services


@shared_task(name="sales.activity_reminders")
def activity_reminders() -> int:
    """Remind owners of the planned activities whose reminder time has come (in the app and by email)."""
    return activity_services.activity_reminders_send()
