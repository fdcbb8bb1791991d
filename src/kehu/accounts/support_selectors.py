"""Reads of support access grants, for the organisation's administrators (from `visible_to(actor)`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from kehu.accounts.models import SupportGrant, User
from kehu.core.errors import NotFound


def support_grant_list_for(*, actor: User) -> QuerySet[SupportGrant]:
    """The organisation's grants, newest first (administrators only; anyone else gets none)."""
    return SupportGrant.objects.visible_to(actor).select_related("granted_by", "ended_by")


def support_grant_get_for(*, actor: User, pk: Any) -> SupportGrant:
    try:
        return support_grant_list_for(actor=actor).get(pk=int(pk))
    except (ValueError, TypeError, SupportGrant.DoesNotExist) as exc:
        raise NotFound() from exc
