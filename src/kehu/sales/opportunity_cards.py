"""The board's cards and column sums as HTML, built in Python (as customers/list_columns.cell_html builds
the customer list's cells): a board page shows up to 20 cards in each of 6–8 columns, and including a
template per card cost more than the SQL behind the whole page (benchmarks/RESULTS.md, "Sales at scale").
Every value goes through format_html (escaped); the markup is what board.js and the browser tests read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core.templatetags.money import format_money_full, format_money_sums

# reverse() once per request for each link, the id put in by string formatting (reverse per card was a
# measurable part of a 120-card page).
_PLACEHOLDER = 2147483647


def url_pattern(name: str) -> str:
    """The URL of `name` for an id, as a str.format pattern: "/sales/opportunities/{}/"."""
    return reverse(name, args=[_PLACEHOLDER]).replace(str(_PLACEHOLDER), "{}")


class CardRenderer:
    """Renders cards for one request: the links' patterns, the time and the translated labels read once."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.detail = url_pattern("sales:opportunity_detail")
        self.move = url_pattern("sales:opportunity_move")
        self.quick_edit = url_pattern("sales:opportunity_quick_edit")
        self.quick_edit_title = _("Quick edit")
        self.close_title = _("Expected close date")
        self.rotting_title = _("No stage change for longer than the stage allows")

    def card(self, opportunity: Any, *, can_edit: bool) -> SafeString:
        """One card (select customer, owner and stage with the opportunity: board_column_for does)."""
        days = opportunity.rotting_days(self.now)
        pk = opportunity.pk
        edit = ""
        if can_edit:
            edit = format_html(
                '<button type="button" class="btn btn-sm btn-link p-0 lh-1 text-body-secondary" data-quick-edit="{}"'
                ' aria-label="{}" title="{}"><i class="bi bi-pencil-square"></i></button>',
                self.quick_edit.format(pk),
                _("Quick edit %(name)s") % {"name": opportunity.name},
                self.quick_edit_title,
            )
        close = ""
        if opportunity.expected_close_date:
            close = format_html(
                '<i class="bi bi-calendar-event"></i> {}', opportunity.expected_close_date.strftime("%Y-%m-%d")
            )
        rotting = ""
        if days:
            rotting = format_html(
                '<span class="badge text-bg-danger-subtle text-danger-emphasis text-nowrap" data-testid="rotting"'
                ' title="{}"><i class="bi bi-hourglass-bottom"></i> {}</span>',
                self.rotting_title,
                ngettext("%(days)s day in stage", "%(days)s days in stage", days) % {"days": days},
            )
        customer = opportunity.customer.name if opportunity.customer_id else ""
        return format_html(
            '<article class="kehu-board-card{}" data-testid="card" data-opportunity="{}" data-version="{}"'
            ' data-move-url="{}">\n'
            '  <div class="d-flex gap-1 align-items-start">\n'
            '    <a class="fw-medium text-decoration-none flex-grow-1 text-break" href="{}" data-testid="card-name">'
            "{}</a>\n    {}\n  </div>\n"
            '  <div class="small text-body-secondary text-truncate" title="{}"><i class="bi bi-building"></i> {}</div>\n'
            '  <div class="d-flex justify-content-between small mt-1">\n'
            '    <span class="fw-medium" data-testid="card-amount">{}</span>\n'
            '    <span class="text-body-secondary" title="{}">{}</span>\n  </div>\n'
            '  <div class="d-flex justify-content-between align-items-center small mt-1 gap-1">\n'
            '    <span class="text-body-secondary text-truncate"><i class="bi bi-person"></i> {}</span>\n'
            "    {}\n  </div>\n</article>",
            " is-rotting" if days else "",
            pk,
            opportunity.version,
            self.move.format(pk),
            self.detail.format(pk),
            opportunity.name,
            edit,
            customer,
            customer,
            format_money_full(opportunity.amount, opportunity.currency),
            self.close_title,
            close,
            str(opportunity.owner) if opportunity.owner_id else "—",
            rotting,
        )

    def cards(self, items: list[Any], *, can_edit: bool) -> SafeString:
        return format_html_join("", "{}", ((self.card(item, can_edit=can_edit),) for item in items))


def column_cards_html(
    *, stage: Any, page: Any, query: str, can_edit: bool, renderer: CardRenderer | None = None
) -> SafeString:
    """A column's page of cards and, when there are more, the "load more" button (the next keyset page)."""
    renderer = renderer or CardRenderer()
    html = renderer.cards(page.items if page else [], can_edit=can_edit)
    if page and page.next_cursor:
        url = reverse("sales:opportunity_board_column", args=[stage.pk])
        url = f"{url}?{query + '&' if query else ''}cursor={quote(page.next_cursor, safe='')}"
        html += format_html(
            '\n<button type="button" class="btn btn-sm btn-outline-secondary w-100 kehu-board-more"'
            ' data-testid="load-more" hx-get="{}" hx-swap="outerHTML">{}</button>',
            url,
            _("Load more"),
        )
    return html


def decorate_columns(columns: list[Any], *, query: str, can_edit: bool, currency: str) -> None:
    """Give each board column its cards' HTML (`cards_html`) and its sums per currency, short and exact
    (`total_text`, `total_full`): the board template prints them as they are."""
    renderer = CardRenderer()
    for column in columns:
        column.cards_html = column_cards_html(
            stage=column.stage, page=column.page, query=query, can_edit=can_edit, renderer=renderer
        )
        column.total_text = format_money_sums(column.totals, default=currency)
        column.total_full = format_money_sums(column.totals, short=False, default=currency)
