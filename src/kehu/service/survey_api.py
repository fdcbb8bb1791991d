"""/api/v1/satisfaction/: satisfaction survey results, read-only (routes added to sla_api.py's ROUTES).

An agent reads the ratings of their own tickets, a manager those of the team (the data scope applies to
the agent the survey rates); `GET /summary/` rolls them up per agent or queue over a period."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer
from kehu.core.viewsets import ScopedViewSet
from kehu.service import sla_selectors, survey_selectors
from kehu.service.models import MODULE, Survey


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SurveyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ticket = serializers.IntegerField(source="ticket_id")
    ticket_number = serializers.IntegerField(source="ticket.number")
    agent = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField()
    sent_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    score = serializers.SerializerMethodField(help_text="1-5, null while unanswered.")
    comment = serializers.SerializerMethodField()
    answered_at = serializers.SerializerMethodField()

    def _response(self, survey: Survey) -> Any:
        try:
            return survey.response
        except Survey.response.RelatedObjectDoesNotExist:
            return None

    def get_agent(self, survey: Survey) -> dict[str, Any] | None:
        return {"id": survey.owner_id, "name": str(survey.owner)} if survey.owner_id else None

    def get_queue(self, survey: Survey) -> dict[str, Any] | None:
        return {"id": survey.queue_id, "name": survey.queue.name} if survey.queue_id else None

    def get_score(self, survey: Survey) -> int | None:
        response = self._response(survey)
        return response.score if response else None

    def get_comment(self, survey: Survey) -> str:
        response = self._response(survey)
        return response.comment if response else ""

    def get_answered_at(self, survey: Survey) -> Any:
        response = self._response(survey)
        return serializers.DateTimeField().to_representation(response.responded_at) if response else None


class SurveyFilterSerializer(serializers.Serializer):
    agent = serializers.IntegerField(required=False, min_value=1)
    queue = serializers.IntegerField(required=False, min_value=1)
    answered = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = serializers.DateField(required=False, help_text="Sent on or after (organisation's time zone).")
    until = serializers.DateField(required=False, help_text="Sent on or before.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["until"] < attrs["since"]:
            raise serializers.ValidationError({"until": [_("The end must not be before the start.")]})
        return attrs


class SummaryFilterSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=sla_selectors.PERIODS, default="this_week")
    since = serializers.DateField(required=False, help_text="With period=custom.")
    until = serializers.DateField(required=False, help_text="With period=custom.")
    group = serializers.ChoiceField(choices=["agent", "queue"], default="agent")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["period"] == "custom":
            since, until = attrs.get("since"), attrs.get("until")
            if not since or not until:
                raise serializers.ValidationError({"since": [_("A custom period needs since and until.")]})
            if until < since or (until - since).days > 366:
                raise serializers.ValidationError(
                    {"until": [_("Choose an end after the start, at most a year later.")]}
                )
        return attrs


class SummaryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key", allow_null=True)
    name = serializers.CharField(source="label")
    sent = serializers.IntegerField()
    answered = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    csat_percent = serializers.FloatField(source="csat_pct", allow_null=True, help_text="Share of 4 and 5.")
    response_rate_percent = serializers.FloatField(source="response_rate", allow_null=True)
    distribution = serializers.ListField(child=serializers.IntegerField(), help_text="Answers scoring 1 … 5.")


class SummarySerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    rows = SummaryRowSerializer(many=True)
    total = SummaryRowSerializer()


class SatisfactionViewSet(ScopedViewSet):
    """Satisfaction surveys 满意度 sent when tickets were resolved, with their score and comment."""

    module = MODULE
    queryset = Survey.objects.none()
    ordering_fields = ["created_at", "id"]
    ordering = "-created_at"

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return survey_selectors.survey_list_for(actor=actor)
        filters = SurveyFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        period = None
        if data.get("since") or data.get("until"):
            tz = actor.organization.time_zone or "Asia/Shanghai"
            since = data.get("since") or data.get("until").replace(year=1970, month=1, day=1)
            until = data.get("until") or since.replace(year=2999)
            period = sla_selectors.Period("custom", since, until, tz)
        return survey_selectors.survey_list_for(
            actor=actor, agent=data.get("agent"), queue=data.get("queue"), period=period, answered=data.get("answered")
        )

    @extend_schema(
        parameters=[SurveyFilterSerializer], responses={200: SurveyOutputSerializer(many=True), **errors(400, 401, 403)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(SurveyOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: SurveyOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(SurveyOutputSerializer(self.get_object()).data)

    @extend_schema(parameters=[SummaryFilterSerializer], responses={200: SummarySerializer, **errors(400, 401, 403)})
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        """Per agent or queue: surveys sent in the period, answers, average, CSAT (share of 4-5) and the
        spread of scores."""
        filters = SummaryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        tz = request.user.organization.time_zone or "Asia/Shanghai"
        period = sla_selectors.period_for(data["period"], tz=tz, start=data.get("since"), end=data.get("until"))
        group = "owner" if data["group"] == "agent" else "queue"
        rows = survey_selectors.csat_for(actor=request.user, period=period, group_by=group)
        total = survey_selectors.csat_total(rows)
        total.key = None
        return Response(
            SummarySerializer({"since": period.start, "until": period.end, "rows": rows, "total": total}).data
        )


ROUTES = [("satisfaction", SatisfactionViewSet, "satisfaction")]
