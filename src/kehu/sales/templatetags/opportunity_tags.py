"""Money as people read it (digits grouped by thousands in both languages): ¥12,345.00 in full, and ¥1.23万 (Chinese) or ¥12.3K (English) on the board."""

from __future__ import annotations

from django import template

from kehu.core.templatetags.money import format_money_full, format_money_short

register = template.Library()

# One money implementation (kehu.core.templatetags.money): the opportunity pages' `money` is its exact form,
# `money_short` (the board's column totals) its short form.
money = register.filter("money", format_money_full)
money_short = register.filter("money_short", format_money_short)
