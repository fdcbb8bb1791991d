"""The money template filters: ¥ and 万/亿 on Chinese pages, thousands separators on English ones."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from kehu.core.templatetags.money import format_money, format_money_full, format_money_short, money_full


@pytest.mark.parametrize(
    ("value", "chinese", "english"),
    [
        (Decimal("0"), "¥0", "¥0"),
        (Decimal("8500.5"), "¥8,500.50", "¥8,500.50"),
        (Decimal("9999.99"), "¥9,999.99", "¥9,999.99"),
        (Decimal("10000"), "¥1万", "¥10,000"),
        (Decimal("123456.78"), "¥12.35万", "¥123,456.78"),
        (Decimal("250000000"), "¥2.5亿", "¥250,000,000"),
        (Decimal("-45000"), "-¥4.5万", "-¥45,000"),
        ("1234", "¥1,234", "¥1,234"),
        (None, "—", "—"),
        ("abc", "—", "—"),
    ],
)
def test_money(value, chinese, english):
    with translation.override("zh-hans"):
        assert format_money(value, "CNY") == chinese
    with translation.override("en"):
        assert format_money(value, "CNY") == english


def test_other_currencies_and_the_full_amount():
    assert format_money(Decimal("1500"), "USD", compact=False) == "US$1,500"
    assert format_money(Decimal("1500"), "CHF", compact=False) == "CHF 1,500"
    assert money_full(Decimal("123456.7"), "CNY") == "¥123,456.70"


def test_the_filters_in_a_template():
    with translation.override("zh-hans"):
        text = Template('{% load money %}{{ v|money:"CNY" }} {{ v|money_full:"CNY" }} {{ "EUR"|currency_symbol }}')
        assert text.render(Context({"v": Decimal("56000")})) == "¥5.6万 ¥56,000.00 €"


def test_the_exact_and_the_short_forms():
    assert format_money_full("0.005") == "¥0.01"
    assert format_money_full(Decimal("-5"), "CNY") == "-¥5.00"
    assert format_money_full(Decimal("10"), "usd") == "US$10.00"
    assert format_money_full(Decimal("10"), "SGD") == "SGD 10.00"
    with translation.override("zh-hans"):
        assert format_money_short(Decimal("35000")) == "¥3.5万"
        assert format_money_short(Decimal("120000000")) == "¥1.2亿"
        assert format_money_short(Decimal("999")) == "¥999"
    with translation.override("en"):
        assert format_money_short(Decimal("15000")) == "¥15K"
        assert format_money_short(Decimal("1200000")) == "¥1.2M"
        assert format_money_short(None) == "—"


def test_the_sales_filters_are_the_core_ones():
    from kehu.sales import commerce_format
    from kehu.sales.templatetags import commerce_tags, opportunity_tags

    assert commerce_format.money is format_money_full and commerce_tags.money is format_money_full
    assert opportunity_tags.money is format_money_full and opportunity_tags.money_short is format_money_short
