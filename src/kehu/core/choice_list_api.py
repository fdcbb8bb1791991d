"""/api/v1/choice-options/: the options of the organisation's editable lists (customer tiers, lifecycle
stages, ticket types). Everyone who sees a list's module reads it; its module's administrators add,
rename, reorder, deactivate and delete (unused, not built-in) options. Thin, through kehu.core.choice_lists."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core import choice_lists, modules
from kehu.core.choice_list_models import ChoiceOption
from kehu.core.custom_field_api import _errors, _validated
from kehu.core.viewsets import ScopedViewSet


class ChoiceOptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    list = serializers.CharField(source="list_key", help_text="customer_tier, customer_stage or ticket_kind")
    key = serializers.CharField(help_text="What records store; it never changes.")
    label = serializers.CharField(source="display_label", help_text="In your language for an unrenamed built-in.")
    builtin = serializers.BooleanField()
    position = serializers.IntegerField()
    is_active = serializers.BooleanField()


class ChoiceOptionInputSerializer(serializers.Serializer):
    list = serializers.CharField(max_length=40, help_text="customer_tier, customer_stage or ticket_kind")
    label = serializers.CharField(max_length=choice_lists.LABEL_MAX_LENGTH)
    key = serializers.CharField(max_length=20, required=False, allow_blank=True, help_text="Made up when empty.")
    is_active = serializers.BooleanField(required=False, default=True)


class ChoiceOptionUpdateSerializer(serializers.Serializer):
    label = serializers.CharField(
        max_length=choice_lists.LABEL_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Empty gives a built-in option its own name (in each reader's language) back.",
    )
    is_active = serializers.BooleanField(required=False)


class ChoiceOptionMoveSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=[("up", "up"), ("down", "down")])


class ChoiceOptionViewSet(ScopedViewSet):
    """Options of the editable lists 可编辑选项. Filter with ?list=customer_tier."""

    module = modules.PLATFORM
    queryset = ChoiceOption.objects.none()
    ordering = "position"

    def list_for(self, actor: Any) -> Any:
        list_key = self.request.query_params.get("list") if self.action == "list" else None
        if self.action == "list" and getattr(actor, "organization_id", None):
            # Built-in options get rows (and ids) the first time the lists are read here.
            choice_lists.ensure_seeded(actor.organization_id)
        return choice_lists.option_list_for(actor=actor, list_key=list_key or None)

    @extend_schema(
        parameters=[OpenApiParameter("list", str, description="customer_tier, customer_stage or ticket_kind")],
        responses={200: ChoiceOptionOutputSerializer(many=True), **_errors(401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ChoiceOptionOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: ChoiceOptionOutputSerializer, **_errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ChoiceOptionOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=ChoiceOptionInputSerializer, responses={201: ChoiceOptionOutputSerializer, **_errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(ChoiceOptionInputSerializer, request)
        option = choice_lists.option_create(actor=request.user, list_key=data.pop("list"), **data)
        return Response(ChoiceOptionOutputSerializer(option).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ChoiceOptionUpdateSerializer,
        responses={200: ChoiceOptionOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        option = self.get_object()
        data = _validated(ChoiceOptionUpdateSerializer, request)
        option = choice_lists.option_update(actor=request.user, option=option, data=data)
        return Response(ChoiceOptionOutputSerializer(option).data)

    @extend_schema(
        request=ChoiceOptionMoveSerializer,
        responses={200: ChoiceOptionOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        """One place up or down in its list."""
        option = self.get_object()
        data = _validated(ChoiceOptionMoveSerializer, request)
        offset = -1 if data["direction"] == "up" else 1
        option = choice_lists.option_move(actor=request.user, option=option, offset=offset)
        return Response(ChoiceOptionOutputSerializer(option).data)

    @extend_schema(responses={204: None, **_errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        choice_lists.option_delete(actor=request.user, option=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
