"""Custom fields and saved views for customers: the record types, and the columns the customer list shows.

Columns are standard (keys below) or custom ("custom.<key>" of an active "customers.customer" field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.defaulttags import querystring
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields, saved_views
from kehu.core.fast_html import esc
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
    return mark_safe(  # noqa: S308 - every value is escaped
        "".join(
            f'<span class="badge rounded-pill border text-body me-1" data-tag="{esc(tag.pk)}"><span class="d-inline-block '
            f'rounded-circle me-1 align-middle" style="width:.6em;height:.6em;background-color:{esc(tag.colour)}"></span>'
            f"{esc(tag.name)}</span>"
            for tag in tags
        )
    )


# Each cell below is a plain str of escaped values (kehu.core.fast_html.esc), byte for byte what format_html
# gave (tests/customers/test_list_rows.py keeps that implementation as the reference): format_html's
# per-value SafeString bookkeeping was most of the rows' time.


def _name(customer: Any) -> str:
    short = (
        f'<span class="d-block small text-body-secondary">{esc(customer.short_name)}</span>'
        if customer.short_name
        else ""
    )
    return f'<td style="min-width: 12rem"><a href="{esc(detail_url(customer.pk))}" class="fw-medium">{esc(customer.name)}</a>{short}</td>'


def _tier(customer: Any) -> str:
    if not customer.tier:
        return f"<td>{EMPTY}</td>"
    return f'<td><span class="badge text-bg-light border">{esc(customer.tier_label)}</span></td>'


# Column key -> the whole <td> (a str), or (classes, value) for a plain cell, of a customer of the page: a
# customers.selectors.CustomerRow (the attributes of a Customer, the tags as `tag_rows`).
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
    "tags": lambda c: ("", tags_html(c.tag_rows)),
    "next_follow_up_at": lambda c: ("text-nowrap small", _when(c.next_follow_up_at, _MINUTES)),
    "last_contacted_at": lambda c: ("text-nowrap small", _when(c.last_contacted_at, _MINUTES)),
    "updated_at": lambda c: ("text-nowrap small", _when(c.updated_at, _MINUTES)),
    "created_at": lambda c: ("text-nowrap small", _when(c.created_at, _DAY)),
}


def _cell_builders(columns: list[Column]) -> list[tuple[Any, str, bool]]:
    """Per column: its cell function, the class attribute's value (plain cells) and whether it is custom."""
    builders = []
    for column in columns:
        if column.is_custom:
            builders.append((None, esc(column.key), True))
            continue
        builders.append((_CELLS[column.key], "kehu-table-responsive-hide " if column.secondary else "", False))
    return builders


def _cells(builders: list[tuple[Any, str, bool]], customer: Any, texts: Any) -> str:
    out = []
    for cell, prefix, custom in builders:
        if custom:
            text = next(texts)
            value = text if len(text) <= 80 else text[:79] + "…"
            out.append(f'<td class="kehu-table-responsive-hide" data-column="{prefix}">{esc(value or "—")}</td>')
            continue
        result = cell(customer)
        if type(result) is str:
            out.append(result)
            continue
        classes, value = result
        classes = f"{prefix}{classes}".strip() if prefix else classes
        out.append(f'<td class="{classes}">{esc(value)}</td>')
    return "".join(out)


def cell_html(column: Column, customer: Any, text: str = "") -> SafeString:
    """One <td> of the customer list; `text` is a custom column's display value."""
    return mark_safe(_cells(_cell_builders([column]), customer, iter([text])))  # noqa: S308 - escaped


def rows_html(
    columns: list[Column], customers: list[Any], custom_texts: list[list[str]], *, selectable: bool
) -> SafeString:
    """The <tbody> rows of the list: one string for the page, so the template does not walk 50 rows of
    cells (each {{ cell }} costs a variable lookup, an escape check and a localisation pass)."""
    # One translation look-up for the page; the name is escaped into it per row.
    select_label = gettext("Select %(name)s")
    builders = _cell_builders(columns)
    out = []
    for customer, texts in zip(customers, custom_texts, strict=True):
        cells = _cells(builders, customer, iter(texts))
        box = ""
        if selectable:
            label = escape(select_label % {"name": customer.name})
            box = (
                f'<td><input type="checkbox" class="form-check-input" name="ids" value="{customer.pk}" '
                f'form="bulk-form" aria-label="{label}"></td>'
            )
        out.append(f'<tr data-customer="{customer.pk}">\n            {box}\n            {cells}\n          </tr>')
    return mark_safe("\n".join(out))  # noqa: S308 - every value above went through esc/escape


def sort_link(query: Any, *, column: str, label: Any, state: str, target: str) -> str:
    """customers/_sort.html (without its final line end) for a query string's QueryDict: the header's link that
    sorts by `target`, with the current direction `state` ("asc", "desc" or "")."""
    href = esc(querystring(None, query, ordering=target, cursor=None))
    aria = (' aria-sort="ascending"' if state == "asc" else ' aria-sort="descending"') if state else ""
    caret = {"asc": ' <i class="bi bi-caret-up-fill"></i>', "desc": ' <i class="bi bi-caret-down-fill"></i>'}
    return (
        f'<a class="link-body-emphasis text-decoration-none" href="{href}" data-sort="{esc(column)}"{aria}>'
        f"{esc(label)}{caret.get(state, '')}</a>"
    )


def headers_html(headers: list[tuple[Column, dict[str, str] | None]], query: Any) -> SafeString:
    """The list's column headers, (column, sort link state) each, as customers/list.html's loop over _sort.html
    includes wrote them (tests/customers/test_list_rows.py keeps that template as the reference)."""
    out = []
    for column, link in headers:
        css = ' class="kehu-table-responsive-hide"' if column.secondary else ""
        if link:
            inner = sort_link(
                query, column=column.sort, label=column.label, state=link["state"], target=link["ordering"]
            )
            inner += "\n"  # the include's final line end
        else:
            inner = esc(column.label)
        out.append(f'\n            <th scope="col" data-column="{esc(column.key)}"{css}>{inner}</th>\n            ')
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped


def register() -> None:
    """Called from the app's ready()."""
    custom_fields.register_record_type(CUSTOMER_TYPE, _("Customer"), Customer)
    custom_fields.register_record_type(CONTACT_TYPE, _("Contact"), Contact)
    saved_views.register_list(CUSTOMER_TYPE, columns=column_keys, orderings=ORDERINGS)
