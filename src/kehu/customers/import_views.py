"""The import wizard (upload -> map columns and choose the duplicate policy -> check -> import with a
progress bar -> result and error file), the jobs list, and the export download. Every job page reads
the job through the selector first, so another user's or organisation's job is 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kehu.core import exporting as core_exporting
from kehu.core import import_pages
from kehu.customers import exporting
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.importing import ADAPTER

PAGES = import_pages.ImportPages(
    url_prefix="customers:import",
    jobs_url="customers:imports",
    records_url="customers:list",
    existing_heading=gettext_lazy("2. Customers that already exist"),
    existing_help=gettext_lazy("A row matches a customer you can see with the same phone, email or name."),
    see_records=gettext_lazy("See the customers"),
)


VIEWS = import_pages.ImportViews(adapter=ADAPTER, pages=PAGES, list_template="customers/imports/list.html")


@login_required
@require_http_methods(["GET", "POST"])
def customer_export(request: HttpRequest) -> HttpResponse:
    """The list's current filters (GET, the list's query string) or the ticked customers (POST from the
    list's bulk form) as CSV or XLSX."""
    actor = request.user
    return core_exporting.download(
        request,
        run=lambda **kwargs: exporting.customer_export(actor=actor, **kwargs),
        filters=lambda: CustomerFilterForm(request.GET, actor=actor).filters(),
        back="customers:list",
        nothing_selected=_("Select customers to export."),
    )
