"""Opportunities, quotes and orders in the global search box (kehu.core.search): each provider reads through
the module's selector, which starts from `visible_to(actor)`, so a hit is always a record the actor may open.
Leads register theirs in lead_selectors.

A quote or order is found by its number (Q-2026-0001, SO-2026-0007, a fragment of either, "Q-2026-0001 v2"
for a revision), its title or its customer's name; an opportunity by its name or its customer's name. Each
walks the organisation's newest records and stops at `limit` matches (newest())."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.search import SearchHit
from kehu.core.search_backends import newest_matching
from kehu.core.templatetags.money import format_money_full
from kehu.sales import commerce_selectors, opportunity_selectors


def newest(qs: QuerySet, condition: Q | None, limit: int) -> list[Any]:
    """The newest `limit` records of `qs` matching `condition`: their ids by a bounded walk of the newest
    records first (core.search_backends.newest_matching: a fragment most records hold is found among the
    first rows; planned by the database alone, the OR through the customer's name made PostgreSQL join and
    sort every opportunity), then those records, with what `qs` selects related."""
    if condition is None:
        return []
    ids = [row[0] for row in newest_matching(qs, condition, limit=limit)]
    by_id = qs.in_bulk(ids) if ids else {}
    return [by_id[pk] for pk in ids if pk in by_id]


def opportunity_hits(*, actor: Any, query: str, limit: int = 10) -> list[SearchHit]:
    """From the walk's row values: name, customer, stage (one query when the walk finds them)."""
    qs = opportunity_selectors.opportunity_queryset_for(actor=actor)
    fields = ("pk", "updated_at", "name", "customer__name", "stage__name")
    rows = newest_matching(qs, opportunity_selectors.search_q(query), limit=limit, fields=fields)
    kind = _("Opportunity")
    return [
        SearchHit(
            title=name,
            subtitle=" · ".join(part for part in (customer_name, stage_name) if part),
            url=reverse("sales:opportunity_detail", args=[pk]),
            kind=kind,
        )
        for pk, _updated_at, name, customer_name, stage_name in rows
    ]


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


def quote_hits(*, actor: Any, query: str, limit: int = 10) -> list[SearchHit]:
    qs = commerce_selectors.quote_queryset_for(actor=actor)
    return _document_hits(newest(qs, commerce_selectors.document_search_q(query), limit), str(_("Quote")))


def order_hits(*, actor: Any, query: str, limit: int = 10) -> list[SearchHit]:
    qs = commerce_selectors.order_queryset_for(actor=actor)
    return _document_hits(newest(qs, commerce_selectors.document_search_q(query), limit), str(_("Order")))


def register() -> None:
    from django.utils.translation import gettext_lazy

    from kehu.core import search

    search.register_provider("sales", opportunity_hits, label=gettext_lazy("Opportunities"))
    search.register_provider("sales", quote_hits, label=gettext_lazy("Quotes"))
    search.register_provider("sales", order_hits, label=gettext_lazy("Orders"))
