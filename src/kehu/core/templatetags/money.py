"""Money in templates: `{% load money %}` then `{{ amount|money:"CNY" }}` or `{{ amount|money_full:"CNY" }}`.

Chinese pages count large amounts in 万 (10^4) and 亿 (10^8), as Chinese business software does:
¥1,234.50, ¥12.35万, ¥3.2亿. English pages show the whole number with thousands separators. `money_full`
always shows the exact amount with two decimals (for a tooltip or an export).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.translation import get_language

register = template.Library()

SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥", "TWD": "NT$"}
WAN, YI = Decimal(10_000), Decimal(100_000_000)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _prefix(currency: str) -> str:
    currency = (currency or "CNY").upper()
    return SYMBOLS.get(currency, f"{currency} ")


def _plain(number: Decimal) -> str:
    """1,234 or 1,234.50: cents only when there are any."""
    number = number.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"


def _short(number: Decimal) -> str:
    """12.35 (at most two decimals, trailing zeros dropped)."""
    text = f"{number.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
    return text.rstrip("0").rstrip(".")


def format_money(value: Any, currency: str = "CNY", *, compact: bool | None = None) -> str:
    """`value` in `currency`; `compact` (default: on Chinese pages) counts in 万 and 亿."""
    number = _decimal(value)
    if number is None:
        return "—"
    if compact is None:
        compact = (get_language() or "").lower().startswith("zh")
    sign, number = ("-", -number) if number < 0 else ("", number)
    prefix = _prefix(currency)
    if compact and number >= YI:
        return f"{sign}{prefix}{_short(number / YI)}亿"
    if compact and number >= WAN:
        return f"{sign}{prefix}{_short(number / WAN)}万"
    return f"{sign}{prefix}{_plain(number)}"


@register.filter
def money(value: Any, currency: str = "CNY") -> str:
    return format_money(value, currency)


@register.filter
def money_full(value: Any, currency: str = "CNY") -> str:
    number = _decimal(value)
    if number is None:
        return "—"
    sign, number = ("-", -number) if number < 0 else ("", number)
    return f"{sign}{_prefix(currency)}{number.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


@register.filter
def currency_symbol(currency: str) -> str:
    return _prefix(currency).strip()
