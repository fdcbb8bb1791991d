"""/api/v1/forecast/ (read-only) and /api/v1/quotas/ (collected by sales/api.py).

Thin by rule: input serializers parse, services write (permission and audit entry included), selectors
read from `visible_to(actor)`. A quota outside the actor's organisation or scope is 404; a rep or team id
outside it fails on its field like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.services import require
from kehu.core.viewsets import ScopedViewSet
from kehu.customers.api import UserRefSerializer
from kehu.sales import forecast_selectors as selectors
from kehu.sales import forecast_services as services
from kehu.sales.forecast_models import Quota
from kehu.sales.forecast_periods import KINDS, parse_period
from kehu.sales.models import MODULE


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request, data: Any = None) -> dict[str, Any]:
    serializer = serializer_class(data=request.data if data is None else data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=24, decimal_places=2, **kwargs)


# Quotas -----------------------------------------------------------------------------------------------


class QuotaOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = UserRefSerializer(source="owner", allow_null=True, help_text="The rep the target is for.")
    period_kind = serializers.ChoiceField(choices=Quota.Period.choices)
    period_start = serializers.DateField(help_text="First day of the month or quarter.")
    period_label = serializers.CharField(help_text='"2026-04" or "2026 Q2".')
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class QuotaCreateSerializer(serializers.Serializer):
    user = RecordField(getter=selectors.rep_get_for, help_text="Id of a rep in your scope.")
    period_kind = serializers.ChoiceField(choices=Quota.Period.choices)
    period_start = serializers.DateField(help_text="The first day of the month, or of the quarter (1 Jan/Apr/Jul/Oct).")
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)
    currency = serializers.CharField(max_length=3, required=False, help_text="Default: the organisation's.")


class QuotaUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you read (409 when it is stale).")
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False)
    currency = serializers.CharField(max_length=3, required=False)


class QuotaFilterSerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, min_value=1, help_text="Only this rep's quotas.")
    team = serializers.IntegerField(required=False, min_value=1, help_text="Reps of this team and its sub-teams.")
    period_kind = serializers.ChoiceField(choices=Quota.Period.choices, required=False)
    start = serializers.DateField(required=False, help_text="Periods starting on or after this date.")
    end = serializers.DateField(required=False, help_text="Periods starting before this date.")


def _team(actor: Any, pk: Any) -> Any:
    if pk is None:
        return None
    try:
        return selectors.team_get_for(actor=actor, pk=pk)
    except NotFound as exc:
        message = _("No such team, or it is not visible to you.")
        raise ValidationFailed(message, fields={"team": [message]}) from exc


class QuotaViewSet(ScopedViewSet):
    """Sales quotas 销售目标 per rep and month or quarter. Everyone with sales access reads the quotas of
    the reps in their data scope; managers (`assign`) and administrators set them for their reps. PATCH
    needs the `version` you read; DELETE moves to the recycle bin and `POST /{id}/restore/` brings it back."""

    module = MODULE
    queryset = Quota.objects.none()
    ordering_fields = ["period_start", "updated_at"]
    ordering = "period_start"

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return selectors.quota_list_for(actor=actor)
        filters = QuotaFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.quota_list_for(
            actor=actor,
            owner=data.get("user"),
            team=_team(actor, data.get("team")),
            period_kind=data.get("period_kind", ""),
            start=data.get("start"),
            end=data.get("end"),
        )

    @extend_schema(
        parameters=[QuotaFilterSerializer], responses={200: QuotaOutputSerializer(many=True), **errors(400, 401, 403)}
    )
    def list(self, request: Request) -> Response:
        require(request.user, "view", Quota)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(QuotaOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: QuotaOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(QuotaOutputSerializer(self.get_object()).data)

    @extend_schema(request=QuotaCreateSerializer, responses={201: QuotaOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        quota = services.quota_create(actor=request.user, **_validated(QuotaCreateSerializer, request))
        return Response(QuotaOutputSerializer(quota).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=QuotaUpdateSerializer, responses={200: QuotaOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        quota = self.get_object()
        data = _validated(QuotaUpdateSerializer, request)
        version = data.pop("version")
        quota = services.quota_update(actor=request.user, quota=quota, expected_version=version, data=data)
        return Response(QuotaOutputSerializer(quota).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.quota_delete(actor=request.user, quota=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: QuotaOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a quota back from the recycle bin (400 `quota_exists` when the rep has another one for the
        period by now)."""
        quota = selectors.quota_deleted_get_for(actor=request.user, pk=pk)
        quota = services.quota_restore(actor=request.user, quota=quota)
        return Response(QuotaOutputSerializer(quota).data)


# Forecast ---------------------------------------------------------------------------------------------


class ForecastParamsSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=KINDS, required=False, default="quarter")
    start = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10,
        help_text="A date, month (2026-04), quarter (2026-Q2) or year (2026) in the period; default: today "
        "in the organisation's time zone.",
    )
    team = serializers.IntegerField(required=False, min_value=1, help_text="A team (and its sub-teams) in your scope.")
    group_by = serializers.ChoiceField(choices=selectors.GROUP_BY, required=False, default="owner")
    commit_threshold = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        default=selectors.DEFAULT_COMMIT_THRESHOLD,
        help_text="Open opportunities at this probability (%) or above count as commit.",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, help_text="Only amounts in this currency; default: the organisation's."
    )


class FiguresSerializer(serializers.Serializer):
    quota = _money(allow_null=True, help_text="Null when no quota applies.")
    won = _money()
    attainment = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, help_text="Won as % of quota; null without a quota."
    )
    commit = _money()
    weighted = _money(help_text="Sum of amount × probability / 100 of open opportunities.")
    best_case = _money(help_text="Sum of the amounts of open opportunities.")
    open_count = serializers.IntegerField()
    won_count = serializers.IntegerField()


class ForecastRowSerializer(FiguresSerializer):
    owner = serializers.IntegerField(allow_null=True, help_text="The rep (group_by=owner); null: unassigned.")
    owner_name = serializers.CharField()
    team = serializers.IntegerField(allow_null=True, help_text="The rep's team, or the team (group_by=team).")
    team_name = serializers.CharField()
    month = serializers.DateField(allow_null=True, help_text="First day of the month (group_by=month).")


class PeriodSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="month, quarter or year")
    start = serializers.DateField()
    end = serializers.DateField(help_text="The last day of the period.")
    label = serializers.CharField()


class MonthSerializer(FiguresSerializer):
    month = serializers.DateField()


class ForecastSerializer(serializers.Serializer):
    period = PeriodSerializer()
    currency = serializers.CharField()
    commit_threshold = serializers.IntegerField()
    group_by = serializers.ChoiceField(choices=selectors.GROUP_BY)
    results = ForecastRowSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="Always null: the forecast is one page.")
    total = FiguresSerializer()
    months = MonthSerializer(many=True, help_text="Every month of the period (the chart's data).")
    other_currencies = serializers.DictField(
        child=serializers.IntegerField(), help_text="Opportunities left out because of their currency, by currency."
    )


def _figures(f: selectors.Figures) -> dict[str, Any]:
    return {
        "quota": f.quota,
        "won": f.won,
        "attainment": f.attainment,
        "commit": f.commit,
        "weighted": f.weighted,
        "best_case": f.best_case,
        "open_count": f.open_count,
        "won_count": f.won_count,
    }


def _row(f: selectors.Figures, *, owner: Any = None, team: Any = None, month: Any = None) -> dict[str, Any]:
    return {
        "owner": getattr(owner, "pk", None),
        "owner_name": str(owner) if owner is not None else "",
        "team": getattr(team, "pk", None),
        "team_name": team.name if team is not None else "",
        "month": month,
        **_figures(f),
    }


class ForecastViewSet(viewsets.ViewSet):
    """The sales forecast 销售预测 of a month, quarter or year over the opportunities you may see: quota,
    won, attainment, commit, weighted pipeline and best case, by rep (with their team), by team or by
    month. Amounts in one currency (the organisation's unless `currency` says otherwise)."""

    module = MODULE

    @extend_schema(parameters=[ForecastParamsSerializer], responses={200: ForecastSerializer, **errors(400, 401, 403)})
    def list(self, request: Request) -> Response:
        actor = request.user
        params = _validated(ForecastParamsSerializer, request, data=request.query_params)
        period = parse_period(params["period"], params.get("start"), organization=actor.organization)
        forecast = selectors.forecast_for(
            actor=actor,
            period=period,
            team=_team(actor, params.get("team")),
            commit_threshold=params["commit_threshold"],
            currency=params.get("currency"),
        )
        group_by = params["group_by"]
        if group_by == "team":
            rows = [_row(block.subtotal, team=block.team) for block in forecast.teams]
        elif group_by == "month":
            rows = [_row(line.figures, month=line.month) for line in forecast.months]
        else:
            rows = [_row(line.figures, owner=line.owner, team=line.team) for line in forecast.lines]
        body = {
            "period": {"kind": period.kind, "start": period.start, "end": period.last_day, "label": period.label},
            "currency": forecast.currency,
            "commit_threshold": forecast.commit_threshold,
            "group_by": group_by,
            "results": rows,
            "next": None,
            "total": _figures(forecast.total),
            "months": [{"month": line.month, **_figures(line.figures)} for line in forecast.months],
            "other_currencies": forecast.other_currencies,
        }
        return Response(ForecastSerializer(body).data)


ROUTES: list[tuple[str, Any, str]] = [
    ("forecast", ForecastViewSet, "forecast"),
    ("quotas", QuotaViewSet, "quota"),
]
