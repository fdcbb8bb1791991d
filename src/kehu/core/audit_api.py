"""The audit log over the API: read-only, administrators only (the selector says so), newest first."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer
from kehu.core.audit_selectors import audit_list_for
from kehu.core.models import AuditEntry
from kehu.core.viewsets import ScopedViewSet


class AuditEntryViewSet(ScopedViewSet):
    """Who did what, when: logins, changes with their before/after values, exports, permission changes."""

    queryset = AuditEntry.objects.none()  # only for the schema generator
    ordering_fields = ["created_at"]
    ordering = "-created_at"  # served by the (organization, -created_at) index

    class AuditFilterSerializer(serializers.Serializer):
        action = serializers.CharField(
            required=False, allow_blank=True, max_length=64, help_text=_("Prefix, e.g. `user.` or `user.invite`.")
        )
        actor = serializers.IntegerField(required=False, min_value=1, help_text=_("The acting user's id."))
        target_type = serializers.CharField(
            required=False, allow_blank=True, max_length=64, help_text=_("e.g. `accounts.user`.")
        )
        search = serializers.CharField(required=False, allow_blank=True, max_length=100)
        since = serializers.DateTimeField(required=False, help_text=_("From this time (inclusive)."))
        until = serializers.DateTimeField(required=False, help_text=_("Before this time (exclusive)."))

    class AuditEntryOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        seq = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        actor = serializers.IntegerField(source="actor_id", allow_null=True)
        actor_label = serializers.CharField()
        ip = serializers.IPAddressField(allow_null=True)
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        target_label = serializers.CharField()
        changes = serializers.DictField()

    def list_for(self, actor: Any) -> Any:
        filters = self.AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return audit_list_for(
            actor=actor,
            action=data.get("action", ""),
            actor_id=data.get("actor"),
            target_type=data.get("target_type", ""),
            search=data.get("search", ""),
            since=data.get("since"),
            until=data.get("until"),
        )

    @extend_schema(
        parameters=[AuditFilterSerializer],
        responses={
            200: AuditEntryOutputSerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.AuditEntryOutputSerializer(page, many=True).data)
