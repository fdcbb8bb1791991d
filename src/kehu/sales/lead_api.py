"""lead routes of /api/v1/ (collected by sales/api.py): /leads/, /web-forms/, /assignment-rules/,
/lead-sources/.

Thin by rule: an input serializer parses, a service writes (it checks the permission and records the audit
entry), a selector reads (from `visible_to(actor)`), an output serializer renders. Leads outside the
actor's organisation or scope are 404; ids in the input are resolved through selectors, so they fail like
missing ones.
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
from kehu.core import export_api
from kehu.core.api import ErrorSerializer, RecordField, RefSerializer, SearchedListSerializer, searched_list_envelope
from kehu.core.errors import ValidationFailed
from kehu.core.services import require
from kehu.core.viewsets import ScopedViewSet
from kehu.customers.api import UserRefSerializer
from kehu.customers.selectors import customer_get_for
from kehu.sales import lead_assignment, lead_exporting, lead_selectors, lead_services, lead_webforms
from kehu.sales.lead_forms import LeadFilterForm
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSource, WebForm
from kehu.sales.models import MODULE


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Leads -----------------------------------------------------------------------------------------------------


BUILTIN_SOURCES = dict(Lead.Source.choices)


class LeadOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    company = serializers.CharField()
    title = serializers.CharField()
    phone = serializers.CharField()
    phone_normalized = serializers.CharField()
    email = serializers.CharField()
    email_normalized = serializers.CharField()
    source = serializers.CharField()
    source_label = serializers.SerializerMethodField()
    status = serializers.CharField()
    score = serializers.IntegerField()
    industry = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    notes = serializers.CharField()
    custom = serializers.DictField(help_text="Custom field values by key (see /api/v1/custom-fields/).")
    owner = UserRefSerializer(allow_null=True)
    assigned_rule = serializers.IntegerField(source="assigned_rule_id", allow_null=True)
    assigned_rule_name = serializers.CharField(
        help_text="The rule that chose the owner; empty after a manual assignment."
    )
    assigned_at = serializers.DateTimeField(allow_null=True)
    web_form = serializers.IntegerField(source="web_form_id", allow_null=True)
    last_activity_at = serializers.DateTimeField(allow_null=True)
    converted_at = serializers.DateTimeField(allow_null=True)
    converted_customer = serializers.IntegerField(source="converted_customer_id", allow_null=True)
    converted_contact = serializers.IntegerField(source="converted_contact_id", allow_null=True)
    converted_opportunity = serializers.IntegerField(source="converted_opportunity_id", allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_source_label(self, lead: Lead) -> str:
        if lead.source in BUILTIN_SOURCES:  # an organisation's own sources cannot take a built-in key
            return str(BUILTIN_SOURCES[lead.source])
        labels = self.context.get("source_labels")
        if labels is None:
            labels = self.context["source_labels"] = lead_selectors.source_labels(lead.organization_id)
        return labels.get(lead.source, lead.source)


class LeadInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    source = serializers.CharField(
        max_length=20, required=False, help_text="A built-in source key or one of /api/v1/lead-sources/."
    )
    # A plain string (checked by the model's choices): a ChoiceField would add a second "status" enum to the
    # schema beside the users' filter, which drf-spectacular can only name by a hash.
    status = serializers.CharField(
        max_length=12, required=False, help_text="new, contacted, qualified or unqualified (converted: by converting)"
    )
    score = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    province = serializers.CharField(max_length=50, required=False, allow_blank=True)
    city = serializers.CharField(max_length=50, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    custom = serializers.DictField(
        required=False, help_text="Custom field values by key; on PATCH only the keys sent change (null clears)."
    )


class LeadCreateSerializer(LeadInputSerializer):
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="Leave out to let the assignment rules choose (you keep the lead when none does); "
        "another owner than you needs the assign right.",
    )


class LeadUpdateSerializer(LeadInputSerializer):
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
            raise serializers.ValidationError({"owner": [_("Change the owner with POST /api/v1/leads/{id}/assign/.")]})
        return attrs


class LeadAssignSerializer(serializers.Serializer):
    owner = RecordField(
        getter=account_selectors.user_get_for, required=False, allow_null=True, help_text="Give the lead to this user."
    )
    rules = serializers.BooleanField(required=False, default=False, help_text="Apply the assignment rules instead.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("owner")) == bool(attrs.get("rules")):
            raise serializers.ValidationError({"owner": [_('Give either "owner" or "rules": true.')]})
        return attrs


class LeadAssignedSerializer(LeadOutputSerializer):
    changed = serializers.BooleanField(help_text="Whether the owner (or the rule that chose it) changed.")


class LeadConvertSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, help_text="The version you read (409 when stale).")
    customer = RecordField(
        getter=customer_get_for,
        required=False,
        allow_null=True,
        help_text="An existing customer to join (see GET .../matches/); leave out to create a new one "
        "(409 duplicate_customer when the duplicate rules find it exists).",
    )
    create_opportunity = serializers.BooleanField(required=False, default=False)
    opportunity_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True)
    expected_close_date = serializers.DateField(required=False, allow_null=True)


class LeadConvertedSerializer(serializers.Serializer):
    lead = LeadOutputSerializer()
    customer = RefSerializer()
    contact = RefSerializer()
    opportunity = RefSerializer(allow_null=True)
    created_customer = serializers.BooleanField()
    created_contact = serializers.BooleanField()


class CustomerMatchSerializer(serializers.Serializer):
    customer = serializers.SerializerMethodField(help_text="id and name, or null when you cannot see it")
    owner = serializers.CharField(source="owner_name")
    reasons = serializers.ListField(child=serializers.CharField())
    strong = serializers.BooleanField(help_text="A new customer cannot be created while a strong match exists.")

    def get_customer(self, match: Any) -> dict[str, Any] | None:
        return {"id": match.customer.pk, "name": match.customer.name} if match.visible else None


class LeadListSerializer(SearchedListSerializer):
    results = LeadOutputSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="A fragment of the name, company or email, or 4+ phone digits"),
    OpenApiParameter("status", str, enum=Lead.Status.values),
    OpenApiParameter("source", str),
    OpenApiParameter("owner", str, description='A user id, or "none" for unassigned leads'),
    OpenApiParameter("created_from", str, description="YYYY-MM-DD"),
    OpenApiParameter("created_to", str, description="YYYY-MM-DD (inclusive)"),
    OpenApiParameter("province", str),
    OpenApiParameter("city", str),
    OpenApiParameter(
        "ordering",
        str,
        enum=[p + f for f in lead_selectors.ORDERING_FIELDS for p in ("", "-")],
        default=lead_selectors.DEFAULT_ORDERING,
    ),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int, description=f"1 to {lead_selectors.MAX_PAGE_SIZE}, default 50"),
]


class LeadViewSet(ScopedViewSet):
    """Leads 线索. Created without an owner, a lead goes through the assignment rules. PATCH needs the
    `version` you read (409 `version_conflict` when it is stale); DELETE moves to the recycle bin and
    `POST /{id}/restore/` brings it back. `POST /{id}/assign/` assigns, `POST /{id}/convert/` converts."""

    module = MODULE
    queryset = Lead.objects.none()  # for the schema generator only; requests read through list_for
    filter_backends = ()  # filtering, ordering and paging are the selector's (the same as the UI's)

    def list_for(self, actor: Any) -> Any:
        return lead_selectors.leads_with_relations_for(actor=actor)

    def _page_url(self, cursor: str | None) -> str | None:
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor) if cursor else None

    def _out(self, lead: Lead) -> dict[str, Any]:
        return LeadOutputSerializer(lead).data

    def _fresh(self, pk: int) -> Lead:
        """The lead as just written, read once (a rule may have given it to someone outside the actor's scope:
        the answer still describes what they sent). Only ever called with the id of a lead this request
        created or changed through a service, which checked the actor's rights."""
        return Lead.objects.filter(organization_id=self.request.user.organization_id).select_related("owner").get(pk=pk)

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: LeadListSerializer, **errors(400, 401, 403)})
    def list(self, request: Request) -> Response:
        params = request.query_params
        form = LeadFilterForm(params, actor=request.user)
        if not form.is_valid():
            raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
        try:
            limit = int(params.get("limit") or lead_selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        page = lead_selectors.lead_list_for(
            actor=request.user,
            filters=form.filters(),
            ordering=params.get("ordering"),
            cursor=params.get("cursor"),
            limit=limit,
        )
        context = {"source_labels": lead_selectors.source_labels(request.user.organization_id)}
        results = LeadOutputSerializer(page.items, many=True, context=context).data
        return Response(searched_list_envelope(results, page=page, page_url=self._page_url))

    @extend_schema(
        parameters=[*export_api.parameters("leads"), *FILTER_PARAMETERS[:-3]], responses=export_api.RESPONSES
    )
    @action(detail=False, methods=["get"], content_negotiation_class=export_api.IgnoreFormatParameter)
    def export(self, request: Request) -> Any:
        """The leads you may see that match the list's filters (or the selected ids), as CSV (UTF-8 with
        BOM) or XLSX, streamed. Needs the export right; audited as `leads.export`."""
        form = LeadFilterForm(request.query_params, actor=request.user)
        return export_api.respond(request, form=form, run=lead_exporting.lead_export)

    @extend_schema(responses={200: LeadOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(request=LeadCreateSerializer, responses={201: LeadOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(LeadCreateSerializer, request)
        data.setdefault("source", Lead.Source.API)
        lead = lead_services.lead_create(actor=request.user, **data)
        # The lead as the service wrote it (every field it inserted, the owner it chose): reading it back
        # would give the same answer for one more query (tests/sales/test_lead_create_queries.py compares).
        return Response(self._out(lead), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=LeadUpdateSerializer, responses={200: LeadOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        lead = self.get_object()
        data = _validated(LeadUpdateSerializer, request)
        version = data.pop("version")
        lead_services.lead_update(actor=request.user, lead=lead, expected_version=version, data=data)
        return Response(self._out(self._fresh(lead.pk)))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        lead_services.lead_delete(actor=request.user, lead=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: LeadOutputSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a lead back from the recycle bin (it must be there, and in your scope)."""
        lead = lead_selectors.lead_deleted_get_for(actor=request.user, pk=pk)
        lead_services.lead_restore(actor=request.user, lead=lead)
        return Response(self._out(self._fresh(lead.pk)))

    @extend_schema(request=LeadAssignSerializer, responses={200: LeadAssignedSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """Give the lead to a user (`{"owner": id}`) or run the assignment rules for it (`{"rules": true}`);
        needs the assign right. The answer says which rule chose the owner (`assigned_rule_name`)."""
        lead = self.get_object()
        data = _validated(LeadAssignSerializer, request)
        if data.get("rules"):
            (outcome,) = lead_services.leads_apply_rules(actor=request.user, leads=[lead])
            changed = outcome.changed
        else:
            changed = bool(lead_services.leads_assign(actor=request.user, leads=[lead], owner=data["owner"]))
        return Response({**self._out(self._fresh(lead.pk)), "changed": changed})

    @extend_schema(responses={200: CustomerMatchSerializer(many=True), **errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def matches(self, request: Request, pk: str | None = None) -> Response:
        """Existing customers this lead may already be (the customers' duplicate rules), for `convert`."""
        matches = lead_services.lead_customer_matches_for(actor=request.user, lead=self.get_object())
        return Response(CustomerMatchSerializer(matches, many=True).data)

    @extend_schema(
        request=LeadConvertSerializer, responses={201: LeadConvertedSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, pk: str | None = None) -> Response:
        """Turn a qualified lead into a customer and contact (and an opportunity with `create_opportunity`).
        409 `duplicate_customer` when a new customer would duplicate one, `already_converted` when done."""
        lead = self.get_object()
        data = _validated(LeadConvertSerializer, request)
        result = lead_services.lead_convert(
            actor=request.user,
            lead=lead,
            expected_version=data.get("version"),
            customer=data.get("customer"),
            create_opportunity=data.get("create_opportunity", False),
            opportunity_name=data.get("opportunity_name", ""),
            amount=data.get("amount"),
            expected_close_date=data.get("expected_close_date"),
        )
        body = {
            "lead": self._out(self._fresh(lead.pk)),
            "customer": {"id": result.customer.pk, "name": result.customer.name},
            "contact": {"id": result.contact.pk, "name": result.contact.name},
            "opportunity": {"id": result.opportunity.pk, "name": result.opportunity.name}
            if result.opportunity
            else None,
            "created_customer": result.created_customer,
            "created_contact": result.created_contact,
        }
        return Response(body, status=status.HTTP_201_CREATED)


# Web forms ---------------------------------------------------------------------------------------------------


class WebFormFieldSerializer(serializers.Serializer):
    field = serializers.CharField(help_text='A lead field (name, company, phone, ...) or "custom.<key>"')
    label = serializers.CharField(allow_blank=True, required=False, max_length=100)
    required = serializers.BooleanField(required=False, default=False)


class WebFormOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    title = serializers.CharField()
    intro = serializers.CharField()
    fields = WebFormFieldSerializer(many=True)
    submit_label = serializers.CharField()
    thank_you = serializers.CharField()
    source = serializers.CharField()
    is_active = serializers.BooleanField()
    embed_origins = serializers.CharField()
    public_url = serializers.SerializerMethodField()
    embed_snippet = serializers.SerializerMethodField()
    submission_count = serializers.IntegerField()
    last_submission_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_public_url(self, form: WebForm) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(form.public_path) if request else form.public_path

    def get_embed_snippet(self, form: WebForm) -> str:
        return f'<iframe src="{self.get_public_url(form)}" width="100%" height="640" style="border:0"></iframe>'


class WebFormInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    intro = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    fields = WebFormFieldSerializer(many=True, required=False)
    submit_label = serializers.CharField(max_length=50, required=False, allow_blank=True)
    thank_you = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    source = serializers.CharField(max_length=20, required=False)
    is_active = serializers.BooleanField(required=False)
    embed_origins = serializers.CharField(max_length=500, required=False, allow_blank=True)


class WebFormUpdateSerializer(WebFormInputSerializer):
    version = serializers.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False


def _form_data(data: dict[str, Any]) -> dict[str, Any]:
    if "fields" in data:
        data["fields"] = [dict(item) for item in data["fields"]]
    return data


class WebFormViewSet(ScopedViewSet):
    """Web-to-lead forms. Everyone with view in sales reads them; creating, changing and deleting them
    needs administer. Each has a public address (`public_url`, no sign-in) and an <iframe> snippet."""

    module = MODULE
    queryset = WebForm.objects.none()
    ordering_fields = ["name"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        return lead_selectors.webform_list_for(actor=actor)

    def _out(self, form: WebForm, code: int = status.HTTP_200_OK) -> Response:
        return Response(WebFormOutputSerializer(form, context={"request": self.request}).data, status=code)

    @extend_schema(responses={200: WebFormOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebFormOutputSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(responses={200: WebFormOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._out(self.get_object())

    @extend_schema(request=WebFormInputSerializer, responses={201: WebFormOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _form_data(_validated(WebFormInputSerializer, request))
        return self._out(lead_webforms.webform_create(actor=request.user, **data), status.HTTP_201_CREATED)

    @extend_schema(
        request=WebFormUpdateSerializer, responses={200: WebFormOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        form = self.get_object()
        data = _form_data(_validated(WebFormUpdateSerializer, request))
        version = data.pop("version")
        return self._out(
            lead_webforms.webform_update(actor=request.user, form=form, expected_version=version, data=data)
        )

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        lead_webforms.webform_delete(actor=request.user, form=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebFormOutputSerializer, **errors(401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="new-address")
    def new_address(self, request: Request, pk: str | None = None) -> Response:
        """A new public address; the old one stops working at once."""
        return self._out(lead_webforms.webform_new_address(actor=request.user, form=self.get_object()))


# Assignment rules --------------------------------------------------------------------------------------------


class ConditionSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text="source, region, province, city, industry, company, name, title, email, "
        'phone, score, notes or "custom.<key>"'
    )
    op = serializers.ChoiceField(choices=list(lead_assignment.OPERATORS))
    value = serializers.JSONField(help_text='A text; for "in" a list of texts')


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    is_active = serializers.BooleanField()
    conditions = ConditionSerializer(many=True)
    action = serializers.CharField()
    team = RefSerializer(allow_null=True)
    user = UserRefSerializer(allow_null=True)
    cap = serializers.IntegerField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField(required=False, default=True)
    conditions = serializers.ListField(child=serializers.DictField(), required=False, max_length=50)
    action = serializers.ChoiceField(choices=AssignmentRule.Action.choices)
    team = RecordField(getter=account_selectors.team_get_for, required=False, allow_null=True)
    user = RecordField(getter=account_selectors.user_get_for, required=False, allow_null=True)
    cap = serializers.IntegerField(min_value=0, max_value=lead_assignment.MAX_CAP, required=False, default=0)


class RuleUpdateSerializer(RuleInputSerializer):
    version = serializers.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False
                field.default = serializers.empty


class RuleMoveSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=0, help_text="0 = first")


class ReapplySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=3650)


class ReappliedSerializer(serializers.Serializer):
    reassigned = serializers.IntegerField()


class SettingsSerializer(serializers.Serializer):
    default_owner = UserRefSerializer(allow_null=True)
    reassign_after_days = serializers.IntegerField()
    version = serializers.IntegerField()


class SettingsUpdateSerializer(serializers.Serializer):
    default_owner = RecordField(getter=account_selectors.user_get_for, required=False, allow_null=True)
    reassign_after_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    version = serializers.IntegerField(min_value=1, required=False)


class AssignmentRuleViewSet(ScopedViewSet):
    """The ordered automatic assignment 自动分配 rules (read by everyone with view in sales; changed with
    administer). `POST /{id}/move/` reorders, `POST /reapply/` re-assigns open leads untouched for N days,
    `GET|PATCH /settings/` is the fallback owner and the daily re-assignment."""

    module = MODULE
    queryset = AssignmentRule.objects.none()
    ordering = "position"

    def list_for(self, actor: Any) -> Any:
        return lead_selectors.rule_list_for(actor=actor)

    def _out(self, rule: AssignmentRule, code: int = status.HTTP_200_OK) -> Response:
        return Response(RuleOutputSerializer(rule).data, status=code)

    @extend_schema(responses={200: RuleOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RuleOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: RuleOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._out(self.get_object())

    @extend_schema(request=RuleInputSerializer, responses={201: RuleOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        rule = lead_assignment.rule_create(actor=request.user, **_validated(RuleInputSerializer, request))
        return self._out(rule, status.HTTP_201_CREATED)

    @extend_schema(
        request=RuleUpdateSerializer, responses={200: RuleOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        data = _validated(RuleUpdateSerializer, request)
        version = data.pop("version")
        return self._out(
            lead_assignment.rule_update(actor=request.user, rule=rule, expected_version=version, data=data)
        )

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        lead_assignment.rule_delete(actor=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RuleMoveSerializer, responses={200: RuleOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        data = _validated(RuleMoveSerializer, request)
        return self._out(lead_assignment.rule_move(actor=request.user, rule=rule, position=data["position"]))

    @extend_schema(request=ReapplySerializer, responses={200: ReappliedSerializer, **errors(400, 401, 403)})
    @action(detail=False, methods=["post"])
    def reapply(self, request: Request) -> Response:
        """Re-apply the rules to open leads nobody touched for `days` days (each goes to someone else)."""
        require(request.user, "administer", MODULE)
        data = _validated(ReapplySerializer, request)
        moved = lead_services.leads_reassign_stale(organization_id=request.user.organization_id, days=data["days"])
        return Response({"reassigned": moved})

    @extend_schema(methods=["GET"], request=None, responses={200: SettingsSerializer, **errors(401, 403)})
    @extend_schema(
        methods=["PATCH"],
        request=SettingsUpdateSerializer,
        responses={200: SettingsSerializer, **errors(400, 401, 403, 409)},
    )
    @action(detail=False, methods=["get", "patch"], url_path="settings")
    def lead_settings(self, request: Request) -> Response:
        """The fallback owner (when no rule assigns) and the days after which untouched open leads are
        re-assigned daily (0 = never)."""
        from kehu.sales.lead_models import LeadSettings

        require(request.user, "view", LeadSettings)
        if request.method == "PATCH":
            data = _validated(SettingsUpdateSerializer, request)
            version = data.pop("version", None)
            lead_assignment.lead_settings_update(actor=request.user, expected_version=version, data=data)
        current = lead_selectors.lead_settings_for(organization_id=request.user.organization_id)
        return Response(SettingsSerializer(current).data)


# Sources ---------------------------------------------------------------------------------------------------


class SourceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    label = serializers.CharField()
    is_active = serializers.BooleanField()
    position = serializers.IntegerField()


class SourceInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=50)
    key = serializers.CharField(max_length=20, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)


class SourceUpdateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=50, required=False)
    is_active = serializers.BooleanField(required=False)


class LeadSourceViewSet(ScopedViewSet):
    """The sources an organisation adds to the built-in ones (web_form, import, api, campaign, referral,
    exhibition, other). Read by everyone with view in sales; changed with administer."""

    module = MODULE
    queryset = LeadSource.objects.none()
    ordering = "position"

    def list_for(self, actor: Any) -> Any:
        return lead_selectors.lead_source_list_for(actor=actor)

    @extend_schema(responses={200: SourceOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SourceOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: SourceOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(SourceOutputSerializer(self.get_object()).data)

    @extend_schema(request=SourceInputSerializer, responses={201: SourceOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        source = lead_services.source_create(actor=request.user, **_validated(SourceInputSerializer, request))
        return Response(SourceOutputSerializer(source).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SourceUpdateSerializer, responses={200: SourceOutputSerializer, **errors(400, 401, 403, 404)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        source = self.get_object()
        data = _validated(SourceUpdateSerializer, request)
        return Response(
            SourceOutputSerializer(lead_services.source_update(actor=request.user, source=source, data=data)).data
        )

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        lead_services.source_delete(actor=request.user, source=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


ROUTES: list[tuple[str, Any, str]] = [
    ("leads", LeadViewSet, "lead"),
    ("web-forms", WebFormViewSet, "web-form"),
    ("assignment-rules", AssignmentRuleViewSet, "assignment-rule"),
    ("lead-sources", LeadSourceViewSet, "lead-source"),
]
