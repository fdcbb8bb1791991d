"""The money arithmetic of quotes and orders (one implementation for both), and the price a customer gets.

Rules (prices are net of tax; the tax is added on top, as on a Chinese VAT invoice 价税合计):
- a line's amount = round(quantity × unit price) − round(that × line discount %);
- the subtotal is the sum of the line amounts;
- the overall discount = round(subtotal × discount %), shared out over the lines in proportion to their
  amounts (largest remainder, so the shares add up to the discount to the cent);
- each line's tax = round((amount − its share of the discount) × tax rate %); the tax is their sum;
- total = subtotal − discount + tax.
Every rounding is ROUND_HALF_UP to 0.01, on Decimal only: no float ever touches an amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def q2(value: Decimal) -> Decimal:
    """Round half up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal = ZERO) -> Decimal:
    gross = q2(Decimal(quantity) * Decimal(unit_price))
    return gross - q2(gross * Decimal(discount_percent) / HUNDRED)


@dataclass(frozen=True)
class LineInput:
    amount: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    line_taxes: tuple[Decimal, ...] = ()

    def as_fields(self) -> dict[str, Decimal]:
        """The document's stored total fields."""
        return {
            "subtotal": self.subtotal,
            "discount_total": self.discount,
            "tax_total": self.tax,
            "total": self.total,
        }


def _shares(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` split over `weights` in proportion, in cents, adding up exactly (largest remainder first;
    ties go to the earlier line)."""
    whole = sum(weights, ZERO)
    if total == 0 or whole == 0:
        return [ZERO for _ in weights]
    raw = [total * w / whole for w in weights]
    floors = [r.quantize(CENT, rounding=ROUND_DOWN) for r in raw]
    left = int((total - sum(floors, ZERO)) / CENT)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += CENT
    return floors


def document_totals(lines: Sequence[LineInput | Any], discount_percent: Decimal = ZERO) -> Totals:
    """The totals of a quote or order from its lines (anything with `amount` and `tax_rate`)."""
    amounts = [Decimal(line.amount) for line in lines]
    subtotal = sum(amounts, ZERO)
    discount = q2(subtotal * Decimal(discount_percent) / HUNDRED)
    shares = _shares(discount, amounts)
    line_taxes = tuple(
        q2((amount - share) * Decimal(line.tax_rate) / HUNDRED)
        for amount, share, line in zip(amounts, shares, lines, strict=True)
    )
    tax = sum(line_taxes, ZERO)
    return Totals(
        subtotal=q2(subtotal),
        discount=discount,
        tax=q2(tax),
        total=q2(subtotal - discount + tax),
        line_taxes=line_taxes,
    )


# The price a customer gets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceQuote:
    price: Decimal
    source: str  # "price_list" or "product"
    price_list: Any = None


def price_for(*, product: Any, customer: Any, currency: str) -> PriceQuote | None:
    """The unit price of `product` for `customer` in `currency`: the active price list for the customer's
    tier, else the active list for every tier, else the product's own price when it is in that currency;
    None when there is no price in that currency (the user must type one)."""
    from kehu.sales.commerce_models import PriceListItem

    currency = (currency or "").upper()
    tier = getattr(customer, "tier", "") or ""
    tiers = [tier, ""] if tier else [""]
    items = PriceListItem.objects.filter(
        organization_id=product.organization_id,
        product_id=product.pk,
        price_list__currency=currency,
        price_list__tier__in=tiers,
        price_list__is_active=True,
        price_list__deleted_at__isnull=True,
    ).select_related("price_list")
    best = None
    for item in items:
        if best is None or (item.price_list.tier and not best.price_list.tier):
            best = item
    if best is not None:
        return PriceQuote(price=best.price, source="price_list", price_list=best.price_list)
    if product.currency == currency:
        return PriceQuote(price=product.price, source="product")
    return None
