"""Kehu CRM (客户)."""

from kehu.celery import app as celery_app

__all__ = ["celery_app"]
