"""/api/v1/imports/: upload a file for a record type, map its columns, check it, run it, follow its progress,
resume or cancel it, and download its bad rows. A job is visible to its uploader (and to an organisation
administrator); anyone else's job is 404."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core import imports
from kehu.core.api import ErrorSerializer
from kehu.core.import_models import ImportJob
from kehu.core.viewsets import ScopedViewSet


def _errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


class ImportJobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record_type = serializers.CharField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    file_name = serializers.CharField(source="original_name")
    file_format = serializers.CharField()
    encoding = serializers.CharField()
    headers = serializers.ListField(child=serializers.CharField())
    mapping = serializers.DictField(child=serializers.CharField(), help_text="Column index (from 0) -> field name.")
    preset = serializers.CharField()
    policy = serializers.CharField()
    total_rows = serializers.IntegerField(allow_null=True)
    processed_rows = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="Percent of the rows handled.")
    created = serializers.IntegerField(source="created_count")
    updated = serializers.IntegerField(source="updated_count")
    skipped = serializers.IntegerField(source="skipped_count")
    errors = serializers.IntegerField(source="error_count")
    dry_run = serializers.DictField(help_text="Counts and bad rows ({row, fields, message}) of the last check.")
    record_fields = serializers.SerializerMethodField(help_text="The fields a column can be mapped to.")
    presets = serializers.SerializerMethodField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_record_fields(self, job: ImportJob) -> list[dict[str, Any]]:
        adapter = imports.adapter_for(job.record_type)
        # One look-up per record type and organisation for a whole list page (custom fields are queried).
        cache = self.context.setdefault("record_fields", {})
        key = (job.record_type, job.organization_id)
        if key not in cache:
            fields = adapter.fields_for(job.organization_id)
            cache[key] = [{"name": f.name, "label": str(f.label), "required": f.required} for f in fields]
        return cache[key]

    def get_presets(self, job: ImportJob) -> list[dict[str, str]]:
        return [{"key": p.key, "label": p.label} for p in imports.adapter_for(job.record_type).presets]


class ImportJobCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX.")
    record_type = serializers.CharField(default="customers")


class ImportJobUpdateSerializer(serializers.Serializer):
    mapping = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    policy = serializers.ChoiceField(choices=ImportJob.Policy.choices, required=False)
    preset = serializers.CharField(required=False, allow_blank=True)


class ImportJobViewSet(ScopedViewSet):
    """Import jobs. Flow: POST a file -> PATCH mapping/policy -> POST dry-run -> POST run -> GET progress."""

    queryset = ImportJob.objects.none()
    parser_classes = (MultiPartParser, FormParser, JSONParser)
    ordering = "-created_at"
    ordering_fields = ["created_at"]

    def list_for(self, actor: Any) -> Any:
        return imports.import_job_list_for(actor=actor)

    def _out(self, job: ImportJob, code: int = status.HTTP_200_OK) -> Response:
        job.refresh_from_db()
        return Response(ImportJobOutputSerializer(job).data, status=code)

    @extend_schema(responses={200: ImportJobOutputSerializer(many=True), **_errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ImportJobOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: ImportJobOutputSerializer, **_errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ImportJobOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=ImportJobCreateSerializer, responses={201: ImportJobOutputSerializer, **_errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        serializer = ImportJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = imports.import_job_create(actor=request.user, record_type=data["record_type"], upload=data["file"])
        return self._out(job, status.HTTP_201_CREATED)

    @extend_schema(
        request=ImportJobUpdateSerializer, responses={200: ImportJobOutputSerializer, **_errors(400, 401, 403, 404)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        serializer = ImportJobUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._out(imports.import_job_update(actor=request.user, job=job, **serializer.validated_data))

    @extend_schema(request=None, responses={200: ImportJobOutputSerializer, **_errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, pk: str | None = None) -> Response:
        """Check every row in the background; GET the job for the counts and bad rows."""
        return self._out(imports.import_job_dry_run(actor=request.user, job=self.get_object()))

    @extend_schema(request=None, responses={200: ImportJobOutputSerializer, **_errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Import in the background; GET the job for its progress."""
        return self._out(imports.import_job_start(actor=request.user, job=self.get_object()))

    @extend_schema(request=None, responses={200: ImportJobOutputSerializer, **_errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Continue a failed, cancelled or interrupted import from its checkpoint."""
        return self._out(imports.import_job_resume(actor=request.user, job=self.get_object()))

    @extend_schema(request=None, responses={200: ImportJobOutputSerializer, **_errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._out(imports.import_job_cancel(actor=request.user, job=self.get_object()))

    @extend_schema(responses={(200, "application/octet-stream"): bytes, **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None) -> FileResponse:
        """The bad rows as a file in the upload's format, with an extra "error" column."""
        handle, name = imports.import_job_error_report(actor=request.user, job=self.get_object())
        return FileResponse(handle, as_attachment=True, filename=name)
