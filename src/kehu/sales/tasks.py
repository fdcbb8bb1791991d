"""Scheduled sales jobs: each topic keeps its tasks in `<topic>_tasks.py`, imported here so that Celery's
autodiscovery (which reads `tasks.py`) registers them."""

from kehu.sales import commerce_tasks  # noqa: F401
