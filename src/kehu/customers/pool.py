"""Public pool 公海 services: claim, release, the automatic return of neglected customers, the pool rules,
and purging the recycle bin (by an administrator, or by the retention job).

Every move is audited on the customer (so it is on its timeline) and logged as a PoolMove (which the
reclaim cooldown reads); notifications go out after commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, ProtectedError
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core import audit, modules
from kehu.core.errors import DomainError, PermissionDenied, ValidationFailed
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, validate
from kehu.customers import selectors
from kehu.customers.models import MODULE, Contact, Customer, PoolMove, PoolSettings
from kehu.customers.pool_selectors import cooldown_until, held_count, pool_settings_for
from kehu.customers.services import _check_owner, _notify_assigned

REASON_MAX_LENGTH = 500
SETTINGS_FIELDS = ("auto_return_days", "max_customers_per_rep", "reclaim_cooldown_days", "recycle_bin_retention_days")
BATCH = 200
SYSTEM_LABEL = "system"


class PoolLimitReached(DomainError):
    code = "pool_limit_reached"
    status = 400


class PoolCooldown(DomainError):
    code = "pool_cooldown"
    status = 400


class NotInPool(DomainError):
    """Someone else claimed it first (or it was never in the pool)."""

    code = "not_in_pool"
    status = 409


def _move_owner(customer: Customer, *, owner_id: int | None, actor_id: int | None, expected_owner_id: Any) -> bool:
    """Change the owner only if it is still `expected_owner_id` (None: still in the pool): two reps
    claiming at once cannot both win. Contacts follow the customer; the version bump makes open edit forms
    stale."""
    now = timezone.now()
    filters = {"owner__isnull": True} if expected_owner_id is None else {"owner_id": expected_owner_id}
    moved = Customer.objects.filter(pk=customer.pk, deleted_at__isnull=True, **filters).update(
        owner_id=owner_id, version=F("version") + 1, updated_at=now, updated_by_id=actor_id
    )
    if moved != 1:
        return False
    Contact.objects.filter(organization_id=customer.organization_id, customer=customer).update(owner_id=owner_id)
    customer.owner_id, customer.version, customer.updated_at = owner_id, customer.version + 1, now
    if actor_id is not None:
        customer.updated_by_id = actor_id
    # A cached owner object would now be stale.
    if Customer.owner.field.is_cached(customer):
        Customer.owner.field.delete_cached_value(customer)
    return True


# Settings ----------------------------------------------------------------------------------------------


@transaction.atomic
def pool_settings_update(*, actor: Any, data: dict[str, Any]) -> PoolSettings:
    """Administrators change their organisation's pool rules and recycle-bin retention."""
    require(actor, "administer", Customer)
    unknown = sorted(set(data) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: [_("This field cannot be set here.")] for name in unknown})
    current = pool_settings_for(organization_id=actor.organization_id)
    changes = audit.diff(audit.snapshot(current, SETTINGS_FIELDS), {**audit.snapshot(current, SETTINGS_FIELDS), **data})
    for name, value in data.items():
        setattr(current, name, value)
    validate(current, exclude=["organization", "updated_by"])
    if not changes and current.pk:
        return current
    current.updated_at, current.updated_by = timezone.now(), actor
    current.save()
    audit.record(actor=actor, action="customers.pool_settings", target=current, changes=changes)
    return current


# Claim -------------------------------------------------------------------------------------------------


@transaction.atomic
def customers_claim(*, actor: Any, customers: Iterable[Customer], owner: Any = None) -> list[Customer]:
    """Take pool customers for the actor (or, with `assign`, for `owner`); all or nothing.

    Refused, naming the rule: above the organisation's per-user limit, or within the reclaim cooldown of a
    customer the new owner released (until when), or when someone else claimed it first."""
    customers = list(customers)
    owner = owner or actor
    for customer in customers:
        require(actor, "claim", customer)
    if owner.pk != actor.pk:
        for customer in customers:
            require(actor, "assign", customer)
        _check_owner(actor, owner)
    if not customers:
        return []
    rules = pool_settings_for(organization_id=actor.organization_id)
    limit = rules.max_customers_per_rep
    if limit:
        held = held_count(user=owner)
        if held + len(customers) > limit:
            if owner.pk == actor.pk:
                text = _(
                    "You hold %(held)d customers; the limit is %(limit)d per user, so %(count)d more cannot be "
                    "claimed. Release customers to the pool first."
                )
            else:
                text = _(
                    "%(name)s holds %(held)d customers; the limit is %(limit)d per user, so %(count)d more cannot "
                    "be assigned to them."
                )
            raise PoolLimitReached(
                text % {"name": owner, "held": held, "limit": limit, "count": len(customers)},
                fields={"ids": [_("The limit is %(limit)d customers per user.") % {"limit": limit}]},
            )
    now = timezone.now()
    for customer in customers:
        until = cooldown_until(user=owner, customer=customer, days=rules.reclaim_cooldown_days, now=now)
        if until:
            when = formats.date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT")
            raise PoolCooldown(
                _("%(name)s was released by %(owner)s recently and can be claimed by them again from %(when)s.")
                % {"name": customer.name, "owner": owner, "when": when},
                fields={"ids": [_("Claimable again from %(when)s.") % {"when": when}]},
            )
    for customer in customers:
        if not _move_owner(customer, owner_id=owner.pk, actor_id=actor.pk, expected_owner_id=None):
            raise NotInPool(
                _("%(name)s is no longer in the public pool: someone claimed it first.") % {"name": customer.name}
            )
        customer.owner = owner
        PoolMove.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            kind=PoolMove.Kind.CLAIM,
            at=now,
            actor=actor,
            new_owner=owner,
        )
        audit.record(
            actor=actor,
            action="customer.claim",
            target=customer,
            changes={"owner": {"before": None, "after": owner.pk}},
        )
    if owner.pk != actor.pk:
        _notify_assigned(actor=actor, owner=owner, customers=customers)
    return customers


def customer_claim(*, actor: Any, customer: Customer, owner: Any = None) -> Customer:
    return customers_claim(actor=actor, customers=[customer], owner=owner)[0]


# Release -----------------------------------------------------------------------------------------------


def _clean_reason(reason: Any) -> str:
    reason = str(reason or "").strip()
    if not reason:
        message = _("Say why the customer goes back to the pool.")
        raise ValidationFailed(message, fields={"reason": [message]})
    if len(reason) > REASON_MAX_LENGTH:
        message = _("Keep the reason under %(n)d characters.") % {"n": REASON_MAX_LENGTH}
        raise ValidationFailed(message, fields={"reason": [message]})
    return reason


@transaction.atomic
def customers_release(*, actor: Any, customers: Iterable[Customer], reason: str) -> list[Customer]:
    """Put customers back into the public pool, with the reason (required); all or nothing. The previous
    owner is notified when someone else (a manager) released their customers."""
    reason = _clean_reason(reason)
    customers = list(customers)
    for customer in customers:
        if customer.owner_id is None and can(actor, "view", customer):
            message = _("%(name)s is already in the public pool.") % {"name": customer.name}
            raise ValidationFailed(message, fields={"ids": [message]})
        require(actor, "release", customer)
    now = timezone.now()
    by_owner: dict[int, list[Customer]] = defaultdict(list)
    for customer in customers:
        previous = customer.owner_id
        if not _move_owner(customer, owner_id=None, actor_id=actor.pk, expected_owner_id=previous):
            raise ValidationFailed(_("%(name)s changed meanwhile; reload and try again.") % {"name": customer.name})
        PoolMove.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            kind=PoolMove.Kind.RELEASE,
            at=now,
            actor=actor,
            previous_owner_id=previous,
            reason=reason,
        )
        audit.record(
            actor=actor,
            action="customer.release",
            target=customer,
            changes={"owner": {"before": previous, "after": None}, "reason": reason},
        )
        if previous != actor.pk:
            by_owner[previous].append(customer)
    _notify_left(actor_name=str(actor), by_owner=by_owner, reason=reason)
    return customers


def customer_release(*, actor: Any, customer: Customer, reason: str) -> Customer:
    return customers_release(actor=actor, customers=[customer], reason=reason)[0]


def _notify_left(*, actor_name: str, by_owner: dict[int, list[Customer]], reason: str, days: int = 0) -> None:
    """Tell each previous owner which of their customers went to the pool, and why."""
    from kehu.accounts.models import User

    if not by_owner:
        return
    for user in User.objects.filter(pk__in=list(by_owner), is_active=True).select_related("organization"):
        customers = by_owner[user.pk]
        with translation.override(user.language or user.organization.language):
            if days:
                title = ngettext(
                    "%(count)d of your customers returned to the public pool: no follow-up for %(days)d days",
                    "%(count)d of your customers returned to the public pool: no follow-up for %(days)d days",
                    len(customers),
                ) % {"count": len(customers), "days": days}
            else:
                title = ngettext(
                    "%(actor)s released %(count)d of your customers to the public pool",
                    "%(actor)s released %(count)d of your customers to the public pool",
                    len(customers),
                ) % {"actor": actor_name, "count": len(customers)}
            body = ", ".join(c.name for c in customers[:10])
            if reason:
                body = f"{body}\n{_('Reason')}: {reason}"
        notify(recipient=user, title=title, body=body, url=reverse("customers:pool"), email=True)


# Automatic return --------------------------------------------------------------------------------------


def neglected_customers(*, organization_id: int, days: int, now: Any = None) -> Any:
    """Owned live customers with no follow-up for `days`: last contacted (or, never contacted, created)
    before the cutoff, and not claimed since the cutoff either (a fresh claim restarts the clock)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    recent_claim = PoolMove.objects.filter(
        organization_id=organization_id, customer_id=OuterRef("pk"), kind=PoolMove.Kind.CLAIM, at__gte=cutoff
    )
    return (
        Customer.objects.filter(organization_id=organization_id, deleted_at__isnull=True, owner__isnull=False)
        .annotate(last_follow_up=Coalesce("last_contacted_at", "created_at"))
        .filter(last_follow_up__lt=cutoff)
        .exclude(Exists(recent_claim))
    )


def pool_recycle(*, organization_id: int | None = None, now: Any = None) -> int:
    """Return neglected customers to the pool in every organisation whose rules ask for it (or one).
    Idempotent: a customer already returned has no owner and is not picked again. Returns the count."""
    from kehu.accounts.models import Organization

    now = now or timezone.now()
    rules = PoolSettings.objects.filter(auto_return_days__gt=0)
    if organization_id is not None:
        rules = rules.filter(organization_id=organization_id)
    total = 0
    for rule in rules.order_by("organization_id"):
        org = Organization.objects.get(pk=rule.organization_id)
        if not modules.is_enabled(org, MODULE):
            continue
        total += _recycle_organization(org, rule.auto_return_days, now)
    return total


def _recycle_organization(org: Any, days: int, now: Any) -> int:
    count = 0
    while True:
        batch = list(neglected_customers(organization_id=org.pk, days=days, now=now).order_by("pk")[:BATCH])
        if not batch:
            return count
        with transaction.atomic():
            by_owner: dict[int, list[Customer]] = defaultdict(list)
            for customer in batch:
                previous = customer.owner_id
                if not _move_owner(customer, owner_id=None, actor_id=None, expected_owner_id=previous):
                    continue  # changed meanwhile: the next run looks again
                PoolMove.objects.create(
                    organization_id=org.pk,
                    customer=customer,
                    kind=PoolMove.Kind.AUTO_RETURN,
                    at=now,
                    previous_owner_id=previous,
                )
                audit.record(
                    actor=None,
                    actor_label=SYSTEM_LABEL,
                    action="customer.auto_return",
                    target=customer,
                    changes={"owner": {"before": previous, "after": None}, "days": days},
                )
                by_owner[previous].append(customer)
                count += 1
            _notify_left(actor_name=SYSTEM_LABEL, by_owner=by_owner, reason="", days=days)


# Recycle bin purge -------------------------------------------------------------------------------------


def _hard_delete(customer: Customer, *, actor: Any, reason: str, actor_label: str | None = None) -> None:
    audit.record(
        actor=actor,
        actor_label=actor_label,
        action="customer.purge",
        target=customer,
        changes={"deleted_at": customer.deleted_at, "purged_by": reason},
    )
    from kehu.customers.note_models import Attachment
    from kehu.customers.note_services import delete_stored_file

    # The rows of its notes and files go with the customer (cascade); their stored files go after commit,
    # so a purge that rolls back (another module still points at the customer) keeps them.
    files = list(Attachment.objects.filter(organization_id=customer.organization_id, customer=customer))
    customer.delete()
    for attachment in files:
        transaction.on_commit(lambda attachment=attachment: delete_stored_file(attachment))


@transaction.atomic
def customer_purge(*, actor: Any, customer: Customer) -> None:
    """Delete a customer of the recycle bin for good (administrators; not undoable)."""
    require(actor, "purge", customer)
    if customer.deleted_at is None:
        raise PermissionDenied(_("Only customers in the recycle bin can be deleted for good."))
    try:
        with transaction.atomic():
            _hard_delete(customer, actor=actor, reason="administrator")
    except ProtectedError as exc:
        raise ValidationFailed(
            _("%(name)s still has records in other modules that must be removed first.") % {"name": customer.name}
        ) from exc


def recycle_bin_purge_expired(*, organization_id: int | None = None, now: Any = None) -> int:
    """Delete for good what lay in the recycle bin longer than each organisation's retention: customers,
    and the notes and files deleted on their own (with their stored files). Idempotent; returns how many
    records went."""
    from kehu.accounts.models import Organization
    from kehu.customers.note_services import purge_expired_notes_and_files

    now = now or timezone.now()
    orgs = Organization.objects.order_by("pk")
    if organization_id is not None:
        orgs = orgs.filter(pk=organization_id)
    saved = {s.organization_id: s for s in PoolSettings.objects.all()}
    total = 0
    for org in orgs:
        days = (saved.get(org.pk) or PoolSettings()).recycle_bin_retention_days
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        skipped: set[int] = set()
        while True:
            batch = list(
                Customer.objects.filter(organization_id=org.pk, deleted_at__lt=cutoff)
                .exclude(pk__in=skipped)
                .order_by("pk")[:BATCH]
            )
            if not batch:
                break
            for customer in batch:
                try:
                    with transaction.atomic():
                        _hard_delete(customer, actor=None, actor_label=SYSTEM_LABEL, reason=f"retention {days} days")
                        total += 1
                except ProtectedError:  # another module still points at it: kept, and tried again next run
                    skipped.add(customer.pk)
        total += purge_expired_notes_and_files(
            organization_id=org.pk, cutoff=cutoff, reason=f"retention {days} days", actor_label=SYSTEM_LABEL
        )
    return total


# Timeline text -----------------------------------------------------------------------------------------


def _release_body(changes: dict[str, Any]) -> str:
    reason = changes.get("reason")
    return _("Reason: %(reason)s") % {"reason": reason} if isinstance(reason, str) and reason else ""


def _auto_return_body(changes: dict[str, Any]) -> str:
    days = changes.get("days")
    return _("No follow-up for %(days)s days.") % {"days": days} if days else ""


selectors.AUDIT_BODIES.update({"customer.release": _release_body, "customer.auto_return": _auto_return_body})
