"""What every list's export endpoint shares (GET /api/v1/<records>/export/?format=csv|xlsx&<filters>[&ids=]):
the `format` parameter taken from DRF's content negotiation, the selection's ids, and the schema's common
parameters and responses. The export itself is kehu.core.exporting's."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from kehu.core.api import ErrorSerializer
from kehu.core.errors import ValidationFailed
from kehu.core.exporting import FORMATS


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=csv` names the export's file format here, not one of DRF's renderers."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def parse_ids(request: Request) -> list[int]:
    """`ids=1,2,3` or `ids=1&ids=2`: the selected records (an empty list exports the filtered list)."""
    raw = [part for value in request.query_params.getlist("ids") for part in value.split(",") if part.strip()]
    try:
        return [int(v) for v in raw]
    except ValueError:
        message = _("Give the ids as numbers, e.g. ids=1,2,3.")
        raise ValidationFailed(message, fields={"ids": [message]}) from None


def parameters(noun: str) -> list[OpenApiParameter]:
    """The parameters every export takes besides the list's own filters."""
    return [
        OpenApiParameter("format", str, enum=list(FORMATS), default="csv"),
        OpenApiParameter("ids", str, description=f"Export only these {noun} (comma-separated ids)."),
    ]


def respond(request: Request, *, form: Any, run: Any) -> Any:
    """Validate the list's filter `form` (400 naming each bad field) and stream `run(actor=, filters=, ids=,
    fmt=)`, the module's export service."""
    from kehu.core.exporting import export_response

    if not form.is_valid():
        raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
    export = run(
        actor=request.user,
        filters=form.filters(),
        ids=parse_ids(request),
        fmt=request.query_params.get("format") or "csv",
    )
    return export_response(export)


RESPONSES = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
}
