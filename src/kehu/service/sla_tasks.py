"""Scheduled SLA job (CELERY_BEAT_SCHEDULE in settings/base.py: every minute). Thin and idempotent: it
calls the sweep, which claims every warning and escalation with a conditional update, so a retried or
doubled run acts on nothing twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from kehu.service.sla_sweep import sla_sweep


@shared_task(name="service.sla_sweep", ignore_result=True)
def sla_sweep_task(organization_id: int | None = None) -> dict[str, Any]:
    """Warn before SLA breaches and escalate the breached tickets (every organisation, or one)."""
    return sla_sweep(organization_id=organization_id).as_dict()
