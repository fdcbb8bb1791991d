"""Exporting leads to CSV or XLSX: the filtered list or a selection, streamed, through kehu.core.exporting
(the export right, the audit entry "leads.export", keyset chunks, formula-safe cells).

Only the leads the user may see: `lead_queryset_for` starts from `visible_to(actor)`, so a rep whose scope
is "own" exports her own leads and nothing else, whatever the filters say. The header uses the lead
import's field labels and the source's and status's labels as the import reads them back, so an exported
file imports again unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import exporting
from kehu.core.exporting import Export
from kehu.sales.lead_models import Lead
from kehu.sales.lead_selectors import lead_queryset_for, source_labels

# (import field, queryset value): the columns an import of the file maps back by their labels.
COLUMNS = (
    ("name", "name"),
    ("company", "company"),
    ("title", "title"),
    ("phone", "phone"),
    ("email", "email"),
    ("source", "source"),
    ("status", "status"),
    ("score", "score"),
    ("industry", "industry"),
    ("province", "province"),
    ("city", "city"),
    ("notes", "notes"),
    ("owner", "owner__email"),
)


def _header() -> list[str]:
    from kehu.sales.lead_importing import ADAPTER

    labels = {spec.name: str(spec.label) for spec in ADAPTER.fields}
    header = [labels[name] for name, _value in COLUMNS]
    return [*header, str(_("ID")), str(_("Created at")), str(_("Updated at"))]


def _rows(qs: Any, organization_id: int) -> Iterator[list[Any]]:
    values = [value for _name, value in COLUMNS]
    # Labels looked up once per export, not once per cell.
    displays = {
        values.index("source"): source_labels(organization_id),
        values.index("status"): {key: str(label) for key, label in Lead.Status.choices},
    }
    qs, stamps = exporting.local_minutes(qs, "created_at", "updated_at")
    for batch in exporting.chunks(qs, [*values, *stamps]):
        for row in batch:
            out = list(row)
            for index, labels in displays.items():
                out[index] = labels.get(out[index], out[index]) if out[index] else ""
            created_at, updated_at, pk = out[-3:]
            yield [*out[:-3], pk, exporting.local_time(created_at), exporting.local_time(updated_at)]


def _recorded(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in (filters or {}).items()}


@transaction.atomic
def lead_export(
    *, actor: Any, filters: dict[str, Any] | None = None, ids: list[int] | None = None, fmt: str = "csv"
) -> Export:
    """Start an export of the visible leads matching `filters` (the list's, as LeadFilterForm.filters()
    gives them) or of the selected `ids` among them."""
    return exporting.start(
        actor=actor,
        model=Lead,
        queryset=lambda: lead_queryset_for(actor=actor, filters=filters),
        rows=lambda qs: _rows(qs, actor.organization_id),
        header=_header(),
        fmt=fmt,
        ids=ids,
        filters=_recorded(filters or {}),
        action="leads.export",
        label=str(_("Leads")),
        stem="leads",
    )
