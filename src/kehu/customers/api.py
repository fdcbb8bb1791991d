"""/api/v1/customers/, /api/v1/contacts/, /api/v1/tags/.

Thin by rule: an input serializer parses, a service writes (it checks the permission and records the
audit entry), a selector reads (from `visible_to(actor)`), an output serializer renders. Records outside
the actor's organisation or scope are 404 because `get_object` reads through the selector, and ids in
the input are resolved the same way, so they fail like missing ones.

The routes plug into the /api/v1/ router through ROUTES (see kehu/api_urls.py).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from kehu.accounts import selectors as account_selectors
from kehu.core import choice_lists
from kehu.core.api import ErrorSerializer, RecordField, SearchedListSerializer, searched_list_envelope
from kehu.core.errors import ValidationFailed
from kehu.core.viewsets import ScopedViewSet
from kehu.customers import export_api, selectors, services
from kehu.customers.forms import CustomerFilterForm
from kehu.customers.models import MODULE, STAGES, TIERS, Contact, Customer, Tag


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _resolve_tags(actor: Any, data: dict[str, Any]) -> None:
    if "tags" in data:
        data["tags"] = selectors.tags_by_ids_for(actor=actor, ids=data["tags"])


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class TagOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# Customers -------------------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    industry = serializers.CharField()
    tier = serializers.CharField()
    stage = serializers.CharField()
    source = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    address = serializers.CharField()
    phone = serializers.CharField()
    phone_normalized = serializers.CharField()
    email = serializers.CharField()
    email_normalized = serializers.CharField()
    website = serializers.CharField()
    tags = TagOutputSerializer(many=True, source="tags.all")
    owner = UserRefSerializer(allow_null=True)
    last_contacted_at = serializers.DateTimeField(allow_null=True)
    next_follow_up_at = serializers.DateTimeField(allow_null=True)
    notes = serializers.CharField()
    custom = serializers.DictField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    deleted_at = serializers.DateTimeField(allow_null=True)


_DATETIME = serializers.DateTimeField()
_PLAIN_FIELDS = tuple(
    name
    for name, field in CustomerOutputSerializer().fields.items()
    if isinstance(field, serializers.CharField | serializers.IntegerField)
)


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def customer_data(customer: Customer, *, tags: list[Tag] | None = None) -> dict[str, Any]:
    """What CustomerOutputSerializer renders (it stays the documented schema; a test holds the two equal),
    built directly: a list page of 50 through the serializer's field machinery cost more than its SQL.
    `tags`: the customer's tags when the caller has them (by name), instead of `customer.tags.all()`."""
    data = {name: getattr(customer, name) for name in _PLAIN_FIELDS}
    owner = customer.owner
    data.update(
        tags=[
            {"id": t.pk, "name": t.name, "colour": t.colour} for t in (customer.tags.all() if tags is None else tags)
        ],
        owner=None if owner is None else {"id": owner.pk, "name": owner.name, "email": owner.email},
        last_contacted_at=_when(customer.last_contacted_at),
        next_follow_up_at=_when(customer.next_follow_up_at),
        custom=dict(customer.custom),
        created_at=_when(customer.created_at),
        updated_at=_when(customer.updated_at),
        deleted_at=_when(customer.deleted_at),
    )
    return data


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    owner = UserRefSerializer(allow_null=True)


class CustomerCreatedSerializer(CustomerOutputSerializer):
    duplicates = DuplicateSerializer(many=True, help_text="Visible customers with the same phone, email or name.")


class CustomerInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Customer.Kind.choices, required=False)
    name = serializers.CharField(max_length=200)
    short_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    # Keys of the organisation's editable lists (GET /api/v1/choice-options/?list=customer_tier|customer_stage);
    # the service checks them against its active options.
    tier = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="A key of the list customer_tier, e.g. A."
    )
    stage = serializers.CharField(max_length=20, required=False, help_text="A key of the list customer_stage.")
    source = serializers.ChoiceField(choices=Customer.Source.choices, required=False, allow_blank=True)
    province = serializers.CharField(max_length=50, required=False, allow_blank=True)
    city = serializers.CharField(max_length=50, required=False, allow_blank=True)
    district = serializers.CharField(max_length=50, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    website = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)
    last_contacted_at = serializers.DateTimeField(required=False, allow_null=True)
    next_follow_up_at = serializers.DateTimeField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    custom = serializers.DictField(
        required=False, help_text="Custom field values by key; on PATCH only the keys sent change (null clears)."
    )


class CustomerCreateSerializer(CustomerInputSerializer):
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="Defaults to you; another owner needs the assign right.",
    )

    # A new customer's tier and stage: active options of the organisation's lists, checked here so that the
    # error comes with the other field errors (the service checks again; on update it knows the old value).
    def _listed(self, list_key: str, value: str, field: str) -> str:
        try:
            return choice_lists.validate(self.context["request"].user.organization_id, list_key, value, field=field)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.fields[field]) from exc

    def validate_tier(self, value: str) -> str:
        return self._listed(TIERS, value, "tier")

    def validate_stage(self, value: str) -> str:
        return self._listed(STAGES, value, "stage")


class CustomerUpdateSerializer(CustomerInputSerializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read; a stale one answers 409 version_conflict."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "owner" in self.initial_data:
            raise serializers.ValidationError({"owner": [_("Change the owner with POST /api/v1/customers/assign/.")]})
        return attrs


class AssignSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=selectors.MAX_PAGE_SIZE
    )
    owner = RecordField(getter=account_selectors.user_get_for)


class AssignedSerializer(serializers.Serializer):
    assigned = serializers.ListField(child=serializers.IntegerField())


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="Any fragment of a name, short name, email, or 4+ phone digits"),
    OpenApiParameter("kind", str, enum=Customer.Kind.values),
    OpenApiParameter("tier", str, description="A key of the organisation's list customer_tier"),
    OpenApiParameter("stage", str, description="A key of the organisation's list customer_stage"),
    OpenApiParameter("source", str, enum=Customer.Source.values),
    OpenApiParameter("tag", int),
    OpenApiParameter("owner", int),
    OpenApiParameter("province", str),
    OpenApiParameter("city", str),
    OpenApiParameter(
        "ordering", str, enum=[p + f for f in selectors.ORDERING_FIELDS for p in ("", "-")], default="-updated_at"
    ),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int, description=f"1 to {selectors.MAX_PAGE_SIZE}, default 50"),
]


class CustomerListSerializer(SearchedListSerializer):
    results = CustomerOutputSerializer(many=True)


class CustomerViewSet(ScopedViewSet):
    """Customers 客户. PATCH needs the `version` you read (409 `version_conflict` when it is stale);
    DELETE moves to the recycle bin and `POST /{id}/restore/` brings it back."""

    module = MODULE
    queryset = Customer.objects.none()  # for the schema generator only; requests read through list_for
    filter_backends = ()  # filtering, ordering and paging are the selector's (the same as the UI's)

    def list_for(self, actor: Any) -> Any:
        return selectors.customers_with_relations_for(actor=actor)

    def _page_url(self, cursor: str | None) -> str | None:
        if not cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor)

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: CustomerListSerializer, **errors(400, 401, 403)})
    def list(self, request: Request) -> Response:
        params = request.query_params
        form = CustomerFilterForm(params, actor=request.user)
        if not form.is_valid():
            fields = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
            raise ValidationFailed(fields=fields)
        try:
            limit = int(params.get("limit") or selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        page = selectors.customer_list_for(
            actor=request.user,
            filters=form.filters(),
            ordering=params.get("ordering"),
            cursor=params.get("cursor"),
            limit=limit,
        )
        results = [customer_data(customer) for customer in page.items]
        return Response(searched_list_envelope(results, page=page, page_url=self._page_url))

    @extend_schema(responses={200: CustomerOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(customer_data(self.get_object()))

    @extend_schema(
        request=CustomerCreateSerializer, responses={201: CustomerCreatedSerializer, **errors(400, 401, 403)}
    )
    def create(self, request: Request) -> Response:
        data = _validated(CustomerCreateSerializer, request)
        _resolve_tags(request.user, data)
        customer, duplicates = services.customer_create(actor=request.user, **data)
        # Rendered from the saved instance (owner and every column set, search columns not shown) with
        # its tags in the selector's order: reading it back cost two queries and returned the same body.
        tags = sorted(data.get("tags", ()), key=lambda tag: tag.name)
        body = {
            **customer_data(customer, tags=tags),
            "duplicates": DuplicateSerializer(duplicates, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CustomerUpdateSerializer, responses={200: CustomerOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        data = _validated(CustomerUpdateSerializer, request)
        version = data.pop("version")
        _resolve_tags(request.user, data)
        services.customer_update(actor=request.user, customer=customer, expected_version=version, data=data)
        return Response(customer_data(self.get_object_for(customer.pk)))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.customer_delete(actor=request.user, customer=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: CustomerOutputSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a customer back from the recycle bin (it must be there, and in your scope)."""
        customer = selectors.customer_deleted_get_for(actor=request.user, pk=pk)
        services.customer_restore(actor=request.user, customer=customer)
        return Response(customer_data(self.get_object_for(customer.pk)))

    @extend_schema(request=AssignSerializer, responses={200: AssignedSerializer, **errors(400, 401, 403)})
    @action(detail=False, methods=["post"])
    def assign(self, request: Request) -> Response:
        """Transfer customers to a colleague (all or nothing); the new owner is notified."""
        data = _validated(AssignSerializer, request)
        wanted = list(dict.fromkeys(data["ids"]))
        customers = selectors.customers_for_bulk(actor=request.user, ids=wanted)
        missing = sorted(set(wanted) - {c.pk for c in customers})
        if missing:
            message = _("No such customers, or they are not visible to you: %(ids)s") % {
                "ids": ", ".join(map(str, missing))
            }
            raise ValidationFailed(message, fields={"ids": [message]})
        moved = services.customer_assign(actor=request.user, customers=customers, owner=data["owner"])
        return Response({"assigned": [c.pk for c in moved]})

    def get_object_for(self, pk: int) -> Customer:
        return selectors.customer_get_for(actor=self.request.user, pk=pk)

    # Export (GET /api/v1/customers/export/), defined in export_api.py.
    export = export_api.export


# Contacts --------------------------------------------------------------------------------------------


class ContactOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = CustomerRefSerializer()
    name = serializers.CharField()
    title = serializers.CharField()
    department = serializers.CharField()
    phone = serializers.CharField()
    phone_normalized = serializers.CharField()
    email = serializers.CharField()
    email_normalized = serializers.CharField()
    wechat = serializers.CharField()
    birthday = serializers.DateField(allow_null=True)
    is_primary = serializers.BooleanField()
    notes = serializers.CharField()
    custom = serializers.DictField(help_text="Custom field values by key (see /api/v1/custom-fields/).")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ContactInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    wechat = serializers.CharField(max_length=64, required=False, allow_blank=True)
    birthday = serializers.DateField(required=False, allow_null=True)
    is_primary = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    custom = serializers.DictField(
        required=False, help_text="Custom field values by key; on PATCH only the keys sent change (null clears)."
    )


class ContactCreateSerializer(ContactInputSerializer):
    customer = RecordField(getter=selectors.customer_get_for)


class ContactUpdateSerializer(ContactInputSerializer):
    version = serializers.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False


class ContactViewSet(ScopedViewSet):
    """Contacts 联系人 of the customers you may see. Changing one needs `edit` on its customer."""

    module = MODULE
    queryset = Contact.objects.none()
    ordering_fields = ["name", "updated_at", "created_at"]
    ordering = "-updated_at"

    class ContactFilterSerializer(serializers.Serializer):
        customer = serializers.IntegerField(required=False, min_value=1)
        search = serializers.CharField(required=False, allow_blank=True, max_length=selectors.SEARCH_MAX_LENGTH)

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return selectors.contact_list_for(actor=actor)
        filters = self.ContactFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.contact_list_for(actor=actor, customer=data.get("customer"), search=data.get("search", ""))

    @extend_schema(
        parameters=[ContactFilterSerializer],
        responses={200: ContactOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ContactOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: ContactOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ContactOutputSerializer(self.get_object()).data)

    @extend_schema(request=ContactCreateSerializer, responses={201: ContactOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(ContactCreateSerializer, request)
        contact = services.contact_create(actor=request.user, **data)
        return Response(ContactOutputSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ContactUpdateSerializer, responses={200: ContactOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        data = _validated(ContactUpdateSerializer, request)
        version = data.pop("version")
        contact = services.contact_update(actor=request.user, contact=contact, expected_version=version, data=data)
        return Response(ContactOutputSerializer(contact).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.contact_delete(actor=request.user, contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Tags ------------------------------------------------------------------------------------------------


class TagInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    colour = serializers.CharField(max_length=7, required=False, allow_blank=True)


class TagUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    colour = serializers.CharField(max_length=7, required=False)


class TagViewSet(ScopedViewSet):
    """The organisation's shared tags. Anyone who edits customers creates them; renaming, recolouring and
    deleting need `administer` in customers."""

    module = MODULE
    queryset = Tag.objects.none()
    ordering_fields = ["name"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        return selectors.tag_list_for(actor=actor)

    @extend_schema(responses={200: TagOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TagOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: TagOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(TagOutputSerializer(self.get_object()).data)

    @extend_schema(request=TagInputSerializer, responses={201: TagOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        tag = services.tag_create(actor=request.user, **_validated(TagInputSerializer, request))
        return Response(TagOutputSerializer(tag).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TagUpdateSerializer, responses={200: TagOutputSerializer, **errors(400, 401, 403, 404)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        tag = services.tag_update(
            actor=request.user, tag=self.get_object(), data=_validated(TagUpdateSerializer, request)
        )
        return Response(TagOutputSerializer(tag).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.tag_delete(actor=request.user, tag=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# (prefix, view set, basename): registered on the /api/v1/ router by kehu/api_urls.py.
ROUTES = [
    ("customers", CustomerViewSet, "customer"),
    ("contacts", ContactViewSet, "contact"),
    ("tags", TagViewSet, "tag"),
]

# Notes and attachments (feature "notes"): their view sets live in note_api.py.
from kehu.customers.note_api import ROUTES as NOTE_ROUTES  # noqa: E402

ROUTES += NOTE_ROUTES


def register_routes(router: Any) -> None:
    """For a router other than /api/v1/'s (which reads ROUTES itself)."""
    for prefix, viewset, basename in ROUTES:
        router.register(prefix, viewset, basename=basename)


# Public pool 公海, duplicates, merge and purge (customers/pool_api.py): actions on the customers routes,
# and GET /api/v1/pool/.
from kehu.customers.pool_api import install as _install_pool_api  # noqa: E402

_install_pool_api(CustomerViewSet, ROUTES)
