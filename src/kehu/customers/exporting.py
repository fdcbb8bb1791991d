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

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, choice_lists
from kehu.core.errors import ValidationFailed
from kehu.core.imports import csv_stream, xlsx_file
from kehu.core.services import require
from kehu.customers.models import STAGES, TIERS, Customer, CustomerTag
from kehu.customers.selectors import CustomerFilters, customer_queryset_for

FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 2000
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
CHOICE_COLUMNS = ("kind", "tier", "stage", "source")
EDITABLE_LISTS = {"tier": TIERS, "stage": STAGES}  # the organisation's lists (kehu.core.choice_lists)


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


def _rows(qs: Any, organization_id: int) -> Iterator[list[Any]]:
    """Keyset chunks by id: each chunk is one query for the rows and one for their tags."""
    values = [v for _name, v in COLUMNS if v] + ["pk", "created_at", "updated_at"]
    # Labels translated once, not once per cell (lazy strings cost a translation lookup each time).
    lists = choice_lists.lists_for(organization_id)
    displays = {
        name: (
            {o.key: o.label for o in lists[EDITABLE_LISTS[name]]}
            if name in EDITABLE_LISTS
            else {value: str(label) for value, label in Customer._meta.get_field(name).flatchoices}
        )
        for name in CHOICE_COLUMNS
    }
    positions = {name: values.index(name) for name in CHOICE_COLUMNS}
    zone = timezone.get_current_timezone()
    last = 0
    while True:
        batch = list(qs.filter(pk__gt=last).order_by("pk").values_list(*values)[:CHUNK_SIZE])
        if not batch:
            return
        ids = [row[-3] for row in batch]
        tags: dict[int, list[str]] = {}
        links = CustomerTag.objects.filter(organization_id=organization_id, customer_id__in=ids)
        for customer_id, name in links.order_by("tag__name").values_list("customer_id", "tag__name"):
            tags.setdefault(customer_id, []).append(name)
        for row in batch:
            out = list(row)
            for name, index in positions.items():
                out[index] = displays[name].get(out[index], out[index]) if out[index] else ""
            pk, created_at, updated_at = out[-3:]
            cells = out[:-3]
            cells.insert(14, ", ".join(tags.get(pk, ())))  # the tags column, after website
            yield [
                *cells,
                pk,
                f"{created_at.astimezone(zone):%Y-%m-%d %H:%M}",
                f"{updated_at.astimezone(zone):%Y-%m-%d %H:%M}",
            ]
        last = ids[-1]


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
