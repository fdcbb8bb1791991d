"""Reads of quotas and the forecast. Every read starts from `visible_to(actor)`.

The forecast is a handful of aggregate queries whatever the number of opportunities: open pipeline by
(owner, currency, expected close month), won by (owner, currency, month closed in the organisation's time
zone), the period's quotas, and the reps in scope. Python then only adds up those few grouped rows. Both
opportunity queries read a range of one index (forecast_indexes.py: (organization, status, expected close)
for the open ones, (organization, status, closed at) for the won ones; covering on PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import scope_filter
from kehu.core.permissions import Scope, can
from kehu.core.services import require
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import Period, add_months, organization_tz, quarter_start
from kehu.sales.models import MODULE, Opportunity

DEFAULT_COMMIT_THRESHOLD = 70  # open deals at this probability (%) or above are "commit"
GROUP_BY = ("owner", "team", "month")
CENT = Decimal("0.01")


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Reps and teams ---------------------------------------------------------------------------------------


def _is_seller(user: Any) -> bool:
    """Someone who works sales records (a role that may create them), i.e. who may carry a quota."""
    return user.is_active and "create" in user.grant_for(MODULE).actions


def users_in_scope_for(*, actor: Any) -> QuerySet:
    """The colleagues whose sales records `actor`'s role shows: themselves, their team (and sub-teams), or
    everyone, by the role's data scope in sales."""
    from kehu.accounts.models import User

    if not can(actor, "view", Opportunity):
        return User.objects.none()
    scope = actor.grant_for(MODULE).scope
    return User.objects.filter(organization_id=actor.organization_id).filter(scope_filter(actor, scope, owner_field=""))


def team_choices_for(*, actor: Any) -> list[Any]:
    """The teams whose forecast `actor` may filter by: every team in their scope (none for "own")."""
    from kehu.accounts.models import Team

    if not can(actor, "view", Opportunity):
        return []
    scope = actor.grant_for(MODULE).scope
    teams = Team.objects.filter(organization_id=actor.organization_id)
    if scope == Scope.ORGANIZATION:
        return list(teams.order_by("path"))
    if scope == Scope.OWN or actor.team_id is None:
        return []
    if scope == Scope.TEAM:
        return list(teams.filter(pk=actor.team_id))
    return list(teams.filter(path__startswith=actor.team.path).order_by("path"))


def team_get_for(*, actor: Any, pk: Any) -> Any:
    """A team of `team_choices_for`, or NotFound (another organisation's team fails like a missing one)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotFound() from exc
    for team in team_choices_for(actor=actor):
        if team.pk == pk:
            return team
    raise NotFound()


def rep_choices_for(*, actor: Any, team: Any = None) -> list[Any]:
    """Active colleagues in scope who sell and whose quotas `actor` may set, by team then name."""
    users = users_in_scope_for(actor=actor).filter(is_active=True).select_related("team", "role", "organization")
    if team is not None:
        users = users.filter(team__path__startswith=team.path)
    reps = [u for u in users if _is_seller(u) and can(actor, "create", _quota_for(actor, u))]
    return sorted(reps, key=lambda u: (u.team.path if u.team else "~", u.name or u.email))


def rep_get_for(*, actor: Any, pk: Any) -> Any:
    """A colleague in `actor`'s scope (active or not), or NotFound."""
    return _get(users_in_scope_for(actor=actor).select_related("team", "role"), pk)


def _quota_for(actor: Any, rep: Any) -> Quota:
    return Quota(organization_id=actor.organization_id, owner=rep)


# Quotas -----------------------------------------------------------------------------------------------


def quota_list_for(
    *,
    actor: Any,
    owner: Any = None,
    team: Any = None,
    period_kind: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Quota]:
    """Quotas in scope; `start`/`end` bound the period start ([start, end))."""
    qs = Quota.objects.visible_to(actor).select_related("owner__team", "updated_by")
    if owner is not None:
        qs = qs.filter(owner_id=getattr(owner, "pk", owner))
    if team is not None:
        qs = qs.filter(owner__team__path__startswith=team.path)
    if period_kind:
        qs = qs.filter(period_kind=period_kind)
    if start is not None:
        qs = qs.filter(period_start__gte=start)
    if end is not None:
        qs = qs.filter(period_start__lt=end)
    return qs


def quota_get_for(*, actor: Any, pk: Any) -> Quota:
    return _get(quota_list_for(actor=actor), pk)


def quota_recycle_bin_for(*, actor: Any) -> QuerySet[Quota]:
    """Deleted quotas in scope (the same scope as the live ones)."""
    if not can(actor, "view", Quota):
        return Quota.objects.none()
    scope = actor.grant_for(MODULE).scope
    return (
        Quota.objects.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
        .filter(scope_filter(actor, scope))
        .select_related("owner__team", "updated_by")
    )


def quota_deleted_get_for(*, actor: Any, pk: Any) -> Quota:
    return _get(quota_recycle_bin_for(actor=actor), pk)


def quota_grid_for(*, actor: Any, quarter: Period, team: Any = None) -> list[dict[str, Any]]:
    """The quarter's quota grid: one row per rep in scope (filtered by `team`) with their monthly quotas
    (or None) for the quarter's three months, and their quarterly quota if one is set."""
    reps = rep_choices_for(actor=actor, team=team) if _can_set_quotas(actor) else []
    visible = users_in_scope_for(actor=actor).filter(is_active=True).select_related("team", "role")
    if team is not None:
        visible = visible.filter(team__path__startswith=team.path)
    editable = {u.pk for u in reps}
    people = {u.pk: u for u in visible if _is_seller(u)}
    quotas = quota_list_for(actor=actor, team=team, start=quarter.start, end=quarter.end)
    by_owner: dict[int, dict[str, Any]] = defaultdict(dict)
    for quota in quotas:
        if quota.owner_id is None:
            continue
        people.setdefault(quota.owner_id, quota.owner)
        key = "quarter" if quota.period_kind == Quota.Period.QUARTER else quota.period_start
        by_owner[quota.owner_id][key] = quota
    rows = []
    for user in sorted(people.values(), key=lambda u: (u.team.path if u.team else "~", u.name or u.email)):
        cells = by_owner.get(user.pk, {})
        rows.append(
            {
                "user": user,
                "editable": user.pk in editable,
                "months": [(month, cells.get(month)) for month in quarter.months],
                "quarter": cells.get("quarter"),
            }
        )
    return rows


def _can_set_quotas(actor: Any) -> bool:
    return can(actor, "create", Quota)


# Forecast ---------------------------------------------------------------------------------------------


@dataclass
class Figures:
    """One line of the forecast. `quota` is None when no quota applies (attainment is then unknown)."""

    quota: Decimal | None = None
    won: Decimal = Decimal(0)
    commit: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    best_case: Decimal = Decimal(0)
    open_count: int = 0
    won_count: int = 0

    @property
    def attainment(self) -> Decimal | None:
        """Won as a percentage of the quota (one decimal), None without a quota."""
        if not self.quota:
            return None
        return (self.won * 100 / self.quota).quantize(Decimal("0.1"), ROUND_HALF_UP)

    def add(self, other: Figures) -> None:
        if other.quota is not None:
            self.quota = (self.quota or Decimal(0)) + other.quota
        self.won += other.won
        self.commit += other.commit
        self.weighted += other.weighted
        self.best_case += other.best_case
        self.open_count += other.open_count
        self.won_count += other.won_count

    def rounded(self) -> Figures:
        self.weighted = self.weighted.quantize(CENT, ROUND_HALF_UP)
        return self


@dataclass
class OwnerLine:
    owner: Any  # a User, or None for opportunities nobody owns
    figures: Figures

    @property
    def team(self) -> Any:
        return getattr(self.owner, "team", None)


@dataclass
class TeamBlock:
    team: Any  # a Team, or None for reps without a team
    lines: list[OwnerLine]
    subtotal: Figures


@dataclass
class MonthLine:
    month: date
    figures: Figures


@dataclass
class Forecast:
    period: Period
    currency: str
    commit_threshold: int
    team: Any
    lines: list[OwnerLine]
    teams: list[TeamBlock]
    months: list[MonthLine]
    total: Figures
    other_currencies: dict[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """No opportunity at all in the period (in any currency), whatever the quotas."""
        t = self.total
        return not (t.open_count or t.won_count or self.other_currencies)


def _spread(amount: Decimal, index: int) -> Decimal:
    """Month `index` (0-2) of a quarterly quota: a third each, the last month taking the cents left over."""
    third = (amount / 3).quantize(CENT, ROUND_DOWN)
    return amount - 2 * third if index == 2 else third


def _quota_by_owner_month(quotas: list[dict[str, Any]], months: list[date]) -> dict[Any, dict[date, Decimal]]:
    monthly: dict[Any, dict[date, Decimal]] = defaultdict(dict)
    quarterly: dict[Any, dict[date, Decimal]] = defaultdict(dict)
    for q in quotas:
        target = quarterly if q["period_kind"] == Quota.Period.QUARTER else monthly
        target[q["owner_id"]][q["period_start"]] = q["amount"]
    result: dict[Any, dict[date, Decimal]] = defaultdict(dict)
    for owner in set(monthly) | set(quarterly):
        for month in months:
            if month in monthly[owner]:
                result[owner][month] = monthly[owner][month]
                continue
            start = quarter_start(month)
            if start in quarterly[owner]:
                result[owner][month] = _spread(quarterly[owner][start], (month.month - start.month))
    return result


def forecast_for(
    *,
    actor: Any,
    period: Period,
    team: Any = None,
    commit_threshold: int = DEFAULT_COMMIT_THRESHOLD,
    currency: str | None = None,
) -> Forecast:
    """The forecast of `period` for the opportunities and quotas `actor` may see (optionally one team and
    its sub-teams), in one currency (default: the organisation's)."""
    require(actor, "view", Opportunity)
    if not 0 <= commit_threshold <= 100:
        message = _("Enter a probability from 0 to 100.")
        raise ValidationFailed(message, fields={"commit_threshold": [message]})
    organization = actor.organization
    currency = (currency or organization.currency or "CNY").upper()
    tz = organization_tz(organization)
    months = period.months

    people = users_in_scope_for(actor=actor).select_related("team", "role")
    if team is not None:
        people = people.filter(team__path__startswith=team.path)
    users = {u.pk: u for u in people}
    sellers = {pk for pk, u in users.items() if _is_seller(u)}

    opportunities = Opportunity.objects.visible_to(actor).order_by()
    quotas_qs = Quota.objects.visible_to(actor).order_by()
    if team is not None:
        opportunities = opportunities.filter(owner_id__in=list(users))
        quotas_qs = quotas_qs.filter(owner_id__in=list(users))

    # One row per (owner, currency, probability), a count and a sum per month (FILTER clauses): a hash
    # aggregate over the covering index's entries of the period. Grouping by a month expression made
    # PostgreSQL sort every row first (it cannot estimate how many months an expression yields); grouping
    # by probability leaves the weighted sum and the commit threshold to the few grouped rows.
    open_month = [Q(expected_close_date__gte=month, expected_close_date__lt=add_months(month, 1)) for month in months]
    open_rows = (
        opportunities.filter(
            status=Opportunity.Status.OPEN, expected_close_date__gte=period.start, expected_close_date__lt=period.end
        )
        .values("owner_id", "currency", "probability")
        .annotate(
            **{
                f"{measure}_{i}": aggregate
                for i, in_month in enumerate(open_month)
                for measure, aggregate in (
                    # COUNT of a column of the index (not of the id) keeps the scan index-only.
                    ("n", Count("expected_close_date", filter=in_month)),
                    ("best", Sum("amount", filter=in_month)),
                )
            }
        )
    )
    start_at, end_at = period.bounds(tz)
    won_month = [
        Q(closed_at__gte=low, closed_at__lt=high)
        for low, high in (Period("month", month).bounds(tz) for month in months)
    ]
    won_rows = (
        opportunities.filter(status=Opportunity.Status.WON, closed_at__gte=start_at, closed_at__lt=end_at)
        .values("owner_id", "currency")
        .annotate(
            **{
                f"{measure}_{i}": aggregate
                for i, in_month in enumerate(won_month)
                for measure, aggregate in (
                    ("n", Count("closed_at", filter=in_month)),
                    ("won", Sum("amount", filter=in_month)),
                )
            }
        )
    )
    quota_rows = list(
        quotas_qs.filter(currency=currency)
        .filter(
            Q(period_kind=Quota.Period.MONTH, period_start__gte=period.start, period_start__lt=period.end)
            | Q(
                period_kind=Quota.Period.QUARTER,
                period_start__gte=quarter_start(period.start),
                period_start__lt=period.end,
            )
        )
        .values("owner_id", "period_kind", "period_start", "amount")
    )

    cells: dict[tuple[Any, date], Figures] = defaultdict(Figures)
    other: dict[str, int] = defaultdict(int)
    zero = Decimal(0)
    for row in open_rows:
        if row["currency"] != currency:
            other[row["currency"]] += sum(row[f"n_{i}"] for i in range(len(months)))
            continue
        probability = Decimal(row["probability"])
        committed = row["probability"] >= commit_threshold
        for i, month in enumerate(months):
            if not row[f"n_{i}"]:
                continue
            cell = cells[(row["owner_id"], month)]
            best = row[f"best_{i}"] or zero
            cell.open_count += row[f"n_{i}"]
            cell.best_case += best
            cell.weighted += best * probability / 100
            if committed:
                cell.commit += best
    for row in won_rows:
        if row["currency"] != currency:
            other[row["currency"]] += sum(row[f"n_{i}"] for i in range(len(months)))
            continue
        for i, month in enumerate(months):
            if not row[f"n_{i}"]:
                continue
            cell = cells[(row["owner_id"], month)]
            cell.won_count += row[f"n_{i}"]
            cell.won += row[f"won_{i}"] or zero
    for owner_id, by_month in _quota_by_owner_month(quota_rows, months).items():
        for month, amount in by_month.items():
            cell = cells[(owner_id, month)]
            cell.quota = (cell.quota or Decimal(0)) + amount

    # Owners with figures who are not among the people read above (deactivated, or without a sales role).
    missing = {owner for owner, _month in cells if owner is not None and owner not in users}
    if missing:
        from kehu.accounts.models import User

        users.update({u.pk: u for u in User.objects.filter(pk__in=missing).select_related("team", "role")})

    by_owner: dict[Any, Figures] = {pk: Figures() for pk in sellers}
    by_month: dict[date, Figures] = {month: Figures() for month in months}
    for (owner_id, month), cell in cells.items():
        by_owner.setdefault(owner_id, Figures()).add(cell)
        if month in by_month:
            by_month[month].add(cell)

    lines = [
        OwnerLine(users.get(pk) if pk is not None else None, figures.rounded()) for pk, figures in by_owner.items()
    ]
    lines.sort(key=_line_order)
    teams: list[TeamBlock] = []
    total = Figures()
    for line in lines:
        team_of = line.team
        if not teams or getattr(teams[-1].team, "pk", None) != getattr(team_of, "pk", None):
            teams.append(TeamBlock(team_of, [], Figures()))
        teams[-1].lines.append(line)
        teams[-1].subtotal.add(line.figures)
        total.add(line.figures)
    return Forecast(
        period=period,
        currency=currency,
        commit_threshold=commit_threshold,
        team=team,
        lines=lines,
        teams=teams,
        months=[MonthLine(month, by_month[month].rounded()) for month in months],
        total=total.rounded(),
        other_currencies=dict(sorted(other.items())),
    )


def _line_order(line: OwnerLine) -> tuple[int, str, str]:
    if line.owner is None:
        return (2, "", "")
    team = line.team
    return (0 if team is not None else 1, team.path if team else "", line.owner.name or line.owner.email)
