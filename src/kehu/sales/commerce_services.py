"""Every change to products, price lists, quotes, orders and payments: one function per business action,
each in a transaction with its audit entry, each checking `require(actor, action, target)` first.

Quotes and orders share the line and totals code: `_line_add` / `_line_update` / `_line_delete` and
`_store_totals` work on either document, and the arithmetic is commerce_pricing.document_totals.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import F, Max, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.sales import commerce_format, commerce_pricing
from kehu.sales.commerce_models import (
    ZERO,
    CommerceSequence,
    Instalment,
    Order,
    OrderLine,
    Payment,
    PriceList,
    PriceListItem,
    Product,
    Quote,
    QuoteLine,
)

PRODUCT_FIELDS = ("sku", "name", "unit", "price", "currency", "tax_rate", "is_active", "description")
PRICE_LIST_FIELDS = ("name", "currency", "tier", "is_active", "description")
DOCUMENT_FIELDS = ("contact", "title", "currency", "discount_percent", "terms", "notes")
QUOTE_FIELDS = (*DOCUMENT_FIELDS, "issue_date", "valid_until")
ORDER_FIELDS = (*DOCUMENT_FIELDS, "order_date")
LINE_FIELDS = ("product", "name", "unit", "quantity", "unit_price", "discount_percent", "tax_rate", "position")
PAYMENT_FIELDS = ("received_on", "amount", "method", "reference", "note")
INSTALMENT_FIELDS = ("due_date", "amount", "note")
DEFAULT_VALIDITY_DAYS = 30
NUMBER_PREFIX = {"quote": "Q", "order": "SO"}
# Set by the service from objects it already checked: full_clean need not query them again.
_TRUSTED = ["organization", "owner", "created_by", "updated_by"]


class EmailFailed(DomainError):
    code = "email_failed"
    status = 502


# Helpers ---------------------------------------------------------------------------------------------------


def _check_fields(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        message = _("This field cannot be set here.")
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [message] for name in unknown},
        )


def _fail(field: str, message: str, code: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]}, code=code)


def _check_version(instance: Any, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != instance.version:
        raise VersionConflict()


def _set_and_diff(instance: Any, data: dict[str, Any], exclude: list[str]) -> dict[str, dict[str, Any]]:
    """Set `data`, validate (which also normalises), and return the diff of the values as saved."""
    before = audit.snapshot(instance, data.keys())
    for name, value in data.items():
        setattr(instance, name, value)
    validate(instance, exclude=exclude)
    return audit.diff(before, audit.snapshot(instance, data.keys()))


def _recorded(instance: Any, names: Iterable[str]) -> dict[str, Any]:
    """The non-empty values of a new record, for its creation's audit entry (records by their label)."""
    values = {}
    for name in names:
        value = getattr(instance, name)
        if value in ("", None, {}):
            continue
        values[name] = str(value) if isinstance(value, models.Model) else value
    return values


def organization_today(organization: Any) -> date:
    """Today in the organisation's time zone (document dates, due dates, the number's year)."""
    try:
        zone = zoneinfo.ZoneInfo(organization.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return timezone.localdate(timezone=zone)


def _check_currency(currency: str) -> str:
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise _fail("currency", _("Enter a three-letter currency code such as CNY or USD."))
    return currency


def _bump(instance: Any, actor: Any, **values: Any) -> None:
    """Write `values` (may be none) and a new version: open edit forms of the record are now stale."""
    now = timezone.now()
    type(instance).objects.filter(pk=instance.pk).update(
        **values, version=F("version") + 1, updated_at=now, updated_by_id=actor.pk if actor else None
    )
    for name, value in values.items():
        setattr(instance, name, value)
    instance.version += 1
    instance.updated_at, instance.updated_by_id = now, actor.pk if actor else None


def _soft_delete(instance: Any, *, actor: Any, action: str, expected_version: int | None) -> None:
    instance.deleted_at = timezone.now()
    save_versioned(instance, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action=action, target=instance)


def _restore(instance: Any, *, actor: Any, action: str) -> None:
    now = timezone.now()
    restored = (
        type(instance)
        .objects.filter(pk=instance.pk, version=instance.version, deleted_at__isnull=False)
        .update(deleted_at=None, version=instance.version + 1, updated_at=now, updated_by_id=actor.pk)
    )
    if restored != 1:
        raise VersionConflict()
    instance.deleted_at, instance.version, instance.updated_at = None, instance.version + 1, now
    audit.record(actor=actor, action=action, target=instance)


# Numbers ---------------------------------------------------------------------------------------------------


def next_number(*, organization_id: int, kind: str, on: date) -> str:
    """The next number of `kind` ("quote" or "order") in the organisation and year: Q-2026-0001.

    The counter row is incremented with one UPDATE, which locks it until the caller's transaction ends, so
    concurrent creations are serialised on it (PostgreSQL row lock, SQLite write lock) and never share a
    number; the unique constraints on the documents are the backstop."""
    year = on.year
    rows = CommerceSequence.objects.filter(organization_id=organization_id, kind=kind, year=year)
    with transaction.atomic():
        if not rows.update(last=F("last") + 1):
            try:
                with transaction.atomic():
                    CommerceSequence.objects.create(organization_id=organization_id, kind=kind, year=year, last=1)
            except IntegrityError:  # created concurrently: count on it
                rows.update(last=F("last") + 1)
        value = rows.values_list("last", flat=True).get()
    return f"{NUMBER_PREFIX[kind]}-{year}-{value:04d}"


# Products ---------------------------------------------------------------------------------------------------


def _sku_free(product: Product) -> None:
    others = Product.objects.filter(organization_id=product.organization_id, sku=product.sku).exclude(pk=product.pk)
    taken = others.first()
    if taken is not None:
        if taken.deleted_at:
            message = _("A product in the recycle bin has this SKU; restore it instead.")
        else:
            message = _("Another product already has this SKU.")
        raise _fail("sku", message)


def _save_unique(instance: Any, field: str, message: str, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:  # a concurrent save took the value
        raise _fail(field, message) from exc


@transaction.atomic
def product_create(*, actor: Any, **fields: Any) -> Product:
    require(actor, "create", Product)
    _check_fields(fields, PRODUCT_FIELDS)
    fields.setdefault("currency", actor.organization.currency or "CNY")
    fields["currency"] = _check_currency(fields["currency"])
    product = Product(organization_id=actor.organization_id, owner=actor, created_by=actor, updated_by=actor, **fields)
    validate(product, exclude=_TRUSTED)
    _sku_free(product)
    _save_unique(product, "sku", _("Another product already has this SKU."))
    audit.record(actor=actor, action="product.create", target=product, changes=_recorded(product, PRODUCT_FIELDS))
    return product


@transaction.atomic
def product_update(*, actor: Any, product: Product, expected_version: int | None, data: dict[str, Any]) -> Product:
    """Change a product; `is_active` False deactivates it (kept on documents, not offered for new lines)."""
    require(actor, "edit", product)
    _check_fields(data, PRODUCT_FIELDS)
    _check_version(product, expected_version)
    if "currency" in data:
        data["currency"] = _check_currency(data["currency"])
    changes = _set_and_diff(product, data, _TRUSTED)
    if not changes:
        return product
    if "sku" in changes:
        _sku_free(product)
    try:
        with transaction.atomic():
            save_versioned(product, actor=actor, expected_version=expected_version, fields=list(changes))
    except IntegrityError as exc:
        raise _fail("sku", _("Another product already has this SKU.")) from exc
    action = "product.update"
    if set(changes) == {"is_active"}:
        action = "product.activate" if product.is_active else "product.deactivate"
    audit.record(actor=actor, action=action, target=product, changes=changes)
    return product


@transaction.atomic
def product_delete(*, actor: Any, product: Product, expected_version: int | None = None) -> Product:
    """To the recycle bin. Lines that use it keep their copied SKU, name and price."""
    require(actor, "delete", product)
    _soft_delete(product, actor=actor, action="product.delete", expected_version=expected_version)
    return product


@transaction.atomic
def product_restore(*, actor: Any, product: Product) -> Product:
    require(actor, "restore", product)
    if product.deleted_at is not None:
        _restore(product, actor=actor, action="product.restore")
    return product


# Price lists -------------------------------------------------------------------------------------------------


def _price_list_free(price_list: PriceList) -> None:
    same = PriceList.objects.filter(organization_id=price_list.organization_id).exclude(pk=price_list.pk)
    if same.filter(name=price_list.name).exists():
        raise _fail("name", _("Another price list already has this name."))
    if (
        price_list.is_active
        and same.filter(
            currency=price_list.currency, tier=price_list.tier, is_active=True, deleted_at__isnull=True
        ).exists()
    ):
        raise _fail(
            "tier",
            _("Another active price list already covers this currency and tier; deactivate it first."),
        )


@transaction.atomic
def price_list_create(*, actor: Any, **fields: Any) -> PriceList:
    require(actor, "create", PriceList)
    _check_fields(fields, PRICE_LIST_FIELDS)
    fields.setdefault("currency", actor.organization.currency or "CNY")
    fields["currency"] = _check_currency(fields["currency"])
    price_list = PriceList(
        organization_id=actor.organization_id, owner=actor, created_by=actor, updated_by=actor, **fields
    )
    validate(price_list, exclude=_TRUSTED)
    _price_list_free(price_list)
    _save_unique(price_list, "name", _("Another price list already has this name."))
    audit.record(
        actor=actor, action="price_list.create", target=price_list, changes=_recorded(price_list, PRICE_LIST_FIELDS)
    )
    return price_list


@transaction.atomic
def price_list_update(
    *, actor: Any, price_list: PriceList, expected_version: int | None, data: dict[str, Any]
) -> PriceList:
    require(actor, "edit", price_list)
    _check_fields(data, PRICE_LIST_FIELDS)
    _check_version(price_list, expected_version)
    if "currency" in data:
        data["currency"] = _check_currency(data["currency"])
    changes = _set_and_diff(price_list, data, _TRUSTED)
    if not changes:
        return price_list
    _price_list_free(price_list)
    try:
        with transaction.atomic():
            save_versioned(price_list, actor=actor, expected_version=expected_version, fields=list(changes))
    except IntegrityError as exc:
        raise _fail("name", _("Another price list already has this name.")) from exc
    audit.record(actor=actor, action="price_list.update", target=price_list, changes=changes)
    return price_list


@transaction.atomic
def price_list_set_price(
    *, actor: Any, price_list: PriceList, product: Product, price: Decimal | None
) -> PriceListItem | None:
    """Set the list's price of `product`; None removes the product from the list (it then falls back to the
    list for every tier, or the product's own price)."""
    require(actor, "edit", price_list)
    if product.organization_id != price_list.organization_id or product.deleted_at is not None:
        raise _fail("product", _("Choose a product of your catalogue."))
    item = PriceListItem.objects.filter(
        organization_id=price_list.organization_id, price_list=price_list, product=product
    ).first()
    before = item.price if item else None
    if price is None:
        if item is None:
            return None
        item.delete()
        result = None
    else:
        price = Decimal(price)
        if price < 0:
            raise _fail("price", _("Enter a price of zero or more."))
        if item is None:
            item = PriceListItem(organization_id=price_list.organization_id, price_list=price_list, product=product)
        item.price = price
        validate(item, exclude=["organization", "price_list", "product"])
        item.save()
        result = item
    if before != (result.price if result else None):
        _bump(price_list, actor)
        audit.record(
            actor=actor,
            action="price_list.set_price",
            target=price_list,
            changes={"product": str(product), "price": {"before": before, "after": result.price if result else None}},
        )
    return result


@transaction.atomic
def price_list_delete(*, actor: Any, price_list: PriceList, expected_version: int | None = None) -> PriceList:
    require(actor, "delete", price_list)
    _soft_delete(price_list, actor=actor, action="price_list.delete", expected_version=expected_version)
    return price_list


@transaction.atomic
def price_list_restore(*, actor: Any, price_list: PriceList) -> PriceList:
    require(actor, "restore", price_list)
    if price_list.deleted_at is None:
        return price_list
    if price_list.is_active:
        clash = PriceList.objects.filter(
            organization_id=price_list.organization_id,
            currency=price_list.currency,
            tier=price_list.tier,
            is_active=True,
            deleted_at__isnull=True,
        ).exclude(pk=price_list.pk)
        if clash.exists():
            raise _fail("tier", _("Another active price list now covers this currency and tier; deactivate it first."))
    _restore(price_list, actor=actor, action="price_list.restore")
    return price_list


# Documents (quotes and orders): what both share -----------------------------------------------------------


def _check_customer_and_contact(actor: Any, customer: Any, contact: Any) -> None:
    if customer is None:
        raise _fail("customer", _("Choose a customer."))
    require(actor, "view", customer)
    if contact is not None and (contact.customer_id != customer.pk or contact.deleted_at is not None):
        raise _fail("contact", _("Choose a contact of the customer."))


def _document_owner(actor: Any, document_class: type, candidate: Any) -> Any:
    """The owner of a new quote or order: `candidate` (the opportunity's or customer's owner) when they are
    an active colleague with sales access and the actor may see their records, else the actor."""
    if (
        candidate is None
        or not candidate.is_active
        or candidate.organization_id != actor.organization_id
        or not can(candidate, "view", document_class)
    ):
        return actor
    probe = document_class(organization_id=actor.organization_id, owner=candidate)
    return candidate if can(actor, "view", probe) else actor


def _clean_discount(data: dict[str, Any]) -> None:
    if "discount_percent" in data and data["discount_percent"] is None:
        data["discount_percent"] = ZERO


def _line_values(actor: Any, document: Any, data: dict[str, Any], *, line: Any = None) -> dict[str, Any]:
    """Fill in what a line takes from its product (SKU, name, unit, tax rate, and the customer's price when
    no unit price is given), and refuse what cannot be priced."""
    data = dict(data)
    product = data.get("product", line.product if line is not None else None)
    if "product" in data and product is not None:
        if (
            not isinstance(product, Product)
            or product.organization_id != document.organization_id
            or product.deleted_at is not None
        ):
            raise _fail("product", _("Choose a product of your catalogue."))
        changed_product = line is None or line.product_id != product.pk
        if changed_product and not product.is_active:
            raise _fail("product", _("This product is deactivated; choose an active one."))
        if changed_product:
            data["sku"] = product.sku
            if not (data.get("name") or "").strip():
                data["name"] = product.name
            if not (data.get("unit") or "").strip():
                data["unit"] = product.unit
            if data.get("tax_rate") is None:
                data["tax_rate"] = product.tax_rate
            if data.get("unit_price") is None:
                quoted = commerce_pricing.price_for(
                    product=product, customer=document.customer, currency=document.currency
                )
                if quoted is None:
                    raise _fail(
                        "unit_price",
                        _("%(product)s has no price in %(currency)s; enter a unit price.")
                        % {"product": product.name, "currency": document.currency},
                    )
                data["unit_price"] = quoted.price
    elif "product" in data:
        data["sku"] = ""
    for name in ("discount_percent", "tax_rate"):
        if name in data and data[name] is None:
            data[name] = ZERO
    if line is None:
        if not (data.get("name") or "").strip():
            raise _fail("name", _("Describe the line, or choose a product."))
        if data.get("quantity") is None:
            raise _fail("quantity", _("This field is required."))
        if data.get("unit_price") is None:
            raise _fail("unit_price", _("Enter a unit price."))
    elif "unit_price" in data and data["unit_price"] is None:
        raise _fail("unit_price", _("Enter a unit price."))
    return data


def _lines_of(document: Any) -> list[Any]:
    return list(document.lines.order_by("position", "id"))


def _store_totals(document: Any, actor: Any, lines: list[Any] | None = None) -> dict[str, Any]:
    """Recompute and store the document's totals (and a new version); return the audit diff of the totals."""
    lines = _lines_of(document) if lines is None else lines
    totals = commerce_pricing.document_totals(lines, document.discount_percent).as_fields()
    before = {name: getattr(document, name) for name in totals}
    _bump(document, actor, **totals)
    return audit.diff(before, totals)


def _line_model(document: Any) -> type:
    return QuoteLine if isinstance(document, Quote) else OrderLine


def _parent_name(document: Any) -> str:
    return "quote" if isinstance(document, Quote) else "order"


def _kind(document: Any) -> str:
    return _parent_name(document)


def _require_editable(document: Any) -> None:
    if not document.is_editable:
        if isinstance(document, Quote) and not document.is_current:
            message = _("This is an earlier revision of the quote; it cannot change any more.")
        else:
            message = _("Only a draft can be changed; this one is %(status)s.") % {
                "status": document.get_status_display()
            }
        raise ValidationFailed(message, fields={"status": [message]}, code="not_editable")


def _build_line(actor: Any, document: Any, data: dict[str, Any], position: int) -> Any:
    _check_fields(data, LINE_FIELDS)
    values = _line_values(actor, document, data)
    values.setdefault("position", position)
    line = _line_model(document)(
        organization_id=document.organization_id,
        owner_id=document.owner_id,
        created_by=actor,
        updated_by=actor,
        **{_parent_name(document): document},
        **values,
    )
    line.amount = commerce_pricing.line_amount(line.quantity, line.unit_price, line.discount_percent)
    validate(line, exclude=[*_TRUSTED, _parent_name(document), "product"])
    return line


def _line_summary(line: Any) -> dict[str, Any]:
    return {
        "name": line.name,
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "tax_rate": line.tax_rate,
        "amount": line.amount,
    }


def _next_position(document: Any) -> int:
    last = document.lines.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


@transaction.atomic
def line_add(*, actor: Any, document: Quote | Order, **data: Any) -> Any:
    """Add a line to a draft quote or order (needs `edit` on it) and recompute its totals."""
    require(actor, "edit", document)
    _require_editable(document)
    line = _build_line(actor, document, data, _next_position(document))
    line.save()
    totals = _store_totals(document, actor)
    audit.record(
        actor=actor,
        action=f"{_kind(document)}.line_add",
        target=document,
        changes={"line": _line_summary(line), **totals},
    )
    return line


@transaction.atomic
def line_update(*, actor: Any, line: Any, expected_version: int | None, data: dict[str, Any]) -> Any:
    document = line.quote if isinstance(line, QuoteLine) else line.order
    require(actor, "edit", document)
    _require_editable(document)
    _check_fields(data, LINE_FIELDS)
    _check_version(line, expected_version)
    values = _line_values(actor, document, data, line=line)
    changes = _set_and_diff(line, values, [*_TRUSTED, _parent_name(document), "product"])
    if not changes:
        return line
    before_amount = line.amount
    line.amount = commerce_pricing.line_amount(line.quantity, line.unit_price, line.discount_percent)
    if line.amount != before_amount:
        changes["amount"] = {"before": str(before_amount), "after": str(line.amount)}
    save_versioned(line, actor=actor, expected_version=expected_version, fields=list(changes))
    totals = _store_totals(document, actor)
    audit.record(
        actor=actor,
        action=f"{_kind(document)}.line_update",
        target=document,
        changes={"line": line.name, **changes, **totals},
    )
    return line


@transaction.atomic
def line_delete(*, actor: Any, line: Any, expected_version: int | None = None) -> None:
    """Remove a line from a draft (for good: the audit entry keeps what it was)."""
    document = line.quote if isinstance(line, QuoteLine) else line.order
    require(actor, "edit", document)
    _require_editable(document)
    _check_version(line, expected_version)
    summary = _line_summary(line)
    line.delete()
    totals = _store_totals(document, actor)
    audit.record(
        actor=actor, action=f"{_kind(document)}.line_delete", target=document, changes={"line": summary, **totals}
    )


def _copy_lines(actor: Any, source: Any, target: Any) -> list[Any]:
    model = _line_model(target)
    lines = [
        model(
            organization_id=target.organization_id,
            owner_id=target.owner_id,
            created_by=actor,
            updated_by=actor,
            **{_parent_name(target): target},
            position=line.position,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            tax_rate=line.tax_rate,
            amount=line.amount,
        )
        for line in _lines_of(source)
    ]
    return model.objects.bulk_create(lines)


def _build_lines(actor: Any, document: Any, lines: Iterable[dict[str, Any]]) -> list[Any]:
    """Lines of a new document, validated and priced before anything is saved (errors name the line:
    lines.2.quantity). The caller stores the totals on the document, saves it, then the lines."""
    built = []
    for position, data in enumerate(lines):
        try:
            built.append(_build_line(actor, document, dict(data), position))
        except ValidationFailed as exc:
            fields = {f"lines.{position}.{name}": messages for name, messages in exc.fields.items()}
            raise ValidationFailed(exc.message, fields=fields or {f"lines.{position}": [exc.message]}) from exc
    totals = commerce_pricing.document_totals(built, document.discount_percent)
    for name, value in totals.as_fields().items():
        setattr(document, name, value)
    return built


def _save_lines(document: Any, lines: list[Any]) -> list[Any]:
    for line in lines:
        setattr(line, _parent_name(document), document)  # now saved: the line takes its id
    return _line_model(document).objects.bulk_create(lines)


def _document_update(
    *, actor: Any, document: Any, expected_version: int | None, data: dict[str, Any], allowed: Iterable[str]
) -> dict[str, Any]:
    require(actor, "edit", document)
    _require_editable(document)
    _check_fields(data, allowed)
    _check_version(document, expected_version)
    if "currency" in data:
        data["currency"] = _check_currency(data["currency"])
        if data["currency"] != document.currency and document.lines.exists():
            raise _fail("currency", _("Remove the lines before changing the currency: their prices are in it."))
    _clean_discount(data)
    if "contact" in data:
        _check_customer_and_contact(actor, document.customer, data["contact"])
    changes = _set_and_diff(document, data, [*_TRUSTED, "customer", "contact", "opportunity", "quote"])
    if not changes:
        return {}
    save_versioned(document, actor=actor, expected_version=expected_version, fields=list(changes))
    if "discount_percent" in changes:
        changes.update(_store_totals(document, actor))
    return changes


# Quotes ------------------------------------------------------------------------------------------------------


def _check_quote_dates(quote: Quote) -> None:
    if quote.valid_until and quote.issue_date and quote.valid_until < quote.issue_date:
        raise _fail("valid_until", _("The quote cannot expire before its date."))


@transaction.atomic
def quote_create(
    *,
    actor: Any,
    customer: Any = None,
    opportunity: Any = None,
    lines: Iterable[dict[str, Any]] = (),
    **fields: Any,
) -> Quote:
    """A draft quote for `customer`, or from `opportunity` (its customer, contact, currency and owner).
    The owner is the opportunity's or customer's owner when the actor may see their records, else the
    actor. `lines` (dicts of line fields) are added in one go."""
    require(actor, "create", Quote)
    _check_fields(fields, QUOTE_FIELDS)
    if opportunity is not None:
        require(actor, "view", opportunity)
        if customer is not None and customer.pk != opportunity.customer_id:
            raise _fail("customer", _("The opportunity belongs to another customer."))
        customer = opportunity.customer
        if fields.get("contact") is None and opportunity.contact_id:
            fields["contact"] = opportunity.contact
        fields.setdefault("currency", opportunity.currency)
        if not fields.get("title"):
            fields["title"] = opportunity.name
    contact = fields.get("contact")
    _check_customer_and_contact(actor, customer, contact)
    fields["currency"] = _check_currency(fields.get("currency") or actor.organization.currency or "CNY")
    _clean_discount(fields)
    today = organization_today(actor.organization)
    if not fields.get("issue_date"):
        fields["issue_date"] = today
    if not fields.get("valid_until"):
        fields["valid_until"] = fields["issue_date"] + timedelta(days=DEFAULT_VALIDITY_DAYS)
    candidate = opportunity.owner if opportunity is not None else customer.owner
    quote = Quote(
        organization_id=actor.organization_id,
        owner=_document_owner(actor, Quote, candidate),
        created_by=actor,
        updated_by=actor,
        customer=customer,
        opportunity=opportunity,
        **fields,
    )
    validate(quote, exclude=[*_TRUSTED, "customer", "contact", "opportunity", "number"])
    _check_quote_dates(quote)
    built = _build_lines(actor, quote, lines)
    quote.number = next_number(organization_id=actor.organization_id, kind="quote", on=quote.issue_date)
    quote.save()
    created = _save_lines(quote, built)
    recorded = _recorded(quote, ("number", "customer", "opportunity", "contact", *QUOTE_FIELDS))
    recorded.update(owner=quote.owner_id, lines=len(created), total=quote.total)
    audit.record(actor=actor, action="quote.create", target=quote, changes=recorded)
    return quote


@transaction.atomic
def quote_update(*, actor: Any, quote: Quote, expected_version: int | None, data: dict[str, Any]) -> Quote:
    """Change a draft quote's header (contact, title, currency, dates, overall discount, terms, notes)."""
    if "issue_date" in data and not data["issue_date"]:
        raise _fail("issue_date", _("This field is required."))
    if "valid_until" in data and not data["valid_until"]:
        raise _fail("valid_until", _("This field is required."))
    old_dates = (quote.issue_date, quote.valid_until)
    changes = _document_update(
        actor=actor, document=quote, expected_version=expected_version, data=data, allowed=QUOTE_FIELDS
    )
    if (quote.issue_date, quote.valid_until) != old_dates:
        _check_quote_dates(quote)
    if changes:
        audit.record(actor=actor, action="quote.update", target=quote, changes=changes)
    return quote


_QUOTE_TRANSITIONS = {
    "send": ({Quote.Status.DRAFT}, Quote.Status.SENT),
    "accept": ({Quote.Status.SENT}, Quote.Status.ACCEPTED),
    "reject": ({Quote.Status.SENT}, Quote.Status.REJECTED),
    "expire": ({Quote.Status.SENT}, Quote.Status.EXPIRED),
}


def _check_transition(document: Any, allowed_from: set[str], message: str) -> None:
    """Refuse a status change from a status it does not start from; `message` takes %(status)s."""
    if document.deleted_at is not None:
        raise ValidationFailed(_("This record is in the recycle bin."), code="invalid_transition")
    if isinstance(document, Quote) and not document.is_current:
        text = _("This is an earlier revision of the quote; open the current one.")
        raise ValidationFailed(text, fields={"status": [text]}, code="invalid_transition")
    if document.status not in allowed_from:
        text = message % {"status": document.get_status_display()}
        raise ValidationFailed(text, fields={"status": [text]}, code="invalid_transition")


def _transition(
    document: Any, *, actor: Any, to: str, expected_version: int | None, action: str, extra: dict[str, Any]
) -> None:
    before = document.status
    saved = {name: getattr(document, name) for name in ("status", *extra)}
    document.status = to
    for name, value in extra.items():
        setattr(document, name, value)
    try:
        save_versioned(document, actor=actor, expected_version=expected_version, fields=["status", *extra])
    except VersionConflict:  # the caller's copy stays as it was read
        for name, value in saved.items():
            setattr(document, name, value)
        raise
    changes: dict[str, Any] = {"status": {"before": before, "after": to}}
    changes.update({name: value for name, value in extra.items() if value not in ("", None)})
    audit.record(actor=actor, action=action, target=document, changes=changes)


def _quote_email_recipient(quote: Quote, to: str | None) -> str:
    address = (to if to is not None else (quote.contact.email if quote.contact_id and quote.contact else "")).strip()
    if address:
        try:
            validate_email(address)
        except Exception as exc:
            raise _fail("to", _("Enter a valid email address.")) from exc
    return address


def _send_quote_email(*, actor: Any, quote: Quote, to: str, lines: list[Any]) -> None:
    organization = actor.organization
    with translation.override(organization.language or settings.LANGUAGE_CODE):
        context = {
            "quote": quote,
            "lines": lines,
            "organization": organization,
            "sender": actor,
            "total_text": commerce_format.money(quote.total, quote.currency),
        }
        subject = _("Quote %(number)s from %(organization)s") % {
            "number": quote.display_number,
            "organization": organization.name,
        }
        text = render_to_string("sales/commerce/email/quote.txt", context)
        html = render_to_string("sales/commerce/email/quote.html", context)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], reply_to=[actor.email] if actor.email else None
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as exc:  # the mail server refused or is unreachable: nothing was marked sent
        raise EmailFailed(
            _("The e-mail to %(to)s could not be sent (%(error)s); the quote is still a draft.")
            % {"to": to, "error": exc.__class__.__name__}
        ) from exc


@transaction.atomic
def quote_send(
    *, actor: Any, quote: Quote, expected_version: int | None = None, email: bool = True, to: str | None = None
) -> str:
    """Mark a draft quote sent and, with `email`, e-mail it to `to` (default: the quote's contact).

    Returns the address it was e-mailed to, or "" when it was only marked sent (no e-mail asked, or no
    address known). The e-mail goes out as the last step inside the transaction, not after commit: it is
    the point of the action, so a refused e-mail must leave the quote a draft and tell the user, rather
    than report a quote as sent that never left."""
    require(actor, "edit", quote)
    allowed, target = _QUOTE_TRANSITIONS["send"]
    _check_transition(quote, allowed, _("Only a draft quote can be sent; this one is %(status)s."))
    if not _lines_of(quote):
        raise ValidationFailed(_("Add at least one line before sending the quote."), code="invalid_transition")
    address = _quote_email_recipient(quote, to) if email else ""
    _transition(
        quote,
        actor=actor,
        to=target,
        expected_version=expected_version,
        action="quote.send",
        extra={"sent_at": timezone.now(), "sent_to": address},
    )
    if address:
        _send_quote_email(actor=actor, quote=quote, to=address, lines=_lines_of(quote))
    return address


def _check_not_expired(quote: Quote) -> None:
    if quote.valid_until < organization_today(quote.organization):
        message = _("This quote expired on %(date)s; revise it to send a new version.") % {
            "date": quote.valid_until.isoformat()
        }
        raise ValidationFailed(message, fields={"valid_until": [message]}, code="invalid_transition")


@dataclass(frozen=True)
class QuoteAccepted:
    """What accepting a quote did: the quote, and whether its opportunity was marked won by it.

    `opportunity_won` is True only when this acceptance moved the opportunity to a won stage;
    `opportunity_message` says what happened to the opportunity (moved, or why it was not), "" when the
    quote has none."""

    quote: Quote
    opportunity_won: bool = False
    opportunity_message: str = ""


@transaction.atomic
def quote_accept(*, actor: Any, quote: Quote, expected_version: int | None = None) -> QuoteAccepted:
    """The customer accepted a sent quote (within its validity): an order can now be made from it, and its
    opportunity, if still open, is marked won (through the opportunity service, so its stage history,
    audit entry and timeline follow). A won stage that refuses the opportunity (required fields empty, no
    won stage, no right to edit it) does not undo the acceptance: the result says why it was not moved."""
    require(actor, "edit", quote)
    allowed, target = _QUOTE_TRANSITIONS["accept"]
    _check_transition(quote, allowed, _("Only a sent quote can be accepted; this one is %(status)s."))
    _check_not_expired(quote)
    _transition(
        quote,
        actor=actor,
        to=target,
        expected_version=expected_version,
        action="quote.accept",
        extra={"accepted_at": timezone.now()},
    )
    won, message = _win_opportunity(actor=actor, quote=quote)
    return QuoteAccepted(quote=quote, opportunity_won=won, opportunity_message=message)


def _win_opportunity(*, actor: Any, quote: Quote) -> tuple[bool, str]:
    """Mark the accepted quote's opportunity won if it is open; (moved, what to tell the user)."""
    from kehu.sales.opportunity_models import Opportunity
    from kehu.sales.opportunity_services import mark_won, update_opportunity

    if not quote.opportunity_id:
        return False, ""
    opportunity = Opportunity.objects.filter(pk=quote.opportunity_id, deleted_at__isnull=True).first()
    if opportunity is None:
        return False, _("The quote's opportunity is in the recycle bin; it was not moved.")
    name = {"name": opportunity.name}
    if opportunity.status == Opportunity.Status.WON:
        return False, _("The opportunity “%(name)s” was already won.") % name
    if opportunity.status != Opportunity.Status.OPEN:
        return False, _("The opportunity “%(name)s” is closed as lost; it was not reopened.") % name
    if not can(actor, "edit", opportunity):
        return False, _("You may not edit the opportunity “%(name)s”, so it was not marked won.") % name
    reason = _("Quote %(number)s accepted") % {"number": quote.display_number}
    try:
        # A savepoint: a refused move rolls back alone and leaves the acceptance standing.
        with transaction.atomic():
            filled = opportunity.amount is None and opportunity.currency == quote.currency
            if filled:
                # The accepted quote is what the deal is worth: an opportunity without an amount takes it
                # (the won stage asks for one by default). An amount the rep entered is left as it is.
                update_opportunity(
                    actor=actor, opportunity=opportunity, expected_version=None, data={"amount": quote.total}
                )
            mark_won(actor=actor, opportunity=opportunity, reason=str(reason))
    except DomainError as exc:
        return False, _("The opportunity “%(name)s” was not marked won: %(reason)s") % {**name, "reason": exc.message}
    if filled:
        return True, _("The opportunity “%(name)s” was marked won, with the quote's total as its amount.") % name
    return True, _("The opportunity “%(name)s” was marked won.") % name


@transaction.atomic
def quote_reject(*, actor: Any, quote: Quote, expected_version: int | None = None, reason: str = "") -> Quote:
    require(actor, "edit", quote)
    allowed, target = _QUOTE_TRANSITIONS["reject"]
    _check_transition(quote, allowed, _("Only a sent quote can be rejected; this one is %(status)s."))
    reason = (reason or "").strip()
    if len(reason) > 255:
        raise _fail("reason", _("Keep the reason under 255 characters."))
    _transition(
        quote,
        actor=actor,
        to=target,
        expected_version=expected_version,
        action="quote.reject",
        extra={"rejected_at": timezone.now(), "rejection_reason": reason},
    )
    return quote


REVISABLE = {Quote.Status.SENT, Quote.Status.REJECTED, Quote.Status.EXPIRED}


@transaction.atomic
def quote_revise(*, actor: Any, quote: Quote, expected_version: int | None = None) -> Quote:
    """A new draft revision of a sent, rejected or expired quote: same number, revision + 1, the lines
    copied, dated today with the same validity period. The earlier revision stays readable as it was."""
    require(actor, "edit", quote)
    require(actor, "create", Quote)
    _check_transition(
        quote, REVISABLE, _("Only a sent, rejected or expired quote can be revised; this one is %(status)s.")
    )
    today = organization_today(quote.organization)
    validity = max((quote.valid_until - quote.issue_date).days, 0)
    latest = Quote.objects.filter(organization_id=quote.organization_id, number=quote.number).aggregate(
        last=Max("revision")
    )["last"]
    quote.is_current = False
    save_versioned(quote, actor=actor, expected_version=expected_version, fields=["is_current"])
    revision = Quote(
        organization_id=quote.organization_id,
        owner_id=quote.owner_id,
        created_by=actor,
        updated_by=actor,
        number=quote.number,
        revision=(latest or quote.revision) + 1,
        previous=quote,
        customer_id=quote.customer_id,
        contact_id=quote.contact_id,
        opportunity_id=quote.opportunity_id,
        title=quote.title,
        currency=quote.currency,
        discount_percent=quote.discount_percent,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        tax_total=quote.tax_total,
        total=quote.total,
        terms=quote.terms,
        notes=quote.notes,
        issue_date=today,
        valid_until=today + timedelta(days=validity),
    )
    revision.save()
    _copy_lines(actor, quote, revision)
    audit.record(
        actor=actor,
        action="quote.revise",
        target=revision,
        changes={"number": revision.number, "revision": revision.revision, "previous": quote.pk},
    )
    audit.record(
        actor=actor,
        action="quote.superseded",
        target=quote,
        changes={"is_current": {"before": True, "after": False}, "revision": revision.revision},
    )
    return revision


@transaction.atomic
def quote_delete(*, actor: Any, quote: Quote, expected_version: int | None = None) -> Quote:
    """To the recycle bin. Only the latest revision goes; the one before it becomes current again."""
    require(actor, "delete", quote)
    if not quote.is_current:
        message = _("Delete the latest revision of this quote first.")
        raise ValidationFailed(message, code="not_latest_revision")
    _soft_delete(quote, actor=actor, action="quote.delete", expected_version=expected_version)
    if quote.previous_id:
        Quote.objects.filter(pk=quote.previous_id, deleted_at__isnull=True).update(is_current=True)
    return quote


@transaction.atomic
def quote_restore(*, actor: Any, quote: Quote) -> Quote:
    """Back from the recycle bin; current again unless a later revision was made meanwhile."""
    require(actor, "restore", quote)
    if quote.deleted_at is None:
        return quote
    _restore(quote, actor=actor, action="quote.restore")
    same = Quote.objects.filter(organization_id=quote.organization_id, number=quote.number, deleted_at__isnull=True)
    newer = same.filter(revision__gt=quote.revision).exists()
    if not newer:
        same.exclude(pk=quote.pk).update(is_current=False)
    Quote.objects.filter(pk=quote.pk).update(is_current=not newer)
    quote.is_current = not newer
    return quote


def quotes_expire_due(*, organization_id: int | None = None, today: date | None = None) -> int:
    """Mark sent quotes whose validity ended as expired (the scheduler runs it; idempotent). `today` is
    each organisation's own date unless given. Returns how many quotes expired."""
    from kehu.accounts.models import Organization

    count = 0
    organizations = Organization.objects.order_by("pk")
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    for organization in organizations:
        day = today or organization_today(organization)
        due = Quote.objects.filter(
            organization_id=organization.pk,
            status=Quote.Status.SENT,
            is_current=True,
            deleted_at__isnull=True,
            valid_until__lt=day,
        )
        for quote in due.order_by("pk").iterator(500):
            with transaction.atomic():
                changed = Quote.objects.filter(pk=quote.pk, status=Quote.Status.SENT).update(
                    status=Quote.Status.EXPIRED, version=F("version") + 1, updated_at=timezone.now()
                )
                if changed:
                    audit.record(
                        actor=None,
                        actor_label="system",
                        action="quote.expire",
                        target=quote,
                        changes={
                            "status": {"before": Quote.Status.SENT, "after": Quote.Status.EXPIRED},
                            "valid_until": quote.valid_until,
                        },
                    )
                    count += 1
    return count


# Orders ------------------------------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, actor: Any, customer: Any, lines: Iterable[dict[str, Any]] = (), **fields: Any) -> Order:
    """A draft order entered directly for a customer (owner: the customer's owner when the actor may see
    their records, else the actor)."""
    require(actor, "create", Order)
    _check_fields(fields, ORDER_FIELDS)
    _check_customer_and_contact(actor, customer, fields.get("contact"))
    fields["currency"] = _check_currency(fields.get("currency") or actor.organization.currency or "CNY")
    _clean_discount(fields)
    if not fields.get("order_date"):
        fields["order_date"] = organization_today(actor.organization)
    order = Order(
        organization_id=actor.organization_id,
        owner=_document_owner(actor, Order, customer.owner),
        created_by=actor,
        updated_by=actor,
        customer=customer,
        **fields,
    )
    validate(order, exclude=[*_TRUSTED, "customer", "contact", "quote", "number"])
    built = _build_lines(actor, order, lines)
    order.number = next_number(organization_id=actor.organization_id, kind="order", on=order.order_date)
    order.save()
    created = _save_lines(order, built)
    recorded = _recorded(order, ("number", "customer", "contact", *ORDER_FIELDS))
    recorded.update(owner=order.owner_id, lines=len(created), total=order.total)
    audit.record(actor=actor, action="order.create", target=order, changes=recorded)
    return order


@transaction.atomic
def order_create_from_quote(*, actor: Any, quote: Quote, **fields: Any) -> Order:
    """The order of an accepted quote: its customer, contact, currency, discount, terms and lines copied,
    owned by the quote's owner. A quote gets one order only; asking again is refused."""
    require(actor, "create", Order)
    require(actor, "view", quote)
    _check_fields(fields, ("order_date", "title", "notes"))
    if quote.status != Quote.Status.ACCEPTED or quote.deleted_at is not None:
        message = _("Only an accepted quote can become an order.")
        raise ValidationFailed(message, fields={"status": [message]}, code="invalid_transition")
    existing = Order.objects.filter(organization_id=quote.organization_id, quote=quote).first()
    if existing is not None:
        message = _("This quote already has the order %(number)s.") % {"number": existing.number}
        raise ValidationFailed(message, fields={"quote": [message]}, code="quote_already_ordered")
    order_date = fields.get("order_date") or organization_today(actor.organization)
    order = Order(
        organization_id=quote.organization_id,
        owner_id=quote.owner_id,
        created_by=actor,
        updated_by=actor,
        customer_id=quote.customer_id,
        contact_id=quote.contact_id,
        quote=quote,
        title=fields.get("title") or quote.title,
        currency=quote.currency,
        discount_percent=quote.discount_percent,
        terms=quote.terms,
        notes=fields.get("notes") or "",
        order_date=order_date,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        tax_total=quote.tax_total,
        total=quote.total,
    )
    validate(order, exclude=[*_TRUSTED, "customer", "contact", "quote", "number"])
    order.number = next_number(organization_id=quote.organization_id, kind="order", on=order_date)
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError as exc:  # another request made the order meanwhile
        message = _("This quote already has an order.")
        raise ValidationFailed(message, fields={"quote": [message]}, code="quote_already_ordered") from exc
    _copy_lines(actor, quote, order)
    audit.record(
        actor=actor,
        action="order.create",
        target=order,
        changes={
            "number": order.number,
            "customer": str(order.customer),
            "quote": quote.display_number,
            "owner": order.owner_id,
            "total": order.total,
        },
    )
    return order


@transaction.atomic
def order_update(*, actor: Any, order: Order, expected_version: int | None, data: dict[str, Any]) -> Order:
    """Change a draft order's header (contact, title, currency, date, overall discount, terms, notes)."""
    if "order_date" in data and not data["order_date"]:
        raise _fail("order_date", _("This field is required."))
    changes = _document_update(
        actor=actor, document=order, expected_version=expected_version, data=data, allowed=ORDER_FIELDS
    )
    if changes:
        audit.record(actor=actor, action="order.update", target=order, changes=changes)
    return order


@transaction.atomic
def order_confirm(*, actor: Any, order: Order, expected_version: int | None = None) -> Order:
    """The customer signed: lines and totals are final, payments can be recorded."""
    require(actor, "edit", order)
    _check_transition(order, {Order.Status.DRAFT}, _("Only a draft order can be confirmed; this one is %(status)s."))
    if not _lines_of(order):
        raise ValidationFailed(_("Add at least one line before confirming the order."), code="invalid_transition")
    _transition(
        order,
        actor=actor,
        to=Order.Status.CONFIRMED,
        expected_version=expected_version,
        action="order.confirm",
        extra={"confirmed_at": timezone.now()},
    )
    return order


@transaction.atomic
def order_fulfil(*, actor: Any, order: Order, expected_version: int | None = None) -> Order:
    """Delivered. Payments may still come in after fulfilment."""
    require(actor, "edit", order)
    _check_transition(
        order, {Order.Status.CONFIRMED}, _("Only a confirmed order can be fulfilled; this one is %(status)s.")
    )
    _transition(
        order,
        actor=actor,
        to=Order.Status.FULFILLED,
        expected_version=expected_version,
        action="order.fulfil",
        extra={"fulfilled_at": timezone.now()},
    )
    return order


@transaction.atomic
def order_cancel(*, actor: Any, order: Order, expected_version: int | None = None) -> Order:
    """Cancel a draft or confirmed order; refused while payments are recorded on it (remove them first)."""
    require(actor, "edit", order)
    _check_transition(
        order,
        {Order.Status.DRAFT, Order.Status.CONFIRMED},
        _("Only a draft or confirmed order can be cancelled; this one is %(status)s."),
    )
    if order.received_total > 0:
        message = _("Payments are recorded on this order; remove them before cancelling it.")
        raise ValidationFailed(message, fields={"status": [message]}, code="has_payments")
    _transition(
        order,
        actor=actor,
        to=Order.Status.CANCELLED,
        expected_version=expected_version,
        action="order.cancel",
        extra={"cancelled_at": timezone.now()},
    )
    return order


@transaction.atomic
def order_delete(*, actor: Any, order: Order, expected_version: int | None = None) -> Order:
    require(actor, "delete", order)
    if order.received_total > 0:
        message = _("Payments are recorded on this order; remove them before deleting it.")
        raise ValidationFailed(message, code="has_payments")
    _soft_delete(order, actor=actor, action="order.delete", expected_version=expected_version)
    return order


@transaction.atomic
def order_restore(*, actor: Any, order: Order) -> Order:
    require(actor, "restore", order)
    if order.deleted_at is not None:
        _restore(order, actor=actor, action="order.restore")
    return order


# Payments and planned instalments ---------------------------------------------------------------------------


def _lock_order(order: Order) -> Order:
    """Take the order row's write lock (an UPDATE that changes nothing works on PostgreSQL and SQLite alike)
    and re-read it: payments of one order are checked against its balance one at a time."""
    Order.objects.filter(pk=order.pk).update(received_total=F("received_total"))
    fresh = Order.objects.get(pk=order.pk)
    order.received_total, order.total, order.status, order.version = (
        fresh.received_total,
        fresh.total,
        fresh.status,
        fresh.version,
    )
    order.deleted_at = fresh.deleted_at
    return order


def _received_sum(order: Order) -> Decimal:
    live = Payment.objects.filter(organization_id=order.organization_id, order=order, deleted_at__isnull=True)
    return live.aggregate(total=Sum("amount"))["total"] or ZERO


def _check_payment(order: Order, payment: Payment, *, already: Decimal) -> None:
    """`already`: what the order has received without this payment."""
    if not order.accepts_payments:
        message = _("Payments can be recorded on confirmed or fulfilled orders only; this one is %(status)s.") % {
            "status": order.get_status_display()
        }
        raise ValidationFailed(message, fields={"order": [message]}, code="invalid_transition")
    if payment.amount is None or payment.amount <= 0:
        raise _fail("amount", _("Enter an amount greater than zero."))
    outstanding = order.total - already
    if payment.amount > outstanding:
        # Refused, not merely warned: an amount over the balance is nearly always a typo (a digit too
        # many), and real prepayments belong to the next order, not to this one's balance.
        message = _("This is more than the outstanding balance of %(outstanding)s.") % {
            "outstanding": commerce_format.money(max(outstanding, ZERO), order.currency)
        }
        raise ValidationFailed(message, fields={"amount": [message]}, code="exceeds_outstanding")
    if payment.received_on and payment.received_on > organization_today(order.organization):
        raise _fail("received_on", _("A payment cannot be received in the future."))


def _store_received(order: Order, actor: Any) -> dict[str, Any]:
    before = order.received_total
    after = _received_sum(order)
    _bump(order, actor, received_total=after)
    return {"received_total": {"before": str(before), "after": str(after)}}


@transaction.atomic
def payment_create(*, actor: Any, order: Order, **fields: Any) -> Payment:
    """Record a payment received against a confirmed or fulfilled order. Refused when it is not positive
    or exceeds the outstanding balance."""
    _check_fields(fields, PAYMENT_FIELDS)
    payment = Payment(
        organization_id=order.organization_id,
        owner_id=order.owner_id,
        created_by=actor,
        updated_by=actor,
        order=order,
        **fields,
    )
    require(actor, "create", payment)
    if not payment.received_on:
        payment.received_on = organization_today(order.organization)
    _lock_order(order)
    if payment.amount is None or Decimal(payment.amount) <= 0:
        raise _fail("amount", _("Enter an amount greater than zero."))
    validate(payment, exclude=[*_TRUSTED, "order"])
    _check_payment(order, payment, already=_received_sum(order))
    payment.save()
    received = _store_received(order, actor)
    audit.record(
        actor=actor,
        action="payment.create",
        target=payment,
        changes={**_recorded(payment, PAYMENT_FIELDS), "order": order.number, **received},
    )
    return payment


@transaction.atomic
def payment_update(*, actor: Any, payment: Payment, expected_version: int | None, data: dict[str, Any]) -> Payment:
    require(actor, "edit", payment)
    _check_fields(data, PAYMENT_FIELDS)
    _check_version(payment, expected_version)
    order = _lock_order(payment.order)
    if "amount" in data and (data["amount"] is None or Decimal(data["amount"]) <= 0):
        raise _fail("amount", _("Enter an amount greater than zero."))
    changes = _set_and_diff(payment, data, [*_TRUSTED, "order"])
    if not changes:
        return payment
    others = _received_sum(order) - (
        Payment.objects.filter(pk=payment.pk, deleted_at__isnull=True).values_list("amount", flat=True).first() or ZERO
    )
    _check_payment(order, payment, already=others)
    save_versioned(payment, actor=actor, expected_version=expected_version, fields=list(changes))
    if "amount" in changes:
        changes.update(_store_received(order, actor))
    audit.record(actor=actor, action="payment.update", target=payment, changes=changes)
    return payment


@transaction.atomic
def payment_delete(*, actor: Any, payment: Payment, expected_version: int | None = None) -> Payment:
    """To the recycle bin; the order's received total goes down by its amount."""
    require(actor, "delete", payment)
    order = _lock_order(payment.order)
    _soft_delete(payment, actor=actor, action="payment.delete", expected_version=expected_version)
    _store_received(order, actor)
    return payment


@transaction.atomic
def payment_restore(*, actor: Any, payment: Payment) -> Payment:
    """Back from the recycle bin, if the order still accepts it (its balance is checked again)."""
    require(actor, "restore", payment)
    if payment.deleted_at is None:
        return payment
    order = _lock_order(payment.order)
    _check_payment(order, payment, already=_received_sum(order))
    _restore(payment, actor=actor, action="payment.restore")
    _store_received(order, actor)
    return payment


def _check_instalment(order: Order, instalment: Instalment, *, planned_without: Decimal) -> None:
    if order.status == Order.Status.CANCELLED or order.deleted_at is not None:
        message = _("A cancelled order has no payment plan.")
        raise ValidationFailed(message, fields={"order": [message]}, code="invalid_transition")
    if instalment.amount is None or instalment.amount <= 0:
        raise _fail("amount", _("Enter an amount greater than zero."))
    if planned_without + instalment.amount > order.total:
        message = _("The planned instalments would come to more than the order total of %(total)s.") % {
            "total": commerce_format.money(order.total, order.currency)
        }
        raise ValidationFailed(message, fields={"amount": [message]}, code="exceeds_total")


def _planned_sum(order: Order, exclude: Any = None) -> Decimal:
    qs = Instalment.objects.filter(organization_id=order.organization_id, order=order, deleted_at__isnull=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.aggregate(total=Sum("amount"))["total"] or ZERO


@transaction.atomic
def instalment_create(*, actor: Any, order: Order, **fields: Any) -> Instalment:
    """Plan an instalment 回款计划 of an order (needs `edit` on the order); all instalments together may not
    exceed the order total."""
    require(actor, "edit", order)
    _check_fields(fields, INSTALMENT_FIELDS)
    if not fields.get("due_date"):
        raise _fail("due_date", _("This field is required."))
    if fields.get("amount") is None or Decimal(fields["amount"]) <= 0:
        raise _fail("amount", _("Enter an amount greater than zero."))
    _lock_order(order)
    instalment = Instalment(
        organization_id=order.organization_id,
        owner_id=order.owner_id,
        created_by=actor,
        updated_by=actor,
        order=order,
        **fields,
    )
    validate(instalment, exclude=[*_TRUSTED, "order"])
    _check_instalment(order, instalment, planned_without=_planned_sum(order))
    instalment.save()
    audit.record(
        actor=actor,
        action="instalment.create",
        target=instalment,
        changes={**_recorded(instalment, INSTALMENT_FIELDS), "order": order.number},
    )
    return instalment


@transaction.atomic
def instalment_update(
    *, actor: Any, instalment: Instalment, expected_version: int | None, data: dict[str, Any]
) -> Instalment:
    order = instalment.order
    require(actor, "edit", order)
    _check_fields(data, INSTALMENT_FIELDS)
    _check_version(instalment, expected_version)
    if "due_date" in data and not data["due_date"]:
        raise _fail("due_date", _("This field is required."))
    if "amount" in data and (data["amount"] is None or Decimal(data["amount"]) <= 0):
        raise _fail("amount", _("Enter an amount greater than zero."))
    _lock_order(order)
    changes = _set_and_diff(instalment, data, [*_TRUSTED, "order"])
    if not changes:
        return instalment
    _check_instalment(order, instalment, planned_without=_planned_sum(order, exclude=instalment))
    save_versioned(instalment, actor=actor, expected_version=expected_version, fields=list(changes))
    audit.record(actor=actor, action="instalment.update", target=instalment, changes=changes)
    return instalment


@transaction.atomic
def instalment_delete(*, actor: Any, instalment: Instalment, expected_version: int | None = None) -> None:
    """Remove a planned instalment (for good: a plan, not money; the audit entry keeps it)."""
    require(actor, "edit", instalment.order)
    _check_version(instalment, expected_version)
    audit.record(
        actor=actor,
        action="instalment.delete",
        target=instalment,
        changes={"due_date": instalment.due_date, "amount": instalment.amount, "order": instalment.order.number},
    )
    instalment.delete()


# Customers merge -----------------------------------------------------------------------------------------------


def move_to_survivor(*, actor: Any, survivor: Any, others: list[Any]) -> int:
    """Merge handler (customers/merge.py): quotes and orders of the merged customers now belong to the
    survivor; their lines, instalments and payments follow their documents."""
    org, now = survivor.organization_id, timezone.now()
    moved = Quote.objects.filter(organization_id=org, customer__in=others).update(customer=survivor, updated_at=now)
    return moved + Order.objects.filter(organization_id=org, customer__in=others).update(
        customer=survivor, updated_at=now
    )
