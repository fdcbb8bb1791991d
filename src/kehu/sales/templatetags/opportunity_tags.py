"""Money as people read it (digits grouped by thousands in both languages): ¥12,345.00 in full, and ¥1.23万 (Chinese) or ¥12.3K (English) on the board."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import translation

register = template.Library()

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "JPY": "¥", "GBP": "£"}


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _symbol(currency: str) -> str:
    currency = (currency or "CNY").upper()
    return SYMBOLS.get(currency, f"{currency} ")


@register.filter
def money(value: Any, currency: str = "CNY") -> str:
    """¥12,345.00 (— when empty)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    return f"{_symbol(currency)}{amount:,.2f}"


@register.filter
def money_short(value: Any, currency: str = "CNY") -> str:
    """A compact amount for column headers: ¥3.5万 / ¥1.2亿 in Chinese, ¥35K / ¥1.2M in English."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    symbol = _symbol(currency)
    chinese = (translation.get_language() or "").startswith("zh")
    steps = (
        ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万"))
        if chinese
        else (
            (Decimal(10) ** 9, "B"),
            (Decimal(10) ** 6, "M"),
            (Decimal(10) ** 3, "K"),
        )
    )
    for size, unit in steps:
        if abs(amount) >= size:
            short = (amount / size).quantize(Decimal("0.1"))
            text = f"{short:f}".removesuffix(".0")
            return f"{symbol}{text}{unit}"
    return f"{symbol}{amount:,.0f}"
