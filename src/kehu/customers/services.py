"""Every change to customers, contacts and tags: one function per business action, each in a transaction
with its audit entry, each checking `require(actor, action, target)` first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core import audit, choice_lists, custom_fields
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.customers.list_columns import CONTACT_TYPE, CUSTOMER_TYPE
from kehu.customers.models import STAGES, TIERS, Contact, Customer, CustomerTag, Tag

CUSTOMER_FIELDS = (
    "kind",
    "name",
    "short_name",
    "industry",
    "tier",
    "stage",
    "source",
    "province",
    "city",
    "district",
    "address",
    "phone",
    "email",
    "website",
    "last_contacted_at",
    "next_follow_up_at",
    "notes",
    "custom",
)
CONTACT_FIELDS = (
    "name",
    "title",
    "department",
    "phone",
    "email",
    "wechat",
    "birthday",
    "is_primary",
    "notes",
    "custom",
)
TAG_FIELDS = ("name", "colour")
# Stored alongside the field a user edits; saved whenever that field changes.
_DERIVED = {"phone": "phone_normalized", "email": "email_normalized"}
# Set by the service from objects it already checked: no need for full_clean to query them again.
_TRUSTED = ["organization", "owner", "created_by", "updated_by"]


class CustomerCreated(NamedTuple):
    customer: Customer
    duplicates: list[Customer]


def _check_fields(data: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        message = _("This field cannot be set here.")
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [message] for name in unknown},
        )


def _check_owner(actor: Any, owner: Any) -> None:
    """The new owner must be an active colleague who may work with customers."""
    if (
        owner is None
        or getattr(owner, "organization_id", None) != actor.organization_id
        or not owner.is_active
        or not can(owner, "view", Customer)
    ):
        raise ValidationFailed(
            _("Choose an active colleague who has access to customers."),
            fields={"owner": [_("Choose an active colleague who has access to customers.")]},
        )


def _check_tags(actor: Any, tags: Iterable[Tag]) -> list[Tag]:
    tags = list(tags)
    if any(not isinstance(t, Tag) or t.organization_id != actor.organization_id or t.deleted_at for t in tags):
        raise ValidationFailed(_("Choose tags of your organisation."), fields={"tags": [_("Choose existing tags.")]})
    return tags


def _changed_fields(changes: dict[str, Any]) -> list[str]:
    fields = list(changes)
    fields += [_DERIVED[name] for name in changes if name in _DERIVED]
    return fields


def _set_and_diff(instance: Any, data: dict[str, Any], exclude: list[str]) -> dict[str, dict[str, Any]]:
    """Set `data`, validate (which also normalises), and return the diff of the values as saved."""
    before = audit.snapshot(instance, data.keys())
    for name, value in data.items():
        setattr(instance, name, value)
    validate(instance, exclude=exclude)
    return audit.diff(before, audit.snapshot(instance, data.keys()))


def _tag_names(tags: Iterable[Tag]) -> list[str]:
    return sorted(tag.name for tag in tags)


def _bump(customer: Customer, actor: Any) -> None:
    """A change outside the customer's own columns (tags, owner) still makes open edit forms stale."""
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1, updated_at=now, updated_by_id=actor.pk)
    customer.version, customer.updated_at, customer.updated_by_id = customer.version + 1, now, actor.pk


def _clean_custom(actor: Any, record_type: str, values: Any, *, current: dict[str, Any] | None) -> dict[str, Any]:
    """Custom field values through the one validation (kehu.core.custom_fields): on create every field
    (required ones enforced, defaults applied), on update only the keys given (merged into `current`)."""
    return custom_fields.clean(
        actor.organization_id, record_type, values or {}, partial=current is not None, current=current
    )


def _audit_custom(changes: dict[str, Any]) -> dict[str, Any]:
    """The audit entry (and so the timeline) names each custom field that changed, not the whole object."""
    change = changes.pop("custom", None)
    if change:
        before, after = change.get("before") or {}, change.get("after") or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"custom.{key}"] = {"before": before.get(key), "after": after.get(key)}
    return changes


def _check_lists(organization_id: int, data: dict[str, Any], current: Customer | None) -> None:
    """Tier and stage must be active options of the organisation's lists (kehu.core.choice_lists); a record
    keeps a value that was since deactivated as long as it does not change it."""
    for name, list_key in (("tier", TIERS), ("stage", STAGES)):
        if name in data:
            data[name] = choice_lists.validate(
                organization_id, list_key, data[name], field=name, current=getattr(current, name, "") or ""
            )
    if current is None and not data.get("stage"):
        data["stage"] = choice_lists.default(organization_id, STAGES, Customer.Stage.LEAD_IN)
    if "stage" in data and not data["stage"]:
        raise ValidationFailed(_("Choose a lifecycle stage."), fields={"stage": [_("Choose a lifecycle stage.")]})


# Customers -------------------------------------------------------------------------------------------


@transaction.atomic
def customer_create(*, actor: Any, owner: Any = None, tags: Iterable[Tag] = (), **fields: Any) -> CustomerCreated:
    """Create a customer owned by `owner` (default: the actor). Returns it with the likely duplicates the
    actor may see, so that the caller can warn and link to them."""
    from kehu.customers.selectors import customer_duplicates_for

    require(actor, "create", Customer)
    _check_fields(fields, CUSTOMER_FIELDS)
    _check_lists(actor.organization_id, fields, None)
    owner = owner or actor
    if owner.pk != actor.pk:
        require(actor, "assign", Customer)
    _check_owner(actor, owner)
    tags = _check_tags(actor, tags)
    fields["custom"] = _clean_custom(actor, CUSTOMER_TYPE, fields.get("custom"), current=None)
    customer = Customer(
        organization_id=actor.organization_id, owner=owner, created_by=actor, updated_by=actor, **fields
    )
    validate(customer, exclude=_TRUSTED)
    customer.save()
    CustomerTag.objects.bulk_create(
        [CustomerTag(organization_id=customer.organization_id, customer=customer, tag=tag) for tag in tags]
    )
    recorded = {
        name: getattr(customer, name) for name in CUSTOMER_FIELDS if getattr(customer, name) not in ("", None, {})
    }
    recorded.update(owner=owner.pk, tags=_tag_names(tags))
    audit.record(actor=actor, action="customer.create", target=customer, changes=recorded)
    return CustomerCreated(customer, customer_duplicates_for(actor=actor, customer=customer))


@transaction.atomic
def customer_update(*, actor: Any, customer: Customer, expected_version: int | None, data: dict[str, Any]) -> Customer:
    """Change fields (and, with "tags", the exact set of tags). Refused with VersionConflict when the
    customer changed since the caller read `expected_version`. The owner changes through customer_assign."""
    require(actor, "edit", customer)
    data = dict(data)
    new_tags = data.pop("tags", None)
    _check_fields(data, CUSTOMER_FIELDS)
    if expected_version is not None and expected_version != customer.version:
        raise VersionConflict()
    _check_lists(customer.organization_id, data, customer)
    if "custom" in data:
        data["custom"] = _clean_custom(actor, CUSTOMER_TYPE, data["custom"], current=customer.custom)
    changes = _set_and_diff(customer, data, _TRUSTED)
    tag_change = None
    if new_tags is not None:
        new_tags = _check_tags(actor, new_tags)
        current = list(customer.tags.all())
        if {t.pk for t in current} != {t.pk for t in new_tags}:
            tag_change = {"before": _tag_names(current), "after": _tag_names(new_tags)}
    if not changes and not tag_change:
        return customer
    save_versioned(customer, actor=actor, expected_version=expected_version, fields=_changed_fields(changes))
    if tag_change:
        _set_tags(customer, new_tags)
        changes["tags"] = tag_change
    audit.record(actor=actor, action="customer.update", target=customer, changes=_audit_custom(changes))
    return customer


def customer_mark_contacted(*, actor: Any, customer_id: int, at: Any) -> bool:
    """Move a customer's "last contacted at" (which the public pool's auto-return reads) forward to `at`,
    never back and never into the future, after a follow-up was logged elsewhere (sales activities).

    For services that already checked the link (the actor may see the customer, or owns the follow-up):
    no permission of its own, since logging a call is not editing the customer. One conditional UPDATE,
    so concurrent logs keep the latest time. No audit entry of its own: the follow-up that caused it is
    audited and shown on the customer's timeline. The version is bumped so that an edit form opened
    before cannot silently put the older value back (it answers with the usual conflict instead).
    Returns whether the customer changed."""
    now = timezone.now()
    at = min(at, now)
    changed = (
        Customer.objects.filter(organization_id=actor.organization_id, pk=customer_id, deleted_at__isnull=True)
        .filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=at))
        .update(last_contacted_at=at, version=F("version") + 1, updated_at=now, updated_by_id=actor.pk)
    )
    return changed == 1


def _set_tags(customer: Customer, tags: list[Tag]) -> None:
    wanted = {t.pk for t in tags}
    CustomerTag.objects.filter(organization_id=customer.organization_id, customer=customer).exclude(
        tag_id__in=wanted
    ).delete()
    have = set(
        CustomerTag.objects.filter(organization_id=customer.organization_id, customer=customer).values_list(
            "tag_id", flat=True
        )
    )
    CustomerTag.objects.bulk_create(
        [CustomerTag(organization_id=customer.organization_id, customer=customer, tag_id=pk) for pk in wanted - have]
    )


@transaction.atomic
def customer_delete(*, actor: Any, customer: Customer, expected_version: int | None = None) -> Customer:
    """Move to the recycle bin (soft delete); `customer_restore` brings it back."""
    require(actor, "delete", customer)
    customer.deleted_at = timezone.now()
    save_versioned(customer, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="customer.delete", target=customer)
    return customer


@transaction.atomic
def customers_delete(*, actor: Any, customers: Iterable[Customer]) -> int:
    """Bulk delete: all or nothing."""
    count = 0
    for customer in customers:
        customer_delete(actor=actor, customer=customer)
        count += 1
    return count


@transaction.atomic
def customer_restore(*, actor: Any, customer: Customer) -> Customer:
    require(actor, "restore", customer)
    if customer.deleted_at is None:
        return customer
    now = timezone.now()
    restored = Customer.objects.filter(pk=customer.pk, version=customer.version, deleted_at__isnull=False).update(
        deleted_at=None, version=customer.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    customer.deleted_at, customer.version, customer.updated_at = None, customer.version + 1, now
    audit.record(actor=actor, action="customer.restore", target=customer)
    return customer


@transaction.atomic
def customer_assign(*, actor: Any, customers: Iterable[Customer], owner: Any) -> list[Customer]:
    """Transfer customers (and their contacts) to `owner`; all or nothing. The new owner is notified in
    the app and by email, once for the whole batch."""
    _check_owner(actor, owner)
    moved = []
    for customer in customers:
        require(actor, "assign", customer)
        if customer.owner_id == owner.pk:
            continue
        before = customer.owner_id
        Customer.objects.filter(pk=customer.pk).update(owner=owner)
        Contact.objects.filter(organization_id=customer.organization_id, customer=customer).update(owner=owner)
        customer.owner = owner
        _bump(customer, actor)
        audit.record(
            actor=actor,
            action="customer.assign",
            target=customer,
            changes={"owner": {"before": before, "after": owner.pk}},
        )
        moved.append(customer)
    if moved and owner.pk != actor.pk:
        _notify_assigned(actor=actor, owner=owner, customers=moved)
    return moved


def _notify_assigned(*, actor: Any, owner: Any, customers: list[Customer]) -> None:
    with translation.override(owner.language or owner.organization.language):
        if len(customers) == 1:
            title = _("%(actor)s assigned the customer %(name)s to you") % {"actor": actor, "name": customers[0]}
            url = reverse("customers:detail", args=[customers[0].pk])
        else:
            title = ngettext(
                "%(actor)s assigned %(count)d customer to you",
                "%(actor)s assigned %(count)d customers to you",
                len(customers),
            ) % {"actor": actor, "count": len(customers)}
            url = f"{reverse('customers:list')}?owner={owner.pk}"
        body = ", ".join(c.name for c in customers[:10])
    notify(recipient=owner, title=title, body=body, url=url, email=True)


@transaction.atomic
def customers_tag_add(*, actor: Any, customers: Iterable[Customer], tags: Iterable[Tag]) -> int:
    """Add tags to customers (bulk); returns how many customers changed."""
    return _retag(actor=actor, customers=customers, tags=_check_tags(actor, tags), add=True)


@transaction.atomic
def customers_tag_remove(*, actor: Any, customers: Iterable[Customer], tags: Iterable[Tag]) -> int:
    return _retag(actor=actor, customers=customers, tags=_check_tags(actor, tags), add=False)


def _retag(*, actor: Any, customers: Iterable[Customer], tags: list[Tag], add: bool) -> int:
    changed = 0
    for customer in customers:
        require(actor, "edit", customer)
        current = list(customer.tags.all())
        current_ids = {t.pk for t in current}
        if add:
            missing = [t for t in tags if t.pk not in current_ids]
            if not missing:
                continue
            CustomerTag.objects.bulk_create(
                [CustomerTag(organization_id=customer.organization_id, customer=customer, tag=t) for t in missing]
            )
            after = current + missing
        else:
            removing = {t.pk for t in tags} & current_ids
            if not removing:
                continue
            CustomerTag.objects.filter(
                organization_id=customer.organization_id, customer=customer, tag_id__in=removing
            ).delete()
            after = [t for t in current if t.pk not in removing]
        _bump(customer, actor)
        audit.record(
            actor=actor,
            action="customer.tag_add" if add else "customer.tag_remove",
            target=customer,
            changes={"tags": {"before": _tag_names(current), "after": _tag_names(after)}},
        )
        changed += 1
    return changed


# Tags ------------------------------------------------------------------------------------------------


def _tag_name_free(tag: Tag) -> None:
    taken = Tag.objects.filter(organization_id=tag.organization_id, name=tag.name).exclude(pk=tag.pk).exists()
    if taken:
        message = _("A tag with this name already exists.")
        raise ValidationFailed(message, fields={"name": [message]})


def _save_tag(tag: Tag) -> None:
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError as exc:  # a concurrent create of the same name
        message = _("A tag with this name already exists.")
        raise ValidationFailed(message, fields={"name": [message]}) from exc


@transaction.atomic
def tag_create(*, actor: Any, name: str, colour: str = "") -> Tag:
    require(actor, "create", Tag)
    tag = Tag(
        organization_id=actor.organization_id,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        name=name,
        colour=colour or "#6c757d",
    )
    validate(tag, exclude=_TRUSTED)
    _tag_name_free(tag)
    _save_tag(tag)
    audit.record(actor=actor, action="tag.create", target=tag, changes={"name": tag.name, "colour": tag.colour})
    return tag


@transaction.atomic
def tag_update(*, actor: Any, tag: Tag, data: dict[str, Any]) -> Tag:
    require(actor, "edit", tag)
    _check_fields(data, TAG_FIELDS)
    changes = _set_and_diff(tag, data, _TRUSTED)
    if not changes:
        return tag
    _tag_name_free(tag)
    tag.version += 1
    tag.updated_by = actor
    tag.updated_at = timezone.now()
    _save_tag(tag)
    audit.record(actor=actor, action="tag.update", target=tag, changes=changes)
    return tag


@transaction.atomic
def tag_delete(*, actor: Any, tag: Tag) -> None:
    """Tags are labels, not records: deleting one removes it from every customer (audited, not restorable)."""
    require(actor, "delete", tag)
    used = CustomerTag.objects.filter(organization_id=tag.organization_id, tag=tag).count()
    audit.record(actor=actor, action="tag.delete", target=tag, changes={"name": tag.name, "customers": used})
    tag.delete()


# Contacts --------------------------------------------------------------------------------------------


def _clear_other_primaries(contact: Contact) -> None:
    Contact.objects.filter(
        organization_id=contact.organization_id, customer_id=contact.customer_id, is_primary=True
    ).exclude(pk=contact.pk).update(is_primary=False)


@transaction.atomic
def contact_create(*, actor: Any, customer: Customer, **fields: Any) -> Contact:
    """Add a contact to a customer; adding, changing or removing contacts needs `edit` on the customer."""
    require(actor, "edit", customer)
    _check_fields(fields, CONTACT_FIELDS)
    fields["custom"] = _clean_custom(actor, CONTACT_TYPE, fields.get("custom"), current=None)
    contact = Contact(
        organization_id=customer.organization_id,
        customer=customer,
        owner_id=customer.owner_id,
        created_by=actor,
        updated_by=actor,
        **fields,
    )
    validate(contact, exclude=[*_TRUSTED, "customer"])
    if contact.is_primary:
        _clear_other_primaries(contact)
    contact.save()
    recorded = {name: getattr(contact, name) for name in CONTACT_FIELDS if getattr(contact, name) not in ("", None, {})}
    recorded["customer"] = customer.pk
    audit.record(actor=actor, action="contact.create", target=contact, changes=recorded)
    return contact


@transaction.atomic
def contact_update(*, actor: Any, contact: Contact, expected_version: int | None, data: dict[str, Any]) -> Contact:
    require(actor, "edit", contact)
    _check_fields(data, CONTACT_FIELDS)
    if expected_version is not None and expected_version != contact.version:
        raise VersionConflict()
    if "custom" in data:
        data["custom"] = _clean_custom(actor, CONTACT_TYPE, data["custom"], current=contact.custom)
    changes = _set_and_diff(contact, data, [*_TRUSTED, "customer"])
    if not changes:
        return contact
    if contact.is_primary and "is_primary" in changes:
        _clear_other_primaries(contact)
    save_versioned(contact, actor=actor, expected_version=expected_version, fields=_changed_fields(changes))
    audit.record(actor=actor, action="contact.update", target=contact, changes=_audit_custom(changes))
    return contact


@transaction.atomic
def contact_delete(*, actor: Any, contact: Contact, expected_version: int | None = None) -> Contact:
    require(actor, "delete", contact)
    contact.deleted_at = timezone.now()
    save_versioned(contact, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="contact.delete", target=contact)
    return contact


@transaction.atomic
def contact_restore(*, actor: Any, contact: Contact) -> Contact:
    require(actor, "edit", contact)
    if contact.deleted_at is None:
        return contact
    if contact.is_primary:
        # Another contact may have become primary meanwhile; that one stays primary.
        taken = Contact.objects.filter(
            organization_id=contact.organization_id,
            customer_id=contact.customer_id,
            is_primary=True,
            deleted_at__isnull=True,
        ).exists()
        contact.is_primary = not taken
    now = timezone.now()
    restored = Contact.objects.filter(pk=contact.pk, version=contact.version, deleted_at__isnull=False).update(
        deleted_at=None,
        is_primary=contact.is_primary,
        version=contact.version + 1,
        updated_at=now,
        updated_by_id=actor.pk,
    )
    if restored != 1:
        raise VersionConflict()
    contact.deleted_at, contact.version, contact.updated_at = None, contact.version + 1, now
    audit.record(actor=actor, action="contact.restore", target=contact)
    return contact
