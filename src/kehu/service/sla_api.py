"""sla routes of /api/v1/ (collected by service/api.py): business calendars, their holidays and make-up
days, SLA policies, and the satisfaction survey results (survey_api.py).

Thin like the rest of the API: input serializers parse, services write, selectors read. Calendars and
policies are organisation configuration: listed to everyone with `view` in service, changed with
`administer`; a stale `version` answers 409.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.viewsets import ScopedViewSet
from kehu.service import sla_selectors, sla_services, survey_api
from kehu.service.models import MODULE, BusinessCalendar, CalendarDay, SlaPolicy, Ticket
from kehu.service.sla_models import minutes_label

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class VersionField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("help_text", "The version you read; a stale one answers 409 version_conflict.")
        super().__init__(**kwargs)


# Calendars -------------------------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday … 6 = Sunday.")
    start = serializers.CharField(help_text='"09:00"')
    end = serializers.CharField(help_text='"18:00" ("24:00" = midnight)')

    def _minutes(self, value: str, name: str) -> int:
        match = _HHMM.match(value or "")
        if not match or (match.group(1) == "24" and match.group(2) != "00"):
            raise serializers.ValidationError({name: [_("Use HH:MM, e.g. 09:00.")]})
        return int(match.group(1)) * 60 + int(match.group(2))

    def validate(self, attrs: dict[str, Any]) -> tuple[int, int, int]:
        return (attrs["weekday"], self._minutes(attrs["start"], "start"), self._minutes(attrs["end"], "end"))


class CalendarOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    is_default = serializers.BooleanField()
    working_hours = serializers.SerializerMethodField()
    version = serializers.IntegerField()

    def get_working_hours(self, calendar: BusinessCalendar) -> list[dict[str, Any]]:
        return [
            {"weekday": p.weekday, "start": minutes_label(p.start_minute), "end": minutes_label(p.end_minute)}
            for p in sorted(calendar.periods.all(), key=lambda p: (p.weekday, p.start_minute))
        ]


class CalendarCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    time_zone = serializers.CharField(max_length=64, required=False)
    is_default = serializers.BooleanField(required=False, default=False)
    working_hours = PeriodSerializer(many=True, required=False, help_text="Default: Monday-Friday 09:00-18:00.")


class CalendarUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    is_default = serializers.BooleanField(required=False)
    working_hours = PeriodSerializer(many=True, required=False, help_text="Replaces every working period.")
    version = VersionField()


class ApplyHolidaysSerializer(serializers.Serializer):
    year = serializers.IntegerField(help_text="A year Kehu ships the Chinese public holidays for (2026, 2027).")


class HolidaysAppliedSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    kept = serializers.IntegerField(help_text="Days the administrator added or edited, left as they are.")
    removed = serializers.IntegerField()
    provisional = serializers.BooleanField(help_text="True for a year loaded before the official schedule.")


class CalendarViewSet(ScopedViewSet):
    """Business calendars 工作日历: working hours per weekday (several periods a day allowed), holidays and
    make-up working days (/api/v1/holidays/). SLA targets count only their working time.
    `POST /{id}/apply-holidays/` writes the shipped Chinese public holidays of a year (2027: provisional)."""

    module = MODULE
    queryset = BusinessCalendar.objects.none()
    ordering_fields = ["name", "id"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        return sla_selectors.calendar_list_for(actor=actor)

    @extend_schema(responses={200: CalendarOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CalendarOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: CalendarOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CalendarOutputSerializer(self.get_object()).data)

    @extend_schema(request=CalendarCreateSerializer, responses={201: CalendarOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(CalendarCreateSerializer, request)
        calendar = sla_services.calendar_create(actor=request.user, **data)
        calendar = sla_selectors.calendar_get_for(actor=request.user, pk=calendar.pk)
        return Response(CalendarOutputSerializer(calendar).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CalendarUpdateSerializer, responses={200: CalendarOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        calendar = self.get_object()
        data = _validated(CalendarUpdateSerializer, request)
        version = data.pop("version")
        sla_services.calendar_update(actor=request.user, calendar=calendar, expected_version=version, data=data)
        calendar = sla_selectors.calendar_get_for(actor=request.user, pk=calendar.pk)
        return Response(CalendarOutputSerializer(calendar).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        sla_services.calendar_delete(actor=request.user, calendar=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ApplyHolidaysSerializer, responses={200: HolidaysAppliedSerializer, **errors(400, 401, 403, 404)}
    )
    @action(detail=True, methods=["post"], url_path="apply-holidays")
    def apply_holidays(self, request: Request, pk: str | None = None) -> Response:
        calendar = self.get_object()
        data = _validated(ApplyHolidaysSerializer, request)
        result = sla_services.calendar_apply_cn_holidays(actor=request.user, calendar=calendar, year=data["year"])
        return Response(HolidaysAppliedSerializer(result).data)


class CalendarDayOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    calendar = serializers.IntegerField(source="calendar_id")
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=CalendarDay.Kind.choices)
    name = serializers.CharField()
    source = serializers.ChoiceField(choices=CalendarDay.Source.choices)
    provisional = serializers.BooleanField()
    version = serializers.IntegerField()


class CalendarDayCreateSerializer(serializers.Serializer):
    calendar = RecordField(getter=sla_selectors.calendar_get_for)
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=CalendarDay.Kind.choices, default=CalendarDay.Kind.HOLIDAY)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class CalendarDayUpdateSerializer(serializers.Serializer):
    date = serializers.DateField(required=False)
    kind = serializers.ChoiceField(choices=CalendarDay.Kind.choices, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    version = VersionField()


class CalendarDayViewSet(ScopedViewSet):
    """Holidays 节假日 and make-up working days 调休 of the business calendars. Filter with `calendar` and
    `year`. An edited day becomes the administrator's own: applying the public holidays again keeps it."""

    module = MODULE
    queryset = CalendarDay.objects.none()
    ordering_fields = ["date", "id"]
    ordering = "date"

    class DayFilterSerializer(serializers.Serializer):
        calendar = serializers.IntegerField(required=False, min_value=1)
        year = serializers.IntegerField(required=False, min_value=1900, max_value=2999)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return sla_selectors.calendar_day_list_for(actor=actor)
        filters = self.DayFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return sla_selectors.calendar_day_list_for(actor=actor, **filters.validated_data)

    @extend_schema(
        parameters=[DayFilterSerializer],
        responses={200: CalendarDayOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CalendarDayOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: CalendarDayOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CalendarDayOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=CalendarDayCreateSerializer, responses={201: CalendarDayOutputSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(CalendarDayCreateSerializer, request)
        day = sla_services.calendar_day_create(actor=request.user, **data)
        return Response(CalendarDayOutputSerializer(day).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CalendarDayUpdateSerializer,
        responses={200: CalendarDayOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        day = self.get_object()
        data = _validated(CalendarDayUpdateSerializer, request)
        version = data.pop("version")
        day = sla_services.calendar_day_update(actor=request.user, day=day, expected_version=version, data=data)
        return Response(CalendarDayOutputSerializer(day).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        sla_services.calendar_day_delete(actor=request.user, day=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# SLA policies ----------------------------------------------------------------------------------------


class TargetSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices)
    first_response_minutes = serializers.IntegerField(
        min_value=1, max_value=sla_services.MAX_TARGET_MINUTES, allow_null=True, required=False
    )
    resolution_minutes = serializers.IntegerField(
        min_value=1, max_value=sla_services.MAX_TARGET_MINUTES, allow_null=True, required=False
    )


class PolicyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    position = serializers.IntegerField(help_text="Rules are tried in this order; the default policy last.")
    is_active = serializers.BooleanField()
    is_default = serializers.BooleanField()
    priorities = serializers.ListField(child=serializers.CharField(), help_text="Empty: every priority.")
    tiers = serializers.ListField(child=serializers.CharField(), help_text="Customer tiers; empty: every one.")
    calendar = serializers.IntegerField(source="calendar_id", allow_null=True, help_text="Null: the default one.")
    warning_percent = serializers.IntegerField()
    notify_queue_manager = serializers.BooleanField()
    notify_team_manager = serializers.BooleanField()
    reassign = serializers.ChoiceField(choices=SlaPolicy.Reassign.choices, allow_blank=True)
    reassign_to = serializers.IntegerField(source="reassign_to_id", allow_null=True)
    raise_priority = serializers.BooleanField()
    targets = serializers.SerializerMethodField()
    version = serializers.IntegerField()

    def get_targets(self, policy: SlaPolicy) -> list[dict[str, Any]]:
        order = {p: i for i, p in enumerate(Ticket.Priority.values)}
        return [
            {
                "priority": t.priority,
                "first_response_minutes": t.first_response_minutes,
                "resolution_minutes": t.resolution_minutes,
            }
            for t in sorted(policy.targets.all(), key=lambda t: order.get(t.priority, 9))
        ]


class _PolicyInput(serializers.Serializer):
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    is_default = serializers.BooleanField(required=False)
    priorities = serializers.ListField(
        child=serializers.ChoiceField(choices=Ticket.Priority.choices), required=False, max_length=4
    )
    tiers = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False,
        max_length=50,
        help_text="Keys of the organisation's list customer_tier; empty: every tier.",
    )
    calendar = RecordField(getter=sla_selectors.calendar_get_for, required=False, allow_null=True)
    warning_percent = serializers.IntegerField(min_value=0, max_value=99, required=False)
    notify_queue_manager = serializers.BooleanField(required=False)
    notify_team_manager = serializers.BooleanField(required=False)
    reassign = serializers.ChoiceField(choices=SlaPolicy.Reassign.choices, required=False, allow_blank=True)
    reassign_to = serializers.IntegerField(required=False, allow_null=True, help_text="A colleague's user id.")
    raise_priority = serializers.BooleanField(required=False)
    targets = TargetSerializer(many=True, required=False, help_text="Replaces every target of the policy.")


class PolicyCreateSerializer(_PolicyInput):
    name = serializers.CharField(max_length=100)


class PolicyUpdateSerializer(_PolicyInput):
    name = serializers.CharField(max_length=100, required=False)
    version = VersionField()


class MoveSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["up", "down"])


class SlaPolicyViewSet(ScopedViewSet):
    """SLA policies: ordered rules (first active match by priority and customer tier wins; the default
    policy catches the rest) with first-response and resolution targets per priority in business minutes,
    a warning threshold and the escalation on breach (notify the queue manager / the assignee's team
    manager, reassign, raise the priority)."""

    module = MODULE
    queryset = SlaPolicy.objects.none()
    ordering_fields = ["position", "name", "id"]
    ordering = ("is_default", "position")  # the order rules are tried in: the default policy last

    def list_for(self, actor: Any) -> Any:
        return sla_selectors.policy_list_for(actor=actor)

    def _out(self, policy: SlaPolicy) -> dict[str, Any]:
        return PolicyOutputSerializer(sla_selectors.policy_get_for(actor=self.request.user, pk=policy.pk)).data

    @extend_schema(responses={200: PolicyOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PolicyOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: PolicyOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(PolicyOutputSerializer(self.get_object()).data)

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicyOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(PolicyCreateSerializer, request)
        policy = sla_services.sla_policy_create(actor=request.user, **data)
        return Response(self._out(policy), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PolicyUpdateSerializer, responses={200: PolicyOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        policy = self.get_object()
        data = _validated(PolicyUpdateSerializer, request)
        version = data.pop("version")
        sla_services.sla_policy_update(actor=request.user, policy=policy, expected_version=version, data=data)
        return Response(self._out(policy))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        sla_services.sla_policy_delete(actor=request.user, policy=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=MoveSerializer, responses={200: PolicyOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        """Move the rule one place up or down (the default policy always comes last)."""
        policy = self.get_object()
        data = _validated(MoveSerializer, request)
        policy = sla_services.sla_policy_move(actor=request.user, policy=policy, direction=data["direction"])
        return Response(self._out(policy))


ROUTES = [
    ("business-calendars", CalendarViewSet, "business-calendar"),
    ("holidays", CalendarDayViewSet, "holiday"),
    ("sla-policies", SlaPolicyViewSet, "sla-policy"),
    *survey_api.ROUTES,
]
