"""How amounts are written: ¥12,345.60 on screen, and 人民币大写 (壹万贰仟叁佰肆拾伍元陆角) on printed
quotes and contracts, as Chinese finance departments expect them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kehu.core.templatetags.money import format_money_full

DIGITS = "零壹贰叁肆伍陆柒捌玖"
GROUP_UNITS = ("", "万", "亿", "万亿")


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


# Amounts on screen: the one money implementation (kehu.core.templatetags.money), its exact form.
money = format_money_full


def plain_number(value: Any) -> str:
    """A quantity or a percentage without trailing zeros: 2.000 → "2", 12.50 → "12.5"."""
    number = _decimal(value)
    if number is None:
        return ""
    text = f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _group(number: int) -> str:
    """0 < number < 10000 in capitals, zeros inside written once (1005 → 壹仟零伍)."""
    text, pending_zero = "", False
    for power, unit in ((3, "仟"), (2, "佰"), (1, "拾"), (0, "")):
        digit = number // 10**power % 10
        if digit == 0:
            pending_zero = pending_zero or bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += DIGITS[digit] + unit
    return text


def rmb_upper(value: Any) -> str:
    """The amount in Chinese capital numerals (大写金额), as written on invoices and contracts:
    1005.50 → 壹仟零伍元伍角, 100.05 → 壹佰元零伍分, 10000 → 壹万元整, 0 → 零元整."""
    amount = _decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    negative = amount < 0
    cents = int(abs(amount) * 100)
    integer, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    groups = []
    n = integer
    while n:
        groups.append(n % 10000)
        n //= 10000
    text, pending_zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            pending_zero = pending_zero or bool(text)
            continue
        if text and (pending_zero or group < 1000):
            text += "零"
        text += _group(group) + GROUP_UNITS[index]
        pending_zero = False
    if text:
        text += "元"
    if jiao == 0 and fen == 0:
        text = (text or "零元") + "整"
    else:
        if jiao:
            text += DIGITS[jiao] + "角"
        elif text:
            text += "零"
        if fen:
            text += DIGITS[fen] + "分"
    return ("负" if negative else "") + text
