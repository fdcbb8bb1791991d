"""Every change to quotas: one function per business action, each in a transaction with its audit entry,
each checking `require(actor, action, target)` first (forecast_policies.py says who may)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.services import require, save_versioned
from kehu.sales.forecast_models import Quota, period_label
from kehu.sales.forecast_periods import MAX_YEAR, MIN_YEAR, Period
from kehu.sales.models import MODULE

MAX_AMOUNT = Decimal("99999999999999.99")  # 16 digits, 2 decimals
_CURRENCY = re.compile(r"^[A-Z]{3}$")
UPDATABLE = ("amount", "currency")


def _fail(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={name: [message]})


def clean_amount(value: Any, name: str = "amount") -> Decimal:
    """A target amount: a number from 0 with at most two decimals."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise _fail(name, _("Enter an amount, e.g. 150000 or 150000.50.")) from exc
    if not amount.is_finite():
        raise _fail(name, _("Enter an amount, e.g. 150000 or 150000.50."))
    if amount < 0:
        raise _fail(name, _("A target cannot be negative."))
    if amount > MAX_AMOUNT:
        raise _fail(name, _("A target can be at most 99,999,999,999,999.99."))
    if amount != amount.quantize(Decimal("0.01")):
        raise _fail(name, _("Use at most two decimals."))
    return amount.quantize(Decimal("0.01"))


def clean_currency(value: Any, organization: Any) -> str:
    currency = (value or getattr(organization, "currency", "") or "CNY").strip().upper()
    if not _CURRENCY.match(currency):
        raise _fail("currency", _("Enter a three-letter currency code such as CNY."))
    return currency


def clean_period(kind: Any, start: Any) -> tuple[str, date]:
    if kind not in Quota.Period.values:
        raise _fail("period_kind", _("Choose month or quarter."))
    if not isinstance(start, date) or not MIN_YEAR <= start.year <= MAX_YEAR:
        raise _fail("period_start", _("Enter the first day of the period, e.g. 2026-04-01."))
    if Period.containing(kind, start).start != start:
        if kind == Quota.Period.QUARTER:
            message = _("A quarter starts on 1 January, 1 April, 1 July or 1 October.")
        else:
            message = _("A month starts on its first day, e.g. 2026-04-01.")
        raise _fail("period_start", message)
    return kind, start


def _check_rep(actor: Any, rep: Any) -> None:
    """A quota is for an active colleague who sells (a role that may create sales records)."""
    if (
        rep is None
        or getattr(rep, "organization_id", None) != actor.organization_id
        or not rep.is_active
        or "create" not in rep.grant_for(MODULE).actions
    ):
        raise _fail("user", _("Choose an active colleague who works with sales records."))


def _taken(quota: Quota) -> ValidationFailed:
    message = _("%(user)s already has a quota for %(period)s: change that one instead.") % {
        "user": quota.owner,
        "period": period_label(quota.period_kind, quota.period_start),
    }
    return ValidationFailed(message, fields={"period_start": [message]}, code="quota_exists")


def _live_twin(quota: Quota) -> Quota | None:
    return (
        Quota.objects.filter(
            organization_id=quota.organization_id,
            owner_id=quota.owner_id,
            period_kind=quota.period_kind,
            period_start=quota.period_start,
            deleted_at__isnull=True,
        )
        .exclude(pk=quota.pk)
        .first()
    )


def _save_new(quota: Quota) -> None:
    if _live_twin(quota) is not None:
        raise _taken(quota)
    try:
        with transaction.atomic():  # a concurrent twin loses on the unique constraint, not with a 500
            quota.save()
    except IntegrityError as exc:
        raise _taken(quota) from exc


def _recorded(quota: Quota) -> dict[str, Any]:
    return {
        "user": quota.owner_id,
        "period": period_label(quota.period_kind, quota.period_start),
        "amount": quota.amount,
        "currency": quota.currency,
    }


@transaction.atomic
def quota_create(
    *,
    actor: Any,
    user: Any,
    period_kind: str,
    period_start: date,
    amount: Any,
    currency: str | None = None,
) -> Quota:
    """Set `user`'s target for a month or a quarter (one per rep and period)."""
    require(actor, "create", Quota)
    _check_rep(actor, user)
    quota = Quota(organization_id=actor.organization_id, owner=user)
    require(actor, "create", quota)
    quota.period_kind, quota.period_start = clean_period(period_kind, period_start)
    quota.amount = clean_amount(amount)
    quota.currency = clean_currency(currency, actor.organization)
    quota.created_by = quota.updated_by = actor
    _save_new(quota)
    audit.record(actor=actor, action="quota.create", target=quota, changes=_recorded(quota))
    return quota


@transaction.atomic
def quota_update(*, actor: Any, quota: Quota, expected_version: int | None, data: dict[str, Any]) -> Quota:
    """Change the amount or the currency; refused with VersionConflict when the quota changed since
    `expected_version` was read. (Another rep or period is another quota: delete this one instead.)"""
    require(actor, "edit", quota)
    unknown = sorted(set(data) - set(UPDATABLE))
    if unknown:
        message = _("This field cannot be set here.")
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [message] for name in unknown},
        )
    if expected_version is not None and expected_version != quota.version:
        raise VersionConflict()
    before = audit.snapshot(quota, UPDATABLE)
    if "amount" in data:
        quota.amount = clean_amount(data["amount"])
    if "currency" in data:
        quota.currency = clean_currency(data["currency"], actor.organization)
    changes = audit.diff(before, audit.snapshot(quota, UPDATABLE))
    if not changes:
        return quota
    save_versioned(quota, actor=actor, expected_version=expected_version, fields=list(changes))
    changes["period"] = quota.period_label
    changes["user"] = quota.owner_id
    audit.record(actor=actor, action="quota.update", target=quota, changes=changes)
    return quota


@transaction.atomic
def quota_delete(*, actor: Any, quota: Quota, expected_version: int | None = None) -> Quota:
    """Move to the recycle bin; `quota_restore` brings it back."""
    require(actor, "delete", quota)
    quota.deleted_at = timezone.now()
    save_versioned(quota, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="quota.delete", target=quota, changes=_recorded(quota))
    return quota


@transaction.atomic
def quota_restore(*, actor: Any, quota: Quota) -> Quota:
    """Bring a deleted quota back, unless the rep has been given another one for the period meanwhile."""
    require(actor, "restore", quota)
    if quota.deleted_at is None:
        return quota
    if _live_twin(quota) is not None:
        raise _taken(quota)
    now = timezone.now()
    try:
        with transaction.atomic():
            restored = Quota.objects.filter(pk=quota.pk, version=quota.version, deleted_at__isnull=False).update(
                deleted_at=None, version=quota.version + 1, updated_at=now, updated_by_id=actor.pk
            )
    except IntegrityError as exc:
        raise _taken(quota) from exc
    if restored != 1:
        raise VersionConflict()
    quota.deleted_at, quota.version, quota.updated_at, quota.updated_by_id = None, quota.version + 1, now, actor.pk
    audit.record(actor=actor, action="quota.restore", target=quota, changes=_recorded(quota))
    return quota


# The quarter grid ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridCell:
    """What the grid sent for one rep and month: the amount typed (None: left empty) and the version of
    the quota the user saw in that cell (None: the cell was empty when the page was opened)."""

    user: Any
    month: date
    amount: Decimal | None
    version: int | None


@dataclass
class GridSaved:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted


@transaction.atomic
def quota_grid_save(*, actor: Any, quarter: Period, cells: list[GridCell]) -> GridSaved:
    """Save the monthly quotas of a quarter's grid, all or nothing: a typed amount sets the month's quota,
    an emptied cell deletes it (to the recycle bin), an unchanged cell is left alone. A cell whose quota
    someone else changed (or created) since the page was opened raises VersionConflict."""
    months = set(quarter.months)
    if quarter.kind != "quarter" or any(cell.month not in months for cell in cells):
        raise _fail("quarter", _("Choose the months of one quarter."))
    existing = {
        (q.owner_id, q.period_start): q
        for q in Quota.objects.select_for_update(of=("self",))
        .filter(
            organization_id=actor.organization_id,
            owner_id__in={cell.user.pk for cell in cells},
            period_kind=Quota.Period.MONTH,
            period_start__in=months,
            deleted_at__isnull=True,
        )
        .select_related("owner__team")
    }
    saved = GridSaved()
    for cell in cells:
        quota = existing.get((cell.user.pk, cell.month))
        seen = cell.version
        if quota is None:
            if seen is not None and cell.amount is not None:
                raise VersionConflict()  # the quota the user saw was deleted meanwhile
            if cell.amount is not None:
                quota_create(
                    actor=actor,
                    user=cell.user,
                    period_kind=Quota.Period.MONTH,
                    period_start=cell.month,
                    amount=cell.amount,
                )
                saved.created += 1
            continue
        if seen is None or seen != quota.version:
            if cell.amount is not None and cell.amount == quota.amount:
                continue  # someone else set the same target: nothing to overwrite
            raise VersionConflict()
        if cell.amount is None:
            quota_delete(actor=actor, quota=quota, expected_version=seen)
            saved.deleted += 1
        elif cell.amount != quota.amount:
            quota_update(actor=actor, quota=quota, expected_version=seen, data={"amount": cell.amount})
            saved.updated += 1
    return saved
