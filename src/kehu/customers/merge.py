"""Merging duplicate customers, and the one extension point for records of other modules.

A module whose records point at customers (opportunities, orders, tickets, ...) registers a handler once,
in its AppConfig.ready():

    from kehu.customers import merge
    merge.register(move_my_records)

`move_my_records(*, actor, survivor, others)` re-points its rows from each of `others` to `survivor`
(an UPDATE per table, organisation first in the filter) and returns how many rows it moved. It runs
inside the merge's transaction: raising aborts the whole merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.services import require, save_versioned
from kehu.customers import selectors
from kehu.customers.models import Contact, Customer, CustomerTag
from kehu.customers.pool_selectors import MAX_MERGE
from kehu.customers.services import _TRUSTED, CUSTOMER_FIELDS, _bump, _changed_fields, _set_and_diff

Handler = Callable[..., int]
# The fields a user picks per record; owner, tags and related records follow their own rules.
MERGE_FIELDS = CUSTOMER_FIELDS

_handlers: dict[str, Handler] = {}


def register(handler: Handler, *, name: str | None = None) -> Handler:
    """Add a handler that re-points a module's rows at the survivor; the same function again replaces it."""
    _handlers[name or f"{handler.__module__}.{handler.__qualname__}"] = handler
    return handler


def handlers() -> dict[str, Handler]:
    return dict(_handlers)


def move_contacts(*, actor: Any, survivor: Customer, others: list[Customer]) -> int:
    """Contacts move with their history. The survivor keeps one primary contact: its own if it has one."""
    org = survivor.organization_id
    moving = Contact.objects.filter(organization_id=org, customer__in=others)
    has_primary = Contact.objects.filter(
        organization_id=org, customer=survivor, is_primary=True, deleted_at__isnull=True
    ).exists()
    primaries = list(
        moving.filter(is_primary=True, deleted_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    keep = set() if has_primary else set(primaries[:1])
    Contact.objects.filter(pk__in=set(primaries) - keep).update(is_primary=False)
    return moving.update(customer=survivor, owner_id=survivor.owner_id, updated_at=timezone.now())


def move_tags(*, actor: Any, survivor: Customer, others: list[Customer]) -> int:
    """The survivor carries the union of the tags; the merged records' tag links are removed."""
    org = survivor.organization_id
    links = CustomerTag.objects.filter(organization_id=org, customer__in=others)
    have = set(CustomerTag.objects.filter(organization_id=org, customer=survivor).values_list("tag_id", flat=True))
    wanted = set(links.values_list("tag_id", flat=True)) - have
    CustomerTag.objects.bulk_create(
        [CustomerTag(organization_id=org, customer=survivor, tag_id=tag_id) for tag_id in sorted(wanted)]
    )
    links.delete()
    return len(wanted)


def move_notes_and_attachments(*, actor: Any, survivor: Customer, others: list[Customer]) -> int:
    """Notes and files keep their authors and times; they now belong to the survivor's history."""
    from kehu.customers.note_models import Attachment, Note

    org, now = survivor.organization_id, timezone.now()
    moved = Note.objects.filter(organization_id=org, customer__in=others).update(customer=survivor, updated_at=now)
    return moved + Attachment.objects.filter(organization_id=org, customer__in=others).update(
        customer=survivor, updated_at=now
    )


register(move_contacts, name="contacts")
register(move_tags, name="tags")
register(move_notes_and_attachments, name="notes")


def _check_choices(choices: dict[str, Any], records: dict[int, Customer]) -> dict[str, Customer]:
    unknown = sorted(set(choices) - set(MERGE_FIELDS))
    if unknown:
        message = _("These fields cannot be chosen: %(names)s") % {"names": ", ".join(unknown)}
        raise ValidationFailed(message, fields={"choices": [message]})
    picked = {}
    for name, pk in choices.items():
        try:
            record = records.get(int(pk))
        except (TypeError, ValueError):
            record = None
        if record is None:
            message = _("For %(field)s, choose one of the customers being merged.") % {"field": name}
            raise ValidationFailed(message, fields={"choices": [message]})
        picked[name] = record
    return picked


def _current_tag_names(customer: Customer) -> list[str]:
    """From the database: a prefetched `tags` cache would not see the links the merge just moved."""
    links = CustomerTag.objects.filter(organization_id=customer.organization_id, customer=customer)
    return sorted(links.values_list("tag__name", flat=True))


@transaction.atomic
def customer_merge(
    *, actor: Any, survivor: Customer, others: Iterable[Customer], choices: dict[str, Any] | None = None
) -> Customer:
    """Merge `others` into `survivor`, keeping per field the value of the record `choices` names
    ({field: customer id}; unnamed fields keep the survivor's). Every related record moves to the survivor
    (contacts, tag links, and whatever registered handlers move); the others go to the recycle bin with
    `merged_into` set. One transaction: either all of it happens or none.

    Needs `edit` on every record and `delete` on the others; a record outside the actor's scope is
    NotFound."""
    others = list({o.pk: o for o in others}.values())
    if not others:
        message = _("Choose at least one other customer to merge into this one.")
        raise ValidationFailed(message, fields={"others": [message]})
    if any(o.pk == survivor.pk for o in others):
        message = _("The customer that is kept cannot also be merged away.")
        raise ValidationFailed(message, fields={"others": [message]})
    if len(others) + 1 > MAX_MERGE:
        message = _("Merge at most %(n)d customers at once.") % {"n": MAX_MERGE}
        raise ValidationFailed(message, fields={"others": [message]})
    for record in (survivor, *others):
        require(actor, "edit", record)
    for other in others:
        require(actor, "delete", other)
    records = {c.pk: c for c in (survivor, *others)}
    picked = _check_choices(dict(choices or {}), records)

    # Lock the rows and refuse when any changed since the caller read them.
    current = {
        row["pk"]: row["version"]
        for row in Customer.objects.select_for_update()
        .filter(pk__in=list(records), deleted_at__isnull=True)
        .values("pk", "version")
    }
    if any(current.get(pk) != record.version for pk, record in records.items()):
        raise VersionConflict()

    data = {name: getattr(record, name) for name, record in picked.items() if record.pk != survivor.pk}
    tags_before = _current_tag_names(survivor)
    changes = _set_and_diff(survivor, data, _TRUSTED) if data else {}
    if changes:
        save_versioned(survivor, actor=actor, expected_version=survivor.version, fields=_changed_fields(changes))
    moved = {name: handler(actor=actor, survivor=survivor, others=others) for name, handler in _handlers.items()}
    if not changes:
        _bump(survivor, actor)
    tags_after = _current_tag_names(survivor)
    if tags_after != tags_before:
        changes["tags"] = {"before": tags_before, "after": tags_after}

    now = timezone.now()
    for other in others:
        other.deleted_at, other.merged_into = now, survivor
        save_versioned(other, actor=actor, expected_version=other.version, fields=["deleted_at", "merged_into"])
        audit.record(
            actor=actor,
            action="customer.merged_into",
            target=other,
            changes={"merged_into": survivor.pk, "survivor_name": survivor.name},
        )
    audit.record(
        actor=actor,
        action="customer.merge",
        target=survivor,
        changes={
            **changes,
            "merged": [o.pk for o in others],
            "merged_names": [o.name for o in others],
            "choices": {name: record.pk for name, record in picked.items()},
            "moved": moved,
        },
    )
    return survivor


# Timeline text -----------------------------------------------------------------------------------------


def _merge_body(changes: dict[str, Any]) -> str:
    names = changes.get("merged_names") or []
    ids = changes.get("merged") or []
    listed = ", ".join(f"{name} (#{pk})" for name, pk in zip(names, ids, strict=False))
    return _("Merged: %(records)s") % {"records": listed} if listed else ""


def _merged_into_body(changes: dict[str, Any]) -> str:
    name, pk = changes.get("survivor_name"), changes.get("merged_into")
    return _("Kept as %(name)s (#%(id)s).") % {"name": name, "id": pk} if pk else ""


selectors.AUDIT_BODIES.update({"customer.merge": _merge_body, "customer.merged_into": _merged_into_body})
