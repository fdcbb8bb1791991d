"""Reads of the public pool 公海, the pool rules and likely duplicates.

The one place that widens visibility beyond the role's scope: `pool_queryset_for` (customers without an
owner, visible to every member of the organisation with `view` in customers). `customer_get_for` adds it
so that a rep can open a pool customer before claiming it; the record-level rule is
CustomerPolicy.pool_can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.core.permissions import can
from kehu.customers.models import Contact, Customer, PoolMove, PoolSettings

MAX_MERGE = 10
DUPLICATE_GROUPS = 50  # per kind (phone, email, name): the page shows the largest groups first
DUPLICATE_GROUP_MEMBERS = 10


def pool_settings_for(*, organization_id: int) -> PoolSettings:
    """The organisation's saved rules, or the defaults (unsaved) when an administrator never saved them."""
    found = PoolSettings.objects.filter(organization_id=organization_id).first()
    return found or PoolSettings(organization_id=organization_id)


def pool_queryset_for(actor: Any) -> QuerySet[Customer]:
    """Live customers of the actor's organisation that nobody owns, for anyone with `view` in customers."""
    if actor is None or not can(actor, "view", Customer):
        return Customer.objects.none()
    return Customer.objects.filter(organization_id=actor.organization_id, deleted_at__isnull=True, owner__isnull=True)


def customers_visible_or_pool_for(actor: Any) -> QuerySet[Customer]:
    """What the actor may open: their scope (`visible_to`) plus the public pool."""
    return Customer.objects.visible_to(actor) | pool_queryset_for(actor)


def _with_last_move(qs: QuerySet[Customer], organization_id: int) -> QuerySet[Customer]:
    last = PoolMove.objects.filter(organization_id=organization_id, customer_id=OuterRef("pk")).order_by("-at", "-id")
    return qs.annotate(
        pool_since=Subquery(last.values("at")[:1]),
        pool_reason=Subquery(last.values("reason")[:1]),
        pool_kind=Subquery(last.values("kind")[:1]),
    )


def pool_list_for(
    *, actor: Any, filters: Any = None, ordering: str | None = None, cursor: str | None = None, limit: int = 50
) -> Any:
    """One keyset page of the pool with the list's filters, each row with when and why it entered."""
    from kehu.customers import selectors

    qs = selectors.customer_queryset_for(actor=actor, filters=filters, base=pool_queryset_for(actor))
    qs = _with_last_move(qs.prefetch_related("tags"), actor.organization_id)
    return selectors.keyset_page(qs, ordering=ordering or selectors.DEFAULT_ORDERING, cursor=cursor, limit=limit)


def pool_customer_get_for(*, actor: Any, pk: Any) -> Customer:
    try:
        return pool_queryset_for(actor).get(pk=int(pk))
    except (ValueError, TypeError, Customer.DoesNotExist) as exc:
        raise NotFound() from exc


def pool_customers_for_bulk(*, actor: Any, ids: list[Any]) -> list[Customer]:
    pks = [int(pk) for pk in ids][:200]
    return list(pool_queryset_for(actor).filter(pk__in=pks).order_by("pk"))


def pool_contacts_for(*, actor: Any, customer: Customer) -> list[Contact]:
    """The contacts of a pool customer (the customer's visibility is theirs: see Contact.visible_to)."""
    if customer.owner_id is not None or not can(actor, "view", customer):
        return []
    return list(
        Contact.objects.filter(organization_id=actor.organization_id, customer=customer, deleted_at__isnull=True)
    )


def held_count(*, user: Any) -> int:
    """How many live customers `user` owns (the number the per-user limit counts)."""
    return Customer.objects.filter(
        organization_id=user.organization_id, owner_id=user.pk, deleted_at__isnull=True
    ).count()


def cooldown_until(*, user: Any, customer: Customer, days: int, now: datetime | None = None) -> datetime | None:
    """Until when `user` may not claim `customer` back after it left them for the pool (None: free)."""
    if days <= 0:
        return None
    now = now or timezone.now()
    last = (
        PoolMove.objects.filter(
            organization_id=customer.organization_id,
            previous_owner_id=user.pk,
            customer_id=customer.pk,
            kind__in=(PoolMove.Kind.RELEASE, PoolMove.Kind.AUTO_RETURN),
            at__gt=now - timedelta(days=days),
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return last + timedelta(days=days) if last else None


# Duplicates --------------------------------------------------------------------------------------------


DUPLICATE_KEYS = (("phone", "phone_normalized"), ("email", "email_normalized"), ("name", "name"))


@dataclass
class DuplicatePair:
    first: Customer
    second: Customer
    reasons: list[str] = field(default_factory=list)  # "phone", "email", "name"


def duplicate_pairs_for(
    *, actor: Any, groups: int = DUPLICATE_GROUPS, members: int = DUPLICATE_GROUP_MEMBERS
) -> list[DuplicatePair]:
    """Pairs of visible customers sharing a normalised phone, a normalised email or the name.

    Bounded: one GROUP BY per key over the actor's visible customers (the largest `groups` values),
    then one query for the customers of those values. Pairs are built only within a value's group, of
    at most `members` customers each, so there is no comparison of all rows with all rows."""
    base = Customer.objects.visible_to(actor)
    values: dict[str, list[str]] = {}
    for key, column in DUPLICATE_KEYS:
        rows = (
            base.exclude(**{column: ""})
            .values(column)
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .order_by("-n", column)[:groups]
        )
        values[key] = [row[column] for row in rows]
    q = Q()
    for key, column in DUPLICATE_KEYS:
        if values[key]:
            q |= Q(**{f"{column}__in": values[key]})
    if not q:
        return []
    cap = groups * members * len(DUPLICATE_KEYS)
    customers = list(base.filter(q).select_related("owner").order_by("pk")[:cap])
    pairs: dict[tuple[int, int], DuplicatePair] = {}
    for key, column in DUPLICATE_KEYS:
        wanted = set(values[key])
        grouped: dict[str, list[Customer]] = {}
        for customer in customers:
            value = getattr(customer, column)
            if value in wanted:
                grouped.setdefault(value, []).append(customer)
        for group in grouped.values():
            group = group[:members]
            for i, first in enumerate(group):
                for second in group[i + 1 :]:
                    pair = pairs.setdefault((first.pk, second.pk), DuplicatePair(first, second))
                    pair.reasons.append(key)
    return sorted(pairs.values(), key=lambda p: (-len(p.reasons), p.first.pk, p.second.pk))


def merge_candidates_for(*, actor: Any, ids: list[Any]) -> list[Customer]:
    """The customers to merge, in the order given; any id the actor cannot see is NotFound."""
    try:
        pks = list(dict.fromkeys(int(pk) for pk in ids))
    except (TypeError, ValueError) as exc:
        raise NotFound() from exc
    found = {
        c.pk: c for c in Customer.objects.visible_to(actor).filter(pk__in=pks[:MAX_MERGE]).prefetch_related("tags")
    }
    if len(found) != len(pks):
        raise NotFound()
    return [found[pk] for pk in pks]
