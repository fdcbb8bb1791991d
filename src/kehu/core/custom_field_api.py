"""/api/v1/custom-fields/ (definitions) and /api/v1/saved-views/: thin, through the core services and
selectors, so a definition or a view of another organisation is 404 like a missing one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core import custom_fields, modules, saved_views
from kehu.core.api import ErrorSerializer
from kehu.core.custom_field_models import CustomFieldDefinition, FieldType
from kehu.core.saved_view_models import SavedView
from kehu.core.viewsets import ScopedViewSet


def _errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _AllOptional:
    """Update serializers: every field optional except `version` (when the serializer has one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            if name != "version":
                field.required = False


# Custom field definitions ----------------------------------------------------------------------------


class DefinitionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record_type = serializers.CharField()
    key = serializers.CharField(help_text='Values live under this key in the record\'s "custom" object.')
    label = serializers.CharField()
    field_type = serializers.ChoiceField(choices=FieldType.choices)
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    help_text = serializers.CharField()
    options = serializers.ListField(child=serializers.CharField())
    position = serializers.IntegerField()
    is_active = serializers.BooleanField()
    public = serializers.BooleanField(help_text="Offered to visitors on the record type's public form (tickets).")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DefinitionInputSerializer(serializers.Serializer):
    record_type = serializers.CharField(
        max_length=64, help_text='e.g. "customers.customer", "customers.contact", "service.ticket"'
    )
    key = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=100)
    field_type = serializers.ChoiceField(choices=FieldType.choices)
    required = serializers.BooleanField(required=False)
    default = serializers.JSONField(required=False, allow_null=True)
    help_text = serializers.CharField(max_length=255, required=False, allow_blank=True)
    options = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=500)
    position = serializers.IntegerField(min_value=0, required=False)
    is_active = serializers.BooleanField(required=False)
    public = serializers.BooleanField(
        required=False, help_text='On the public form: only record types that have one ("service.ticket").'
    )


class DefinitionUpdateSerializer(_AllOptional, DefinitionInputSerializer):
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; a stale one answers 409 version_conflict."
    )


class CustomFieldViewSet(ScopedViewSet):
    """Custom field definitions 自定义字段. Everyone reads the definitions of the record types they see;
    administrators of the record type's module create and change them. The type of a field that records
    already hold values for cannot change, and such a field is deactivated rather than deleted."""

    module = modules.PLATFORM
    queryset = CustomFieldDefinition.objects.none()
    ordering_fields = ["position", "id"]
    ordering = "position"

    def list_for(self, actor: Any) -> Any:
        record_type = self.request.query_params.get("record_type") if self.action == "list" else None
        return custom_fields.definition_list_for(actor=actor, record_type=record_type or None)

    @extend_schema(
        parameters=[OpenApiParameter("record_type", str, description='e.g. "customers.customer"')],
        responses={200: DefinitionOutputSerializer(many=True), **_errors(401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DefinitionOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: DefinitionOutputSerializer, **_errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(DefinitionOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=DefinitionInputSerializer, responses={201: DefinitionOutputSerializer, **_errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        definition = custom_fields.definition_create(
            actor=request.user, **_validated(DefinitionInputSerializer, request)
        )
        return Response(DefinitionOutputSerializer(definition).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DefinitionUpdateSerializer,
        responses={200: DefinitionOutputSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        data = _validated(DefinitionUpdateSerializer, request)
        version = data.pop("version", None)
        definition = custom_fields.definition_update(
            actor=request.user, definition=definition, expected_version=version, data=data
        )
        return Response(DefinitionOutputSerializer(definition).data)

    @extend_schema(responses={204: None, **_errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        custom_fields.definition_delete(actor=request.user, definition=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Saved views -----------------------------------------------------------------------------------------


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SavedViewOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record_type = serializers.CharField()
    name = serializers.CharField()
    filters = serializers.DictField()
    ordering = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    shared = serializers.BooleanField()
    owner = OwnerSerializer(allow_null=True)
    mine = serializers.SerializerMethodField()
    is_default = serializers.SerializerMethodField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_mine(self, view: SavedView) -> bool:
        return view.owner_id == self.context["actor"].pk

    def get_is_default(self, view: SavedView) -> bool:
        return view.pk in self.context["defaults"]


class SavedViewInputSerializer(serializers.Serializer):
    record_type = serializers.CharField(max_length=64, help_text='The list, e.g. "customers.customer"')
    name = serializers.CharField(max_length=100)
    filters = serializers.DictField(required=False, help_text="The list's query parameters, by name.")
    ordering = serializers.CharField(max_length=64, required=False, allow_blank=True)
    columns = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=100)
    shared = serializers.BooleanField(required=False, help_text="Visible to the whole organisation.")


class SavedViewUpdateSerializer(_AllOptional, SavedViewInputSerializer):
    version = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "record_type" in attrs:
            raise serializers.ValidationError({"record_type": ["The list of a saved view cannot change."]})
        return attrs


class DefaultSerializer(serializers.Serializer):
    default = serializers.BooleanField(default=True, help_text="false: open the list without a view again.")


class SavedViewViewSet(ScopedViewSet):
    """Saved views 视图 of lists: your own and those shared with the organisation. Changing or deleting a
    view is its owner's (or, for a shared view, an administrator's of the list's module)."""

    module = modules.PLATFORM
    queryset = SavedView.objects.none()
    ordering_fields = ["name", "id"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        record_type = self.request.query_params.get("record_type") if self.action == "list" else None
        return saved_views.saved_view_list_for(actor=actor, record_type=record_type or None)

    def _out(self, view: Any, many: bool = False) -> Any:
        actor = self.request.user
        context = {"actor": actor, "defaults": saved_views.default_ids_for(actor=actor)}
        return SavedViewOutputSerializer(view, many=many, context=context).data

    @extend_schema(
        parameters=[OpenApiParameter("record_type", str)],
        responses={200: SavedViewOutputSerializer(many=True), **_errors(401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._out(page, many=True))

    @extend_schema(responses={200: SavedViewOutputSerializer, **_errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(
        request=SavedViewInputSerializer, responses={201: SavedViewOutputSerializer, **_errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        view = saved_views.saved_view_create(actor=request.user, **_validated(SavedViewInputSerializer, request))
        return Response(self._out(view), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SavedViewUpdateSerializer,
        responses={200: SavedViewOutputSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        view = self.get_object()
        data = _validated(SavedViewUpdateSerializer, request)
        version = data.pop("version", None)
        view = saved_views.saved_view_update(actor=request.user, view=view, data=data, expected_version=version)
        return Response(self._out(view))

    @extend_schema(responses={204: None, **_errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        saved_views.saved_view_delete(actor=request.user, view=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=DefaultSerializer, responses={200: SavedViewOutputSerializer, **_errors(401, 403, 404)})
    @action(detail=True, methods=["post"])
    def default(self, request: Request, pk: str | None = None) -> Response:
        """Open the list with this view from now on (or, with {"default": false}, with none)."""
        view = self.get_object()
        make_default = _validated(DefaultSerializer, request)["default"]
        saved_views.saved_view_set_default(
            actor=request.user, record_type=view.record_type, view=view if make_default else None
        )
        return Response(self._out(view))
