"""Exporting customers to CSV (UTF-8 with BOM) or XLSX: the filtered list or a selection, streamed.

Only what the user may see (`customer_queryset_for`, which starts from `visible_to(actor)`), only with
the `export` right, audited as one "customers.export" entry with the filters and the row count. Rows
are read in keyset chunks by id (never the whole queryset), as plain tuples, with one query per chunk
for their tags. Cells that a spreadsheet would run as a formula are neutralised (kehu.core.imports.
safe_cell). The header uses the import's field labels, so an exported file imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import CharField, Func
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed
from kehu.core.imports import csv_stream, xlsx_file
from kehu.core.services import require
from kehu.customers.models import Customer, CustomerTag
from kehu.customers.selectors import CustomerFilters, customer_queryset_for

FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 5000
MAX_SELECTED = 10_000
# (import field, queryset value); the header label is the import field's label.
COLUMNS = (
    ("name", "name"),
    ("short_name", "short_name"),
    ("kind", "kind"),
    ("tier", "tier"),
    ("stage", "stage"),
    ("source", "source"),
    ("industry", "industry"),
    ("province", "province"),
    ("city", "city"),
    ("district", "district"),
    ("address", "address"),
    ("phone", "phone"),
    ("email", "email"),
    ("website", "website"),
    ("tags", None),
    ("owner", "owner__email"),
    ("notes", "notes"),
)
CHOICE_COLUMNS = ("kind", "stage", "source")


@dataclass
class Export:
    header: list[str]
    rows: Iterator[list[Any]]
    count: int
    filename: str
    format: str

    @property
    def content_type(self) -> str:
        if self.format == "xlsx":
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv; charset=utf-8"


def _header() -> list[str]:
    from kehu.customers.importing import ADAPTER

    labels = {spec.name: str(spec.label) for spec in ADAPTER.fields}
    header = [labels[name] for name, _value in COLUMNS]
    return [*header, str(_("ID")), str(_("Created at")), str(_("Updated at"))]


class _LocalMinute(Func):
    """A timestamp as 'YYYY-MM-DD HH:MM' in a time zone, formatted by PostgreSQL: turning two timestamps per
    row into datetimes and back into text was a fifth of an export's time."""

    output_field = CharField()

    def __init__(self, expression: str, zone: str) -> None:
        super().__init__(expression)
        self.zone = zone

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"to_char({sql} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')", [*params, self.zone]


def _rows(qs: Any, organization_id: int) -> Iterator[list[Any]]:
    """Keyset chunks by id: each chunk is one query for the rows and one for their tags (a sub-query of the
    same chunk, not a list of thousands of ids sent back as parameters)."""
    values = [v for _name, v in COLUMNS if v] + ["pk"]
    # Labels translated once, not once per cell (lazy strings cost a translation lookup each time).
    displays = {
        name: {value: str(label) for value, label in Customer._meta.get_field(name).flatchoices}
        for name in CHOICE_COLUMNS
    }
    positions = [(values.index(name), displays[name]) for name in CHOICE_COLUMNS]
    tags_at = [name for name, _value in COLUMNS].index("tags")
    zone = timezone.get_current_timezone()
    zone_name = getattr(zone, "key", None)
    in_sql = connections[qs.db].vendor == "postgresql" and zone_name is not None
    if in_sql:
        qs = qs.annotate(_created=_LocalMinute("created_at", zone_name), _updated=_LocalMinute("updated_at", zone_name))
        values += ["_created", "_updated"]
    else:
        values += ["created_at", "updated_at"]
    last = 0
    while True:
        chunk = qs.filter(pk__gt=last).order_by("pk")
        batch = list(chunk.values_list(*values)[:CHUNK_SIZE])
        if not batch:
            return
        tags: dict[int, list[str]] = {}
        links = CustomerTag.objects.filter(
            organization_id=organization_id, customer_id__in=chunk.values("pk")[:CHUNK_SIZE]
        )
        for customer_id, name in links.order_by("tag__name").values_list("customer_id", "tag__name"):
            tags.setdefault(customer_id, []).append(name)
        for row in batch:
            out = list(row)
            for index, display in positions:
                value = out[index]
                out[index] = display.get(value, value) if value else ""
            created_at, updated_at = out[-2:]
            pk = out[-3]
            if not in_sql:
                created_at = f"{created_at.astimezone(zone):%Y-%m-%d %H:%M}"
                updated_at = f"{updated_at.astimezone(zone):%Y-%m-%d %H:%M}"
            out[-3:] = [pk, created_at, updated_at]
            out.insert(tags_at, ", ".join(tags.get(pk, ())))
            yield out
        last = batch[-1][-3]


@transaction.atomic
def customer_export(
    *, actor: Any, filters: CustomerFilters | dict | None = None, ids: list[int] | None = None, fmt: str = "csv"
) -> Export:
    """Start an export of the visible customers matching `filters` (or of the selected `ids`)."""
    require(actor, "export", Customer)
    if fmt not in FORMATS:
        message = _("Choose CSV or XLSX.")
        raise ValidationFailed(message, fields={"format": [message]})
    qs = customer_queryset_for(actor=actor, filters=filters)
    if ids:
        if len(ids) > MAX_SELECTED:
            message = _("Select at most %(max)d customers, or export the filtered list.") % {"max": MAX_SELECTED}
            raise ValidationFailed(message, fields={"ids": [message]})
        qs = qs.filter(pk__in=ids)
    count = qs.count()  # an exact count once per export (not per list page): it goes into the audit log
    recorded_filters = filters if isinstance(filters, dict) else (filters.__dict__ if filters else {})
    audit.record(
        actor=actor,
        action="customers.export",
        target_label=str(_("Customers")),
        changes={
            "filters": {k: v for k, v in (recorded_filters or {}).items() if v not in (None, "")},
            "selected": len(ids or []),
            "rows": count,
            "format": fmt,
        },
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Export(_header(), _rows(qs, actor.organization_id), count, f"customers-{stamp}.{fmt}", fmt)


def export_response(export: Export) -> Any:
    """CSV streams as it is written; XLSX is written to a temporary file in chunks, then streamed from it."""
    from django.http import FileResponse, StreamingHttpResponse

    if export.format == "xlsx":
        handle = xlsx_file(export.header, export.rows, title="customers")
        return FileResponse(handle, as_attachment=True, filename=export.filename, content_type=export.content_type)
    response = StreamingHttpResponse(csv_stream(export.header, export.rows), content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Export-Rows"] = str(export.count)
    return response
