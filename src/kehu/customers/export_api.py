"""GET /api/v1/customers/export/?format=csv|xlsx&<the list's filters>[&ids=1,2,3]: attached to the customers
view set as its `export` action (see api.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from kehu.core.api import ErrorSerializer
from kehu.core.errors import ValidationFailed
from kehu.customers import exporting
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.models import Customer


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=csv` names the export's file format here, not one of DRF's renderers."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def _ids(request: Request) -> list[int]:
    raw = [part for value in request.query_params.getlist("ids") for part in value.split(",") if part.strip()]
    try:
        return [int(v) for v in raw]
    except ValueError:
        message = _("Give customer ids as numbers, e.g. ids=1,2,3.")
        raise ValidationFailed(message, fields={"ids": [message]}) from None


@extend_schema(
    parameters=[
        OpenApiParameter("format", str, enum=list(exporting.FORMATS), default="csv"),
        OpenApiParameter("ids", str, description="Export only these customers (comma-separated ids)."),
        OpenApiParameter("search", str),
        OpenApiParameter("kind", str, enum=Customer.Kind.values),
        OpenApiParameter("tier", str, description="A key of the organisation's list customer_tier"),
        OpenApiParameter("stage", str, description="A key of the organisation's list customer_stage"),
        OpenApiParameter("source", str, enum=Customer.Source.values),
        OpenApiParameter("tag", int),
        OpenApiParameter("owner", int),
        OpenApiParameter("province", str),
        OpenApiParameter("city", str),
    ],
    responses={
        (200, "text/csv"): OpenApiTypes.BINARY,
        400: ErrorSerializer,
        401: ErrorSerializer,
        403: ErrorSerializer,
    },
)
@action(detail=False, methods=["get"], content_negotiation_class=IgnoreFormatParameter)
def export(self: Any, request: Request) -> Any:
    """The customers you may see that match the filters (or the selected ids), as CSV (UTF-8 with BOM) or
    XLSX, streamed. Needs the export right; audited."""
    form = CustomerFilterForm(request.query_params, actor=request.user)
    if not form.is_valid():
        raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
    export = exporting.customer_export(
        actor=request.user,
        filters=form.filters(),
        ids=_ids(request),
        fmt=request.query_params.get("format") or "csv",
    )
    return exporting.export_response(export)
