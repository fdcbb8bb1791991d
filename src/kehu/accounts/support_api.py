"""/api/v1/support-grants/: the organisation's grants of read-only access for the vendor's support staff.
Administrators list, create and revoke them; grants of another organisation are 404."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.accounts import support_selectors, support_services
from kehu.accounts.api import PaginatedListMixin, UserSummarySerializer, errors
from kehu.accounts.models import (
    SUPPORT_GRANT_STATUSES,
    SUPPORT_HOURS_MAX,
    SUPPORT_HOURS_MIN,
    SupportGrant,
    User,
)
from kehu.core.services import require
from kehu.core.viewsets import ScopedViewSet


class SupportGrantViewSet(PaginatedListMixin, ScopedViewSet):
    """Grants of read-only access to the organisation's data for the vendor's platform staff (support).

    While a grant is active, platform staff may open a support session in which they read, and never
    change, the organisation's records; every request they make is in the audit log (`support.access`).
    Needs `platform.administer`.
    """

    queryset = SupportGrant.objects.none()
    ordering_fields = ["created_at", "expires_at"]
    ordering = "-created_at"

    class SupportGrantOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(choices=SUPPORT_GRANT_STATUSES)
        hours = serializers.IntegerField()
        reason = serializers.CharField()
        granted_by = UserSummarySerializer(allow_null=True)
        created_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField()
        ended_at = serializers.DateTimeField(allow_null=True)
        ended_by = UserSummarySerializer(allow_null=True)

    class SupportGrantCreateSerializer(serializers.Serializer):
        hours = serializers.IntegerField(
            min_value=SUPPORT_HOURS_MIN, max_value=SUPPORT_HOURS_MAX, help_text=_("How long the access lasts.")
        )
        reason = serializers.CharField(max_length=500, help_text=_("Why the vendor needs access."))

    def list_for(self, actor: User) -> Any:
        return support_selectors.support_grant_list_for(actor=actor)

    @extend_schema(responses={200: SupportGrantOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        require(request.user, "view", SupportGrant)
        return self.paginated(self.SupportGrantOutputSerializer)

    @extend_schema(responses={200: SupportGrantOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.SupportGrantOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Grant the vendor read-only access",
        request=SupportGrantCreateSerializer,
        responses={201: SupportGrantOutputSerializer, **errors(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        serializer = self.SupportGrantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = support_services.support_grant_create(actor=request.user, **serializer.validated_data)
        return Response(self.SupportGrantOutputSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a grant before it expires",
        request=None,
        responses={200: SupportGrantOutputSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        grant = support_services.support_grant_revoke(actor=request.user, grant=self.get_object())
        return Response(self.SupportGrantOutputSerializer(grant).data)
