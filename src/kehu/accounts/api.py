"""The platform's REST API: the signed-in user, users, teams, roles and API tokens.

Thin by rule (HackSoftware styleguide): an input serializer parses, a service writes (it checks the
permission and records the audit entry), a selector reads (it starts from `visible_to(actor)`), an
output serializer renders. Records of another organisation are 404 because `get_object` reads through
the selector; ids in the input are resolved the same way (`RecordField`), so they fail like missing ones.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kehu.accounts import selectors, services
from kehu.accounts.models import ApiToken, Language, Role, Team, User
from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.permissions import Action, Scope
from kehu.core.viewsets import ScopedViewSet


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the schema generator how API tokens are sent (it registers itself by being defined)."""

    target_class = "kehu.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API token>"}


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    """Error responses for the schema: they all share the one shape."""
    return {code: ErrorSerializer for code in statuses}


class PaginatedListMixin:
    """`list` for a ScopedViewSet: the selector's queryset, the whitelisted ordering, one cursor page."""

    def paginated(self, serializer_class: type[serializers.Serializer]) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


# Small shapes that several outputs share -------------------------------------------------------------


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RoleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()


class UserSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class GrantSerializer(serializers.Serializer):
    """What a role grants in one module: actions and a data scope."""

    actions = serializers.ListField(child=serializers.ChoiceField(choices=Action.choices))
    scope = serializers.ChoiceField(choices=Scope.choices)


class OrganizationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    currency = serializers.CharField()
    language = serializers.CharField()
    enabled_modules = serializers.ListField(child=serializers.CharField())


def _user_status(user: User) -> str:
    if user.is_pending_invitation:
        return "invited"
    if user.is_active:
        return "active"
    return "deactivated"


# The signed-in user ----------------------------------------------------------------------------------


class MeView(APIView):
    """The signed-in user: profile, organisation, role and what the role grants."""

    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        name = serializers.CharField()
        phone = serializers.CharField()
        language = serializers.CharField()
        organization = OrganizationOutputSerializer()
        team = TeamRefSerializer(allow_null=True)
        role = RoleRefSerializer(allow_null=True)
        permissions = serializers.SerializerMethodField()
        totp_enabled = serializers.BooleanField()

        @extend_schema_field(serializers.DictField(child=GrantSerializer()))
        def get_permissions(self, user: User) -> dict[str, Any]:
            return dict(user.role.permissions or {}) if user.role_id else {}

    class MeUpdateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        language = serializers.ChoiceField(choices=Language.choices, required=False, allow_blank=True)

    @extend_schema(responses={200: MeOutputSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(self.MeOutputSerializer(request.user).data)

    @extend_schema(
        request=MeUpdateSerializer,
        responses={200: MeOutputSerializer, **errors(400, 401, 403)},
    )
    def patch(self, request: Request) -> Response:
        serializer = self.MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=request.user, data=dict(serializer.validated_data))
        return Response(self.MeOutputSerializer(user).data)


# Users -----------------------------------------------------------------------------------------------


class UserViewSet(PaginatedListMixin, ScopedViewSet):
    """Colleagues of the organisation. Creating one sends an invitation; changes need `platform.administer`."""

    queryset = User.objects.none()  # only for the schema generator; requests read through list_for
    ordering_fields = ["name", "email", "created_at"]
    ordering = "name"

    class UserFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=[("active", _("Active")), ("invited", _("Invited")), ("deactivated", _("Deactivated"))],
            required=False,
        )
        team = serializers.IntegerField(required=False, min_value=1)
        search = serializers.CharField(required=False, allow_blank=True, max_length=100)

    class UserOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        name = serializers.CharField()
        phone = serializers.CharField()
        language = serializers.CharField()
        team = TeamRefSerializer(allow_null=True)
        role = RoleRefSerializer(allow_null=True)
        status = serializers.SerializerMethodField()
        is_active = serializers.BooleanField()
        totp_enabled = serializers.BooleanField()
        invited_at = serializers.DateTimeField(allow_null=True)
        joined_at = serializers.DateTimeField(allow_null=True)
        deactivated_at = serializers.DateTimeField(allow_null=True)
        created_at = serializers.DateTimeField()

        @extend_schema_field(serializers.ChoiceField(choices=["active", "invited", "deactivated"]))
        def get_status(self, user: User) -> str:
            return _user_status(user)

    class UserInvitedOutputSerializer(UserOutputSerializer):
        invitation_link = serializers.CharField(help_text=_("The one-time link, shown once; it is also emailed."))

    class UserInviteSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        role = RecordField(getter=selectors.role_get_for)
        team = RecordField(getter=selectors.team_get_for, required=False, allow_null=True, default=None)

    class UserUpdateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        language = serializers.ChoiceField(choices=Language.choices, required=False, allow_blank=True)
        role = RecordField(getter=selectors.role_get_for, required=False)
        team = RecordField(getter=selectors.team_get_for, required=False, allow_null=True)

    def list_for(self, actor: User) -> Any:
        if self.action != "list":
            return selectors.user_list_for(actor=actor)
        filters = self.UserFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.user_list_for(
            actor=actor, search=data.get("search", ""), status=data.get("status", ""), team_id=data.get("team")
        )

    @extend_schema(
        parameters=[UserFilterSerializer],
        responses={200: UserOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        return self.paginated(self.UserOutputSerializer)

    @extend_schema(responses={200: UserOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.UserOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Invite a user",
        request=UserInviteSerializer,
        responses={201: UserInvitedOutputSerializer, **errors(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        serializer = self.UserInviteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user, link = services.user_invite(
            actor=request.user, base_url=request.build_absolute_uri("/"), **serializer.validated_data
        )
        return Response(
            {**self.UserOutputSerializer(user).data, "invitation_link": link}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=UserUpdateSerializer, responses={200: UserOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        serializer = self.UserUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=user, data=dict(serializer.validated_data))
        return Response(self.UserOutputSerializer(user).data)

    @extend_schema(request=None, responses={200: UserOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        user = services.user_deactivate(actor=request.user, user=self.get_object())
        return Response(self.UserOutputSerializer(user).data)

    @extend_schema(request=None, responses={200: UserOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str | None = None) -> Response:
        user = services.user_reactivate(actor=request.user, user=self.get_object())
        return Response(self.UserOutputSerializer(user).data)


# Teams -----------------------------------------------------------------------------------------------


class TeamViewSet(PaginatedListMixin, ScopedViewSet):
    """Departments 部门, a tree. Changes need `platform.administer`."""

    queryset = Team.objects.none()
    ordering_fields = ["name", "path"]
    ordering = "path"  # tree order: a parent comes before its sub-teams

    class TeamOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        parent = serializers.IntegerField(source="parent_id", allow_null=True)
        manager = UserSummarySerializer(allow_null=True)
        path = serializers.CharField()
        depth = serializers.IntegerField()

    class TeamCreateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        parent = RecordField(getter=selectors.team_get_for, required=False, allow_null=True, default=None)
        manager = RecordField(getter=selectors.user_get_for, required=False, allow_null=True, default=None)

    class TeamUpdateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        parent = RecordField(getter=selectors.team_get_for, required=False, allow_null=True)
        manager = RecordField(getter=selectors.user_get_for, required=False, allow_null=True)

    def list_for(self, actor: User) -> Any:
        return selectors.team_list_for(actor=actor)

    @extend_schema(responses={200: TeamOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        return self.paginated(self.TeamOutputSerializer)

    @extend_schema(responses={200: TeamOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.TeamOutputSerializer(self.get_object()).data)

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        serializer = self.TeamCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        team = services.team_create(actor=request.user, **serializer.validated_data)
        return Response(self.TeamOutputSerializer(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TeamUpdateSerializer, responses={200: TeamOutputSerializer, **errors(400, 401, 403, 404)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        team = self.get_object()
        serializer = self.TeamUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        team = services.team_update(actor=request.user, team=team, data=dict(serializer.validated_data))
        return Response(self.TeamOutputSerializer(team).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.team_delete(actor=request.user, team=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Roles -----------------------------------------------------------------------------------------------


class RoleViewSet(PaginatedListMixin, ScopedViewSet):
    """Roles grant, per module, actions and a data scope: {module: {"actions": [...], "scope": ...}}."""

    queryset = Role.objects.none()
    ordering_fields = ["name"]
    ordering = "name"

    class RoleOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        key = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()
        permissions = serializers.DictField(child=GrantSerializer())
        is_system = serializers.BooleanField()

    class RoleCreateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        permissions = serializers.DictField(child=GrantSerializer(), required=False, default=dict)

    class RoleUpdateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        description = serializers.CharField(max_length=255, required=False, allow_blank=True)
        permissions = serializers.DictField(child=GrantSerializer(), required=False)

    class RoleCopySerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    def list_for(self, actor: User) -> Any:
        return selectors.role_list_for(actor=actor)

    @extend_schema(responses={200: RoleOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        return self.paginated(self.RoleOutputSerializer)

    @extend_schema(responses={200: RoleOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.RoleOutputSerializer(self.get_object()).data)

    @extend_schema(request=RoleCreateSerializer, responses={201: RoleOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        serializer = self.RoleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = services.role_create(actor=request.user, **serializer.validated_data)
        return Response(self.RoleOutputSerializer(role).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoleUpdateSerializer, responses={200: RoleOutputSerializer, **errors(400, 401, 403, 404)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        role = self.get_object()
        serializer = self.RoleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = services.role_update(actor=request.user, role=role, data=dict(serializer.validated_data))
        return Response(self.RoleOutputSerializer(role).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.role_delete(actor=request.user, role=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Copy a role under a new name",
        request=RoleCopySerializer,
        responses={201: RoleOutputSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def copy(self, request: Request, pk: str | None = None) -> Response:
        role = self.get_object()
        serializer = self.RoleCopySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new_role = services.role_copy(actor=request.user, role=role, name=serializer.validated_data["name"])
        return Response(self.RoleOutputSerializer(new_role).data, status=status.HTTP_201_CREATED)


# API tokens ------------------------------------------------------------------------------------------


class ApiTokenViewSet(PaginatedListMixin, ScopedViewSet):
    """Your API tokens (administrators see every token of the organisation). The secret is shown once."""

    queryset = ApiToken.objects.none()
    ordering_fields = ["created_at", "name", "expires_at"]

    class ApiTokenOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        prefix = serializers.CharField(help_text=_("The first characters of the token, to recognise it."))
        scope = serializers.ChoiceField(choices=ApiToken.TokenScope.choices)
        user = UserSummarySerializer()
        created_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField(allow_null=True)
        last_used_at = serializers.DateTimeField(allow_null=True)
        revoked_at = serializers.DateTimeField(allow_null=True)

    class ApiTokenCreatedOutputSerializer(ApiTokenOutputSerializer):
        token = serializers.CharField(help_text=_("The secret. It is shown only in this response; store it now."))

    class ApiTokenCreateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False, default="API")
        scope = serializers.ChoiceField(choices=ApiToken.TokenScope.choices, required=False, default="read")
        expires_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)

    def list_for(self, actor: User) -> Any:
        return selectors.token_list_for(actor=actor)

    @extend_schema(responses={200: ApiTokenOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        return self.paginated(self.ApiTokenOutputSerializer)

    @extend_schema(responses={200: ApiTokenOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.ApiTokenOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedOutputSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        serializer = self.ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.token_create(actor=request.user, **serializer.validated_data)
        return Response({**self.ApiTokenOutputSerializer(token).data, "token": raw}, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a token", responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.token_revoke(actor=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
