"""Custom fields and saved views for customers: the record types, and the columns the customer list shows.

Columns are standard (keys below) or custom ("custom.<key>" of an active "customers.customer" field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
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


# strftime equivalents of the date filter's "Y-m-d H:i" and "Y-m-d": dateformat.format parses its format
# string and builds a formatter per call, a tenth of the page's cell time for two date columns.
_MINUTES, _DAY = "%Y-%m-%d %H:%M", "%Y-%m-%d"
_PK_SENTINEL = 2147483647  # stands for the pk in the detail URL reversed once per script prefix
_detail_urls: dict[str, tuple[str, str]] = {}


def _when(value: Any, fmt: str) -> str:
    return timezone.localtime(value).strftime(fmt) if value else "—"


def detail_url(pk: int) -> str:
    """reverse("customers:detail", args=[pk]) without resolving the pattern for every row."""
    prefix = get_script_prefix()
    parts = _detail_urls.get(prefix)
    if parts is None:
        before, _sentinel, after = reverse("customers:detail", args=[_PK_SENTINEL]).partition(str(_PK_SENTINEL))
        parts = _detail_urls[prefix] = (before, after)
    return f"{parts[0]}{pk}{parts[1]}"


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
        detail_url(customer.pk),
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
    "next_follow_up_at": lambda c: ("text-nowrap small", _when(c.next_follow_up_at, _MINUTES)),
    "last_contacted_at": lambda c: ("text-nowrap small", _when(c.last_contacted_at, _MINUTES)),
    "updated_at": lambda c: ("text-nowrap small", _when(c.updated_at, _MINUTES)),
    "created_at": lambda c: ("text-nowrap small", _when(c.created_at, _DAY)),
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
    # The classes are this module's constants; the value is escaped unless it is already safe HTML.
    return mark_safe(f'<td class="{classes}">{conditional_escape(value)}</td>')  # noqa: S308


def rows_html(
    columns: list[Column], customers: list[Any], custom_texts: list[list[str]], *, selectable: bool
) -> SafeString:
    """The <tbody> rows of the list: one string for the page, so the template does not walk 50 rows of
    cells (each {{ cell }} costs a variable lookup, an escape check and a localisation pass)."""
    # One translation look-up for the page; the name is escaped into it per row.
    select_label = gettext("Select %(name)s")
    out = []
    for customer, texts in zip(customers, custom_texts, strict=True):
        texts_iter = iter(texts)
        cells = "".join(cell_html(c, customer, next(texts_iter) if c.is_custom else "") for c in columns)
        box = ""
        if selectable:
            label = escape(select_label % {"name": customer.name})
            box = (
                f'<td><input type="checkbox" class="form-check-input" name="ids" value="{customer.pk}" '
                f'form="bulk-form" aria-label="{label}"></td>'
            )
        out.append(f'<tr data-customer="{customer.pk}">\n            {box}\n            {cells}\n          </tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above went through escape/format_html


def register() -> None:
    """Called from the app's ready()."""
    custom_fields.register_record_type(CUSTOMER_TYPE, _("Customer"), Customer)
    custom_fields.register_record_type(CONTACT_TYPE, _("Contact"), Contact)
    saved_views.register_list(CUSTOMER_TYPE, columns=column_keys, orderings=ORDERINGS)
