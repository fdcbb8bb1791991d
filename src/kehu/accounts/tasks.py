"""Scheduled accounts jobs (CELERY_BEAT_SCHEDULE in settings/base.py): thin and idempotent."""

from __future__ import annotations

from celery import shared_task

from kehu.accounts import support_services


@shared_task(name="accounts.support_grants_expire")
def support_grants_expire() -> int:
    """Record (and audit) the end of support grants past their expiry. Sessions already stop at the expiry
    itself: the middleware checks the grant on every request."""
    return support_services.support_grants_expire()
