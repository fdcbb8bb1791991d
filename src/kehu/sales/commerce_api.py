"""/api/v1/products/, price-lists/, quotes/, quote-lines/, orders/, order-lines/, payments/, instalments/
(collected by sales/api.py).

Thin by rule: an input serializer parses, a service writes (it checks the permission and records the audit
entry), a selector reads (from `visible_to(actor)`), an output serializer renders. Records outside the
actor's organisation or scope are 404 because `get_object` reads through the selector, and ids in the
input (customer, contact, opportunity, product, quote, order) are resolved the same way. Money is a
decimal string ("1234.50"); PATCH and the status actions take the `version` you read (409 when stale).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.errors import ValidationFailed
from kehu.core.viewsets import ScopedViewSet
from kehu.customers import selectors as customer_selectors
from kehu.sales import commerce_pricing, commerce_selectors, commerce_services
from kehu.sales.commerce_models import (
    Instalment,
    Order,
    OrderLine,
    Payment,
    PriceList,
    Product,
    Quote,
    QuoteLine,
)
from kehu.sales.models import MODULE


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request, data: Any = None) -> dict[str, Any]:
    serializer = serializer_class(data=request.data if data is None else data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def _percent(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, **kwargs)


def _all_optional(serializer: serializers.Serializer) -> None:
    for name, field in serializer.fields.items():
        if name != "version":
            field.required = False


VERSION_HELP = "The version you read; a stale one answers 409 version_conflict."


class CommerceRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CommerceUserRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class CommerceNumberRef(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(source="display_number")


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, help_text=VERSION_HELP + " Optional.")


# Products ------------------------------------------------------------------------------------------------------


class ProductOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    price = _money()
    currency = serializers.CharField()
    tax_rate = _percent()
    is_active = serializers.BooleanField()
    description = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProductInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    price = _money(min_value=0)
    currency = serializers.CharField(max_length=3, required=False, help_text="Default: the organisation's.")
    tax_rate = _percent(required=False)
    is_active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ProductUpdateSerializer(ProductInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _all_optional(self)


class PriceQuoteSerializer(serializers.Serializer):
    price = _money(allow_null=True)
    currency = serializers.CharField()
    source = serializers.CharField(allow_null=True, help_text="price_list, product, or null (no price)")
    price_list = CommerceRef(allow_null=True)


class ProductViewSet(ScopedViewSet):
    """Products 产品 of the organisation's catalogue: everyone in sales reads them; creating, changing,
    deactivating (PATCH is_active=false) and deleting need `administer` in sales. DELETE moves to the
    recycle bin; `POST /{id}/restore/` brings it back. `GET /{id}/price/?customer=&currency=` answers the
    unit price that customer gets (its tier's price list, else the list for every tier, else the
    product's price)."""

    module = MODULE
    queryset = Product.objects.none()
    ordering_fields = list(commerce_selectors.PRODUCT_ORDERING)
    ordering = "name"

    class ProductFilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, allow_blank=True, max_length=100)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)
        currency = serializers.CharField(required=False, allow_blank=True, max_length=3)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return commerce_selectors.product_list_for(actor=actor)
        data = _validated(self.ProductFilterSerializer, self.request, self.request.query_params)
        return commerce_selectors.product_list_for(
            actor=actor, search=data.get("search", ""), active=data.get("active"), currency=data.get("currency", "")
        )

    @extend_schema(
        parameters=[ProductFilterSerializer], responses={200: ProductOutputSerializer(many=True), **errors(400, 401)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: ProductOutputSerializer, **errors(401, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ProductOutputSerializer(self.get_object()).data)

    @extend_schema(request=ProductInputSerializer, responses={201: ProductOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        product = commerce_services.product_create(actor=request.user, **_validated(ProductInputSerializer, request))
        return Response(ProductOutputSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ProductUpdateSerializer, responses={200: ProductOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        product = self.get_object()
        data = _validated(ProductUpdateSerializer, request)
        version = data.pop("version")
        commerce_services.product_update(actor=request.user, product=product, expected_version=version, data=data)
        return Response(ProductOutputSerializer(product).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        commerce_services.product_delete(actor=request.user, product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ProductOutputSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        product = commerce_selectors.product_deleted_get_for(actor=request.user, pk=pk)
        commerce_services.product_restore(actor=request.user, product=product)
        return Response(ProductOutputSerializer(product).data)

    class PriceParameters(serializers.Serializer):
        customer = RecordField(getter=customer_selectors.customer_get_for)
        currency = serializers.CharField(max_length=3, required=False, help_text="Default: the product's currency.")

    @extend_schema(parameters=[PriceParameters], responses={200: PriceQuoteSerializer, **errors(400, 401, 404)})
    @action(detail=True, methods=["get"])
    def price(self, request: Request, pk: str | None = None) -> Response:
        """The unit price of this product for a customer in a currency."""
        product = self.get_object()
        data = _validated(self.PriceParameters, request, request.query_params)
        currency = (data.get("currency") or product.currency).upper()
        quoted = commerce_pricing.price_for(product=product, customer=data["customer"], currency=currency)
        body = {"price": None, "currency": currency, "source": None, "price_list": None}
        if quoted is not None:
            body.update(price=quoted.price, source=quoted.source, price_list=quoted.price_list)
        return Response(PriceQuoteSerializer(body).data)


# Price lists ---------------------------------------------------------------------------------------------------


class PriceListItemSerializer(serializers.Serializer):
    product = CommerceRef()
    sku = serializers.CharField(source="product.sku")
    price = _money()


class PriceListOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    tier = serializers.CharField(help_text="A key of the list customer_tier (A, B, ...), or empty for every tier.")
    is_active = serializers.BooleanField()
    description = serializers.CharField()
    items = PriceListItemSerializer(many=True, source="items.all")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PriceListInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    currency = serializers.CharField(max_length=3, required=False)
    tier = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="A key of the list customer_tier; empty: every tier."
    )
    is_active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class PriceListUpdateSerializer(PriceListInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _all_optional(self)


class SetPriceSerializer(serializers.Serializer):
    product = RecordField(getter=commerce_selectors.product_get_for)
    price = _money(min_value=0, allow_null=True, help_text="null removes the product from the list.")


class PriceListViewSet(ScopedViewSet):
    """Price lists 价格表 per currency and customer tier, with a price per product. One active list per
    currency and tier. `POST /{id}/set-price/` sets (or with null removes) one product's price."""

    module = MODULE
    queryset = PriceList.objects.none()
    ordering_fields = ["name", "currency", "updated_at"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        return commerce_selectors.price_lists_with_items_for(actor=actor)

    def _out(self, price_list: PriceList) -> Any:
        fresh = self.list_for(self.request.user).get(pk=price_list.pk)
        return PriceListOutputSerializer(fresh).data

    @extend_schema(responses={200: PriceListOutputSerializer(many=True), **errors(401)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PriceListOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: PriceListOutputSerializer, **errors(401, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(PriceListOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=PriceListInputSerializer, responses={201: PriceListOutputSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(PriceListInputSerializer, request)
        price_list = commerce_services.price_list_create(actor=request.user, **data)
        return Response(self._out(price_list), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PriceListUpdateSerializer,
        responses={200: PriceListOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        price_list = self.get_object()
        data = _validated(PriceListUpdateSerializer, request)
        version = data.pop("version")
        commerce_services.price_list_update(
            actor=request.user, price_list=price_list, expected_version=version, data=data
        )
        return Response(self._out(price_list))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        commerce_services.price_list_delete(actor=request.user, price_list=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: PriceListOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        price_list = commerce_selectors.price_list_deleted_get_for(actor=request.user, pk=pk)
        commerce_services.price_list_restore(actor=request.user, price_list=price_list)
        return Response(self._out(price_list))

    @extend_schema(request=SetPriceSerializer, responses={200: PriceListOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="set-price")
    def set_price(self, request: Request, pk: str | None = None) -> Response:
        price_list = self.get_object()
        data = _validated(SetPriceSerializer, request)
        commerce_services.price_list_set_price(
            actor=request.user, price_list=price_list, product=data["product"], price=data["price"]
        )
        return Response(self._out(price_list))


# Lines (quotes and orders share them) -------------------------------------------------------------------------


class LineOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    product = serializers.IntegerField(source="product_id", allow_null=True)
    sku = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit_price = _money()
    discount_percent = _percent()
    tax_rate = _percent()
    amount = _money(help_text="Quantity × unit price less the line discount, rounded half up to 0.01.")
    version = serializers.IntegerField()


class LineInputSerializer(serializers.Serializer):
    product = RecordField(
        getter=commerce_selectors.product_get_for,
        required=False,
        allow_null=True,
        help_text="Optional: a product fills in SKU, name, unit, tax rate and, without unit_price, the "
        "customer's price.",
    )
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0.001"))
    unit_price = _money(min_value=0, required=False, allow_null=True)
    discount_percent = _percent(required=False, allow_null=True)
    tax_rate = _percent(required=False, allow_null=True)
    position = serializers.IntegerField(min_value=0, required=False)


class LineUpdateSerializer(LineInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _all_optional(self)


class _LineViewSet(ScopedViewSet):
    """Shared by quote-lines and order-lines: the lines of the documents you may see; adding, changing or
    removing one needs `edit` on a draft document, and recomputes its totals."""

    module = MODULE
    ordering_fields = ["position"]
    ordering = "position"
    parent = ""
    parent_getter: Any = None
    create_serializer: type[serializers.Serializer]
    selector: Callable[..., Any]  # (actor, document=None) -> the lines you may see; set by each subclass

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return self.selector(actor)
        value = self.request.query_params.get(self.parent)
        if value in (None, ""):
            return self.selector(actor)
        try:
            document = int(value)
        except ValueError as exc:
            raise ValidationFailed(fields={self.parent: [_("Enter a whole number.")]}) from exc
        return self.selector(actor, document)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(LineOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(LineOutputSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = _validated(self.create_serializer, request)
        document = data.pop(self.parent)
        line = commerce_services.line_add(actor=request.user, document=document, **data)
        return Response(LineOutputSerializer(line).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        line = self.get_object()
        data = _validated(LineUpdateSerializer, request)
        version = data.pop("version")
        commerce_services.line_update(actor=request.user, line=line, expected_version=version, data=data)
        return Response(LineOutputSerializer(line).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        commerce_services.line_delete(actor=request.user, line=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuoteLineCreateSerializer(LineInputSerializer):
    quote = RecordField(getter=commerce_selectors.quote_get_for)


class OrderLineCreateSerializer(LineInputSerializer):
    order = RecordField(getter=commerce_selectors.order_get_for)


def _line_schema(parent: str, create: type) -> Any:
    """The schema of `_LineViewSet`'s operations for the lines of one document type."""
    return extend_schema_view(
        list=extend_schema(
            parameters=[OpenApiParameter(parent, int)],
            responses={200: LineOutputSerializer(many=True), **errors(400, 401)},
        ),
        retrieve=extend_schema(responses={200: LineOutputSerializer, **errors(401, 404)}),
        create=extend_schema(request=create, responses={201: LineOutputSerializer, **errors(400, 401, 403, 409)}),
        partial_update=extend_schema(
            request=LineUpdateSerializer, responses={200: LineOutputSerializer, **errors(400, 401, 403, 404, 409)}
        ),
        destroy=extend_schema(responses={204: None, **errors(400, 401, 403, 404)}),
    )


@_line_schema("quote", QuoteLineCreateSerializer)
class QuoteLineViewSet(_LineViewSet):
    """Lines of quotes (`?quote=` filters by quote). Only a draft, current revision changes."""

    queryset = QuoteLine.objects.none()
    parent = "quote"
    create_serializer = QuoteLineCreateSerializer

    def selector(self, actor: Any, document: Any = None) -> Any:
        return commerce_selectors.quote_line_list_for(actor=actor, quote=document)


@_line_schema("order", OrderLineCreateSerializer)
class OrderLineViewSet(_LineViewSet):
    """Lines of orders (`?order=` filters by order). Only a draft order changes."""

    queryset = OrderLine.objects.none()
    parent = "order"
    create_serializer = OrderLineCreateSerializer

    def selector(self, actor: Any, document: Any = None) -> Any:
        return commerce_selectors.order_line_list_for(actor=actor, order=document)


# Quotes ------------------------------------------------------------------------------------------------------


class _DocumentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    customer = CommerceRef()
    contact = CommerceRef(allow_null=True)
    owner = CommerceUserRef(allow_null=True)
    title = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    discount_percent = _percent()
    subtotal = _money()
    discount_total = _money()
    tax_total = _money()
    total = _money()
    terms = serializers.CharField()
    notes = serializers.CharField()
    lines = LineOutputSerializer(many=True, source="lines.all")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class QuoteOutputSerializer(_DocumentOutputSerializer):
    display_number = serializers.CharField(help_text="The number with its revision: Q-2026-0001 v2.")
    revision = serializers.IntegerField()
    is_current = serializers.BooleanField(help_text="False for an earlier revision (read-only).")
    previous = serializers.IntegerField(source="previous_id", allow_null=True)
    opportunity = CommerceRef(allow_null=True)
    issue_date = serializers.DateField()
    valid_until = serializers.DateField()
    sent_at = serializers.DateTimeField(allow_null=True)
    sent_to = serializers.CharField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    rejection_reason = serializers.CharField()


class OrderOutputSerializer(_DocumentOutputSerializer):
    quote = CommerceNumberRef(allow_null=True)
    order_date = serializers.DateField()
    received_total = _money(help_text="The sum of the payments received.")
    outstanding = _money(help_text="total − received (0 on a cancelled order).")
    confirmed_at = serializers.DateTimeField(allow_null=True)
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)


class _DocumentInputSerializer(serializers.Serializer):
    contact = RecordField(getter=customer_selectors.contact_get_for, required=False, allow_null=True)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False, help_text="Default: the organisation's.")
    discount_percent = _percent(required=False, allow_null=True, help_text="The overall discount 整单折扣, 0–100.")
    terms = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class QuoteCreateSerializer(_DocumentInputSerializer):
    customer = RecordField(
        getter=customer_selectors.customer_get_for, required=False, help_text="Required without an opportunity."
    )
    opportunity = RecordField(getter=commerce_selectors.opportunity_for_quote_get_for, required=False)
    issue_date = serializers.DateField(required=False, help_text="Default: today.")
    valid_until = serializers.DateField(required=False, help_text="Default: 30 days after the quote date.")
    lines = LineInputSerializer(many=True, required=False, max_length=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer") and not attrs.get("opportunity"):
            raise serializers.ValidationError({"customer": [_("Choose a customer or an opportunity.")]})
        return attrs


class QuoteUpdateSerializer(_DocumentInputSerializer):
    issue_date = serializers.DateField(required=False)
    valid_until = serializers.DateField(required=False)
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)


class SendSerializer(VersionSerializer):
    email = serializers.BooleanField(
        default=True, help_text="E-mail the quote (default). false only marks it sent (handed over another way)."
    )
    to = serializers.EmailField(required=False, help_text="Default: the quote's contact's email.")


class SentSerializer(QuoteOutputSerializer):
    emailed_to = serializers.CharField(help_text="Where the quote was e-mailed; empty when it was only marked sent.")


class QuoteAcceptedSerializer(QuoteOutputSerializer):
    opportunity_won = serializers.BooleanField(help_text="Whether this acceptance marked the quote's opportunity won.")
    opportunity_message = serializers.CharField(
        help_text="What happened to the opportunity: marked won, or why it was not (e.g. the won stage's "
        "required fields are empty); empty when the quote has no opportunity."
    )


class RejectSerializer(VersionSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class CreateOrderSerializer(serializers.Serializer):
    order_date = serializers.DateField(required=False, help_text="Default: today.")
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


DOCUMENT_FILTERS = [
    OpenApiParameter("search", str, description="A fragment of the number, title or customer name"),
    OpenApiParameter("status", str),
    OpenApiParameter("customer", int),
    OpenApiParameter("owner", int),
]


class _DocumentFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.CharField(required=False, allow_blank=True, max_length=10)
    customer = serializers.IntegerField(required=False, min_value=1)
    owner = serializers.IntegerField(required=False, min_value=1)


class QuoteFilterSerializer(_DocumentFilterSerializer):
    opportunity = serializers.IntegerField(required=False, min_value=1)
    all_revisions = serializers.BooleanField(required=False, default=False)


class _DocumentViewSet(ScopedViewSet):
    """What quotes and orders share: list, read, create with lines, edit, recycle bin. A subclass names
    its document's selectors, services and serializers; its schema comes from `_document_schema`. The
    methods here carry no docstring on purpose: the subclass's docstring describes their operations."""

    module = MODULE
    ordering = "-updated_at"
    kind: str  # "quote" or "order": the services' keyword
    filter_serializer: type[serializers.Serializer]
    output_serializer: type[serializers.Serializer]
    create_serializer: type[serializers.Serializer]
    update_serializer: type[serializers.Serializer]
    record_filters: dict[str, Any] = {}  # the filters that find a record by id (any revision of a quote)

    # The document's selectors, set by each subclass as staticmethods.
    queryset_for: Callable[..., Any]
    get_for: Callable[..., Any]
    deleted_get_for: Callable[..., Any]

    def _service(self, action: str) -> Any:
        return getattr(commerce_services, f"{self.kind}_{action}")

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return self.queryset_for(actor=actor, filters=self.record_filters)
        data = _validated(self.filter_serializer, self.request, self.request.query_params)
        return self.queryset_for(actor=actor, filters=data).prefetch_related("lines")

    def _out(self, document: Any, **extra: Any) -> Any:
        fresh = self.get_for(actor=self.request.user, pk=document.pk)
        return {**self.output_serializer(fresh).data, **extra}

    def _version(self, request: Request) -> int | None:
        return _validated(VersionSerializer, request).get("version")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.output_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    def create(self, request: Request) -> Response:
        data = _validated(self.create_serializer, request)
        lines = [dict(line) for line in data.pop("lines", [])]
        document = self._service("create")(actor=request.user, lines=lines, **data)
        return Response(self._out(document), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        document = self.get_object()
        data = _validated(self.update_serializer, request)
        version = data.pop("version")
        self._service("update")(actor=request.user, expected_version=version, data=data, **{self.kind: document})
        return Response(self._out(document))

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        self._service("delete")(actor=request.user, **{self.kind: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        document = self.deleted_get_for(actor=request.user, pk=pk)
        self._service("restore")(actor=request.user, **{self.kind: document})
        return Response(self._out(document))


def _document_schema(*, filters: Any, output: Any, create: Any, update: Any) -> Any:
    """The schema of `_DocumentViewSet`'s operations for one document type."""
    return extend_schema_view(
        list=extend_schema(parameters=[filters], responses={200: output(many=True), **errors(400, 401)}),
        retrieve=extend_schema(responses={200: output, **errors(401, 404)}),
        create=extend_schema(request=create, responses={201: output, **errors(400, 401, 403)}),
        partial_update=extend_schema(request=update, responses={200: output, **errors(400, 401, 403, 404, 409)}),
        destroy=extend_schema(responses={204: None, **errors(400, 401, 403, 404)}),
        restore=extend_schema(request=None, responses={200: output, **errors(401, 403, 404, 409)}),
    )


@_document_schema(
    filters=QuoteFilterSerializer,
    output=QuoteOutputSerializer,
    create=QuoteCreateSerializer,
    update=QuoteUpdateSerializer,
)
class QuoteViewSet(_DocumentViewSet):
    """Quotes 报价 in your data scope. Create one for a customer or from an opportunity (its customer,
    contact, currency and owner), with lines or add them at /api/v1/quote-lines/. Status: draft → send →
    sent → accept | reject (→ revise: a new draft revision with the same number; the earlier one stays
    readable); sent quotes past `valid_until` expire. `create-order` turns an accepted quote into its one
    order. Lists show current revisions (`?all_revisions=true` for all)."""

    queryset = Quote.objects.none()
    ordering_fields = list(commerce_selectors.QUOTE_ORDERING)
    kind = "quote"
    filter_serializer = QuoteFilterSerializer
    output_serializer = QuoteOutputSerializer
    create_serializer = QuoteCreateSerializer
    update_serializer = QuoteUpdateSerializer
    record_filters = {"all_revisions": True}
    queryset_for = staticmethod(commerce_selectors.quote_queryset_for)
    get_for = staticmethod(commerce_selectors.quote_get_for)
    deleted_get_for = staticmethod(commerce_selectors.quote_deleted_get_for)

    @extend_schema(request=SendSerializer, responses={200: SentSerializer, **errors(400, 401, 403, 404, 409, 502)})
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        """Mark the draft sent and e-mail it to its contact (or `to`); without an address, or with
        `email: false`, it is only marked sent (`emailed_to` is then empty). A refused e-mail answers
        502 email_failed and leaves the quote a draft."""
        quote = self.get_object()
        data = _validated(SendSerializer, request)
        emailed_to = commerce_services.quote_send(
            actor=request.user,
            quote=quote,
            expected_version=data.get("version"),
            email=data["email"],
            to=data.get("to"),
        )
        return Response(self._out(quote, emailed_to=emailed_to))

    @extend_schema(
        request=VersionSerializer, responses={200: QuoteAcceptedSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Mark the sent quote accepted; its opportunity, if still open, is marked won in the same step.
        When the opportunity cannot be moved (its won stage's required fields are empty, say) the quote is
        accepted all the same: `opportunity_won` is false and `opportunity_message` says why."""
        quote = self.get_object()
        result = commerce_services.quote_accept(
            actor=request.user, quote=quote, expected_version=self._version(request)
        )
        return Response(
            self._out(
                quote,
                opportunity_won=result.opportunity_won,
                opportunity_message=str(result.opportunity_message),
            )
        )

    @extend_schema(request=RejectSerializer, responses={200: QuoteOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        quote = self.get_object()
        data = _validated(RejectSerializer, request)
        commerce_services.quote_reject(
            actor=request.user, quote=quote, expected_version=data.get("version"), reason=data.get("reason", "")
        )
        return Response(self._out(quote))

    @extend_schema(request=VersionSerializer, responses={201: QuoteOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, pk: str | None = None) -> Response:
        """A new draft revision (same number, revision + 1) of a sent, rejected or expired quote."""
        quote = self.get_object()
        revision = commerce_services.quote_revise(
            actor=request.user, quote=quote, expected_version=self._version(request)
        )
        return Response(self._out(revision), status=status.HTTP_201_CREATED)

    @extend_schema(request=CreateOrderSerializer, responses={201: OrderOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="create-order")
    def create_order(self, request: Request, pk: str | None = None) -> Response:
        """The order of this accepted quote (lines copied). A second call answers 400 quote_already_ordered."""
        quote = self.get_object()
        data = _validated(CreateOrderSerializer, request)
        order = commerce_services.order_create_from_quote(actor=request.user, quote=quote, **data)
        fresh = commerce_selectors.order_get_for(actor=request.user, pk=order.pk)
        return Response(OrderOutputSerializer(fresh).data, status=status.HTTP_201_CREATED)


# Orders ------------------------------------------------------------------------------------------------------


class OrderCreateSerializer(_DocumentInputSerializer):
    customer = RecordField(getter=customer_selectors.customer_get_for)
    order_date = serializers.DateField(required=False, help_text="Default: today.")
    lines = LineInputSerializer(many=True, required=False, max_length=500)


class OrderUpdateSerializer(_DocumentInputSerializer):
    order_date = serializers.DateField(required=False)
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)


class CustomerTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    orders = serializers.IntegerField(help_text="Confirmed and fulfilled orders.")
    ordered = _money()
    received = _money()
    outstanding = _money()


@_document_schema(
    filters=_DocumentFilterSerializer,
    output=OrderOutputSerializer,
    create=OrderCreateSerializer,
    update=OrderUpdateSerializer,
)
class OrderViewSet(_DocumentViewSet):
    """Orders and contracts 订单/合同 in your data scope: from an accepted quote (`POST
    /api/v1/quotes/{id}/create-order/`) or directly for a customer. Status: draft → confirm → confirmed
    → fulfil → fulfilled; draft or confirmed → cancel (refused while payments are recorded). Lines change
    while the order is a draft. `GET customer-totals/?customer=` sums a customer's orders per currency."""

    queryset = Order.objects.none()
    ordering_fields = list(commerce_selectors.ORDER_ORDERING)
    kind = "order"
    filter_serializer = _DocumentFilterSerializer
    output_serializer = OrderOutputSerializer
    create_serializer = OrderCreateSerializer
    update_serializer = OrderUpdateSerializer
    queryset_for = staticmethod(commerce_selectors.order_queryset_for)
    get_for = staticmethod(commerce_selectors.order_get_for)
    deleted_get_for = staticmethod(commerce_selectors.order_deleted_get_for)

    def _transition(self, request: Request, service: Any) -> Response:
        order = self.get_object()
        service(actor=request.user, order=order, expected_version=self._version(request))
        return Response(self._out(order))

    @extend_schema(request=VersionSerializer, responses={200: OrderOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, commerce_services.order_confirm)

    @extend_schema(request=VersionSerializer, responses={200: OrderOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def fulfil(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, commerce_services.order_fulfil)

    @extend_schema(request=VersionSerializer, responses={200: OrderOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, commerce_services.order_cancel)

    class TotalsParameters(serializers.Serializer):
        customer = RecordField(getter=customer_selectors.customer_get_for)

    @extend_schema(
        parameters=[TotalsParameters], responses={200: CustomerTotalsSerializer(many=True), **errors(400, 401)}
    )
    @action(detail=False, methods=["get"], url_path="customer-totals")
    def customer_totals(self, request: Request) -> Response:
        """What a customer ordered (confirmed and fulfilled orders you may see), paid and owes, per currency."""
        data = _validated(self.TotalsParameters, request, request.query_params)
        totals = commerce_selectors.customer_totals_for(actor=request.user, customer=data["customer"])
        return Response(CustomerTotalsSerializer(totals, many=True).data)


# Payments and instalments ------------------------------------------------------------------------------------


class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = CommerceNumberRef()
    customer = CommerceRef(source="order.customer")
    received_on = serializers.DateField()
    amount = _money()
    currency = serializers.CharField(source="order.currency")
    method = serializers.CharField()
    reference = serializers.CharField()
    note = serializers.CharField()
    recorded_by = CommerceUserRef(source="created_by", allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PaymentInputSerializer(serializers.Serializer):
    received_on = serializers.DateField(required=False, help_text="Default: today; never in the future.")
    amount = _money(help_text="More than 0 and at most the order's outstanding balance.")
    method = serializers.ChoiceField(choices=Payment.Method.choices, required=False)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, max_length=255)


class PaymentCreateSerializer(PaymentInputSerializer):
    order = RecordField(getter=commerce_selectors.order_get_for)


class PaymentUpdateSerializer(PaymentInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _all_optional(self)


class PaymentFilterSerializer(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    customer = serializers.IntegerField(required=False, min_value=1)
    method = serializers.ChoiceField(choices=Payment.Method.choices, required=False)
    search = serializers.CharField(required=False, allow_blank=True, max_length=100)


class PaymentViewSet(ScopedViewSet):
    """Payments received 回款 against orders you may see (confirmed or fulfilled ones). An amount that is
    not positive, or more than the order's outstanding balance, is refused (400, on `amount`). Recording
    needs `create`, correcting `edit`, deleting (to the recycle bin) `delete` in sales."""

    module = MODULE
    queryset = Payment.objects.none()
    ordering_fields = list(commerce_selectors.PAYMENT_ORDERING)
    ordering = "-received_on"

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return commerce_selectors.payment_list_for(actor=actor)
        data = _validated(PaymentFilterSerializer, self.request, self.request.query_params)
        return commerce_selectors.payment_list_for(
            actor=actor,
            order=data.get("order"),
            customer=data.get("customer"),
            method=data.get("method", ""),
            search=data.get("search", ""),
        )

    def _out(self, payment: Payment) -> Any:
        return PaymentOutputSerializer(payment).data

    @extend_schema(
        parameters=[PaymentFilterSerializer], responses={200: PaymentOutputSerializer(many=True), **errors(400, 401)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PaymentOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: PaymentOutputSerializer, **errors(401, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(request=PaymentCreateSerializer, responses={201: PaymentOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(PaymentCreateSerializer, request)
        payment = commerce_services.payment_create(actor=request.user, **data)
        return Response(self._out(payment), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PaymentUpdateSerializer, responses={200: PaymentOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        payment = self.get_object()
        data = _validated(PaymentUpdateSerializer, request)
        version = data.pop("version")
        commerce_services.payment_update(actor=request.user, payment=payment, expected_version=version, data=data)
        return Response(self._out(payment))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        commerce_services.payment_delete(actor=request.user, payment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: PaymentOutputSerializer, **errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        payment = commerce_selectors.payment_deleted_get_for(actor=request.user, pk=pk)
        commerce_services.payment_restore(actor=request.user, payment=payment)
        return Response(self._out(payment))


class InstalmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = CommerceNumberRef()
    customer = CommerceRef(source="order.customer")
    due_date = serializers.DateField()
    amount = _money()
    currency = serializers.CharField(source="order.currency")
    note = serializers.CharField()
    covered = _money(help_text="How much of it the payments received cover (applied in due-date order).")
    status = serializers.CharField(help_text="paid, partly_paid, overdue or due")
    overdue = serializers.BooleanField(help_text="Past due and not covered, on a confirmed or fulfilled order.")
    version = serializers.IntegerField()


class InstalmentInputSerializer(serializers.Serializer):
    due_date = serializers.DateField()
    amount = _money(help_text="More than 0; all instalments together at most the order total.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=255)


class InstalmentCreateSerializer(InstalmentInputSerializer):
    order = RecordField(getter=commerce_selectors.order_get_for)


class InstalmentUpdateSerializer(InstalmentInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text=VERSION_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _all_optional(self)


class InstalmentFilterSerializer(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    customer = serializers.IntegerField(required=False, min_value=1)
    overdue = serializers.BooleanField(required=False, default=False)


class InstalmentViewSet(ScopedViewSet):
    """Planned instalments 回款计划 of orders you may see, each with how much the payments received cover and
    whether it is overdue (`?overdue=true` lists only those). Planning needs `edit` on the order."""

    module = MODULE
    queryset = Instalment.objects.none()
    ordering_fields = list(commerce_selectors.INSTALMENT_ORDERING)
    ordering = "due_date"

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return commerce_selectors.instalment_list_for(actor=actor)
        data = _validated(InstalmentFilterSerializer, self.request, self.request.query_params)
        return commerce_selectors.instalment_list_for(
            actor=actor, order=data.get("order"), customer=data.get("customer"), overdue=data["overdue"]
        )

    def _rows(self, instalments: Any) -> list[dict[str, Any]]:
        today = commerce_services.organization_today(self.request.user.organization)
        rows = []
        for instalment in instalments:
            state = commerce_selectors.instalment_state(instalment, today=today)
            instalment.covered, instalment.status, instalment.overdue = state.covered, state.status, state.is_overdue
            rows.append(InstalmentOutputSerializer(instalment).data)
        return rows

    def _one(self, instalment: Instalment) -> dict[str, Any]:
        return self._rows([commerce_selectors.instalment_get_for(actor=self.request.user, pk=instalment.pk)])[0]

    @extend_schema(
        parameters=[InstalmentFilterSerializer],
        responses={200: InstalmentOutputSerializer(many=True), **errors(400, 401)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._rows(page))

    @extend_schema(responses={200: InstalmentOutputSerializer, **errors(401, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._rows([self.get_object()])[0])

    @extend_schema(
        request=InstalmentCreateSerializer, responses={201: InstalmentOutputSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(InstalmentCreateSerializer, request)
        instalment = commerce_services.instalment_create(actor=request.user, **data)
        return Response(self._one(instalment), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=InstalmentUpdateSerializer,
        responses={200: InstalmentOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        instalment = self.get_object()
        data = _validated(InstalmentUpdateSerializer, request)
        version = data.pop("version")
        commerce_services.instalment_update(
            actor=request.user, instalment=instalment, expected_version=version, data=data
        )
        return Response(self._one(instalment))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        commerce_services.instalment_delete(actor=request.user, instalment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


ROUTES: list[tuple[str, Any, str]] = [
    ("products", ProductViewSet, "product"),
    ("price-lists", PriceListViewSet, "price-list"),
    ("quotes", QuoteViewSet, "quote"),
    ("quote-lines", QuoteLineViewSet, "quote-line"),
    ("orders", OrderViewSet, "order"),
    ("order-lines", OrderLineViewSet, "order-line"),
    ("payments", PaymentViewSet, "payment"),
    ("instalments", InstalmentViewSet, "instalment"),
]
