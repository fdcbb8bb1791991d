"""The lead import wizard (upload -> map columns, choose the duplicate policy -> check -> import with a
progress bar -> result and error file) on the generic import engine. Every job page reads the job through
the engine's selector (the uploader's own jobs) and refuses a job of another record type, so another
user's or organisation's job is 404."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from kehu.core import import_pages
from kehu.sales.lead_importing import ADAPTER

PAGES = import_pages.ImportPages(
    url_prefix="sales:lead_import",
    jobs_url="sales:lead_imports",
    records_url="sales:lead_list",
    existing_heading=gettext_lazy("2. Leads that already exist"),
    existing_help=gettext_lazy("A row matches a lead you can see with the same phone or email."),
    see_records=gettext_lazy("See the leads"),
)


VIEWS = import_pages.ImportViews(adapter=ADAPTER, pages=PAGES, list_template="sales/lead/imports.html")
