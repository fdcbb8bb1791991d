"""The Celery application; tasks are thin wrappers that call services."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.embedded")

app = Celery("kehu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
