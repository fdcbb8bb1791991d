"""Template filters of the commerce pages: {% load commerce_tags %} then {{ quote.total|money:quote.currency }},
{{ order.total|rmb_upper }}, {{ line.quantity|num }}."""

from __future__ import annotations

from typing import Any

from django import template

from kehu.core.templatetags.money import format_money_full
from kehu.sales import commerce_format

register = template.Library()


# The one money implementation (kehu.core.templatetags.money), its exact form: ¥12,345.60.
money = register.filter("money", format_money_full)


@register.filter
def rmb_upper(value: Any) -> str:
    return commerce_format.rmb_upper(value)


@register.filter
def num(value: Any) -> str:
    return commerce_format.plain_number(value)
