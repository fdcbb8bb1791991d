"""Every read of pipelines, stages and opportunities. Opportunities start from `visible_to(actor)`: one
outside the actor's organisation or data scope is never returned, and asking for it by id is NotFound.

The kanban board reads one grouped query for its column headers (count and sum per stage) and one
keyset page per column: its cost does not grow with the number of opportunities on the board."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import CharField, Count, DecimalField, F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from kehu.core import audit_selectors, custom_fields
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.core.search_backends import among, capped_ids
from kehu.customers import timeline
from kehu.customers.selectors import Page
from kehu.sales import search as sales_search
from kehu.sales.models import Opportunity, Pipeline, Stage, StageChange
from kehu.sales.opportunity_services import OPPORTUNITY_TYPE
from kehu.sales.templatetags.opportunity_tags import money

# The only columns a list may be sorted by: the sort parameter never reaches SQL unchecked.
ORDERING_FIELDS = ("updated_at", "created_at", "name", "amount", "expected_close_date")
NULLABLE_ORDERING = ("amount", "expected_close_date")
DEFAULT_ORDERING = "-updated_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
BOARD_PAGE_SIZE = 20
# Won and lost columns of the board show what closed in these last days (the rest is in the list).
RECENTLY_CLOSED_DAYS = 30
SEARCH_MAX_LENGTH = 100
CUSTOMER_PANEL_LIMIT = 8


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


# Pipelines and stages --------------------------------------------------------------------------------


def pipeline_list_for(*, actor: Any, active_only: bool = False) -> QuerySet[Pipeline]:
    """The organisation's pipelines (configuration: everyone with `view` in sales reads them), each with its
    stages in order (one more query for all of them)."""
    qs = Pipeline.objects.visible_to(actor)
    if active_only:
        qs = qs.filter(is_active=True)
    stages = Stage.objects.order_by("position", "id")
    return qs.prefetch_related(Prefetch("stages", queryset=stages)).order_by("position", "id")


def pipeline_get_for(*, actor: Any, pk: Any) -> Pipeline:
    return _get(pipeline_list_for(actor=actor), pk)


def default_pipeline_for(*, actor: Any, pk: Any = None, among: list[Pipeline] | None = None) -> Pipeline | None:
    """The pipeline `pk` names, else the default one (created on first use), else the first active one.
    `among`: pipelines already read through pipeline_list_for (the board's tabs): one of them is returned as
    it is, with its stages, instead of being read again."""
    from kehu.sales.opportunity_services import ensure_default_pipeline

    if pk not in (None, ""):
        return _pipeline_among(among, pk) or pipeline_get_for(actor=actor, pk=pk)
    if not can(actor, "view", Pipeline):
        return None
    listed = next((pipeline for pipeline in among or () if pipeline.is_default), None)
    if listed is not None:
        return listed
    default = ensure_default_pipeline(actor.organization)
    return pipeline_get_for(actor=actor, pk=default.pk)


def _pipeline_among(pipelines: list[Pipeline] | None, pk: Any) -> Pipeline | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError, OverflowError):
        return None
    return next((pipeline for pipeline in pipelines or () if pipeline.pk == pk), None)


def stage_list_for(*, actor: Any, pipeline: Any = None) -> QuerySet[Stage]:
    qs = Stage.objects.visible_to(actor).select_related("pipeline")
    if pipeline is not None:
        qs = qs.filter(pipeline_id=getattr(pipeline, "pk", pipeline))
    return qs.order_by("pipeline__position", "pipeline_id", "position", "id")


def stage_get_for(*, actor: Any, pk: Any) -> Stage:
    return _get(stage_list_for(actor=actor), pk)


def rotting_q(stages: list[Stage], now: datetime | None = None) -> Q:
    """Open opportunities that sat in their stage longer than its `rot_days` (per stage, so it stays portable
    and each branch can use the (organisation, stage, ...) index)."""
    now = now or timezone.now()
    q = Q(pk__in=[])
    for stage in stages:
        if stage.rot_days and stage.kind == Stage.Kind.OPEN:
            q |= Q(stage_id=stage.pk, stage_entered_at__lt=now - timedelta(days=stage.rot_days))
    return q & Q(status=Opportunity.Status.OPEN)


# Filters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpportunityFilters:
    search: str = ""
    pipeline: int | None = None
    stage: int | None = None
    status: str = ""
    owner: int | None = None
    team: int | None = None
    customer: int | None = None
    close_from: date | None = None
    close_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    rotting: bool = False
    # Custom fields: {"custom.<key>" | "custom.<key>.min|max": value} (kehu.core.custom_fields.filter_q).
    custom: dict = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> OpportunityFilters:
        data = data or {}
        values = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            if hasattr(value, "pk"):
                value = value.pk
            if value not in (None, "", False):
                values[name] = value
        return cls(**values)

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def _team_member_ids(actor: Any, team_id: int) -> list[int]:
    from kehu.accounts.models import Team, User

    team = Team.objects.filter(organization_id=actor.organization_id, pk=team_id).first()
    if team is None:
        return []
    members = User.objects.filter(organization_id=actor.organization_id, team__path__startswith=team.path)
    return list(members.values_list("pk", flat=True))


def search_filter(qs: QuerySet[Opportunity], query: str) -> QuerySet[Opportunity]:
    """The opportunities of `qs` whose name or customer's name holds `query` (kehu/sales/search.py), every
    one of them: on PostgreSQL through the gram and trigram indexes."""
    return sales_search.filter_queryset(qs, query, sales_search.OPPORTUNITY_SPEC)


def opportunity_queryset_for(
    *, actor: Any, filters: OpportunityFilters | dict | None = None, base: QuerySet | None = None
) -> QuerySet[Opportunity]:
    """The visible opportunities matching `filters`, unordered and unpaginated (callers bound it)."""
    if not isinstance(filters, OpportunityFilters):
        filters = OpportunityFilters.from_mapping(filters)
    qs = Opportunity.objects.visible_to(actor) if base is None else base
    if filters.search.strip():
        qs = search_filter(qs, filters.search)
    for name in ("pipeline", "stage", "owner", "customer"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{f"{name}_id": value})
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.team:
        qs = qs.filter(owner_id__in=_team_member_ids(actor, filters.team))
    if filters.close_from:
        qs = qs.filter(expected_close_date__gte=filters.close_from)
    if filters.close_to:
        qs = qs.filter(expected_close_date__lte=filters.close_to)
    if filters.amount_min is not None:
        qs = qs.filter(amount__gte=filters.amount_min)
    if filters.amount_max is not None:
        qs = qs.filter(amount__lte=filters.amount_max)
    if filters.rotting:
        stages = Stage.objects.filter(organization_id=actor.organization_id, rot_days__gt=0)
        if filters.pipeline:
            stages = stages.filter(pipeline_id=filters.pipeline)
        qs = qs.filter(rotting_q(list(stages)))
    if filters.custom:
        definitions = custom_fields.definitions_for(actor.organization_id, OPPORTUNITY_TYPE)
        qs = qs.filter(custom_fields.filter_q(definitions, filters.custom))
    return qs


# Keyset pagination -----------------------------------------------------------------------------------


def parse_ordering(value: str | None) -> tuple[str, bool]:
    """("amount", descending) from "amount" / "-amount"; anything off the whitelist is a validation error."""
    value = (value or DEFAULT_ORDERING).strip()
    name = value.removeprefix("-")
    if name not in ORDERING_FIELDS:
        allowed = ", ".join(ORDERING_FIELDS)
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": allowed}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _encode_cursor(ordering: str, obj: Any, name: str) -> str:
    value = getattr(obj, name)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif value is not None:
        value = str(value)
    raw = json.dumps({"o": ordering, "v": value, "i": obj.pk}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, ordering: str, name: str) -> tuple[Any, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, pk = payload["v"], int(payload["i"])
        if payload["o"] != ordering:
            raise ValueError("cursor of another list")
        if value is not None:
            if not isinstance(value, str) or "\x00" in value:  # PostgreSQL refuses NUL in text parameters
                raise ValueError("bad value")
            if name in ("updated_at", "created_at"):
                value = datetime.fromisoformat(value)
            elif name == "expected_close_date":
                value = date.fromisoformat(value)
            elif name == "amount":
                value = Decimal(value)
                if not value.is_finite():
                    raise ValueError("bad amount")
        elif name not in NULLABLE_ORDERING:
            raise ValueError("no value")
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        InvalidOperation,
        binascii.Error,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as exc:
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return value, pk


def keyset_page(qs: QuerySet, *, ordering: str | None, cursor: str | None, limit: int) -> Page:
    """Rows after the cursor's row, in `ordering` then id. Empty amounts and close dates sort last either
    way; only sortable columns that are never empty use their index order as is."""
    name, descending = parse_ordering(ordering)
    ordering = f"-{name}" if descending else name
    try:
        limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    except (TypeError, ValueError):
        limit = DEFAULT_PAGE_SIZE
    op = "lt" if descending else "gt"
    nullable = name in NULLABLE_ORDERING
    if cursor:
        value, pk = _decode_cursor(cursor, ordering, name)
        if value is None:  # within the trailing empty values
            qs = qs.filter(Q(**{f"{name}__isnull": True, f"pk__{op}": pk}))
        else:
            q = Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk})
            if nullable:
                q |= Q(**{f"{name}__isnull": True})
            qs = qs.filter(q)
    if nullable:
        first = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    else:
        first = f"-{name}" if descending else name
    rows = list(qs.order_by(first, "-pk" if descending else "pk")[: limit + 1])
    page = Page(items=rows[:limit], ordering=ordering, limit=limit)
    if len(rows) > limit:
        page.next_cursor = _encode_cursor(ordering, rows[limit - 1], name)
    return page


# Opportunities ---------------------------------------------------------------------------------------


def _with_list_relations(qs: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    return qs.select_related("customer", "owner", "stage", "pipeline")


def opportunities_with_relations_for(*, actor: Any) -> QuerySet[Opportunity]:
    return _with_list_relations(Opportunity.objects.visible_to(actor))


def opportunity_list_for(
    *,
    actor: Any,
    filters: OpportunityFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One page of the opportunities the actor may see: filtered, sorted on the whitelist, keyset-paginated
    (one query, with customer, owner, stage and pipeline joined; a search adds two to four, see
    _search_page_ids)."""
    if not isinstance(filters, OpportunityFilters):
        filters = OpportunityFilters.from_mapping(filters)
    if filters.search.strip():
        base = opportunity_queryset_for(actor=actor, filters=replace(filters, search=""))
        ids, capped_at = _search_page_ids(
            base, filters.search, ordering=ordering or DEFAULT_ORDERING, cursor=cursor, limit=limit
        )
        page = keyset_page(_with_list_relations(among(base, ids)), ordering=ordering, cursor=cursor, limit=limit)
        page.capped_at = capped_at
        return page
    qs = _with_list_relations(opportunity_queryset_for(actor=actor, filters=filters))
    return keyset_page(qs, ordering=ordering, cursor=cursor, limit=limit)


def _search_page_ids(
    base: QuerySet, query: str, *, ordering: str, cursor: str | None, limit: Any
) -> tuple[list[int], int | None]:
    """The ids a searched page is cut from, and the cap when it cut the matches (else None). Newest first:
    the limit + 1 newest matches after the cursor, by the search module (a walk of the newest opportunities,
    then the indexes: core.search_backends), so every match is reachable page by page. Any other order pages
    through the LIST_LIMIT newest matches (core.search_backends.capped_ids), as the customer list does with its
    most relevant (opportunities have no name index to rank by). A sales rep's walk reads their own rows by an
    owner-led index (sales/search.py, WALK_INDEXES), not the organisation's."""
    if parse_ordering(ordering) != ("updated_at", True):
        return capped_ids(lambda n: sales_search.search_ids(base, query, sales_search.OPPORTUNITY_SPEC, limit=n))
    try:
        limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    except (TypeError, ValueError):
        limit = DEFAULT_PAGE_SIZE
    if cursor:
        value, pk = _decode_cursor(cursor, "-updated_at", "updated_at")
        base = base.filter(Q(updated_at__lt=value) | Q(updated_at=value, pk__lt=pk))
    return sales_search.search_ids(base, query, sales_search.OPPORTUNITY_SPEC, limit=limit + 1), None


def opportunity_get_for(*, actor: Any, pk: Any) -> Opportunity:
    qs = Opportunity.objects.visible_to(actor).select_related(
        "customer", "contact", "owner__team", "stage", "pipeline", "created_by", "updated_by"
    )
    return _get(qs, pk)


def opportunities_for_bulk(*, actor: Any, ids: list[Any]) -> list[Opportunity]:
    """The visible opportunities among `ids` (others are silently not part of a bulk action)."""
    try:
        pks = [int(pk) for pk in ids][:MAX_PAGE_SIZE]
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(_("Select opportunities from the list."), fields={"ids": [_("Invalid id.")]}) from exc
    qs = Opportunity.objects.visible_to(actor).filter(pk__in=pks).select_related("owner__team", "stage")
    return list(qs.order_by("pk"))


def opportunity_recycle_bin_for(*, actor: Any) -> QuerySet[Opportunity]:
    """Deleted opportunities in the actor's organisation and scope."""
    from kehu.core.models import scope_filter

    if not can(actor, "view", Opportunity):
        return Opportunity.objects.none()
    qs = Opportunity.objects.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
    qs = qs.filter(scope_filter(actor, actor.grant_for(Opportunity.module).scope))
    return qs.select_related("customer", "owner", "updated_by", "stage")


def opportunity_deleted_get_for(*, actor: Any, pk: Any) -> Opportunity:
    return _get(opportunity_recycle_bin_for(actor=actor).select_related("owner__team", "pipeline"), pk)


def owner_choices_for(*, actor: Any) -> list[Any]:
    """Active colleagues who may work with opportunities: the people one can be assigned to."""
    from kehu.accounts.models import User

    users = User.objects.visible_to(actor).filter(is_active=True).select_related("role", "organization")
    return [user for user in users.order_by("name", "email") if can(user, "view", Opportunity)]


def team_choices_for(*, actor: Any) -> list[Any]:
    from kehu.accounts.selectors import team_list_for

    return list(team_list_for(actor=actor).order_by("path"))


# Stage history ---------------------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    """ "3 days 4 hours", "2 hours 5 minutes", "under a minute", in the reader's language."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(n)d day", "%(n)d days", days) % {"n": days})
    if hours and len(parts) < 2:
        parts.append(ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours})
    if minutes and not days and len(parts) < 2:
        parts.append(ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes})
    return " ".join(parts) if parts else _("under a minute")


@dataclass
class StageVisit:
    """A stay of the opportunity in one stage: when it entered, who moved it, how long it stayed."""

    change: StageChange
    seconds: float
    left_at: datetime | None

    @property
    def current(self) -> bool:
        return self.left_at is None

    @property
    def duration(self) -> str:
        return duration_text(self.seconds)


@dataclass
class StageTime:
    stage: str
    seconds: float

    @property
    def duration(self) -> str:
        return duration_text(self.seconds)


def opportunity_history_for(*, actor: Any, opportunity: Opportunity, now: datetime | None = None) -> list[StageVisit]:
    """Every stage the opportunity entered, oldest first, with the time it spent there (up to now for the
    stage it is in). The actor must see the opportunity."""
    if not can(actor, "view", opportunity):
        raise NotFound()
    now = now or timezone.now()
    rows = list(
        StageChange.objects.filter(organization_id=opportunity.organization_id, opportunity=opportunity)
        .select_related("by")
        .order_by("at", "id")
    )
    visits = []
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        if following is None:
            seconds = (now - row.at).total_seconds()
        elif following.seconds_in_previous is not None:
            seconds = following.seconds_in_previous
        else:
            seconds = (following.at - row.at).total_seconds()
        visits.append(StageVisit(change=row, seconds=max(seconds, 0), left_at=following.at if following else None))
    return visits


def time_in_stages(visits: list[StageVisit]) -> list[StageTime]:
    """The total time per stage (an opportunity may enter a stage more than once), in first-entered order."""
    totals: dict[str, float] = {}
    for visit in visits:
        name = visit.change.to_stage_name
        totals[name] = totals.get(name, 0) + visit.seconds
    return [StageTime(stage=name, seconds=seconds) for name, seconds in totals.items()]


# The kanban board ------------------------------------------------------------------------------------


@dataclass
class Column:
    stage: Stage
    count: int = 0
    # Sums per currency ({"CNY": Decimal, "USD": Decimal}): amounts in different currencies are never added.
    totals: dict[str, Decimal] = field(default_factory=dict)
    weighted: dict[str, Decimal] = field(default_factory=dict)
    page: Page | None = None

    @property
    def closed(self) -> bool:
        return self.stage.kind != Stage.Kind.OPEN


def _board_base(
    actor: Any, pipeline: Pipeline, filters: OpportunityFilters | dict | None, closed_days: int = RECENTLY_CLOSED_DAYS
) -> QuerySet:
    qs = opportunity_queryset_for(actor=actor, filters=_board_filters(filters, pipeline))
    if not closed_days:
        return qs
    since = timezone.now() - timedelta(days=closed_days)
    return qs.filter(Q(status=Opportunity.Status.OPEN) | Q(closed_at__gte=since))


def _summary_rows(qs: QuerySet, *, by_owner: bool = False) -> QuerySet:
    money = DecimalField(max_digits=20, decimal_places=2)
    keys = ("owner_id", "stage_id", "currency") if by_owner else ("stage_id", "currency")
    return (
        qs.order_by()
        .values(*keys)
        .annotate(
            count=Count("*"),
            total=Coalesce(Sum("amount"), Decimal(0), output_field=money),
            weighted=Coalesce(Sum(F("amount") * F("probability"), output_field=money), Decimal(0), output_field=money),
        )
    )


def _summary_queries(base: QuerySet, closed_days: int) -> tuple[QuerySet, QuerySet]:
    """The open opportunities of `base`, and the ones closed in the last `closed_days` days (0: all)."""
    closed = base.filter(status__in=[Opportunity.Status.WON, Opportunity.Status.LOST])
    if closed_days:
        closed = closed.filter(closed_at__gte=timezone.now() - timedelta(days=closed_days))
    return base.filter(status=Opportunity.Status.OPEN), closed


def _owner_figures(organization_id: int, pipeline: Pipeline, closed_days: int, owners: list[int | None]) -> list[tuple]:
    """(owner id, stage id, currency, count, total, weighted×100) of the live opportunities of `owners` (None:
    without an owner) on the pipeline's board: the readers apply their scope to the owner ids
    (board_summary_for). The covering indexes lead with the owner, so a few owners read only their entries."""
    ids = [owner for owner in owners if owner is not None]
    mine = Q(owner_id__in=ids) | Q(owner__isnull=True) if None in owners else Q(owner_id__in=ids)
    base = Opportunity.objects.dangerously_all_organizations().filter(
        mine, organization_id=organization_id, deleted_at__isnull=True, pipeline_id=pipeline.pk
    )
    rows = []
    for qs in _summary_queries(base, closed_days):
        for row in _summary_rows(qs, by_owner=True):
            rows.append(
                (row["owner_id"], row["stage_id"], row["currency"], row["count"], row["total"], row["weighted"])
            )
    return rows


def _add(
    summary: dict[int, dict[str, Any]], stage_id: int, currency: str, count: int, total: Any, weighted: Any
) -> None:
    cent = Decimal("0.01")
    figures = summary.setdefault(stage_id, {"count": 0, "totals": {}, "weighted": {}})
    currency = currency or "CNY"
    figures["count"] += count
    totals, shares = figures["totals"], figures["weighted"]
    totals[currency] = totals.get(currency, Decimal(0)) + Decimal(total).quantize(cent)
    shares[currency] = shares.get(currency, Decimal(0)) + (Decimal(weighted) / 100).quantize(cent)


# Filters the cached per-owner figures can answer (the rest need the live query).
OWNER_FILTERS = frozenset({"pipeline", "owner", "team"})


def board_summary_for(
    *,
    actor: Any,
    pipeline: Pipeline,
    filters: OpportunityFilters | dict | None = None,
    closed_days: int = RECENTLY_CLOSED_DAYS,
) -> dict[int, dict[str, Any]]:
    """{stage id: {"count", "totals": {currency: sum}, "weighted": {currency: sum}}} of the board's cards
    (open ones, and those closed in the last `closed_days` days; 0: every closed one).

    Unfiltered, or filtered by owner or team only (the board as it opens, the summary API): the figures per
    owner from the cache (kehu/sales/opportunity_summary.py: only the owners whose opportunities changed are
    counted again), added up over the owners the actor's scope covers, exactly what visible_to would count. Other filters: two grouped
    queries, the open ones (an index-only scan of `opp_board_open`, kehu/sales/salesperf_indexes.py) and
    the recently closed ones (`opp_board_closed`). One query with `status = 'open' OR closed_at >= ...`
    could use neither index: it read the whole table (~250 ms at 500,000 opportunities, benchmarks/RESULTS.md)."""
    from kehu.accounts.models import User
    from kehu.sales.activity_models import scope_owner_ids
    from kehu.sales.opportunity_summary import cached_figures

    filters = _board_filters(filters, pipeline)
    summary: dict[int, dict[str, Any]] = {}
    if not can(actor, "view", Opportunity):
        return summary
    used = {name for name in filters.__dataclass_fields__ if getattr(filters, name) not in (None, "", False, {})}
    if used <= OWNER_FILTERS:
        owners = scope_owner_ids(actor, actor.grant_for(Opportunity.module).scope)
        allowed = None if owners is None else set(owners)
        if filters.owner:
            allowed = {filters.owner} & allowed if allowed is not None else {filters.owner}
        if filters.team:
            members = set(_team_member_ids(actor, filters.team))
            allowed = members & allowed if allowed is not None else members
        if allowed is None:  # the whole organisation: every user, and the opportunities without an owner
            owner_ids: list[int | None] = [
                *User.objects.filter(organization_id=actor.organization_id).order_by("pk").values_list("pk", flat=True),
                None,
            ]
        else:
            owner_ids = sorted(allowed)
        rows = cached_figures(
            organization_id=actor.organization_id,
            pipeline=pipeline,
            closed_days=closed_days,
            owner_ids=owner_ids,
            compute=lambda owners: _owner_figures(actor.organization_id, pipeline, closed_days, owners),
        )
        for owner_id, stage_id, currency, count, total, weighted in rows:
            if allowed is None or owner_id in allowed:
                _add(summary, stage_id, currency, count, total, weighted)
        return summary
    base = opportunity_queryset_for(actor=actor, filters=filters)
    for qs in _summary_queries(base, closed_days):
        for row in _summary_rows(qs):
            _add(summary, row["stage_id"], row["currency"], row["count"], row["total"], row["weighted"])
    return summary


def _board_filters(filters: OpportunityFilters | dict | None, pipeline: Pipeline) -> OpportunityFilters:
    if not isinstance(filters, OpportunityFilters):
        filters = OpportunityFilters.from_mapping(filters)
    data = {name: getattr(filters, name) for name in filters.__dataclass_fields__}
    data.update(pipeline=pipeline.pk, stage=None, status="")
    return OpportunityFilters.from_mapping(data)


# What a card shows (and its cursor and policy checks read): a column page loads nothing else. The stage is
# the column's own, put on each card after loading (not joined: 120 Stage rows per board read for nothing).
CARD_FIELDS = (
    "organization_id",
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "probability",
    "status",
    "stage_entered_at",
    "updated_at",
    "version",
    "owner__name",
    "owner__email",
    "owner__team_id",
    "customer__name",
    "stage",
)


def board_column_for(
    *,
    actor: Any,
    stage: Stage,
    filters: OpportunityFilters | dict | None = None,
    cursor: str | None = None,
    limit: int = BOARD_PAGE_SIZE,
) -> Page:
    """One page of a column's cards, most recently changed first (one query, keyset-paginated)."""
    return _column_page(_cards_base(actor, stage.pipeline, filters), stage, cursor=cursor, limit=limit)


def _cards_base(actor: Any, pipeline: Pipeline, filters: OpportunityFilters | dict | None) -> QuerySet:
    return _board_base(actor, pipeline, filters).select_related("customer", "owner").only(*CARD_FIELDS)


def _column_page(base: QuerySet, stage: Stage, *, cursor: str | None = None, limit: int = BOARD_PAGE_SIZE) -> Page:
    page = keyset_page(base.filter(stage_id=stage.pk), ordering="-updated_at", cursor=cursor, limit=limit)
    for item in page.items:
        item.stage = stage
    return page


def board_for(*, actor: Any, pipeline: Pipeline, filters: OpportunityFilters | dict | None = None) -> list[Column]:
    """The board's columns: each stage with its count, sums and first page of cards. 1 + number of stages
    queries (the stages come prefetched with the pipeline)."""
    summary = board_summary_for(actor=actor, pipeline=pipeline, filters=filters)
    cards = None  # the columns' common query (scope, filters), built once: building it per column cost more
    columns = []
    for stage in pipeline.stages.all():
        stage.pipeline = pipeline
        figures = summary.get(stage.pk, {})
        column = Column(
            stage=stage,
            count=figures.get("count", 0),
            totals=figures.get("totals", {}),
            weighted=figures.get("weighted", {}),
        )
        if column.count:
            cards = _cards_base(actor, pipeline, filters) if cards is None else cards
            column.page = _column_page(cards, stage)
        else:
            column.page = Page(items=[], ordering="")
        columns.append(column)
    return columns


# Customers: the panel on the customer's page, and the timeline -------------------------------------------


def customer_opportunities_for(*, actor: Any, customer: Any, limit: int = CUSTOMER_PANEL_LIMIT) -> list[Opportunity]:
    """The newest opportunities of a customer that the actor may see (open ones first), with what the customer's
    panel shows of them (sales/opportunity/_customer_panel.html): every column of both tables cost more than the
    statement."""
    qs = Opportunity.objects.visible_to(actor).filter(customer_id=customer.pk).select_related("stage")
    qs = qs.only("name", "status", "amount", "currency", "updated_at", "stage__name")
    rows = list(qs.order_by("-updated_at", "-pk")[: limit * 4])
    rows.sort(key=lambda o: (o.status != Opportunity.Status.OPEN, -o.updated_at.timestamp()))
    return rows[:limit]


_TIMELINE = {
    "opportunity.create": (gettext_noop("Opportunity %(name)s created"), "briefcase"),
    "opportunity.stage_change": (gettext_noop("Opportunity %(name)s moved to a new stage"), "arrow-right-circle"),
    "opportunity.won": (gettext_noop("Opportunity %(name)s won"), "trophy"),
    "opportunity.lost": (gettext_noop("Opportunity %(name)s lost"), "x-circle"),
    "opportunity.reopen": (gettext_noop("Opportunity %(name)s reopened"), "arrow-counterclockwise"),
    "opportunity.delete": (gettext_noop("Opportunity %(name)s moved to the recycle bin"), "trash"),
    "opportunity.restore": (gettext_noop("Opportunity %(name)s restored"), "arrow-counterclockwise"),
}
# The newest opportunities of a customer whose events the timeline reads (a bound on the IN list).
TIMELINE_OPPORTUNITIES = 500


def _timeline_body(entry: AuditEntry) -> str:
    changes = entry.changes or {}
    if entry.action == "opportunity.create":
        parts = [str(changes.get("stage", ""))]
        if changes.get("amount"):
            parts.append(money(changes["amount"], changes.get("currency") or "CNY"))
        return " · ".join(p for p in parts if p)
    if entry.action == "opportunity.lost":
        return (
            _("Reason: %(reason)s") % {"reason": changes.get("lost_reason", "")} if changes.get("lost_reason") else ""
        )
    if entry.action == "opportunity.won" and changes.get("won_reason"):
        return _("Reason: %(reason)s") % {"reason": changes["won_reason"]}
    return ""


def opportunity_rows(organization_id: Any, customer_id: Any) -> QuerySet[Opportunity]:
    """What opportunity_timeline can show at most (timeline.register's `exists`): the customer's live
    opportunities (their audit entries are the items)."""
    return Opportunity.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


def opportunity_timeline(
    *, actor: Any, customer: Any, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The customer's opportunities on its timeline: created, stage changes, won, lost, reopened, deleted."""
    # The visible opportunities' ids (audit targets are text) as a subquery: one statement, not two.
    ids = (
        Opportunity.objects.visible_to(actor)
        .filter(customer_id=customer.pk)
        .order_by("-updated_at")
        .annotate(target=Cast("pk", CharField()))
        .values("target")[:TIMELINE_OPPORTUNITIES]
    )
    qs = AuditEntry.objects.filter(
        organization_id=actor.organization_id,
        target_type="sales.opportunity",
        target_id__in=ids,
        action__in=list(_TIMELINE),
    )
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    items = []
    for entry in audit_selectors.for_timeline(qs).order_by("-created_at", "-seq")[:limit]:
        template, icon = _TIMELINE[entry.action]
        changes = []
        stage = (entry.changes or {}).get("stage")
        if isinstance(stage, dict) and set(stage) == {"before", "after"}:
            changes.append(
                timeline.TimelineChange(field=_("Stage"), before=str(stage["before"]), after=str(stage["after"]))
            )
        items.append(
            timeline.TimelineItem(
                at=entry.created_at,
                kind=entry.action,
                title=_(template) % {"name": entry.target_label},
                actor=str(entry.actor) if entry.actor else entry.actor_label,
                body=_timeline_body(entry),
                url=reverse("sales:opportunity_detail", args=[entry.target_id]),
                icon=icon,
                changes=tuple(changes),
                module="sales",
            )
        )
    return items
