"""Exporting a list to CSV (UTF-8 with BOM) or XLSX: the filtered list or a selection, streamed. Generic over
record types; each module describes its columns and rows (customers/exporting.py, sales/lead_exporting.py).

What every export shares lives here, so no list can forget it: the `export` right (checked before the
queryset is built), the two formats, the cap on a selection, one audit entry with the filters and the row
count, rows read in keyset chunks by id (never the whole queryset), and the streamed response. The rows
a module yields go through kehu.core.imports' writers, which neutralise cells a spreadsheet would run as
a formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import CharField, Func, QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed
from kehu.core.imports import csv_stream, xlsx_file
from kehu.core.services import require

FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 5000
MAX_SELECTED = 10_000


@dataclass
class Export:
    header: list[str]
    rows: Iterator[list[Any]]
    count: int
    filename: str
    format: str
    title: str = "export"  # the XLSX sheet's name

    @property
    def content_type(self) -> str:
        if self.format == "xlsx":
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv; charset=utf-8"


def chunks(qs: QuerySet, values: Sequence[str], *, size: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """`qs` as batches of `values_list(*values, "pk")` tuples (the id last), by ascending id: one bounded
    query per batch (of `size`, default CHUNK_SIZE), however large the list."""
    size = size or CHUNK_SIZE
    last = 0
    while True:
        batch = list(qs.filter(pk__gt=last).order_by("pk").values_list(*values, "pk")[:size])
        if not batch:
            return
        yield batch
        last = batch[-1][-1]


class _LocalMinute(Func):
    """A timestamp as 'YYYY-MM-DD HH:MM' in a time zone, formatted by PostgreSQL: turning two timestamps per
    row into datetimes and back into text was a fifth of a customer export's time."""

    output_field = CharField()

    def __init__(self, expression: str, zone: str) -> None:
        super().__init__(expression)
        self.zone = zone

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"to_char({sql} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')", [*params, self.zone]


def local_minutes(qs: QuerySet, *fields: str) -> tuple[QuerySet, list[str]]:
    """`qs` and the names to read `fields` (timestamps) by: on PostgreSQL annotations already formatted as the
    current time zone's minute, elsewhere the fields themselves. `local_time` takes either."""
    zone_name = getattr(timezone.get_current_timezone(), "key", None)
    if connections[qs.db].vendor != "postgresql" or zone_name is None:
        return qs, list(fields)
    names = [f"_{field}_local" for field in fields]
    return qs.annotate(**{n: _LocalMinute(f, zone_name) for n, f in zip(names, fields, strict=True)}), names


def local_time(value: Any) -> str:
    """A stored (UTC) time as the current time zone's wall-clock minute ("" for none); a text already
    formatted by `local_minutes` as it is."""
    if isinstance(value, str):
        return value
    return f"{value.astimezone(timezone.get_current_timezone()):%Y-%m-%d %H:%M}" if value else ""


def start(
    *,
    actor: Any,
    model: type,
    queryset: Callable[[], QuerySet],
    rows: Callable[[QuerySet], Iterator[list[Any]]],
    header: list[str],
    fmt: str,
    ids: list[int] | None,
    filters: dict[str, Any],
    action: str,
    label: str,
    stem: str,
) -> Export:
    """Check, audit and describe an export of `queryset()` (already `visible_to(actor)` and filtered), or of
    the selected `ids` within it. Nothing is read until the response streams `rows(qs)`.

    `action` and `label` name the audit entry ("customers.export", "Customers"), `stem` the file
    ("customers" → customers-20261127-0930.csv)."""
    require(actor, "export", model)
    if fmt not in FORMATS:
        message = _("Choose CSV or XLSX.")
        raise ValidationFailed(message, fields={"format": [message]})
    qs = queryset()
    if ids:
        if len(ids) > MAX_SELECTED:
            message = _("Select at most %(max)d records, or export the filtered list.") % {"max": MAX_SELECTED}
            raise ValidationFailed(message, fields={"ids": [message]})
        qs = qs.filter(pk__in=ids)
    count = qs.count()  # an exact count once per export (not per list page): it goes into the audit log
    audit.record(
        actor=actor,
        action=action,
        target_label=label,
        changes={
            "filters": {k: v for k, v in (filters or {}).items() if v not in (None, "", [], {})},
            "selected": len(ids or []),
            "rows": count,
            "format": fmt,
        },
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Export(header, rows(qs), count, f"{stem}-{stamp}.{fmt}", fmt, title=stem)


def export_response(export: Export) -> Any:
    """CSV streams as it is written; XLSX is written to a temporary file in chunks, then streamed from it."""
    if export.format == "xlsx":
        handle = xlsx_file(export.header, export.rows, title=export.title)
        response = FileResponse(handle, as_attachment=True, filename=export.filename, content_type=export.content_type)
    else:
        response = StreamingHttpResponse(csv_stream(export.header, export.rows), content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Export-Rows"] = str(export.count)
    return response


def download(
    request: Any,
    *,
    run: Callable[..., Export],
    filters: Callable[[], dict[str, Any]],
    back: str,
    nothing_selected: str,
) -> Any:
    """The list page's Export: GET exports the list's current filters (its query string), POST the ticked
    rows of its bulk form (`ids`); `run(filters=, ids=, fmt=)` is the module's export service. A refusal
    (no right, a bad format, too many selected) goes back to the list with the reason."""
    from django.contrib import messages
    from django.shortcuts import redirect

    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
        if not ids:
            messages.error(request, nothing_selected)
            return redirect(back)
        chosen, fmt = {}, request.POST.get("format") or "csv"
    else:
        chosen, ids, fmt = filters(), [], request.GET.get("format") or "csv"
    try:
        export = run(filters=chosen, ids=ids, fmt=fmt)
    except ValidationFailed as exc:
        messages.error(request, "; ".join(" ".join(v) for v in exc.fields.values()) or exc.message)
        return redirect(back)
    return export_response(export)
