"""The board's cards, built with f-strings over escaped values (sales/opportunity_cards.py), are byte for byte
what the former format_html implementation gave: the reference below is that implementation, kept here."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core.fast_html import esc
from kehu.core.templatetags.money import format_money_full
from kehu.sales import opportunity_selectors as selectors
from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity
from kehu.sales.opportunity_cards import CardRenderer, url_pattern
from tests.customers.factories import make_customer
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db

TRICKY = [
    "<script>alert('x')</script>",
    'Tom & "Jerry" <b>',
    "云帆 ERP 二期 & 售后 <升级>",
    "O'Brien's {} %(name)s",
    "&amp; already escaped",
]


class FormatHtmlCards:
    """The cards as opportunity_cards.py built them before (format_html for every piece)."""

    def __init__(self, now: Any) -> None:
        self.now = now
        self.detail = url_pattern("sales:opportunity_detail")
        self.move = url_pattern("sales:opportunity_move")
        self.quick_edit = url_pattern("sales:opportunity_quick_edit")

    def card(self, opportunity: Any, *, can_edit: bool) -> SafeString:
        days = opportunity.rotting_days(self.now)
        pk = opportunity.pk
        edit = ""
        if can_edit:
            edit = format_html(
                '<button type="button" class="btn btn-sm btn-link p-0 lh-1 text-body-secondary" data-quick-edit="{}"'
                ' aria-label="{}" title="{}"><i class="bi bi-pencil-square"></i></button>',
                self.quick_edit.format(pk),
                _("Quick edit %(name)s") % {"name": opportunity.name},
                _("Quick edit"),
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
                _("No stage change for longer than the stage allows"),
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
            _("Expected close date"),
            close,
            str(opportunity.owner) if opportunity.owner_id else "—",
            rotting,
        )

    def cards(self, items: list[Any], *, can_edit: bool) -> SafeString:
        return format_html_join("", "{}", ((self.card(item, can_edit=can_edit),) for item in items))


def test_esc_gives_what_format_html_puts_in():
    values = [*TRICKY, 42, Decimal("1.50"), None, mark_safe("<b>safe</b>"), _("Quick edit")]
    for value in values:
        assert esc(value) == format_html("{}", value)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_cards_are_the_markup_format_html_gave(tenant_a, language):
    rep = tenant_a.users["sales_rep"]
    rep.name = '张三 <销售> & "O\'Neil"'
    rep.save(update_fields=["name"])
    stages = list(services.ensure_default_pipeline(tenant_a.org).stages.order_by("position"))
    stage = stages[0]
    stage.rot_days = 3
    stage.save(update_fields=["rot_days"])
    amounts = [Decimal("12345.6"), None, Decimal("0"), Decimal("100000000"), Decimal("12345.6")]
    currencies = ["CNY", "USD", "SGD", "cny", "EUR"]
    for n, name in enumerate(TRICKY):
        customer = make_customer(tenant_a, rep, name=f"{name} 有限公司 {n}")
        make_opportunity(
            tenant_a,
            rep,
            customer=customer,
            name=name,
            stage=stage,
            amount=amounts[n],
            currency=currencies[n],
            expected_close_date=date(2026, 12, 31) if n % 2 else None,
        )
    # Two rotting cards (1 and 5 days over the stage's 3), the rest fresh.
    now = timezone.now()
    names = Opportunity.objects.filter(organization=tenant_a.org, stage=stage)
    names.filter(name=TRICKY[0]).update(stage_entered_at=now - timedelta(days=4))
    names.filter(name=TRICKY[2]).update(stage_entered_at=now - timedelta(days=8))
    page = selectors.board_column_for(actor=rep, stage=stage)
    assert len(page.items) == len(TRICKY)

    with translation.override(language):
        new, old = CardRenderer(now=now), FormatHtmlCards(now)
        for can_edit in (True, False):
            html = new.cards(page.items, can_edit=can_edit)
            assert isinstance(html, SafeString)
            assert html == old.cards(page.items, can_edit=can_edit)
            for item in page.items:
                assert new.card(item, can_edit=can_edit) == old.card(item, can_edit=can_edit)
    assert html.count('data-testid="rotting"') == 2
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "&amp;amp; already escaped" in html
