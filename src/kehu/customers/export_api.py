"""GET /api/v1/customers/export/?format=csv|xlsx&<the list's filters>[&ids=1,2,3]: attached to the customers
view set as its `export` action (see api.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request

from kehu.core import export_api
from kehu.customers import exporting
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.models import Customer


@extend_schema(
    parameters=[
        *export_api.parameters("customers"),
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
    responses=export_api.RESPONSES,
)
@action(detail=False, methods=["get"], content_negotiation_class=export_api.IgnoreFormatParameter)
def export(self: Any, request: Request) -> Any:
    """The customers you may see that match the filters (or the selected ids), as CSV (UTF-8 with BOM) or
    XLSX, streamed. Needs the export right; audited."""
    form = CustomerFilterForm(request.query_params, actor=request.user)
    return export_api.respond(request, form=form, run=exporting.customer_export)
