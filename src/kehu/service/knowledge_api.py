"""knowledge routes of /api/v1/ (collected by service/api.py)."""

from typing import Any

ROUTES: list[tuple[str, Any, str]] = []
