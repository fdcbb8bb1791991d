"""Every read of products, price lists, quotes, orders, payments and instalments. Each starts from
`visible_to(actor)`: a record outside the actor's organisation or data scope is never returned, and asking
for it by id is NotFound. Lists are keyset-paginated on a whitelist of sort columns (no COUNT)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Case, Count, DateTimeField, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kehu.core.errors import NotFound, ValidationFailed
from kehu.customers import timeline
from kehu.sales.commerce_format import money
from kehu.sales.commerce_models import (
    ZERO,
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

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX_LENGTH = 100
PAYING = (Order.Status.CONFIRMED, Order.Status.FULFILLED)


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


def _pk(value: Any) -> Any:
    return getattr(value, "pk", value)


# Keyset pagination -------------------------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Any]
    ordering: str
    next_cursor: str | None = None
    previous_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def parse_ordering(value: str | None, allowed: tuple[str, ...], default: str) -> tuple[str, bool]:
    value = (value or default).strip()
    name = value.removeprefix("-")
    if name not in allowed:
        message = _("Sort by one of: %(fields)s (prefix - for descending).") % {"fields": ", ".join(allowed)}
        raise ValidationFailed(message, fields={"ordering": [message]})
    return name, value.startswith("-")


def _encode(direction: str, ordering: str, value: Any, pk: int) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps({"d": direction, "o": ordering, "v": value, "i": pk}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str, model: type, name: str) -> tuple[str, Any, int]:
    message = _("This page link is no longer valid; start again from the first page.")
    kind = model._meta.get_field(name).get_internal_type()
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, value, pk = payload["d"], payload["v"], int(payload["i"])
        if direction not in ("n", "p") or payload["o"] != ordering or not isinstance(value, str) or "\x00" in value:
            raise ValueError("cursor of another list")
        if kind == "DateTimeField":
            value = datetime.fromisoformat(value)
        elif kind == "DateField":
            value = date.fromisoformat(value)
        elif kind == "DecimalField":
            value = Decimal(value)
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed(message, fields={"cursor": [message]}) from exc
    return direction, value, pk


def keyset_page(
    qs: QuerySet, *, ordering: str | None, allowed: tuple[str, ...], default: str, cursor: str | None, limit: Any
) -> Page:
    """Rows after (or before, for a "previous" cursor) the cursor's row, by `ordering` then id."""
    name, descending = parse_ordering(ordering, allowed, default)
    ordering = f"-{name}" if descending else name
    try:
        limit = max(1, min(int(limit or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
    backwards = False
    fetch_descending = descending
    if cursor:
        direction, value, pk = _decode(cursor, ordering, qs.model, name)
        backwards = direction == "p"
        fetch_descending = descending != backwards
        op = "lt" if fetch_descending else "gt"
        qs = qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk}))
    order = (f"-{name}", "-pk") if fetch_descending else (name, "pk")
    rows = list(qs.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    page = Page(items=rows, ordering=ordering)
    if rows:
        first, last = rows[0], rows[-1]
        if backwards:
            page.next_cursor = _encode("n", ordering, getattr(last, name), last.pk)
            page.previous_cursor = _encode("p", ordering, getattr(first, name), first.pk) if has_more else None
        else:
            page.next_cursor = _encode("n", ordering, getattr(last, name), last.pk) if has_more else None
            page.previous_cursor = _encode("p", ordering, getattr(first, name), first.pk) if cursor else None
    return page


def _search(value: Any) -> str:
    return str(value or "").strip()[:SEARCH_MAX_LENGTH]


# Products and price lists -------------------------------------------------------------------------------------

PRODUCT_ORDERING = ("name", "sku", "price", "updated_at")


def product_list_for(
    *, actor: Any, search: str = "", active: bool | None = None, currency: str = ""
) -> QuerySet[Product]:
    qs = Product.objects.visible_to(actor)
    search = _search(search)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(sku__icontains=search))
    if active is not None:
        qs = qs.filter(is_active=active)
    if currency:
        qs = qs.filter(currency=currency.upper())
    return qs


def product_get_for(*, actor: Any, pk: Any) -> Product:
    return _get(Product.objects.visible_to(actor), pk)


def product_deleted_get_for(*, actor: Any, pk: Any) -> Product:
    return _get(Product.objects.in_recycle_bin_for(actor), pk)


def product_choices_for(*, actor: Any, include: Any = None) -> list[Product]:
    """Active products for a line's product picker (plus `include`, a line's current product)."""
    qs = Product.objects.visible_to(actor).filter(Q(is_active=True) | Q(pk=_pk(include) or 0))
    return list(qs.order_by("name", "pk")[:1000])


def price_list_list_for(*, actor: Any) -> QuerySet[PriceList]:
    return PriceList.objects.visible_to(actor).annotate(item_count=Count("items"))


def price_lists_with_items_for(*, actor: Any) -> QuerySet[PriceList]:
    """Price lists with their prices and products loaded (three queries for any number of lists)."""
    items = PriceListItem.objects.filter(product__deleted_at__isnull=True).select_related("product")
    return PriceList.objects.visible_to(actor).prefetch_related(
        Prefetch("items", queryset=items.order_by("product__name", "product_id"))
    )


def price_list_get_for(*, actor: Any, pk: Any) -> PriceList:
    return _get(PriceList.objects.visible_to(actor), pk)


def price_list_deleted_get_for(*, actor: Any, pk: Any) -> PriceList:
    return _get(PriceList.objects.in_recycle_bin_for(actor), pk)


def price_list_items_for(*, actor: Any, price_list: PriceList) -> QuerySet[PriceListItem]:
    if price_list.organization_id != actor.organization_id:
        raise NotFound()
    return (
        PriceListItem.objects.filter(organization_id=actor.organization_id, price_list=price_list)
        .filter(product__deleted_at__isnull=True)
        .select_related("product")
        .order_by("product__name", "product_id")
    )


# Quotes ------------------------------------------------------------------------------------------------------

QUOTE_ORDERING = ("updated_at", "created_at", "number", "total", "valid_until")
DOCUMENT_DEFAULT_ORDERING = "-updated_at"


@dataclass(frozen=True)
class DocumentFilters:
    search: str = ""
    status: str = ""
    customer: int | None = None
    owner: int | None = None
    opportunity: int | None = None
    all_revisions: bool = False

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> DocumentFilters:
        data = data or {}
        values = {name: _pk(data[name]) for name in cls.__dataclass_fields__ if data.get(name) not in (None, "")}
        return cls(**values)


# "Q-2026-0001 v2", as a revision is displayed, searches for its number.
_REVISION_SUFFIX = re.compile(r"^([A-Za-z]+-\d{4}-\d+)\s*v\d+$")


def document_search_q(query: str) -> Q | None:
    """A fragment of a quote's or order's number (as displayed, "Q-2026-0001 v2" included), title or customer
    name (the lists' `search` and the search box); None for an empty query."""
    search = _REVISION_SUFFIX.sub(r"\1", _search(query))
    if not search:
        return None
    return Q(number__icontains=search) | Q(title__icontains=search) | Q(customer__name__icontains=search)


def _document_filters(qs: QuerySet, filters: DocumentFilters) -> QuerySet:
    search = document_search_q(filters.search)
    if search is not None:
        qs = qs.filter(search)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.customer:
        qs = qs.filter(customer_id=filters.customer)
    if filters.owner:
        qs = qs.filter(owner_id=filters.owner)
    return qs


def quote_queryset_for(*, actor: Any, filters: DocumentFilters | dict | None = None) -> QuerySet[Quote]:
    if not isinstance(filters, DocumentFilters):
        filters = DocumentFilters.from_mapping(filters)
    qs = _document_filters(Quote.objects.visible_to(actor), filters)
    if filters.opportunity:
        qs = qs.filter(opportunity_id=filters.opportunity)
    if not filters.all_revisions:
        qs = qs.filter(is_current=True)
    return qs.select_related("customer", "owner", "contact", "opportunity")


def quote_list_for(
    *,
    actor: Any,
    filters: DocumentFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: Any = DEFAULT_PAGE_SIZE,
) -> Page:
    return keyset_page(
        quote_queryset_for(actor=actor, filters=filters),
        ordering=ordering,
        allowed=QUOTE_ORDERING,
        default=DOCUMENT_DEFAULT_ORDERING,
        cursor=cursor,
        limit=limit,
    )


def _lines_prefetch(model: type) -> Prefetch:
    return Prefetch("lines", queryset=model.objects.select_related("product").order_by("position", "id"))


def quote_get_for(*, actor: Any, pk: Any) -> Quote:
    qs = Quote.objects.visible_to(actor).select_related(
        "customer", "contact", "owner__team", "opportunity", "created_by", "organization"
    )
    return _get(qs.prefetch_related(_lines_prefetch(QuoteLine)), pk)


def quote_deleted_get_for(*, actor: Any, pk: Any) -> Quote:
    return _get(Quote.objects.in_recycle_bin_for(actor).select_related("owner__team", "customer"), pk)


def quote_revisions_for(*, actor: Any, quote: Quote) -> list[Quote]:
    """Every revision of the quote's number the actor may see, newest first."""
    qs = Quote.objects.visible_to(actor).filter(number=quote.number)
    return list(qs.order_by("-revision").only("pk", "number", "revision", "status", "total", "currency", "is_current"))


def quote_line_list_for(*, actor: Any, quote: Any = None) -> QuerySet[QuoteLine]:
    qs = QuoteLine.objects.visible_to(actor).select_related("quote__owner__team", "product")
    if quote is not None:
        qs = qs.filter(quote_id=_pk(quote))
    return qs


def quote_line_get_for(*, actor: Any, pk: Any) -> QuoteLine:
    return _get(quote_line_list_for(actor=actor).select_related("quote__customer"), pk)


def opportunity_for_quote_get_for(*, actor: Any, pk: Any) -> Any:
    """An opportunity a quote can be made from (the opportunities module owns the rest of their reads)."""
    from kehu.sales.models import Opportunity

    return _get(Opportunity.objects.visible_to(actor).select_related("customer", "contact", "owner__team"), pk)


def order_of_quote_for(*, actor: Any, quote: Quote) -> Order | None:
    return Order.objects.visible_to(actor).filter(quote=quote).first()


# Orders ------------------------------------------------------------------------------------------------------

ORDER_ORDERING = ("updated_at", "created_at", "number", "total", "order_date")


def order_queryset_for(*, actor: Any, filters: DocumentFilters | dict | None = None) -> QuerySet[Order]:
    if not isinstance(filters, DocumentFilters):
        filters = DocumentFilters.from_mapping(filters)
    qs = _document_filters(Order.objects.visible_to(actor), filters)
    return qs.select_related("customer", "owner", "contact", "quote")


def order_list_for(
    *,
    actor: Any,
    filters: DocumentFilters | dict | None = None,
    ordering: str | None = None,
    cursor: str | None = None,
    limit: Any = DEFAULT_PAGE_SIZE,
) -> Page:
    return keyset_page(
        order_queryset_for(actor=actor, filters=filters),
        ordering=ordering,
        allowed=ORDER_ORDERING,
        default=DOCUMENT_DEFAULT_ORDERING,
        cursor=cursor,
        limit=limit,
    )


def order_get_for(*, actor: Any, pk: Any) -> Order:
    qs = Order.objects.visible_to(actor).select_related(
        "customer", "contact", "owner__team", "quote", "created_by", "organization"
    )
    return _get(qs.prefetch_related(_lines_prefetch(OrderLine)), pk)


def order_deleted_get_for(*, actor: Any, pk: Any) -> Order:
    return _get(Order.objects.in_recycle_bin_for(actor).select_related("owner__team", "customer"), pk)


def order_line_list_for(*, actor: Any, order: Any = None) -> QuerySet[OrderLine]:
    qs = OrderLine.objects.visible_to(actor).select_related("order__owner__team", "product")
    if order is not None:
        qs = qs.filter(order_id=_pk(order))
    return qs


def order_line_get_for(*, actor: Any, pk: Any) -> OrderLine:
    return _get(order_line_list_for(actor=actor).select_related("order__customer"), pk)


@dataclass(frozen=True)
class CustomerTotals:
    """What a customer ordered (confirmed and fulfilled orders), has paid and still owes, in one currency."""

    currency: str
    orders: int
    ordered: Decimal
    received: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.ordered - self.received, ZERO)


def customer_totals_for(*, actor: Any, customer: Any) -> list[CustomerTotals]:
    """The customer's totals per currency, over the orders the actor may see (one query)."""
    rows = (
        Order.objects.visible_to(actor)
        .filter(customer_id=_pk(customer), status__in=PAYING)
        .order_by()
        .values("currency")
        .annotate(orders=Count("id"), ordered=Sum("total"), received=Sum("received_total"))
        .order_by("currency")
    )
    return [
        CustomerTotals(
            currency=row["currency"],
            orders=row["orders"],
            ordered=row["ordered"] or ZERO,
            received=row["received"] or ZERO,
        )
        for row in rows
    ]


# Payments and instalments -------------------------------------------------------------------------------------

PAYMENT_ORDERING = ("received_on", "amount", "created_at")
INSTALMENT_ORDERING = ("due_date", "amount")


def payment_list_for(
    *, actor: Any, order: Any = None, customer: Any = None, method: str = "", search: str = ""
) -> QuerySet[Payment]:
    qs = Payment.objects.visible_to(actor).select_related("order__customer", "order__owner", "created_by")
    if order is not None:
        qs = qs.filter(order_id=_pk(order))
    if customer is not None:
        qs = qs.filter(order__customer_id=_pk(customer))
    if method:
        qs = qs.filter(method=method)
    search = _search(search)
    if search:
        qs = qs.filter(
            Q(order__number__icontains=search)
            | Q(reference__icontains=search)
            | Q(order__customer__name__icontains=search)
        )
    return qs


def payment_get_for(*, actor: Any, pk: Any) -> Payment:
    return _get(Payment.objects.visible_to(actor).select_related("order__owner__team", "order__customer"), pk)


def payment_deleted_get_for(*, actor: Any, pk: Any) -> Payment:
    return _get(Payment.objects.in_recycle_bin_for(actor).select_related("order__owner__team", "order__customer"), pk)


def _with_coverage(qs: QuerySet[Instalment]) -> QuerySet[Instalment]:
    """Each instalment with `planned_through`: the order's planned amounts up to and including it (in due-date
    order). The order's received total covers the instalments in that order, so this one is covered by
    received − (planned_through − amount), between 0 and its amount."""
    through = (
        Instalment.objects.filter(order_id=OuterRef("order_id"), deleted_at__isnull=True)
        .filter(Q(due_date__lt=OuterRef("due_date")) | Q(due_date=OuterRef("due_date"), pk__lte=OuterRef("pk")))
        .order_by()
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return qs.annotate(planned_through=Subquery(through))


def instalment_list_for(
    *,
    actor: Any,
    order: Any = None,
    customer: Any = None,
    overdue: bool = False,
    today: date | None = None,
) -> QuerySet[Instalment]:
    """Planned instalments with their coverage; `overdue`: past due, not covered by the payments received,
    on a confirmed or fulfilled order."""
    qs = _with_coverage(Instalment.objects.visible_to(actor)).select_related("order__customer", "order__owner")
    if order is not None:
        qs = qs.filter(order_id=_pk(order))
    if customer is not None:
        qs = qs.filter(order__customer_id=_pk(customer))
    if overdue:
        from kehu.sales.commerce_services import organization_today

        day = today or organization_today(actor.organization)
        qs = qs.filter(due_date__lt=day, order__status__in=PAYING, planned_through__gt=F("order__received_total"))
    return qs


def instalment_get_for(*, actor: Any, pk: Any) -> Instalment:
    qs = _with_coverage(Instalment.objects.visible_to(actor)).select_related("order__owner__team", "order__customer")
    return _get(qs, pk)


@dataclass(frozen=True)
class InstalmentState:
    covered: Decimal
    status: str  # "paid", "partly_paid", "overdue", "due"

    @property
    def label(self) -> str:
        return str(INSTALMENT_STATUS_LABELS[self.status])

    @property
    def is_overdue(self) -> bool:
        return self.status == "overdue"


INSTALMENT_STATUS_LABELS = {
    "paid": gettext_lazy("Paid"),
    "partly_paid": gettext_lazy("Partly paid"),
    "overdue": gettext_lazy("Overdue"),
    "due": pgettext_lazy("instalment", "Due"),
}


def instalment_state(instalment: Instalment, *, today: date) -> InstalmentState:
    """Needs `planned_through` (from instalment_list_for / instalment_get_for) and the order loaded."""
    order = instalment.order
    planned_before = (instalment.planned_through or instalment.amount) - instalment.amount
    covered = min(max(order.received_total - planned_before, ZERO), instalment.amount)
    if covered >= instalment.amount:
        status = "paid"
    elif instalment.due_date < today and order.status in PAYING:
        status = "overdue"
    elif covered > 0:
        status = "partly_paid"
    else:
        status = "due"
    return InstalmentState(covered=covered, status=status)


# Recycle bin -------------------------------------------------------------------------------------------------

RECYCLE_BIN_LIMIT = 100


def recycle_bin_for(*, actor: Any) -> dict[str, list[Any]]:
    """What the actor may restore, newest deletion first, per record type."""
    limit = RECYCLE_BIN_LIMIT
    return {
        "products": list(Product.objects.in_recycle_bin_for(actor).order_by("-deleted_at", "-pk")[:limit]),
        "price_lists": list(PriceList.objects.in_recycle_bin_for(actor).order_by("-deleted_at", "-pk")[:limit]),
        "quotes": list(
            Quote.objects.in_recycle_bin_for(actor).select_related("customer").order_by("-deleted_at", "-pk")[:limit]
        ),
        "orders": list(
            Order.objects.in_recycle_bin_for(actor).select_related("customer").order_by("-deleted_at", "-pk")[:limit]
        ),
        "payments": list(
            Payment.objects.in_recycle_bin_for(actor)
            .select_related("order__customer")
            .order_by("-deleted_at", "-pk")[:limit]
        ),
    }


# Customer timeline -------------------------------------------------------------------------------------------


def _before(qs: QuerySet, field_name: str, before: datetime | None) -> QuerySet:
    qs = qs.filter(**{f"{field_name}__isnull": False})
    if before is not None:
        qs = qs.filter(**{f"{field_name}__lt": before})
    return qs.order_by(f"-{field_name}", "-pk")


_QUOTE_EVENTS = ("sent_at", "accepted_at", "rejected_at")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _quotes_for_timeline(quotes: QuerySet, before: datetime | None, limit: int) -> list[Any]:
    """The `limit` quotes whose newest event (sent, accepted, rejected; before `before`) is newest, in one
    query. Enough for the newest `limit` events: a quote left out has `limit` newer quotes ahead of it, each
    with a newer event than any of its own."""
    happened = Q()
    latest = []
    for name in _QUOTE_EVENTS:
        if before is None:
            happened |= Q(**{f"{name}__isnull": False})
            at = F(name)
        else:
            happened |= Q(**{f"{name}__lt": before})
            at = Case(When(**{f"{name}__lt": before}, then=F(name)))
        # Coalesce: SQLite's MAX() of several values is NULL when one of them is.
        latest.append(Coalesce(at, Value(_LONG_AGO), output_field=DateTimeField()))
    rows = quotes.filter(happened).annotate(timeline_latest=Greatest(*latest)).order_by("-timeline_latest", "-pk")
    return list(rows[:limit])


def commerce_timeline(
    *, actor: Any, customer: Any, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """Quotes sent, accepted and rejected, orders created (with what is paid and outstanding now) and
    payments received, newest first: three queries whatever the history's length. The timeline registers
    its two halves (quote_timeline, order_timeline), each skipped when the customer has none of its rows."""
    items = [
        *quote_timeline(actor=actor, customer=customer, limit=limit, before=before),
        *order_timeline(actor=actor, customer=customer, limit=limit, before=before),
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def quote_rows(organization_id: Any, customer_id: Any) -> QuerySet:
    """What quote_timeline can show at most (timeline.register's `exists`): the customer's live quotes."""
    return Quote.objects.filter(organization_id=organization_id, customer_id=customer_id, deleted_at__isnull=True)


def order_rows(organization_id: Any, customer_id: Any) -> QuerySet:
    """What order_timeline can show at most: the customer's orders, deleted ones too (their payments)."""
    return Order.objects.filter(organization_id=organization_id, customer_id=customer_id)


def quote_timeline(
    *, actor: Any, customer: Any, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """Quotes sent, accepted and rejected: one query."""
    items = []
    quotes = _quotes_for_timeline(Quote.objects.visible_to(actor).filter(customer_id=customer.pk), before, limit)

    def shown(at: datetime | None) -> bool:
        return at is not None and (before is None or at < before)

    for quote in quotes:
        number = {"number": quote.display_number}
        events = []  # (at, kind, icon, title, body) of what happened to the quote
        if shown(quote.sent_at):
            title = _("Sent the quote %(number)s") % number
            if quote.sent_to:
                title = _("Sent the quote %(number)s to %(email)s") % {**number, "email": quote.sent_to}
            body = _("Total %(total)s, valid until %(date)s") % {
                "total": money(quote.total, quote.currency),
                "date": quote.valid_until.isoformat(),
            }
            events.append((quote.sent_at, "quote.sent", "send", title, body))
        if shown(quote.accepted_at):
            title = _("The customer accepted the quote %(number)s") % number
            body = _("Total %(total)s") % {"total": money(quote.total, quote.currency)}
            events.append((quote.accepted_at, "quote.accepted", "hand-thumbs-up", title, body))
        if shown(quote.rejected_at):
            title = _("The customer rejected the quote %(number)s") % number
            events.append((quote.rejected_at, "quote.rejected", "hand-thumbs-down", title, quote.rejection_reason))
        items.extend(
            timeline.TimelineItem(
                at=at, kind=kind, title=title, body=body, url=quote.get_absolute_url(), icon=icon, module="sales"
            )
            for at, kind, icon, title, body in events
        )
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def order_timeline(
    *, actor: Any, customer: Any, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """Orders created (with what is paid and outstanding now) and payments received: two queries."""
    items = []
    orders = Order.objects.visible_to(actor).filter(customer_id=customer.pk).select_related("created_by")
    for order in _before(orders, "created_at", before)[:limit]:
        body = _("%(status)s · total %(total)s · received %(received)s · outstanding %(outstanding)s") % {
            "status": order.get_status_display(),
            "total": money(order.total, order.currency),
            "received": money(order.received_total, order.currency),
            "outstanding": money(order.outstanding, order.currency),
        }
        items.append(
            timeline.TimelineItem(
                at=order.created_at,
                kind="order.created",
                title=_("Order %(number)s created") % {"number": order.number},
                actor=str(order.created_by) if order.created_by else "",
                body=body,
                url=order.get_absolute_url(),
                icon="receipt",
                module="sales",
            )
        )
    payments = (
        Payment.objects.visible_to(actor).filter(order__customer_id=customer.pk).select_related("order", "created_by")
    )
    for payment in _before(payments, "created_at", before)[:limit]:
        items.append(
            timeline.TimelineItem(
                at=payment.created_at,
                kind="payment.received",
                title=_("Payment of %(amount)s received") % {"amount": money(payment.amount, payment.order.currency)},
                actor=str(payment.created_by) if payment.created_by else "",
                body=_("Order %(number)s · %(method)s · received on %(date)s")
                % {
                    "number": payment.order.number,
                    "method": payment.get_method_display(),
                    "date": payment.received_on.isoformat(),
                },
                url=payment.order.get_absolute_url(),
                icon="cash-coin",
                module="sales",
            )
        )
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def orders_of_customer_url(customer: Any) -> str:
    return f"{reverse('sales:order_list')}?customer={customer.pk}"
