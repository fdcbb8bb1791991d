"""/api/v1/activities/ and /api/v1/my-day/ (collected by sales/api.py).

Thin like the rest of the API: an input serializer parses, a service writes, a selector reads. Customers,
contacts, leads, opportunities and owners named in the input are resolved through the selectors, so
another organisation's ids fail on their field like missing ones; activities outside the actor's scope
are 404. Times without an offset are read in the organisation's time zone, and day filters cut days there.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from kehu.accounts import selectors as account_selectors
from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.errors import ValidationFailed
from kehu.core.viewsets import ScopedViewSet
from kehu.customers import selectors as customer_selectors
from kehu.sales import activity_selectors as selectors
from kehu.sales import activity_services as services
from kehu.sales.activity_forms import ActivityFilterForm
from kehu.sales.activity_models import MAX_DURATION_MINUTES, Activity
from kehu.sales.models import MODULE


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ActivityUserRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class ActivityRecordRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ActivityOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    subject = serializers.CharField()
    notes = serializers.CharField()
    status = serializers.ChoiceField(choices=Activity.Status.choices)
    starts_at = serializers.DateTimeField(allow_null=True, help_text="When it takes place.")
    duration_minutes = serializers.IntegerField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True, help_text="When it must be done (tasks).")
    scheduled_at = serializers.DateTimeField(help_text="due_at, else starts_at: what lists, overdue and my-day use.")
    is_overdue = serializers.SerializerMethodField()
    remind_at = serializers.DateTimeField(allow_null=True)
    remind_minutes_before = serializers.IntegerField(allow_null=True)
    reminded_at = serializers.DateTimeField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    customer = ActivityRecordRef(allow_null=True)
    contact = ActivityRecordRef(allow_null=True)
    lead = ActivityRecordRef(allow_null=True)
    opportunity = ActivityRecordRef(allow_null=True)
    owner = ActivityUserRef(allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_is_overdue(self, activity: Activity) -> bool:
        return activity.is_overdue(self.context.get("now"))


class MyDayItemSerializer(ActivityOutputSerializer):
    bucket = serializers.SerializerMethodField(help_text="overdue, today, upcoming or done_today.")

    def get_bucket(self, activity: Activity) -> str:
        return selectors.bucket_of(activity, now=self.context["now"], tomorrow=self.context["tomorrow"])


class ActivityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices, required=False)
    subject = serializers.CharField(max_length=services.SUBJECT_MAX_LENGTH)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX_LENGTH)
    outcome = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX_LENGTH)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DURATION_MINUTES
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    remind_at = serializers.DateTimeField(required=False, allow_null=True, help_text="An absolute reminder time.")
    remind_minutes_before = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_DURATION_MINUTES,
        help_text="Or: remind this long before the activity's time (kept when the time moves).",
    )
    customer = RecordField(getter=customer_selectors.customer_get_for, required=False, allow_null=True)
    contact = RecordField(getter=customer_selectors.contact_get_for, required=False, allow_null=True)
    lead = RecordField(getter=selectors.lead_get_for, required=False, allow_null=True)
    opportunity = RecordField(getter=selectors.opportunity_get_for, required=False, allow_null=True)


class ActivityCreateSerializer(ActivityInputSerializer):
    status = serializers.ChoiceField(
        choices=Activity.Status.choices,
        required=False,
        help_text="planned (default), or done to log a follow-up that happened (not cancelled).",
    )
    done_at = serializers.DateTimeField(required=False, allow_null=True, help_text="With status done; default now.")
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="Defaults to you; another owner needs the assign right.",
    )


class ActivityUpdateSerializer(ActivityInputSerializer):
    owner = RecordField(getter=account_selectors.user_get_for, required=False, help_text="Needs the assign right.")
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read; a stale one answers 409 version_conflict."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False


class ActivityCompleteSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read (optional); a stale one answers 409."
    )
    outcome = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX_LENGTH)
    done_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default now; not in the future.")


class ActivityCancelSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False)
    outcome = serializers.CharField(
        required=False, allow_blank=True, max_length=services.TEXT_MAX_LENGTH, help_text="Why it was called off."
    )


class ActivityReopenSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False)


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="A fragment of the subject or the customer's name"),
    OpenApiParameter("kind", str, description="One of: " + ", ".join(Activity.Kind.values)),
    OpenApiParameter("status", str, description="One of: " + ", ".join(Activity.Status.values)),
    OpenApiParameter("owner", int),
    OpenApiParameter("customer", int),
    OpenApiParameter("contact", int),
    OpenApiParameter("lead", int),
    OpenApiParameter("opportunity", int),
    OpenApiParameter("date_from", str, description="YYYY-MM-DD: scheduled on or after this day (organisation's zone)"),
    OpenApiParameter("date_to", str, description="YYYY-MM-DD: scheduled on or before this day (organisation's zone)"),
    OpenApiParameter("overdue", bool, description="Planned and past their time"),
    OpenApiParameter(
        "ordering",
        str,
        enum=[p + f for f in selectors.ORDERING_FIELDS for p in ("", "-")],
        default=selectors.DEFAULT_ORDERING,
    ),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int, description="1 to 200, default 50"),
]


class _InOrgTimezone:
    """Reads and writes times in the organisation's zone (naive input times are its local times)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        timezone.activate(selectors.org_timezone(getattr(request.user, "organization", None)))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        timezone.deactivate()
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class ActivityViewSet(_InOrgTimezone, ScopedViewSet):
    """Activities 跟进记录: calls, visits, meetings, emails and tasks, linked to a customer, contact, lead or
    opportunity (at least one). POST with `status: done` logs a follow-up that happened, which moves the
    customer's `last_contacted_at`; `complete`, `cancel` and `reopen` change a planned activity's status
    (409 `activity_not_open` / `activity_already_open` when someone was first). PATCH needs the `version`
    you read (409 `version_conflict`); DELETE moves to the recycle bin and `restore` brings it back."""

    module = MODULE
    queryset = Activity.objects.none()  # for the schema generator only; requests read through list_for
    ordering_fields = list(selectors.ORDERING_FIELDS)
    ordering = selectors.DEFAULT_ORDERING

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return selectors.activity_list_for(actor=actor)
        form = ActivityFilterForm(self.request.query_params, actor=actor)
        if not form.is_valid():
            raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
        return selectors.activity_queryset_for(actor=actor, filters=form.filters())

    def _out(self, activity: Any, **kwargs: Any) -> Any:
        return ActivityOutputSerializer(activity, context={"now": timezone.now()}, **kwargs).data

    def _fresh(self, activity: Activity) -> Activity:
        return selectors.activity_get_for(actor=self.request.user, pk=activity.pk)

    @extend_schema(
        parameters=FILTER_PARAMETERS, responses={200: ActivityOutputSerializer(many=True), **errors(400, 401, 403)}
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._out(page, many=True))

    @extend_schema(responses={200: ActivityOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(request=ActivityCreateSerializer, responses={201: ActivityOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(ActivityCreateSerializer, request)
        activity = services.activity_create(actor=request.user, **data)
        return Response(self._out(self._fresh(activity)), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ActivityUpdateSerializer, responses={200: ActivityOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        activity = self.get_object()
        data = _validated(ActivityUpdateSerializer, request)
        version = data.pop("version")
        services.activity_update(actor=request.user, activity=activity, expected_version=version, data=data)
        return Response(self._out(self._fresh(activity)))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.activity_delete(actor=request.user, activity=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ActivityCompleteSerializer, responses={200: ActivityOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        """Mark a planned activity done (with its outcome); the customer's last_contacted_at moves forward."""
        activity = self.get_object()
        data = _validated(ActivityCompleteSerializer, request)
        services.activity_complete(
            actor=request.user,
            activity=activity,
            expected_version=data.get("version"),
            outcome=data.get("outcome"),
            done_at=data.get("done_at"),
        )
        return Response(self._out(self._fresh(activity)))

    @extend_schema(
        request=ActivityCancelSerializer, responses={200: ActivityOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Call off a planned activity (the reason as its outcome)."""
        activity = self.get_object()
        data = _validated(ActivityCancelSerializer, request)
        services.activity_cancel(
            actor=request.user, activity=activity, expected_version=data.get("version"), outcome=data.get("outcome")
        )
        return Response(self._out(self._fresh(activity)))

    @extend_schema(
        request=ActivityReopenSerializer, responses={200: ActivityOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        """A done or cancelled activity back to planned."""
        activity = self.get_object()
        data = _validated(ActivityReopenSerializer, request)
        services.activity_reopen(actor=request.user, activity=activity, expected_version=data.get("version"))
        return Response(self._out(self._fresh(activity)))

    @extend_schema(request=None, responses={200: ActivityOutputSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring an activity back from the recycle bin (it must be there, and its owner in your scope)."""
        activity = selectors.activity_deleted_get_for(actor=request.user, pk=pk)
        services.activity_restore(actor=request.user, activity=activity)
        return Response(self._out(self._fresh(activity)))


class MyDayPageSerializer(serializers.Serializer):
    results = MyDayItemSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page (its `cursor`), or null at the end.")


class MyDayViewSet(_InOrgTimezone, ScopedViewSet):
    """My day 我的一天: your own planned activities that are overdue, due today or in the next 7 days, and
    what you finished today; each item says its `bucket`. Bucket after bucket: the planned ones soonest
    first (overdue, today, upcoming), then the ones done today, latest first. `?bucket=` keeps one bucket;
    pages follow `next` (cursor), `limit` 1–200 (default 50). Days are the organisation's."""

    module = MODULE
    queryset = Activity.objects.none()
    filter_backends = ()  # the selector pages bucket by bucket

    def list_for(self, actor: Any) -> Any:
        return Activity.objects.own_for(actor)

    @extend_schema(
        parameters=[
            OpenApiParameter("bucket", str, enum=list(selectors.MY_DAY_BUCKETS), description="Only this bucket"),
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int, description=f"1 to {selectors.MAX_PAGE_SIZE}, default 50"),
        ],
        responses={200: MyDayPageSerializer, **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit") or selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        page = selectors.my_day_page_for(
            actor=request.user, bucket=params.get("bucket", ""), cursor=params.get("cursor"), limit=limit
        )
        context = {"now": page.extra["now"], "tomorrow": page.extra["tomorrow"]}
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        return Response({"results": MyDayItemSerializer(page.items, many=True, context=context).data, "next": next_url})


ROUTES: list[tuple[str, Any, str]] = [
    ("activities", ActivityViewSet, "activity"),
    ("my-day", MyDayViewSet, "my-day"),
]
