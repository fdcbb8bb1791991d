"""Saved views of lists: services and selectors, generic over record types.

A list registers what a view of it may hold (once, in its app's `ready()`):

    saved_views.register_list("customers.customer", columns=lambda organization: {...}, orderings={...})

and then offers tabs of `saved_view_list_for(actor=, record_type=)`, saves the current state with
`saved_view_create(...)`, and opens `default_for(actor=, record_type=)` when the user brings no state of
their own. A view is personal (its owner's) or shared with the whole organisation; either way it never
leaves the organisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.custom_fields import get_record_type, record_types_for
from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.saved_view_models import SavedView, SavedViewDefault
from kehu.core.services import require, validate

NAME_MAX = 100
COLUMNS_MAX = 40
FIELDS = ("name", "filters", "ordering", "columns", "shared")


@dataclass(frozen=True)
class ListSpec:
    record_type: str
    columns: Callable[[Any], Iterable[str]]  # (organization) -> the column keys the list can show
    orderings: frozenset[str]  # accepted sort terms, "-" prefixes included
    model: type | None = None  # the records listed; default: the custom-field record type's model


_lists: dict[str, ListSpec] = {}


def register_list(
    record_type: str,
    *,
    columns: Callable[[Any], Iterable[str]],
    orderings: Iterable[str],
    model: type | None = None,
) -> None:
    """Let `record_type`'s list keep saved views. A list whose records take no custom fields (quotes,
    orders) names its `model`: who may see it, and who administers its shared views, follow from it."""
    _lists[record_type] = ListSpec(record_type, columns, frozenset(orderings), model)


def list_model(record_type: str) -> type | None:
    """The model a saved view's list shows (None: no such list)."""
    spec = _lists.get(record_type)
    if spec is not None and spec.model is not None:
        return spec.model
    found = get_record_type(record_type)
    return found.model if found is not None else None


def _lists_for(actor: Any) -> list[str]:
    """The record types of lists the actor may open."""
    from kehu.core.permissions import can

    keys = {rt.key for rt in record_types_for(actor)}
    keys |= {key for key, spec in _lists.items() if spec.model is not None and can(actor, "view", spec.model)}
    return sorted(keys)


def _error(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {message}", fields={name: [message]})


def _check(view: SavedView) -> None:
    spec = _lists.get(view.record_type)
    if spec is None or list_model(view.record_type) is None:
        raise _error("record_type", _("Choose a list that keeps saved views."))
    view.name = (view.name or "").strip()
    if not view.name:
        raise _error("name", _("Enter a name for the view."))
    if not isinstance(view.filters, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool | list) for k, v in view.filters.items()
    ):
        raise _error("filters", _("Filters must be an object of filter names and values."))
    view.ordering = (view.ordering or "").strip()
    if view.ordering and view.ordering not in spec.orderings:
        raise _error("ordering", _("Sort by one of: %(fields)s.") % {"fields": ", ".join(sorted(spec.orderings))})
    if not isinstance(view.columns, list) or not all(isinstance(c, str) for c in view.columns):
        raise _error("columns", _("Columns must be a list of column names."))
    view.columns = list(dict.fromkeys(view.columns))[:COLUMNS_MAX]
    known = set(spec.columns(view.organization_id))
    unknown = [c for c in view.columns if c not in known]
    if unknown:
        raise _error("columns", _("Unknown columns: %(names)s.") % {"names": ", ".join(unknown)})
    validate(view, exclude=["organization", "owner", "created_by", "updated_by"])


# Reads -----------------------------------------------------------------------------------------------


def saved_view_list_for(*, actor: Any, record_type: str | None = None) -> models.QuerySet[SavedView]:
    """The actor's own views and the organisation's shared ones, of lists the actor may open."""
    allowed = _lists_for(actor)
    qs = SavedView.objects.visible_to(actor).filter(record_type__in=allowed)
    if record_type:
        qs = qs.filter(record_type=record_type)
    return qs.select_related("owner").order_by("-shared", "name", "id")


def saved_view_get_for(*, actor: Any, pk: Any) -> SavedView:
    try:
        return saved_view_list_for(actor=actor).get(pk=int(pk))
    except (TypeError, ValueError, SavedView.DoesNotExist) as exc:
        raise NotFound() from exc


def default_for(*, actor: Any, record_type: str) -> SavedView | None:
    """The view the actor chose to open the list with, if they may still see it."""
    row = SavedViewDefault.objects.filter(
        organization_id=actor.organization_id, user_id=actor.pk, record_type=record_type
    ).first()
    if row is None:
        return None
    return saved_view_list_for(actor=actor, record_type=record_type).filter(pk=row.view_id).first()


def default_ids_for(*, actor: Any) -> set[int]:
    return set(
        SavedViewDefault.objects.filter(organization_id=actor.organization_id, user_id=actor.pk).values_list(
            "view_id", flat=True
        )
    )


# Writes ----------------------------------------------------------------------------------------------


@transaction.atomic
def saved_view_create(
    *,
    actor: Any,
    record_type: str,
    name: str,
    filters: dict[str, Any] | None = None,
    ordering: str = "",
    columns: list[str] | None = None,
    shared: bool = False,
) -> SavedView:
    view = SavedView(
        organization_id=actor.organization_id,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        record_type=record_type,
        name=name,
        filters=filters or {},
        ordering=ordering or "",
        columns=columns or [],
        shared=bool(shared),
    )
    _check(view)
    require(actor, "create", view)
    view.save()
    audit.record(
        actor=actor,
        action="saved_view.create",
        target=view,
        changes={name: getattr(view, name) for name in ("record_type", *FIELDS)},
    )
    return view


@transaction.atomic
def saved_view_update(
    *, actor: Any, view: SavedView, data: dict[str, Any], expected_version: int | None = None
) -> SavedView:
    """Rename, share or unshare, or replace the saved state with the list's current one."""
    require(actor, "edit", view)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: [_("This field cannot be set here.")] for name in unknown})
    if expected_version is not None and expected_version != view.version:
        raise VersionConflict()
    before = audit.snapshot(view, data.keys())
    for name, value in data.items():
        setattr(view, name, value)
    _check(view)
    changes = audit.diff(before, audit.snapshot(view, data.keys()))
    if not changes:
        return view
    if "shared" in changes and not view.shared and view.owner_id != actor.pk:
        # An administrator un-sharing a colleague's view would make it vanish for them too: refuse.
        raise _error("shared", _("Only the owner can make a shared view personal again."))
    now = timezone.now()
    updated = SavedView.objects.filter(pk=view.pk, version=view.version).update(
        **{name: getattr(view, name) for name in changes},
        version=view.version + 1,
        updated_at=now,
        updated_by_id=actor.pk,
    )
    if updated != 1:
        raise VersionConflict()
    view.version += 1
    if "shared" in changes and not view.shared:
        # Colleagues who had it as their default lose it with their access.
        SavedViewDefault.objects.filter(organization_id=view.organization_id, view=view).exclude(
            user_id=view.owner_id
        ).delete()
    audit.record(actor=actor, action="saved_view.update", target=view, changes=changes)
    return view


@transaction.atomic
def saved_view_delete(*, actor: Any, view: SavedView) -> None:
    require(actor, "delete", view)
    audit.record(
        actor=actor, action="saved_view.delete", target=view, changes={"name": view.name, "shared": view.shared}
    )
    view.delete()


@transaction.atomic
def saved_view_set_default(*, actor: Any, record_type: str, view: SavedView | None) -> None:
    """Open the list with `view` from now on (None: with no view, the plain list)."""
    if view is not None:
        require(actor, "view", view)
        record_type = view.record_type
    SavedViewDefault.objects.filter(
        organization_id=actor.organization_id, user_id=actor.pk, record_type=record_type
    ).delete()
    if view is not None:
        SavedViewDefault.objects.create(
            organization_id=actor.organization_id, user_id=actor.pk, record_type=record_type, view=view
        )
