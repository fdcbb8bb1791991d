"""/api/v1/notes/ and /api/v1/attachments/ (routes appended to customers/api.py's ROUTES).

Thin like the rest of the API: an input serializer parses, a service writes, a selector reads. Customers,
contacts and notes named in the input are resolved through the selectors, so another organisation's
ids fail like missing ones; notes and files outside the actor's scope are 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.viewsets import ScopedViewSet
from kehu.customers import mentions, note_selectors, note_services, selectors
from kehu.customers.models import MODULE
from kehu.customers.note_models import Attachment, Note
from kehu.customers.note_views import file_response


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


class _UserRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Notes -----------------------------------------------------------------------------------------------


class NoteOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = _Ref()
    contact = _Ref(allow_null=True)
    body = serializers.CharField(help_text="As stored: mentions as @[Name](user:ID).")
    text = serializers.SerializerMethodField(help_text="As people read it: mentions as @Name.")
    mentions = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the mentioned users.")
    author = _UserRef(source="created_by", allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_text(self, note: Note) -> str:
        return mentions.plain(note.body)


class NoteDeletedSerializer(NoteOutputSerializer):
    deleted_at = serializers.DateTimeField()
    deleted_by = _UserRef(source="updated_by", allow_null=True)


class NoteSavedSerializer(NoteOutputSerializer):
    notified = _UserRef(many=True, help_text="Colleagues notified of a new mention (in the app and by email).")
    not_notified = _UserRef(
        many=True, help_text="Mentioned colleagues who cannot see the customer: they were not notified."
    )


class NoteCreateSerializer(serializers.Serializer):
    customer = RecordField(getter=selectors.customer_get_for)
    contact = RecordField(getter=selectors.contact_get_for, required=False, allow_null=True)
    body = serializers.CharField(max_length=note_services.BODY_MAX_LENGTH)


class NoteUpdateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=note_services.BODY_MAX_LENGTH, required=False)
    contact = RecordField(getter=selectors.contact_get_for, required=False, allow_null=True)
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read; a stale one answers 409 version_conflict."
    )


def _saved(result: note_services.NoteSaved) -> dict[str, Any]:
    return {
        **NoteOutputSerializer(result.note).data,
        "notified": _UserRef(result.notified, many=True).data,
        "not_notified": _UserRef(result.not_notified, many=True).data,
    }


class NoteViewSet(ScopedViewSet):
    """Notes 备注 on the customers you may see. `@[Name](user:ID)` in the body mentions a colleague (as do
    `@email` and an exact `@Name`): they are notified unless they cannot see the customer, which the
    response lists in `not_notified`. Editing and deleting: the author or an administrator."""

    module = MODULE
    queryset = Note.objects.none()
    ordering_fields = ["created_at", "updated_at"]
    ordering = "-created_at"

    class NoteFilterSerializer(serializers.Serializer):
        customer = serializers.IntegerField(required=False, min_value=1)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return note_selectors.note_list_for(actor=actor)
        filters = self.NoteFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return note_selectors.note_list_for(actor=actor, customer=filters.validated_data.get("customer"))

    def _base_url(self) -> str:
        return self.request.build_absolute_uri("/")

    @extend_schema(
        parameters=[NoteFilterSerializer], responses={200: NoteOutputSerializer(many=True), **errors(400, 401, 403)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(NoteOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: NoteOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(NoteOutputSerializer(self.get_object()).data)

    @extend_schema(request=NoteCreateSerializer, responses={201: NoteSavedSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(NoteCreateSerializer, request)
        result = note_services.note_create(actor=request.user, base_url=self._base_url(), **data)
        return Response(_saved(result), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=NoteUpdateSerializer, responses={200: NoteSavedSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        note = self.get_object()
        data = _validated(NoteUpdateSerializer, request)
        version = data.pop("version")
        result = note_services.note_update(
            actor=request.user, note=note, expected_version=version, data=data, base_url=self._base_url()
        )
        return Response(_saved(result))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        note_services.note_delete(actor=request.user, note=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="notes_recycle_bin_list",
        parameters=[NoteFilterSerializer],
        responses={200: NoteDeletedSerializer(many=True), **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], url_path="recycle-bin", url_name="recycle-bin")
    def recycle_bin(self, request: Request) -> Response:
        """Deleted notes of the customers you may see (`?customer=` for one), restorable with
        `POST /{id}/restore/`."""
        filters = self.NoteFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = note_selectors.note_recycle_bin_for(actor=request.user, customer=filters.validated_data.get("customer"))
        page = self.paginate_queryset(self.filter_queryset(qs))
        return self.get_paginated_response(NoteDeletedSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: NoteOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a note back from the recycle bin, with the files deleted together with it (the author or
        an administrator)."""
        note = note_selectors.note_deleted_get_for(actor=request.user, pk=pk)
        note_services.note_restore(actor=request.user, note=note)
        return Response(NoteOutputSerializer(note_selectors.note_get_for(actor=request.user, pk=note.pk)).data)


# Attachments -----------------------------------------------------------------------------------------


class AttachmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = _Ref()
    note = serializers.IntegerField(source="note_id", allow_null=True)
    name = serializers.CharField(source="original_name")
    size = serializers.IntegerField(help_text="Bytes.")
    content_type = serializers.CharField()
    sha256 = serializers.CharField()
    uploaded_by = _UserRef(source="created_by", allow_null=True)
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment: Attachment) -> str:
        path = reverse("api:attachment-download", args=[attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class AttachmentDeletedSerializer(AttachmentOutputSerializer):
    deleted_at = serializers.DateTimeField()
    deleted_by = _UserRef(source="updated_by", allow_null=True)
    with_note = serializers.SerializerMethodField(
        help_text="Deleted together with its note: restoring the note brings it back."
    )

    def get_with_note(self, attachment: Attachment) -> bool:
        return attachment.note is not None and attachment.note.deleted_at is not None


class AttachmentCreateSerializer(serializers.Serializer):
    customer = RecordField(getter=selectors.customer_get_for)
    note = RecordField(getter=note_selectors.note_get_for, required=False, allow_null=True)
    # Empty files, size, extension and content are checked by the service, whose errors name the file.
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class PassthroughRenderer(renderers.BaseRenderer):
    """Lets a client that asks for the file's own type (Accept: application/pdf) reach the download; the
    body is the FileResponse's, and errors still come out as the one JSON shape."""

    media_type = "*/*"
    format = "file"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode() if data is not None else b""


class AttachmentViewSet(ScopedViewSet):
    """Files 附件 of the customers you may see. Upload with multipart/form-data (`customer`, optional
    `note`, `file`); the size limit and the allowed types are checked against the file's content.
    `GET /{id}/download/` streams the file; DELETE (the uploader or an administrator) is soft."""

    module = MODULE
    queryset = Attachment.objects.none()
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, parsers.JSONParser]
    ordering_fields = ["created_at"]
    ordering = "-created_at"

    class AttachmentFilterSerializer(serializers.Serializer):
        customer = serializers.IntegerField(required=False, min_value=1)
        note = serializers.IntegerField(required=False, min_value=1)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return note_selectors.attachment_list_for(actor=actor)
        filters = self.AttachmentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return note_selectors.attachment_list_for(actor=actor, customer=data.get("customer"), note=data.get("note"))

    def _out(self, attachment: Any, **kwargs: Any) -> Any:
        return AttachmentOutputSerializer(attachment, context={"request": self.request}, **kwargs).data

    @extend_schema(
        parameters=[AttachmentFilterSerializer],
        responses={200: AttachmentOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._out(page, many=True))

    @extend_schema(responses={200: AttachmentOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(
        request={"multipart/form-data": AttachmentCreateSerializer},
        responses={201: AttachmentOutputSerializer, **errors(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        data = _validated(AttachmentCreateSerializer, request)
        attachment = note_services.attachment_create(actor=request.user, **data)
        return Response(self._out(attachment), status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        note_services.attachment_delete(actor=request.user, attachment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="attachments_recycle_bin_list",
        parameters=[AttachmentFilterSerializer],
        responses={200: AttachmentDeletedSerializer(many=True), **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], url_path="recycle-bin", url_name="recycle-bin")
    def recycle_bin(self, request: Request) -> Response:
        """Deleted files of the customers you may see (`?customer=` for one), restorable with
        `POST /{id}/restore/` unless `with_note` (then restore the note)."""
        filters = self.AttachmentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = note_selectors.attachment_recycle_bin_for(
            actor=request.user, customer=filters.validated_data.get("customer")
        )
        page = self.paginate_queryset(self.filter_queryset(qs))
        return self.get_paginated_response(
            AttachmentDeletedSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=None, responses={200: AttachmentOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a file back from the recycle bin (the uploader or an administrator). A file deleted with its
        note answers 400 `note_deleted`: restore the note."""
        attachment = note_selectors.attachment_deleted_get_for(actor=request.user, pk=pk)
        note_services.attachment_restore(actor=request.user, attachment=attachment)
        return Response(self._out(note_selectors.attachment_get_for(actor=request.user, pk=attachment.pk)))

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            **errors(401, 403, 404),
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PassthroughRenderer])
    def download(self, request: Request, pk: str | None = None) -> Any:
        """The file, as an attachment under its original name."""
        return file_response(self.get_object())


ROUTES = [
    ("notes", NoteViewSet, "note"),
    ("attachments", AttachmentViewSet, "attachment"),
]
