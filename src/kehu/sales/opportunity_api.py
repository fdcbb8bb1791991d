"""/api/v1/opportunities/, /api/v1/pipelines/, /api/v1/stages/ (collected by sales/api.py).

Thin by rule: an input serializer parses, a service writes (it checks the permission and records the audit
entry), a selector reads (from `visible_to(actor)`), an output serializer renders. Records outside the
actor's organisation or scope are 404 because `get_object` reads through the selector, and ids in the
input are resolved the same way, so they fail like missing ones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from kehu.accounts import selectors as account_selectors
from kehu.core.api import CursorPagination, RecordField, RefSerializer, SearchedListSerializer, searched_list_envelope
from kehu.core.errors import ValidationFailed
from kehu.core.viewsets import ScopedViewSet
from kehu.customers import selectors as customer_selectors
from kehu.customers.api import CustomerRefSerializer, UserRefSerializer, _validated, errors
from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from kehu.sales.models import MODULE, Opportunity, Pipeline, Stage
from kehu.sales.opportunity_forms import OpportunityFilterForm

# Stages ----------------------------------------------------------------------------------------------


class StageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pipeline = serializers.IntegerField(source="pipeline_id")
    name = serializers.CharField()
    position = serializers.IntegerField()
    probability = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Stage.Kind.choices)
    required_fields = serializers.ListField(
        child=serializers.CharField(), help_text="Opportunity fields (custom ones as custom.<key>) needed to enter."
    )
    rot_days = serializers.IntegerField(help_text="An open opportunity rots after this many days here; 0: never.")


class StageInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    kind = serializers.ChoiceField(choices=Stage.Kind.choices, required=False)
    required_fields = serializers.ListField(child=serializers.CharField(max_length=60), required=False, max_length=50)
    rot_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)


class StageCreateSerializer(StageInputSerializer):
    pipeline = RecordField(getter=selectors.pipeline_get_for)
    position = serializers.IntegerField(min_value=0, required=False, help_text="0 is first; default: last.")


class StageUpdateSerializer(StageInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class ConfigPagination(CursorPagination):
    ordering = ("position", "id")


class StageViewSet(ScopedViewSet):
    """Stages of the organisation's pipelines (configuration: everyone with `view` in sales reads them,
    changing them needs `administer`). DELETE refuses a stage that opportunities are in (400 stage_in_use)."""

    module = MODULE
    queryset = Stage.objects.none()
    pagination_class = ConfigPagination

    class StageFilterSerializer(serializers.Serializer):
        pipeline = serializers.IntegerField(required=False, min_value=1)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return selectors.stage_list_for(actor=actor)
        params = self.StageFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return selectors.stage_list_for(actor=actor, pipeline=params.validated_data.get("pipeline"))

    @extend_schema(
        parameters=[StageFilterSerializer], responses={200: StageOutputSerializer(many=True), **errors(400, 401, 403)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StageOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: StageOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(StageOutputSerializer(self.get_object()).data)

    @extend_schema(request=StageCreateSerializer, responses={201: StageOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(StageCreateSerializer, request)
        stage = services.create_stage(actor=request.user, **data)
        return Response(
            StageOutputSerializer(selectors.stage_get_for(actor=request.user, pk=stage.pk)).data, status=201
        )

    @extend_schema(request=StageUpdateSerializer, responses={200: StageOutputSerializer, **errors(400, 401, 403, 404)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        stage = self.get_object()
        services.update_stage(actor=request.user, stage=stage, data=_validated(StageUpdateSerializer, request))
        return Response(StageOutputSerializer(stage).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.delete_stage(actor=request.user, stage=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Pipelines -------------------------------------------------------------------------------------------


class PipelineOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    is_default = serializers.BooleanField()
    is_active = serializers.BooleanField()
    stages = StageOutputSerializer(many=True, source="stages.all")
    created_at = serializers.DateTimeField()


class PipelineCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    is_default = serializers.BooleanField(required=False, default=False)
    is_active = serializers.BooleanField(required=False, default=True)
    stages = StageInputSerializer(many=True, required=False, help_text="In order; default: the standard stages.")


class PipelineUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    is_default = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class ReorderSerializer(serializers.Serializer):
    stages = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=100, help_text="Every stage id, in order."
    )


class PipelineCurrencySumSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. CNY")
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    weighted_amount = serializers.DecimalField(max_digits=20, decimal_places=2)


_SINGLE_CURRENCY = (
    "The sum when every counted opportunity is in one currency (`currency`); null when they are in several: "
    "amounts in different currencies are never added, read `amounts` then."
)


class StageSummarySerializer(serializers.Serializer):
    stage = StageOutputSerializer()
    count = serializers.IntegerField()
    amounts = PipelineCurrencySumSerializer(many=True, help_text="The sums per currency, the usual one first.")
    currency = serializers.CharField(allow_null=True, help_text="The one currency of `amount`, or null.")
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True, help_text=_SINGLE_CURRENCY)
    weighted_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, help_text=_SINGLE_CURRENCY
    )


class PipelineSummarySerializer(serializers.Serializer):
    pipeline = serializers.IntegerField()
    closed_days = serializers.IntegerField()
    stages = StageSummarySerializer(many=True)
    count = serializers.IntegerField()
    amounts = PipelineCurrencySumSerializer(many=True, help_text="The sums per currency, the usual one first.")
    currency = serializers.CharField(allow_null=True, help_text="The one currency of `amount`, or null.")
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True, help_text=_SINGLE_CURRENCY)
    weighted_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, help_text=_SINGLE_CURRENCY
    )


def _sums(totals: dict[str, Decimal], weighted: dict[str, Decimal], default: str) -> dict[str, Any]:
    """The per-currency sums of a stage or a pipeline, and the single-currency fields of the summary."""
    codes = sorted(totals, key=lambda code: (code != default, code))
    amounts = [
        {"currency": code, "amount": totals[code], "weighted_amount": weighted.get(code, Decimal(0))} for code in codes
    ]
    if len(codes) > 1:
        return {"amounts": amounts, "currency": None, "amount": None, "weighted_amount": None}
    single = amounts[0] if amounts else {"currency": default, "amount": Decimal(0), "weighted_amount": Decimal(0)}
    return {"amounts": amounts, **single}


SUMMARY_PARAMETERS = [
    OpenApiParameter("owner", int),
    OpenApiParameter("team", int, description="The team and its sub-teams"),
    OpenApiParameter("close_from", str, description="Expected close date from (YYYY-MM-DD)"),
    OpenApiParameter("close_to", str),
    OpenApiParameter("amount_min", str),
    OpenApiParameter("amount_max", str),
    OpenApiParameter(
        "closed_days",
        int,
        description=f"Won and lost stages count what closed in these last days (default "
        f"{selectors.RECENTLY_CLOSED_DAYS}, the board's); 0 counts every closed one.",
    ),
]


def _filters(request: Request) -> dict[str, Any]:
    form = OpportunityFilterForm(request.query_params, actor=request.user)
    if not form.is_valid():
        raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
    return form.filters()


class PipelineViewSet(ScopedViewSet):
    """Pipelines with their stages. Administrators (`administer` in sales) create, rename, reorder, make
    default, deactivate and delete them (DELETE refuses the default pipeline and one that holds
    opportunities: 400). `GET /{id}/summary/` counts and sums the opportunities you may see per stage."""

    module = MODULE
    queryset = Pipeline.objects.none()
    pagination_class = ConfigPagination

    def list_for(self, actor: Any) -> Any:
        return selectors.pipeline_list_for(actor=actor)

    @extend_schema(responses={200: PipelineOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        selectors.default_pipeline_for(actor=request.user)  # an organisation always has its default pipeline
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PipelineOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: PipelineOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(PipelineOutputSerializer(self.get_object()).data)

    @extend_schema(request=PipelineCreateSerializer, responses={201: PipelineOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(PipelineCreateSerializer, request)
        if "stages" in data:
            data["stages"] = [dict(row) for row in data["stages"]]
        pipeline = services.create_pipeline(actor=request.user, **data)
        fresh = selectors.pipeline_get_for(actor=request.user, pk=pipeline.pk)
        return Response(PipelineOutputSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PipelineUpdateSerializer, responses={200: PipelineOutputSerializer, **errors(400, 401, 403, 404)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        pipeline = self.get_object()
        services.update_pipeline(
            actor=request.user, pipeline=pipeline, data=_validated(PipelineUpdateSerializer, request)
        )
        return Response(PipelineOutputSerializer(selectors.pipeline_get_for(actor=request.user, pk=pipeline.pk)).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.delete_pipeline(actor=request.user, pipeline=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReorderSerializer, responses={200: PipelineOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def reorder(self, request: Request, pk: str | None = None) -> Response:
        """Put the stages in the given order (every stage of the pipeline, once)."""
        pipeline = self.get_object()
        data = _validated(ReorderSerializer, request)
        services.reorder_stages(actor=request.user, pipeline=pipeline, stage_ids=data["stages"])
        return Response(PipelineOutputSerializer(selectors.pipeline_get_for(actor=request.user, pk=pipeline.pk)).data)

    @extend_schema(
        parameters=SUMMARY_PARAMETERS, responses={200: PipelineSummarySerializer, **errors(400, 401, 403, 404)}
    )
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk: str | None = None) -> Response:
        """Counts, amounts and weighted amounts per stage, of the opportunities you may see (two grouped
        queries: the open ones, the recently closed ones). Sums are per currency (`amounts`); `amount` and
        `weighted_amount` are null when the opportunities counted are in more than one currency."""
        pipeline = self.get_object()
        raw = request.query_params.get("closed_days", str(selectors.RECENTLY_CLOSED_DAYS))
        if not raw.isdigit() or int(raw) > 36500:
            raise ValidationFailed(fields={"closed_days": [_("Enter a whole number of days (0 for all).")]})
        closed_days = int(raw)
        figures = selectors.board_summary_for(
            actor=request.user, pipeline=pipeline, filters=_filters(request), closed_days=closed_days
        )
        default = request.user.organization.currency
        rows, totals, weighted = [], {}, {}
        for stage in pipeline.stages.all():
            item = figures.get(stage.pk, {"count": 0, "totals": {}, "weighted": {}})
            rows.append({"stage": stage, "count": item["count"], **_sums(item["totals"], item["weighted"], default)})
            for code, amount in item["totals"].items():
                totals[code] = totals.get(code, Decimal(0)) + amount
                weighted[code] = weighted.get(code, Decimal(0)) + item["weighted"].get(code, Decimal(0))
        body = {
            "pipeline": pipeline.pk,
            "closed_days": closed_days,
            "stages": rows,
            "count": sum(r["count"] for r in rows),
            **_sums(totals, weighted, default),
        }
        return Response(PipelineSummarySerializer(body).data)


# Opportunities ---------------------------------------------------------------------------------------


class StageRefSerializer(RefSerializer):
    kind = serializers.CharField()


class OpportunityOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    customer = CustomerRefSerializer()
    contact = RefSerializer(allow_null=True)
    pipeline = RefSerializer()
    stage = StageRefSerializer()
    status = serializers.ChoiceField(choices=Opportunity.Status.choices)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    expected_close_date = serializers.DateField(allow_null=True)
    probability = serializers.IntegerField()
    weighted_amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    next_step = serializers.CharField()
    competitors = serializers.CharField()
    notes = serializers.CharField()
    lost_reason = serializers.CharField()
    won_reason = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    stage_entered_at = serializers.DateTimeField(allow_null=True)
    rotting_days = serializers.SerializerMethodField(help_text="Days beyond the stage's rot_days; 0: not rotting.")
    owner = UserRefSerializer(allow_null=True)
    custom = serializers.DictField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_rotting_days(self, obj: Opportunity) -> int:
        return obj.rotting_days()


class StageVisitSerializer(serializers.Serializer):
    from_stage = serializers.CharField(source="change.from_stage_name")
    to_stage = serializers.CharField(source="change.to_stage_name")
    to_stage_id = serializers.IntegerField(source="change.to_stage_id", allow_null=True)
    at = serializers.DateTimeField(source="change.at")
    by = serializers.IntegerField(source="change.by_id", allow_null=True)
    seconds_in_stage = serializers.IntegerField(source="seconds", help_text="Up to now for the current stage.")
    current = serializers.BooleanField()


class StageTimeSerializer(serializers.Serializer):
    stage = serializers.CharField()
    seconds = serializers.IntegerField()


class OpportunityHistorySerializer(serializers.Serializer):
    history = StageVisitSerializer(many=True, help_text="Every stage entered, oldest first (creation included).")
    time_in_stages = StageTimeSerializer(many=True)


class OpportunityDetailSerializer(OpportunityOutputSerializer, OpportunityHistorySerializer):
    pass


class OpportunityInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    customer = RecordField(getter=customer_selectors.customer_get_for)
    contact = RecordField(getter=customer_selectors.contact_get_for, required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217, default CNY")
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    next_step = serializers.CharField(max_length=255, required=False, allow_blank=True)
    competitors = serializers.CharField(max_length=255, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    lost_reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    won_reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    custom = serializers.DictField(
        required=False, help_text="Custom field values by key; on PATCH only the keys sent change (null clears)."
    )


class OpportunityCreateSerializer(OpportunityInputSerializer):
    pipeline = RecordField(getter=selectors.pipeline_get_for, required=False, help_text="Default: the stage's.")
    stage = RecordField(
        getter=selectors.stage_get_for, required=False, help_text="Default: the pipeline's first stage."
    )
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="Defaults to you; another owner needs the assign right.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("stage") is not None and attrs.get("pipeline") is None:
            attrs["pipeline"] = attrs["stage"].pipeline
        return attrs


class OpportunityUpdateSerializer(OpportunityInputSerializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read; a stale one answers 409 version_conflict."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        hints = {
            "stage": _("Change the stage with POST /api/v1/opportunities/{id}/change-stage/."),
            "pipeline": _("Change the stage with POST /api/v1/opportunities/{id}/change-stage/."),
            "owner": _("Change the owner with POST /api/v1/opportunities/assign/."),
        }
        refused = {name: [hint] for name, hint in hints.items() if name in self.initial_data}
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class ChangeStageSerializer(OpportunityInputSerializer):
    stage = RecordField(getter=selectors.stage_get_for, help_text="A stage of any of your pipelines.")
    version = serializers.IntegerField(min_value=1, required=False, help_text="Refuse (409) if it changed since.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "stage":
                field.required = False


class CloseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    version = serializers.IntegerField(min_value=1, required=False)


class LostSerializer(CloseSerializer):
    reason = serializers.CharField(max_length=255, help_text="Why it was lost (required).")


class OpportunityAssignSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=selectors.MAX_PAGE_SIZE
    )
    owner = RecordField(getter=account_selectors.user_get_for)


class OpportunityAssignedSerializer(serializers.Serializer):
    assigned = serializers.ListField(child=serializers.IntegerField())


class OpportunityListSerializer(SearchedListSerializer):
    results = OpportunityOutputSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="A fragment of the opportunity's or the customer's name"),
    OpenApiParameter("pipeline", int),
    OpenApiParameter("stage", int),
    OpenApiParameter("status", str, enum=Opportunity.Status.values),
    OpenApiParameter("owner", int),
    OpenApiParameter("team", int, description="Owned by members of the team and its sub-teams"),
    OpenApiParameter("customer", int),
    OpenApiParameter("close_from", str, description="Expected close date from (YYYY-MM-DD)"),
    OpenApiParameter("close_to", str),
    OpenApiParameter("amount_min", str),
    OpenApiParameter("amount_max", str),
    OpenApiParameter("rotting", bool, description="Only open opportunities past their stage's rot_days"),
    OpenApiParameter(
        "ordering", str, enum=[p + f for f in selectors.ORDERING_FIELDS for p in ("", "-")], default="-updated_at"
    ),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int, description=f"1 to {selectors.MAX_PAGE_SIZE}, default 50"),
]


def _stage_data(data: dict[str, Any]) -> dict[str, Any]:
    """Fields sent with a stage change that the service sets in the same step."""
    return {k: v for k, v in data.items() if k not in ("stage", "version")}


class OpportunityViewSet(ScopedViewSet):
    """Opportunities 商机. PATCH needs the `version` you read (409 `version_conflict` when it is stale); the
    stage changes through `POST /{id}/change-stage/` (400 naming the empty fields the stage requires),
    `won/` and `lost/` close, DELETE moves to the recycle bin and `restore/` brings it back."""

    module = MODULE
    queryset = Opportunity.objects.none()  # for the schema generator only; requests read through list_for
    filter_backends = ()  # filtering, ordering and paging are the selector's (the same as the UI's)

    def list_for(self, actor: Any) -> Any:
        return selectors.opportunities_with_relations_for(actor=actor).select_related("contact")

    def _page_url(self, cursor: str | None) -> str | None:
        if not cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor)

    def _detail(self, pk: int) -> dict[str, Any]:
        opportunity = selectors.opportunity_get_for(actor=self.request.user, pk=pk)
        visits = selectors.opportunity_history_for(actor=self.request.user, opportunity=opportunity)
        opportunity.history, opportunity.time_in_stages = visits, selectors.time_in_stages(visits)
        return OpportunityDetailSerializer(opportunity).data

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: OpportunityListSerializer, **errors(400, 401, 403)})
    def list(self, request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit") or selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        page = selectors.opportunity_list_for(
            actor=request.user,
            filters=_filters(request),
            ordering=params.get("ordering"),
            cursor=params.get("cursor"),
            limit=limit,
        )
        results = OpportunityOutputSerializer(page.items, many=True).data
        return Response(searched_list_envelope(results, page=page, page_url=self._page_url))

    @extend_schema(responses={200: OpportunityDetailSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._detail(self.get_object().pk))

    @extend_schema(
        request=OpportunityCreateSerializer, responses={201: OpportunityDetailSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(OpportunityCreateSerializer, request)
        owner = data.pop("owner", None)
        opportunity = services.create_opportunity(actor=request.user, owner=owner, **data)
        return Response(self._detail(opportunity.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=OpportunityUpdateSerializer,
        responses={200: OpportunityDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        opportunity = self.get_object()
        data = _validated(OpportunityUpdateSerializer, request)
        version = data.pop("version")
        services.update_opportunity(actor=request.user, opportunity=opportunity, expected_version=version, data=data)
        return Response(self._detail(opportunity.pk))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.delete_opportunity(actor=request.user, opportunity=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ChangeStageSerializer, responses={200: OpportunityDetailSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"], url_path="change-stage")
    def change_stage(self, request: Request, pk: str | None = None) -> Response:
        """Move to a stage (fields sent along are set in the same step, e.g. what the stage requires or
        `lost_reason`). Entering a won or lost stage closes the opportunity; an open one reopens it."""
        opportunity = self.get_object()
        data = _validated(ChangeStageSerializer, request)
        services.change_stage(
            actor=request.user,
            opportunity=opportunity,
            stage=data["stage"],
            expected_version=data.get("version"),
            data=_stage_data(data),
        )
        return Response(self._detail(opportunity.pk))

    @extend_schema(
        request=CloseSerializer, responses={200: OpportunityDetailSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def won(self, request: Request, pk: str | None = None) -> Response:
        """Close as won (into the pipeline's won stage, whose required fields apply)."""
        opportunity = self.get_object()
        data = _validated(CloseSerializer, request)
        services.mark_won(
            actor=request.user,
            opportunity=opportunity,
            reason=data.get("reason", ""),
            expected_version=data.get("version"),
        )
        return Response(self._detail(opportunity.pk))

    @extend_schema(
        request=LostSerializer, responses={200: OpportunityDetailSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def lost(self, request: Request, pk: str | None = None) -> Response:
        """Close as lost, with the reason (into the pipeline's lost stage)."""
        opportunity = self.get_object()
        data = _validated(LostSerializer, request)
        services.mark_lost(
            actor=request.user, opportunity=opportunity, reason=data["reason"], expected_version=data.get("version")
        )
        return Response(self._detail(opportunity.pk))

    @extend_schema(request=None, responses={200: OpportunityDetailSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring an opportunity back from the recycle bin (it must be there, and in your scope)."""
        opportunity = selectors.opportunity_deleted_get_for(actor=request.user, pk=pk)
        services.restore_opportunity(actor=request.user, opportunity=opportunity)
        return Response(self._detail(opportunity.pk))

    @extend_schema(responses={200: OpportunityHistorySerializer, **errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The stages the opportunity went through, with the time spent in each."""
        opportunity = self.get_object()
        visits = selectors.opportunity_history_for(actor=request.user, opportunity=opportunity)
        body = {"history": visits, "time_in_stages": selectors.time_in_stages(visits)}
        return Response(OpportunityHistorySerializer(body).data)

    @extend_schema(
        request=OpportunityAssignSerializer, responses={200: OpportunityAssignedSerializer, **errors(400, 401, 403)}
    )
    @action(detail=False, methods=["post"])
    def assign(self, request: Request) -> Response:
        """Give opportunities to a colleague (all or nothing); the new owner is notified."""
        data = _validated(OpportunityAssignSerializer, request)
        wanted = list(dict.fromkeys(data["ids"]))
        opportunities = selectors.opportunities_for_bulk(actor=request.user, ids=wanted)
        missing = sorted(set(wanted) - {o.pk for o in opportunities})
        if missing:
            message = _("No such opportunities, or they are not visible to you: %(ids)s") % {
                "ids": ", ".join(map(str, missing))
            }
            raise ValidationFailed(message, fields={"ids": [message]})
        moved = services.reassign_opportunities(actor=request.user, opportunities=opportunities, owner=data["owner"])
        return Response({"assigned": [o.pk for o in moved]})


ROUTES: list[tuple[str, Any, str]] = [
    ("opportunities", OpportunityViewSet, "opportunity"),
    ("pipelines", PipelineViewSet, "pipeline"),
    ("stages", StageViewSet, "stage"),
]
