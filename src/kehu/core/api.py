"""The API's shared parts that DRF's settings name: one error shape, cursor pagination, the module gate.

Kept free of imports of DRF views, which read these settings while they load."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, filters, metadata, pagination, permissions, serializers
from rest_framework.response import Response

from kehu.core import modules
from kehu.core.errors import DomainError, NotFound, validation_error_from_django


def _fields_from_drf(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out = {}
        for name, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _fields_from_drf(value).items():
                    out[f"{name}.{sub}"] = msgs
            elif isinstance(value, list):
                flat = []
                for item in value:
                    if isinstance(item, dict):
                        for sub, msgs in _fields_from_drf(item).items():
                            out[f"{name}.{sub}"] = msgs
                    else:
                        flat.append(str(item))
                if flat:
                    out[name] = flat
            else:
                out[name] = [str(value)]
        return out
    return {}


_DRF_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", 401),
    exceptions.AuthenticationFailed: ("authentication_failed", 401),
    exceptions.PermissionDenied: ("permission_denied", 403),
    exceptions.NotFound: ("not_found", 404),
    exceptions.MethodNotAllowed: ("method_not_allowed", 405),
    exceptions.NotAcceptable: ("not_acceptable", 406),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", 415),
    exceptions.Throttled: ("throttled", 429),
    exceptions.ParseError: ("parse_error", 400),
}


def error_response(
    code: str, message: str, status: int, fields: dict | None = None, headers: dict | None = None
) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status, headers=headers
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error the API returns has the shape {"error": {"code", "message", "fields"}}."""
    from rest_framework.views import set_rollback  # not at import time: DRF's settings import this module

    set_rollback()
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.status, exc.fields)
    if isinstance(exc, DjangoValidationError):
        err = validation_error_from_django(exc)
        return error_response(err.code, err.message, err.status, err.fields)
    if isinstance(exc, Http404):
        err = NotFound()
        return error_response(err.code, err.message, 404)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response("permission_denied", _("You do not have permission to do this."), 403)
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields_from_drf(exc.detail)
        if not fields and isinstance(exc.detail, list):
            fields = {"non_field_errors": [str(d) for d in exc.detail]}
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()) or _("Some fields are not valid.")
        return error_response("validation_failed", message, 400, fields)
    if isinstance(exc, exceptions.APIException):
        code, status = next(
            ((c, s) for klass, (c, s) in _DRF_CODES.items() if isinstance(exc, klass)),
            (exc.default_code, exc.status_code),
        )
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(code, detail, status, headers=headers)
    return None


class CursorPagination(pagination.CursorPagination):
    """{"results": [...], "next": url|null, "previous": url|null}: no COUNT on any list."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = "-id"

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list | None:
        # A cursor is client input: a forged position that does not fit the ordering field ("2026-01"
        # for an id) makes the ORM raise while filtering. That is a bad cursor, not a server error.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            raise exceptions.NotFound(self.invalid_cursor_message) from exc

    def decode_cursor(self, request: Any) -> Any:
        cursor = super().decode_cursor(request)
        # PostgreSQL refuses NUL in text parameters: a position holding one is a forged cursor.
        if cursor is not None and cursor.position is not None and "\x00" in str(cursor.position):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


class SearchedListSerializer(serializers.Serializer):
    """The envelope of the keyset-paginated lists with `?search=` (customers, opportunities, leads), for the
    schema: subclasses add `results`. The responses are built by searched_list_envelope."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    capped_at = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "Not null when a search sorted by anything but -updated_at matched more than this many records: the "
            "list pages through only this many (the most relevant), in the order asked. Sort by -updated_at "
            "(the default) to page through every match. Null otherwise."
        ),
    )


def searched_list_envelope(results: list[Any], *, page: Any, page_url: Any) -> dict[str, Any]:
    """{"results", "next", "previous", "capped_at"} of a list page (a selectors Page: its cursors as links by
    `page_url`, and its capped_at, core.search_backends.capped_ids): one shape for every searched list."""
    return {
        "results": results,
        "next": page_url(page.next_cursor),
        "previous": page_url(page.previous_cursor),
        "capped_at": page.capped_at,
    }


class IsOrganizationMember(permissions.BasePermission):
    """Signed in, active, member of an organisation, and (on module routes) the module is enabled.

    Raises `module_not_enabled` itself so that clients can tell "not licensed" from "not allowed".
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if user.organization_id is None:
            return False
        module = getattr(view, "module", None)
        if module:
            modules.require_module(user.organization, module)
        return True


class SafeOrderingFilter(filters.OrderingFilter):
    """`?ordering=` on the view's `ordering_fields` whitelist only, with `id` as the tie-breaker.

    DRF's own filter falls back to every serializer field (or every model field with "__all__") when a
    view names none; a CRM's sort parameter is a classic injection and data-probing hole, so here a
    view without a whitelist simply cannot be sorted by the client. Unknown terms are ignored. The
    tie-breaker keeps cursor pages stable when many rows share a value (names, dates).
    """

    def get_valid_fields(self, queryset: Any, view: Any, context: dict | None = None) -> list[tuple[str, str]]:
        fields = getattr(view, "ordering_fields", None)
        if not isinstance(fields, list | tuple):
            return []
        return [(name, name) for name in fields if isinstance(name, str) and "__" not in name]

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        terms = list(dict.fromkeys(ordering))  # "name,name" would otherwise sort twice
        if not any(term.lstrip("-") in ("id", "pk") for term in terms):
            terms.append("-id" if terms[0].startswith("-") else "id")
        return tuple(terms)


class RecordField(serializers.IntegerField):
    """An input field holding the id of a record the actor may see, resolved through a selector.

    `getter` is a `*_get_for(actor=, pk=)` selector. An id of another organisation (or outside the
    actor's scope) fails exactly like a missing one, on the field, so input never reveals what exists
    elsewhere.
    """

    default_error_messages = {"not_found": gettext_lazy("No such record, or it is not visible to you.")}

    def __init__(self, *, getter: Any, **kwargs: Any) -> None:
        self.getter = getter
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        pk = super().to_internal_value(data)
        try:
            return self.getter(actor=self.context["request"].user, pk=pk)
        except NotFound:
            self.fail("not_found")

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "pk", value)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RefSerializer(serializers.Serializer):
    """A reference to a record in a response: its id and name."""

    id = serializers.IntegerField()
    name = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for the OpenAPI schema."""

    error = ErrorDetailSerializer()


class Metadata(metadata.SimpleMetadata):
    """OPTIONS without DRF's per-method field listing.

    That listing asks the view for its one `serializer_class`; our view sets have an input serializer
    per action instead, so DRF's default answered OPTIONS with a 500. The OpenAPI schema at
    /api/schema/ describes every field.
    """

    def determine_actions(self, request: Any, view: Any) -> dict:
        return {}
