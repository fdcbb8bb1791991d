"""The API of the public pool 公海, duplicates, merge and purge.

    GET  /api/v1/pool/                       pool customers (the list's filters, cursor pages)
    POST /api/v1/customers/{id}/claim/       {"owner": id?}            claim (for a colleague: assign)
    POST /api/v1/customers/{id}/release/     {"reason": "..."}         release into the pool
    POST /api/v1/customers/claim/            {"ids": [...], "owner"?}  bulk claim, all or nothing
    POST /api/v1/customers/release/          {"ids": [...], "reason"}  bulk release, all or nothing
    GET  /api/v1/customers/duplicates/       likely duplicate pairs
    POST /api/v1/customers/merge/            {"survivor", "others": [...], "choices": {field: id}}
    POST /api/v1/customers/{id}/purge/       delete for good from the recycle bin (administrators)
    GET  /api/v1/pool-settings/              the organisation's pool rules and recycle-bin retention
    PUT  /api/v1/pool-settings/              replace them (administrators; the settings page's validation)

`install()` (called at the end of customers/api.py) adds the customer actions to CustomerViewSet, so that
they share its routes, and the pool's own view set to ROUTES.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.accounts import selectors as account_selectors
from kehu.core.api import RecordField
from kehu.core.errors import ValidationFailed
from kehu.core.services import require
from kehu.core.viewsets import ScopedViewSet, SingletonViewSet
from kehu.customers import merge, pool, pool_selectors, selectors
from kehu.customers.api import (
    FILTER_PARAMETERS,
    CustomerListSerializer,
    CustomerOutputSerializer,
    CustomerRefSerializer,
    UserRefSerializer,
    _validated,
    customer_data,
    errors,
)
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.models import MODULE, Customer, PoolSettings
from kehu.customers.pool_forms import PoolSettingsForm
from kehu.customers.pool_selectors import MAX_MERGE


class ClaimSerializer(serializers.Serializer):
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="Defaults to you; claiming for a colleague needs the assign right.",
    )


class BulkClaimSerializer(ClaimSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=selectors.MAX_PAGE_SIZE
    )


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=pool.REASON_MAX_LENGTH)


class BulkReleaseSerializer(ReleaseSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=selectors.MAX_PAGE_SIZE
    )


class IdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField())


class MergeSerializer(serializers.Serializer):
    survivor = serializers.IntegerField(min_value=1)
    others = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_MERGE - 1)
    choices = serializers.DictField(child=serializers.IntegerField(min_value=1), required=False)


class DuplicatePairSerializer(serializers.Serializer):
    first = CustomerRefSerializer()
    second = CustomerRefSerializer()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=["phone", "email", "name"]))


class DuplicatesSerializer(serializers.Serializer):
    results = DuplicatePairSerializer(many=True)


class PoolCustomerSerializer(CustomerOutputSerializer):
    pool_since = serializers.DateTimeField(allow_null=True)
    pool_reason = serializers.CharField(allow_null=True)


def _page_url(request: Request, cursor: str | None) -> str | None:
    from rest_framework.utils.urls import replace_query_param

    return replace_query_param(request.build_absolute_uri(), "cursor", cursor) if cursor else None


def _customers_or_400(actor: Any, wanted: list[int], found: list[Customer]) -> list[Customer]:
    missing = sorted(set(wanted) - {c.pk for c in found})
    if missing:
        message = _("No such customers, or they are not visible to you: %(ids)s") % {
            "ids": ", ".join(map(str, missing))
        }
        raise ValidationFailed(message, fields={"ids": [message]})
    return found


class PoolViewSet(ScopedViewSet):
    """The public pool 公海: customers nobody owns, visible to every member with `view` in customers."""

    module = MODULE
    queryset = Customer.objects.none()
    filter_backends = ()

    def list_for(self, actor: Any) -> Any:
        return pool_selectors.pool_queryset_for(actor)

    @extend_schema(
        parameters=[p for p in FILTER_PARAMETERS if p.name != "owner"],
        responses={200: CustomerListSerializer, **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        params = request.query_params
        form = CustomerFilterForm(params, actor=request.user)
        if not form.is_valid():
            raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
        try:
            limit = int(params.get("limit") or selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        filters = form.filters()
        filters.pop("owner", None)
        page = pool_selectors.pool_list_for(
            actor=request.user,
            filters=filters,
            ordering=params.get("ordering"),
            cursor=params.get("cursor"),
            limit=limit,
        )
        return Response(
            {
                "results": PoolCustomerSerializer(page.items, many=True).data,
                "next": _page_url(request, page.next_cursor),
                "previous": _page_url(request, page.previous_cursor),
            }
        )


# Pool rules ----------------------------------------------------------------------------------------------


class PoolSettingsSerializer(serializers.Serializer):
    auto_return_days = serializers.IntegerField(
        min_value=0, max_value=3650, help_text="Days without follow-up before a customer returns to the pool; 0: off."
    )
    max_customers_per_rep = serializers.IntegerField(
        min_value=0, max_value=1_000_000, help_text="Customers a user may hold when claiming; 0: no limit."
    )
    reclaim_cooldown_days = serializers.IntegerField(
        min_value=0, max_value=3650, help_text="Days before a user may claim back a customer they released."
    )
    recycle_bin_retention_days = serializers.IntegerField(
        min_value=0, max_value=3650, help_text="Days deleted customers stay in the recycle bin; 0: forever."
    )


class PoolSettingsOutputSerializer(PoolSettingsSerializer):
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null while the defaults apply.")
    updated_by = UserRefSerializer(allow_null=True)


def _settings_out(settings: PoolSettings) -> dict[str, Any]:
    data = PoolSettingsOutputSerializer(settings).data
    if settings.pk is None:  # never saved: the defaults, changed by nobody
        data["updated_at"], data["updated_by"] = None, None
    return data


class PoolSettingsViewSet(SingletonViewSet):
    """The organisation's public pool 公海 rules and recycle-bin retention: one object per organisation at
    this address. GET reads it, PUT replaces all four values (checked exactly as on the settings page;
    audited as `customers.pool_settings`). Administrators only (`administer` in customers)."""

    module = MODULE
    queryset = PoolSettings.objects.none()

    def list_for(self, actor: Any) -> Any:
        return PoolSettings.objects.visible_to(actor)

    @extend_schema(
        operation_id="pool_settings_retrieve", responses={200: PoolSettingsOutputSerializer, **errors(401, 403)}
    )
    def list(self, request: Request) -> Response:
        require(request.user, "administer", Customer)
        return Response(_settings_out(pool_selectors.pool_settings_for(organization_id=request.user.organization_id)))

    @extend_schema(
        operation_id="pool_settings_update",
        request=PoolSettingsSerializer,
        responses={200: PoolSettingsOutputSerializer, **errors(400, 401, 403)},
    )
    def replace(self, request: Request) -> Response:
        actor = request.user
        require(actor, "administer", Customer)
        data = request.data if isinstance(request.data, dict) else {}
        unknown = sorted(set(data) - set(pool.SETTINGS_FIELDS))
        if unknown or not isinstance(request.data, dict):
            message = _("This field cannot be set here.")
            raise ValidationFailed(fields={name: [message] for name in unknown} or {"non_field_errors": [message]})
        # The settings page's form checks the values, so the API and the UI accept and refuse the same input.
        form = PoolSettingsForm(
            {name: "" if value is None else value for name, value in data.items()},
            instance=pool_selectors.pool_settings_for(organization_id=actor.organization_id),
        )
        if not form.is_valid():
            raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
        saved = pool.pool_settings_update(actor=actor, data=dict(form.cleaned_data))
        return Response(_settings_out(saved))


# Actions added to CustomerViewSet ------------------------------------------------------------------------


@extend_schema(request=ClaimSerializer, responses={200: CustomerOutputSerializer, **errors(400, 401, 403, 404, 409)})
@action(detail=True, methods=["post"])
def claim(self: Any, request: Request, pk: str | None = None) -> Response:
    """Claim a pool customer (refused above the per-user limit or within the reclaim cooldown)."""
    customer = pool_selectors.pool_customer_get_for(actor=request.user, pk=pk)
    data = _validated(ClaimSerializer, request)
    pool.customer_claim(actor=request.user, customer=customer, owner=data.get("owner"))
    return Response(customer_data(self.get_object_for(customer.pk)))


@extend_schema(request=ReleaseSerializer, responses={200: CustomerOutputSerializer, **errors(400, 401, 403, 404)})
@action(detail=True, methods=["post"])
def release(self: Any, request: Request, pk: str | None = None) -> Response:
    """Release a customer into the public pool, with the reason (required)."""
    customer = selectors.customer_get_for(actor=request.user, pk=pk)
    data = _validated(ReleaseSerializer, request)
    pool.customer_release(actor=request.user, customer=customer, reason=data["reason"])
    return Response(customer_data(self.get_object_for(customer.pk)))


@extend_schema(
    operation_id="customers_bulk_claim",
    request=BulkClaimSerializer,
    responses={200: IdsSerializer, **errors(400, 401, 403, 409)},
)
@action(detail=False, methods=["post"], url_path="claim", url_name="bulk-claim")
def bulk_claim(self: Any, request: Request) -> Response:
    """Claim several pool customers; all or nothing. Answers {"ids": [claimed ids]}."""
    data = _validated(BulkClaimSerializer, request)
    wanted = list(dict.fromkeys(data["ids"]))
    customers = _customers_or_400(
        request.user, wanted, pool_selectors.pool_customers_for_bulk(actor=request.user, ids=wanted)
    )
    claimed = pool.customers_claim(actor=request.user, customers=customers, owner=data.get("owner"))
    return Response({"ids": [c.pk for c in claimed]})


@extend_schema(
    operation_id="customers_bulk_release",
    request=BulkReleaseSerializer,
    responses={200: IdsSerializer, **errors(400, 401, 403)},
)
@action(detail=False, methods=["post"], url_path="release", url_name="bulk-release")
def bulk_release(self: Any, request: Request) -> Response:
    """Release several customers into the pool with one reason; all or nothing."""
    data = _validated(BulkReleaseSerializer, request)
    wanted = list(dict.fromkeys(data["ids"]))
    customers = _customers_or_400(request.user, wanted, selectors.customers_for_bulk(actor=request.user, ids=wanted))
    released = pool.customers_release(actor=request.user, customers=customers, reason=data["reason"])
    return Response({"ids": [c.pk for c in released]})


@extend_schema(responses={200: DuplicatesSerializer, **errors(401, 403)})
@action(detail=False, methods=["get"])
def duplicates(self: Any, request: Request) -> Response:
    """Pairs of customers you can see with the same normalised phone, normalised email or name."""
    pairs = pool_selectors.duplicate_pairs_for(actor=request.user)
    return Response({"results": DuplicatePairSerializer(pairs, many=True).data})


@extend_schema(request=MergeSerializer, responses={200: CustomerOutputSerializer, **errors(400, 401, 403, 404, 409)})
@action(detail=False, methods=["post"], url_path="merge", url_name="merge")
def merge_customers(self: Any, request: Request) -> Response:
    """Merge `others` into `survivor`, keeping per field the value of the customer `choices` names."""
    data = _validated(MergeSerializer, request)
    records = pool_selectors.merge_candidates_for(actor=request.user, ids=[data["survivor"], *data["others"]])
    survivor, others = records[0], records[1:]
    merge.customer_merge(actor=request.user, survivor=survivor, others=others, choices=data.get("choices") or {})
    return Response(customer_data(self.get_object_for(survivor.pk)))


@extend_schema(request=None, responses={204: None, **errors(401, 403, 404)})
@action(detail=True, methods=["post"])
def purge(self: Any, request: Request, pk: str | None = None) -> Response:
    """Delete a customer of the recycle bin for good (administrators only; cannot be undone)."""
    customer = selectors.customer_deleted_get_for(actor=request.user, pk=pk)
    pool.customer_purge(actor=request.user, customer=customer)
    return Response(status=status.HTTP_204_NO_CONTENT)


CUSTOMER_ACTIONS = {
    "claim": claim,
    "release": release,
    "bulk_claim": bulk_claim,
    "bulk_release": bulk_release,
    "duplicates": duplicates,
    "merge_customers": merge_customers,
    "purge": purge,
}


def install(customer_viewset: type, routes: list) -> None:
    """Add the actions to the customers view set (they share its /api/v1/customers/ routes) and the pool's
    list to the module's routes."""
    for name, function in CUSTOMER_ACTIONS.items():
        setattr(customer_viewset, name, function)
    if not any(prefix == "pool" for prefix, _viewset, _basename in routes):
        routes.append(("pool", PoolViewSet, "pool"))
        routes.append(("pool-settings", PoolSettingsViewSet, "pool-settings"))
