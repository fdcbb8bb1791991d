"""Money, the one implementation: `{% load money %}` then `{{ amount|money:"CNY" }}`, `{{ amount|money_full:"CNY" }}`
or `{{ amount|money_short:"CNY" }}`; from Python `format_money`, `format_money_full`, `format_money_short`.

Chinese pages count large amounts in 万 (10^4) and 亿 (10^8), as Chinese business software does:
¥1,234.50, ¥12.35万, ¥3.2亿. English pages show the whole number with thousands separators. `money_full`
always shows the exact amount with two decimals (documents, tooltips, exports: ¥12,345.60, US$10.00,
SGD 10.00). `money_short` is the tightest form, for column headers: ¥3.5万 / ¥1.2亿 in Chinese, ¥35K / ¥1.2M
in English. (Other modules' filters — commerce_tags, opportunity_tags — are these functions.)
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.translation import get_language

register = template.Library()

SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "US$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥", "TWD": "NT$"}
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


def format_money_full(value: Any, currency: str = "CNY") -> str:
    """The exact amount with two decimals: ¥12,345.60, -¥5.00, US$10.00, SGD 10.00 (— when empty)."""
    number = _decimal(value)
    if number is None:
        return "—"
    number = number.quantize(Decimal("0.01"), ROUND_HALF_UP)
    sign, number = ("-", -number) if number < 0 else ("", number)
    return f"{sign}{_prefix(currency)}{number:,.2f}"


SHORT_STEPS = {
    "zh": ((YI, "亿"), (WAN, "万")),
    "en": ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")),
}


def format_money_short(value: Any, currency: str = "CNY") -> str:
    """One decimal at most in a unit: ¥3.5万 / ¥1.2亿 (Chinese), ¥35K / ¥1.2M (English); whole yuan below."""
    number = _decimal(value)
    if number is None:
        return "—"
    sign, number = ("-", -number) if number < 0 else ("", number)
    prefix = _prefix(currency)
    chinese = (get_language() or "").lower().startswith("zh")
    for size, unit in SHORT_STEPS["zh" if chinese else "en"]:
        if number >= size:
            text = f"{(number / size).quantize(Decimal('0.1'), ROUND_HALF_UP):f}".removesuffix(".0")
            return f"{sign}{prefix}{text}{unit}"
    return f"{sign}{prefix}{number.quantize(Decimal('1'), ROUND_HALF_UP):,.0f}"


def format_money_sums(sums: dict[str, Any], *, short: bool = True, default: str = "CNY") -> str:
    """Sums in several currencies, never added together: "¥1.2万 · US$3,000" (short) or the exact amounts
    (`short=False`). `default` (the usual currency) comes first, the others by code; no sums at all: ¥0."""
    form = format_money_short if short else format_money_full
    if not sums:
        return form(0, default)
    codes = sorted(sums, key=lambda code: (code != default, code))
    return " · ".join(form(sums[code], code) for code in codes)


@register.filter
def money(value: Any, currency: str = "CNY") -> str:
    return format_money(value, currency)


@register.filter
def money_full(value: Any, currency: str = "CNY") -> str:
    return format_money_full(value, currency)


@register.filter
def money_short(value: Any, currency: str = "CNY") -> str:
    return format_money_short(value, currency)


@register.filter
def currency_symbol(currency: str) -> str:
    return _prefix(currency).strip()
