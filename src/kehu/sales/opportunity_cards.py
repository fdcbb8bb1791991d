"""The board's cards and column sums as HTML, built in Python (as customers/list_columns.cell_html builds
the customer list's cells): a board page shows up to 20 cards in each of 6–8 columns, and including a
template per card cost more than the SQL behind the whole page (benchmarks/RESULTS.md, "Sales at scale").
Every value is escaped (core/fast_html.esc, what format_html did, at a fraction of its cost); the markup is
what board.js and the browser tests read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core.fast_html import esc
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
        # Escaped once here: a pattern's {} takes an integer id, which escaping leaves as it is.
        self.detail = esc(url_pattern("sales:opportunity_detail"))
        self.move = esc(url_pattern("sales:opportunity_move"))
        self.quick_edit = esc(url_pattern("sales:opportunity_quick_edit"))
        self.quick_edit_title = esc(_("Quick edit"))
        self.close_title = esc(_("Expected close date"))
        self.rotting_title = esc(_("No stage change for longer than the stage allows"))
        self._rotting_text: dict[int, str] = {}
        self._money: dict[tuple[Any, str], str] = {}

    def _days_text(self, days: int) -> str:
        text = self._rotting_text.get(days)
        if text is None:
            text = esc(ngettext("%(days)s day in stage", "%(days)s days in stage", days) % {"days": days})
            self._rotting_text[days] = text
        return text

    def _amount(self, amount: Any, currency: str) -> str:
        # Boards repeat amounts (round figures, the same deal size), and formatting one costs more than a lookup.
        key = (amount, currency)
        text = self._money.get(key)
        if text is None:
            text = self._money[key] = esc(format_money_full(amount, currency))
        return text

    def card(self, opportunity: Any, *, can_edit: bool) -> SafeString:
        """One card (customer, owner and stage loaded with the opportunity: board_column_for does)."""
        return mark_safe(self._card(opportunity, can_edit))  # noqa: S308 - every value in _card is escaped

    def _card(self, opportunity: Any, can_edit: bool) -> str:
        """The card's markup as a str, every value through esc(): the same bytes format_html gave (the
        tests compare), at a fraction of its cost."""
        days = opportunity.rotting_days(self.now)
        pk = opportunity.pk
        name = opportunity.name
        edit = ""
        if can_edit:
            label = esc(_("Quick edit %(name)s") % {"name": name})
            edit = (
                '<button type="button" class="btn btn-sm btn-link p-0 lh-1 text-body-secondary"'
                f' data-quick-edit="{self.quick_edit.format(pk)}" aria-label="{label}" title="{self.quick_edit_title}">'
                '<i class="bi bi-pencil-square"></i></button>'
            )
        close = ""
        if opportunity.expected_close_date:
            close = f'<i class="bi bi-calendar-event"></i> {opportunity.expected_close_date.strftime("%Y-%m-%d")}'
        rotting = ""
        if days:
            rotting = (
                '<span class="badge text-bg-danger-subtle text-danger-emphasis text-nowrap" data-testid="rotting"'
                f' title="{self.rotting_title}"><i class="bi bi-hourglass-bottom"></i> {self._days_text(days)}</span>'
            )
        customer = esc(opportunity.customer.name) if opportunity.customer_id else ""
        owner = esc(str(opportunity.owner)) if opportunity.owner_id else "—"
        return (
            f'<article class="kehu-board-card{" is-rotting" if days else ""}" data-testid="card"'
            f' data-opportunity="{pk}" data-version="{opportunity.version}" data-move-url="{self.move.format(pk)}">\n'
            '  <div class="d-flex gap-1 align-items-start">\n'
            '    <a class="fw-medium text-decoration-none flex-grow-1 text-break"'
            f' href="{self.detail.format(pk)}" data-testid="card-name">{esc(name)}</a>\n    {edit}\n  </div>\n'
            f'  <div class="small text-body-secondary text-truncate" title="{customer}"><i class="bi bi-building"></i>'
            f" {customer}</div>\n"
            '  <div class="d-flex justify-content-between small mt-1">\n'
            '    <span class="fw-medium" data-testid="card-amount">'
            f"{self._amount(opportunity.amount, opportunity.currency)}</span>\n"
            f'    <span class="text-body-secondary" title="{self.close_title}">{close}</span>\n  </div>\n'
            '  <div class="d-flex justify-content-between align-items-center small mt-1 gap-1">\n'
            f'    <span class="text-body-secondary text-truncate"><i class="bi bi-person"></i> {owner}</span>\n'
            f"    {rotting}\n  </div>\n</article>"
        )

    def cards(self, items: list[Any], *, can_edit: bool) -> SafeString:
        return mark_safe("".join(self._card(item, can_edit) for item in items))  # noqa: S308 - escaped in _card


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
