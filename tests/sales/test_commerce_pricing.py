"""The money arithmetic of quotes and orders: Decimal only, ROUND_HALF_UP to the cent, discounts shared out
so that subtotal − discount + tax = total to the cent; and how amounts are written (¥, 人民币大写)."""

from decimal import Decimal as D

import pytest

from kehu.sales.commerce_format import money, plain_number, rmb_upper
from kehu.sales.commerce_pricing import LineInput, document_totals, line_amount, q2


def test_q2_rounds_half_up_not_to_even():
    assert q2(D("0.005")) == D("0.01")
    assert q2(D("0.015")) == D("0.02")  # banker's rounding would give 0.02 too; 0.025 tells them apart
    assert q2(D("0.025")) == D("0.03")
    assert q2(D("2.675")) == D("2.68")  # a float would be 2.67499999...
    assert q2(D("-0.005")) == D("-0.01")


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "expected"),
    [
        (D("1"), D("100.00"), D("0"), D("100.00")),
        (D("3"), D("33.33"), D("0"), D("99.99")),
        (D("0.333"), D("10.00"), D("0"), D("3.33")),
        (D("0.335"), D("10.00"), D("0"), D("3.35")),  # 3.35 exactly
        (D("1.005"), D("1.00"), D("0"), D("1.01")),  # 1.005 rounds up
        (D("2"), D("19.99"), D("15"), D("33.98")),  # 39.98 − 6.00 (5.997 → 6.00)
        (D("1"), D("0.01"), D("50"), D("0.00")),  # 0.01 − round(0.005) = 0.01 − 0.01
        (D("7"), D("12.50"), D("100"), D("0.00")),
    ],
)
def test_line_amount(quantity, price, discount, expected):
    assert line_amount(quantity, price, discount) == expected


def test_totals_without_discount_tax_per_line():
    lines = [LineInput(D("100.00"), D("13")), LineInput(D("33.33"), D("6")), LineInput(D("10.00"), D("0"))]
    totals = document_totals(lines)
    assert totals.subtotal == D("143.33")
    assert totals.discount == D("0.00")
    assert totals.line_taxes == (D("13.00"), D("2.00"), D("0.00"))  # 33.33 × 6% = 1.9998 → 2.00
    assert totals.tax == D("15.00")
    assert totals.total == D("158.33")


def test_overall_discount_is_rounded_once_and_shared_exactly():
    # Three lines of 0.01 at 50%: the discount is round(0.015) = 0.02, not 3 × round(0.005) = 0.03.
    lines = [LineInput(D("0.01"), D("0"))] * 3
    totals = document_totals(lines, D("50"))
    assert totals.discount == D("0.02")
    assert totals.total == D("0.01")


def test_discount_reduces_the_taxable_amount_of_each_line():
    lines = [LineInput(D("1000.00"), D("13")), LineInput(D("500.00"), D("6"))]
    totals = document_totals(lines, D("10"))
    assert totals.subtotal == D("1500.00")
    assert totals.discount == D("150.00")
    # 900 × 13% + 450 × 6%
    assert totals.line_taxes == (D("117.00"), D("27.00"))
    assert totals.total == D("1500.00") - D("150.00") + D("144.00")


def test_uneven_discount_shares_still_add_up():
    lines = [LineInput(D("10.00"), D("13")), LineInput(D("10.00"), D("13")), LineInput(D("10.00"), D("13"))]
    totals = document_totals(lines, D("3.33"))  # 0.999 → 1.00, shared 0.34 / 0.33 / 0.33
    assert totals.discount == D("1.00")
    assert totals.line_taxes == (D("1.26"), D("1.26"), D("1.26"))  # 9.66/9.67 × 13% = 1.2558/1.2571
    assert totals.subtotal - totals.discount + totals.tax == totals.total == D("32.78")


def test_full_discount_and_empty_documents():
    assert document_totals([LineInput(D("99.99"), D("13"))], D("100")).total == D("0.00")
    empty = document_totals([], D("10"))
    assert (empty.subtotal, empty.discount, empty.tax, empty.total) == (D("0.00"),) * 4


def test_large_amounts_keep_every_cent():
    lines = [LineInput(line_amount(D("1000"), D("99999999.99")), D("13"))]
    totals = document_totals(lines)
    assert totals.subtotal == D("99999999990.00")
    assert totals.tax == D("12999999998.70")
    assert totals.total == D("112999999988.70")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元整"),
        ("0.50", "伍角"),
        ("0.05", "伍分"),
        ("10", "壹拾元整"),
        ("100.05", "壹佰元零伍分"),
        ("1005.50", "壹仟零伍元伍角"),
        ("10000", "壹万元整"),
        ("100100", "壹拾万零壹佰元整"),
        ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
        ("100000000", "壹亿元整"),
        ("1000000001", "壹拾亿零壹元整"),
        ("60080.00", "陆万零捌拾元整"),
    ],
)
def test_rmb_upper(amount, words):
    assert rmb_upper(amount) == words


def test_money_and_numbers():
    assert money(D("1234567.5")) == "¥1,234,567.50"
    assert money(D("0.005")) == "¥0.01"
    assert money(D("-5"), "CNY") == "-¥5.00"
    assert money(D("10"), "usd") == "US$10.00"
    assert money(D("10"), "SGD") == "SGD 10.00"
    assert money(None) == "—"
    assert plain_number(D("2.000")) == "2"
    assert plain_number(D("12.50")) == "12.5"
    assert plain_number(D("0.00")) == "0"
