"""Custom fields and saved views for customers: the record types, and the columns the customer list shows.

Columns are standard (keys below) or custom ("custom.<key>" of an active "customers.customer" field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields, saved_views
from kehu.customers.models import Contact, Customer

CUSTOMER_TYPE = "customers.customer"
CONTACT_TYPE = "customers.contact"


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    sort: str = ""  # the ordering field when the column header sorts the list
    secondary: bool = False  # hidden on narrow screens
    definition: Any = None  # the custom field of a custom column

    @property
    def is_custom(self) -> bool:
        return self.definition is not None


STANDARD_COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("name", _("Name"), sort="name"),
        Column("tier", _("Tier"), sort="tier"),
        Column("stage", _("Stage")),
        Column("kind", _("Type"), secondary=True),
        Column("owner", _("Owner")),
        Column("phone", _("Phone"), secondary=True),
        Column("email", _("Email"), secondary=True),
        Column("industry", _("Industry"), secondary=True),
        Column("source", _("Source"), secondary=True),
        Column("region", _("Region"), secondary=True),
        Column("tags", _("Tags"), secondary=True),
        Column("next_follow_up_at", _("Next follow-up"), secondary=True),
        Column("last_contacted_at", _("Last contacted"), secondary=True),
        Column("updated_at", _("Updated"), sort="updated_at"),
        Column("created_at", _("Created"), sort="created_at", secondary=True),
    )
}
DEFAULT_COLUMNS = ["name", "tier", "stage", "owner", "phone", "region", "tags", "updated_at", "created_at"]
ORDERINGS = [p + f for f in ("updated_at", "created_at", "name", "tier") for p in ("", "-")]


def available_columns(organization: Any, definitions: list[Any] | None = None) -> list[Column]:
    """Every column the list can show: the standard ones, then the active custom fields in their order."""
    if definitions is None:
        definitions = custom_fields.definitions_for(organization, CUSTOMER_TYPE)
    custom = [Column(d.param, d.label, secondary=True, definition=d) for d in definitions]
    return [*STANDARD_COLUMNS.values(), *custom]


def column_keys(organization: Any) -> list[str]:
    return [c.key for c in available_columns(organization)]


def chosen_columns(keys: list[str] | None, available: list[Column]) -> list[Column]:
    """The columns to show, in the chosen order; unknown keys (a field deactivated since) are dropped,
    and the name column is always there (it is the link to the record)."""
    by_key = {c.key: c for c in available}
    columns = [by_key[k] for k in (keys or DEFAULT_COLUMNS) if k in by_key]
    if not any(c.key == "name" for c in columns):
        columns.insert(0, by_key["name"])
    return columns


# --- Cells of the list page --------------------------------------------------------------------------
# Rendered here, not by a template include per cell: with 50 rows and 10 columns an include with a chain
# of {% if %}s per cell cost more than everything else on the page (profiled: ~80% of the request).

EMPTY = mark_safe('<span class="text-body-secondary">—</span>')


def _when(value: Any, fmt: str) -> str:
    return dateformat.format(timezone.localtime(value), fmt) if value else "—"


def tags_html(tags: Any) -> SafeString:
    """The tag pills (the same markup as customers/_tags.html)."""
    return format_html_join(
        "",
        '<span class="badge rounded-pill border text-body me-1" data-tag="{}"><span class="d-inline-block '
        'rounded-circle me-1 align-middle" style="width:.6em;height:.6em;background-color:{}"></span>{}</span>',
        ((tag.pk, tag.colour, tag.name) for tag in tags),
    )


def _name(customer: Any) -> SafeString:
    short = format_html('<span class="d-block small text-body-secondary">{}</span>', customer.short_name)
    return format_html(
        '<td style="min-width: 12rem"><a href="{}" class="fw-medium">{}</a>{}</td>',
        reverse("customers:detail", args=[customer.pk]),
        customer.name,
        short if customer.short_name else "",
    )


def _tier(customer: Any) -> SafeString:
    badge = format_html('<span class="badge text-bg-light border">{}</span>', customer.tier_label)
    return format_html("<td>{}</td>", badge if customer.tier else EMPTY)


_CELLS: dict[str, Any] = {
    "name": _name,
    "tier": _tier,
    "stage": lambda c: ("text-nowrap", c.stage_label),
    "kind": lambda c: ("text-nowrap", c.get_kind_display()),
    "owner": lambda c: ("text-nowrap", c.owner or "—"),
    "phone": lambda c: ("text-nowrap", c.phone or "—"),
    "email": lambda c: ("text-break", c.email or "—"),
    "industry": lambda c: ("", c.industry or "—"),
    "source": lambda c: ("text-nowrap", c.get_source_display() or "—"),
    "region": lambda c: ("", c.region or "—"),
    "tags": lambda c: ("", tags_html(c.tags.all())),
    "next_follow_up_at": lambda c: ("text-nowrap small", _when(c.next_follow_up_at, "Y-m-d H:i")),
    "last_contacted_at": lambda c: ("text-nowrap small", _when(c.last_contacted_at, "Y-m-d H:i")),
    "updated_at": lambda c: ("text-nowrap small", _when(c.updated_at, "Y-m-d H:i")),
    "created_at": lambda c: ("text-nowrap small", _when(c.created_at, "Y-m-d")),
}


def cell_html(column: Column, customer: Any, text: str = "") -> SafeString:
    """One <td> of the customer list; `text` is a custom column's display value."""
    if column.is_custom:
        value = text if len(text) <= 80 else text[:79] + "…"
        return format_html('<td class="kehu-table-responsive-hide" data-column="{}">{}</td>', column.key, value or "—")
    result = _CELLS[column.key](customer)
    if isinstance(result, SafeString):
        return result
    classes, value = result
    if column.secondary:
        classes = f"kehu-table-responsive-hide {classes}".strip()
    return format_html('<td class="{}">{}</td>', classes, value)


def register() -> None:
    """Called from the app's ready()."""
    custom_fields.register_record_type(CUSTOMER_TYPE, _("Customer"), Customer)
    custom_fields.register_record_type(CONTACT_TYPE, _("Contact"), Contact)
    saved_views.register_list(CUSTOMER_TYPE, columns=column_keys, orderings=ORDERINGS)
