"""Helpers every module's services use: permission checks, validated saves, optimistic locking."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from kehu.core import audit
from kehu.core.errors import NotFound, PermissionDenied, VersionConflict, validation_error_from_django
from kehu.core.permissions import can


def require(actor: Any, action: str, target: Any) -> None:
    """Raise unless `can(actor, action, target)`. A record the actor cannot see is NotFound, never 403."""
    if can(actor, action, target):
        return
    if isinstance(target, models.Model) and not can(actor, "view", target):
        raise NotFound()
    raise PermissionDenied()


def validate(instance: models.Model, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_error_from_django(exc) from exc


def apply_changes(instance: models.Model, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set `data` on `instance`; return the audit diff of what really changed."""
    before = audit.snapshot(instance, data.keys())
    for name, value in data.items():
        setattr(instance, name, value)
    return audit.diff(before, audit.snapshot(instance, data.keys()))


def save_versioned(instance: models.Model, *, actor: Any, expected_version: int | None, fields: list[str]) -> None:
    """Save `fields` only if nobody changed the row since `expected_version` was read.

    The version check and the increment are one UPDATE, so two concurrent saves cannot both win.
    """
    now = timezone.now()
    current = instance.version if expected_version is None else expected_version
    model = type(instance)
    values = {f: getattr(instance, model._meta.get_field(f).attname) for f in fields}
    updated = model.objects.filter(pk=instance.pk, version=current, deleted_at__isnull=True).update(
        **{model._meta.get_field(f).attname: v for f, v in values.items()},
        version=current + 1,
        updated_at=now,
        updated_by_id=actor.pk,
    )
    if updated != 1:
        raise VersionConflict()
    instance.version, instance.updated_at, instance.updated_by_id = current + 1, now, actor.pk
