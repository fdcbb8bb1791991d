"""lead routes of /api/v1/ (collected by sales/api.py)."""

from typing import Any

ROUTES: list[tuple[str, Any, str]] = []
