"""Exporting customers to CSV (UTF-8 with BOM) or XLSX: the filtered list or a selection, streamed.

Only what the user may see (`customer_queryset_for`, which starts from `visible_to(actor)`), only with
the `export` right, audited as one "customers.export" entry with the filters and the row count: the
shared part is kehu.core.exporting's. Rows are read in keyset chunks by id (never the whole queryset), as
plain tuples, with one query per chunk for their tags. Cells that a spreadsheet would run as a formula
are neutralised (kehu.core.imports.safe_cell). The header uses the import's field labels, so an exported
file imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import choice_lists, exporting
from kehu.core.exporting import Export
from kehu.customers.models import STAGES, TIERS, Customer, CustomerTag
from kehu.customers.selectors import CustomerFilters, customer_queryset_for

CHUNK_SIZE = exporting.CHUNK_SIZE
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


def _header() -> list[str]:
    from kehu.customers.importing import ADAPTER

    labels = {spec.name: str(spec.label) for spec in ADAPTER.fields}
    header = [labels[name] for name, _value in COLUMNS]
    return [*header, str(_("ID")), str(_("Created at")), str(_("Updated at"))]


def _rows(qs: Any, organization_id: int) -> Iterator[list[Any]]:
    """Keyset chunks by id: each chunk is one query for the rows and one for their tags."""
    values = [v for _name, v in COLUMNS if v]
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
    positions = [(values.index(name), displays[name]) for name in CHOICE_COLUMNS]
    tags_at = [name for name, _value in COLUMNS].index("tags")
    qs, stamps = exporting.local_minutes(qs, "created_at", "updated_at")
    for batch in exporting.chunks(qs, [*values, *stamps], size=CHUNK_SIZE):
        ids = [row[-1] for row in batch]
        tags: dict[int, list[str]] = {}
        # An IN list, not one array (any_of): on a table without statistics PostgreSQL filtered every link of the
        # organisation through the array one by one (2 s a chunk at 100,000 customers).
        links = CustomerTag.objects.filter(organization_id=organization_id, customer_id__in=ids)
        for customer_id, name in links.order_by("tag__name").values_list("customer_id", "tag__name"):
            tags.setdefault(customer_id, []).append(name)
        for row in batch:
            out = list(row)
            for index, display in positions:
                value = out[index]
                out[index] = display.get(value, value) if value else ""
            created_at, updated_at, pk = out[-3:]
            cells = out[:-3]
            cells.insert(tags_at, ", ".join(tags.get(pk, ())))  # the tags column, after website
            yield [*cells, pk, exporting.local_time(created_at), exporting.local_time(updated_at)]


@transaction.atomic
def customer_export(
    *, actor: Any, filters: CustomerFilters | dict | None = None, ids: list[int] | None = None, fmt: str = "csv"
) -> Export:
    """Start an export of the visible customers matching `filters` (or of the selected `ids`)."""
    recorded_filters = filters if isinstance(filters, dict) else (filters.__dict__ if filters else {})
    return exporting.start(
        actor=actor,
        model=Customer,
        queryset=lambda: customer_queryset_for(actor=actor, filters=filters),
        rows=lambda qs: _rows(qs, actor.organization_id),
        header=_header(),
        fmt=fmt,
        ids=ids,
        filters=recorded_filters or {},
        action="customers.export",
        label=str(_("Customers")),
        stem="customers",
    )
