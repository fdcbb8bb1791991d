"""Opportunities, quotes and orders in the global search box (kehu.core.search): each provider reads through
the module's selector, which starts from `visible_to(actor)`, so a hit is always a record the actor may open.
Leads register theirs in lead_selectors.

An opportunity is found by its name or its customer's name through the search module (kehu/sales/search.py:
a walk of the newest, then the gram and trigram indexes), every one of them, so its group has no link to
the list. A quote or order is found by its number (Q-2026-0001, SO-2026-0007, a fragment of either,
"Q-2026-0001 v2" for a revision), its title or its customer's name. No index serves those fragments (an
unbounded search read every record: 饕大 took 8-12 s for opportunities at 500,000 before they had theirs),
so each walks the organisation's newest records only (search_backends.newest_walked, stopping at `limit`
matches) and, when that walk did not see them all, links to the list, which searches every record."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.search import Hits, SearchHit, bounded_hits
from kehu.core.search_backends import newest_walked
from kehu.core.templatetags.money import format_money_full
from kehu.sales import commerce_selectors, opportunity_selectors
from kehu.sales import search as sales_search


def newest(qs: QuerySet, condition: Q | None, limit: int) -> tuple[list[Any], bool]:
    """The newest `limit` records of `qs` matching `condition` among its newest (newest_walked: their ids,
    then those records with what `qs` selects related), and whether the walk saw every record."""
    if condition is None:
        return [], True
    rows, complete = newest_walked(qs, condition, limit=limit)
    ids = [row[0] for row in rows]
    by_id = qs.in_bulk(ids) if ids else {}
    return [by_id[pk] for pk in ids if pk in by_id], complete


def opportunity_hits(*, actor: Any, query: str, limit: int = 10) -> Hits:
    """The newest matches (the search module's ids), then their name, customer and stage (one query)."""
    qs = opportunity_selectors.opportunity_queryset_for(actor=actor)
    ids = sales_search.search_ids(qs, query, sales_search.OPPORTUNITY_SPEC, limit=limit)
    rows = {row[0]: row for row in qs.filter(pk__in=ids).values_list("pk", "name", "customer__name", "stage__name")}
    kind = _("Opportunity")
    return Hits(
        SearchHit(
            title=name,
            subtitle=" · ".join(part for part in (customer_name, stage_name) if part),
            url=reverse("sales:opportunity_detail", args=[pk]),
            kind=kind,
        )
        for pk, name, customer_name, stage_name in (rows[pk] for pk in ids if pk in rows)
    )


def _document_hits(rows: Any, kind: str) -> list[SearchHit]:
    return [
        SearchHit(
            title=" · ".join(part for part in (document.display_number, document.title) if part),
            subtitle=" · ".join(
                (
                    document.customer.name,
                    str(document.get_status_display()),
                    format_money_full(document.total, document.currency),
                )
            ),
            url=document.get_absolute_url(),
            kind=kind,
        )
        for document in rows
    ]


def quote_hits(*, actor: Any, query: str, limit: int = 10) -> Hits:
    qs = commerce_selectors.quote_queryset_for(actor=actor)
    rows, complete = newest(qs, commerce_selectors.document_search_q(query), limit)
    hits = _document_hits(rows, str(_("Quote")))
    return bounded_hits(hits, complete=complete, list_url=reverse("sales:quote_list"), query=query)


def order_hits(*, actor: Any, query: str, limit: int = 10) -> Hits:
    qs = commerce_selectors.order_queryset_for(actor=actor)
    rows, complete = newest(qs, commerce_selectors.document_search_q(query), limit)
    hits = _document_hits(rows, str(_("Order")))
    return bounded_hits(hits, complete=complete, list_url=reverse("sales:order_list"), query=query)


def register() -> None:
    from django.utils.translation import gettext_lazy

    from kehu.core import search

    search.register_provider("sales", opportunity_hits, label=gettext_lazy("Opportunities"))
    search.register_provider("sales", quote_hits, label=gettext_lazy("Quotes"))
    search.register_provider("sales", order_hits, label=gettext_lazy("Orders"))
