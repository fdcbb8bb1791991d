"""Saved views and columns of the customer list: the generic bar and pages of kehu.core.saved_view_pages,
configured for customers (the services are kehu.core.saved_views')."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields
from kehu.core.saved_view_pages import SavedViewPages, parse_columns, post_page
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.list_columns import (
    CUSTOMER_TYPE,
    DEFAULT_COLUMNS,
    ORDERINGS,
    available_columns,
    chosen_columns,
    headers_html,
    rows_html,
)
from kehu.customers.models import Customer

CUSTOMER_VIEWS = SavedViewPages(
    record_type=CUSTOMER_TYPE,
    list_url="customers:list",
    url_prefix="customers:saved_view",
    model=Customer,
    filter_form=lambda data, actor: CustomerFilterForm(data, actor=actor),
    orderings=ORDERINGS,
    all_label=_("All customers"),
    default_columns=list(DEFAULT_COLUMNS),
    filters_of=lambda form: custom_fields.jsonable_filters(form.cleaned_data),
)
view_url = CUSTOMER_VIEWS.view_url
default_redirect = CUSTOMER_VIEWS.default_redirect
saved_view_create = post_page(CUSTOMER_VIEWS.create)
saved_view_edit = post_page(CUSTOMER_VIEWS.edit)
saved_view_delete = post_page(CUSTOMER_VIEWS.delete)
saved_view_default = post_page(CUSTOMER_VIEWS.default)


def list_context(
    request: HttpRequest,
    *,
    page: Any,
    form: CustomerFilterForm,
    sort: dict[str, dict[str, str]],
    selectable: bool = False,
) -> dict[str, Any]:
    """The columns, rows (with a tick box each when `selectable`: bulk actions), view tabs and column
    chooser of the list page."""
    actor = request.user
    available = available_columns(actor.organization_id, form.custom_definitions)
    columns = chosen_columns(parse_columns(request.GET), available)
    custom_columns = [c.definition for c in columns if c.is_custom]
    users = custom_fields.users_for(actor.organization_id, custom_columns, page.items)
    custom_texts = [
        [custom_fields.display(d, customer.custom.get(d.key), users) for d in custom_columns] for customer in page.items
    ]
    chosen_keys = [c.key for c in columns]
    headers = [(c, sort.get(c.sort) if c.sort else None) for c in columns]
    context = CUSTOMER_VIEWS.bar_context(request, column_choices=[(c, c.key in chosen_keys) for c in available])
    return {
        **context,
        "columns": columns,
        "headers": headers,
        "headers_html": headers_html(headers, request.GET),
        "rows_html": rows_html(columns, page.items, custom_texts, selectable=selectable),
        "custom_filters": form.custom_filter_fields,
    }
