"""/api/v1/tickets/ (and its actions), /api/v1/ticket-messages/, /api/v1/ticket-attachments/,
/api/v1/queues/, /api/v1/canned-replies/, /api/v1/agent-statuses/ (collected by service/api.py).

Thin by rule: an input serializer parses, a service writes (checking the permission and recording the
audit entry), a selector reads from `visible_to(actor)`, an output function renders. A ticket outside the
actor's view is 404 because `get_object` reads through the selector, and ids in the input are resolved the
same way.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from kehu.accounts import selectors as account_selectors
from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.errors import ValidationFailed
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.core.viewsets import ScopedViewSet, SingletonViewSet
from kehu.customers import selectors as customer_selectors
from kehu.customers.note_api import PassthroughRenderer
from kehu.customers.note_views import file_response
from kehu.service import ticket_config_services, ticket_selectors, ticket_services
from kehu.service.models import MODULE
from kehu.service.ticket_forms import TicketFilterForm
from kehu.service.ticket_models import (
    AgentStatus,
    CannedReply,
    Queue,
    ServiceSettings,
    Ticket,
    TicketAttachment,
    TicketMessage,
)


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# One field for every timestamp written (a list page writes about 450): building a DRF field per value
# cost a sixth of the list's CPU. It keeps no state between calls (format and time zone come from settings).
_DATETIME = serializers.DateTimeField()


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def _user(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.name, "email": user.email}


def _files(request: Request) -> list[Any]:
    return list(request.FILES.getlist("files")) if hasattr(request, "FILES") else []


# Output ---------------------------------------------------------------------------------------------------


class TicketUserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class TicketRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TicketTagRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()


class TicketOutputSerializer(serializers.Serializer):
    """The documented shape of a ticket; ticket_data() builds it (a test holds the two equal)."""

    id = serializers.IntegerField()
    number = serializers.IntegerField()
    key = serializers.CharField(help_text="The ticket key as it appears in e-mail subjects: [#123].")
    subject = serializers.CharField()
    kind = serializers.CharField(help_text="A key of the organisation's list ticket_kind (complaint, inquiry, ...).")
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices)
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices)
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    queue = TicketRefSerializer(allow_null=True)
    customer = TicketRefSerializer(allow_null=True)
    contact = TicketRefSerializer(allow_null=True)
    requester_email = serializers.CharField()
    requester_name = serializers.CharField()
    owner = TicketUserRefSerializer(allow_null=True, help_text="The assignee.")
    assignment_reason = serializers.CharField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    tags = TicketTagRefSerializer(many=True)
    custom = serializers.DictField()
    first_responded_at = serializers.DateTimeField(allow_null=True)
    first_response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    last_customer_message_at = serializers.DateTimeField(allow_null=True)
    follow_up_of = serializers.IntegerField(allow_null=True, help_text="The id of the closed ticket this one follows.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TicketFollowUpRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    key = serializers.CharField()


class TicketDetailOutputSerializer(TicketOutputSerializer):
    follow_ups = TicketFollowUpRefSerializer(
        many=True, help_text="Tickets opened by the customer's replies after this one was closed (those you see)."
    )


def _ref(record: Any, attr: str = "name") -> dict[str, Any] | None:
    return None if record is None else {"id": record.pk, "name": getattr(record, attr)}


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "key": ticket.key,
        "subject": ticket.subject,
        "kind": ticket.kind,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "status": ticket.status,
        "queue": _ref(ticket.queue) if ticket.queue_id else None,
        "customer": _ref(ticket.customer) if ticket.customer_id else None,
        "contact": _ref(ticket.contact) if ticket.contact_id else None,
        "requester_email": ticket.requester_email,
        "requester_name": ticket.requester_name,
        "owner": _user(ticket.owner) if ticket.owner_id else None,
        "assignment_reason": ticket.assignment_reason,
        "assigned_at": _when(ticket.assigned_at),
        "tags": [{"id": t.pk, "name": t.name, "colour": t.colour} for t in ticket.tags.all()],
        "custom": dict(ticket.custom),
        "first_responded_at": _when(ticket.first_responded_at),
        "first_response_due_at": _when(ticket.first_response_due_at),
        "resolution_due_at": _when(ticket.resolution_due_at),
        "resolved_at": _when(ticket.resolved_at),
        "closed_at": _when(ticket.closed_at),
        "last_customer_message_at": _when(ticket.last_customer_message_at),
        "follow_up_of": ticket.follow_up_of_id,
        "version": ticket.version,
        "created_at": _when(ticket.created_at),
        "updated_at": _when(ticket.updated_at),
    }


class TicketAttachmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment: TicketAttachment) -> str:
        path = reverse("api:ticket-attachment-download", args=[attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class TicketMessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ticket = serializers.IntegerField(source="ticket_id")
    kind = serializers.ChoiceField(choices=TicketMessage.Kind.choices)
    author = TicketUserRefSerializer(allow_null=True, help_text="The agent (replies and notes); null for the customer.")
    author_name = serializers.CharField()
    author_email = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    message_id = serializers.CharField(help_text="The e-mail Message-ID.")
    in_reply_to = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True, help_text="Public replies: when the e-mail went out.")
    send_error = serializers.CharField()
    attachments = TicketAttachmentOutputSerializer(many=True, source="attachments.all")


def message_data(message: TicketMessage, *, request: Request | None = None) -> dict[str, Any]:
    """TicketMessageOutputSerializer's shape built directly (a test holds the two equal): the serializer's
    fields per message and per file cost more than the conversation's queries."""
    return {
        "id": message.pk,
        "ticket": message.ticket_id,
        "kind": message.kind,
        "author": _user(message.author) if message.author_id else None,
        "author_name": message.author_name,
        "author_email": message.author_email,
        "body": message.body,
        "created_at": _when(message.created_at),
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "sent_at": _when(message.sent_at),
        "send_error": message.send_error,
        "attachments": [
            {
                "id": file.pk,
                "name": file.original_name,
                "size": file.size,
                "content_type": file.content_type,
                "download_url": _download_url(file.pk, request),
            }
            for file in message.attachments.all()
        ],
    }


def _download_url(pk: int, request: Request | None) -> str:
    path = reverse("api:ticket-attachment-download", args=[pk])
    return request.build_absolute_uri(path) if request else path


# Input ----------------------------------------------------------------------------------------------------


def _queue_getter(*, actor: Any, pk: Any) -> Queue:
    return ticket_selectors.queue_get_for(actor=actor, pk=pk)


class TicketInputSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=255)
    kind = serializers.CharField(
        max_length=20, required=False, help_text="A key of the organisation's active ticket types (list ticket_kind)."
    )
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices, required=False)
    queue = RecordField(getter=_queue_getter, required=False, allow_null=True)
    customer = RecordField(getter=customer_selectors.customer_get_for, required=False, allow_null=True)
    contact = RecordField(getter=customer_selectors.contact_get_for, required=False, allow_null=True)
    requester_email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    requester_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)
    custom = serializers.DictField(required=False, help_text="Custom field values by key (see /api/v1/custom-fields/).")


class TicketCreateSerializer(TicketInputSerializer):
    body = serializers.CharField(
        required=False, allow_blank=True, max_length=50_000, help_text="What the customer said: the first message."
    )
    owner = RecordField(
        getter=account_selectors.user_get_for,
        required=False,
        allow_null=True,
        help_text="The assignee; someone else than you needs the assign right. Empty: the queue's method.",
    )
    assign_to_me = serializers.BooleanField(required=False, default=False)


class TicketUpdateSerializer(TicketInputSerializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you read; a stale one answers 409.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name, where in (("owner", "assign"), ("status", "resolve, close or reopen")):
            if name in self.initial_data:
                raise serializers.ValidationError(
                    {name: [_("Change it with the %(action)s action.") % {"action": where}]}
                )
        return attrs


class TicketMessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=50_000)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False), required=False, max_length=10
    )


class ReplyInputSerializer(TicketMessageInputSerializer):
    status = serializers.ChoiceField(
        choices=Ticket.Status.choices,
        required=False,
        help_text="The ticket's status after the reply: open (default), pending or resolved.",
    )


class AssignInputSerializer(serializers.Serializer):
    owner = RecordField(getter=account_selectors.user_get_for, allow_null=True, help_text="null: back to the queue.")


FILTER_PARAMETERS = [
    OpenApiParameter("search", str, description="Number, subject, requester name or email"),
    OpenApiParameter("status", str, enum=ticket_selectors.STATUS_FILTERS, description="active: new, open or pending"),
    OpenApiParameter("priority", str, enum=Ticket.Priority.values),
    OpenApiParameter("kind", str, description="A key of the organisation's list ticket_kind"),
    OpenApiParameter("channel", str, enum=Ticket.Channel.values),
    OpenApiParameter("queue", int),
    OpenApiParameter("assignee", str, description='"me", "unassigned" or a user id'),
    OpenApiParameter("customer", int),
    OpenApiParameter("tag", int),
    OpenApiParameter(
        "ordering",
        str,
        enum=[p + f for f in ticket_selectors.ORDERING_FIELDS for p in ("", "-")],
        default="-updated_at",
        description="resolution_due_at / first_response_due_at ascending: least time left first",
    ),
    OpenApiParameter("cursor", str),
    OpenApiParameter("limit", int, description=f"1 to {ticket_selectors.MAX_PAGE_SIZE}, default 50"),
]


class TicketListSerializer(serializers.Serializer):
    results = TicketOutputSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


# Tickets --------------------------------------------------------------------------------------------------


class TicketViewSet(ScopedViewSet):
    """Tickets 工单. PATCH needs the `version` you read (409 when stale); the assignee and the status change
    through the actions. DELETE moves to the recycle bin; `POST /{id}/restore/` brings it back."""

    module = MODULE
    queryset = Ticket.objects.none()
    filter_backends = ()
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]

    def list_for(self, actor: Any) -> Any:
        return ticket_selectors.tickets_with_relations_for(actor=actor)

    def _page_url(self, cursor: str | None) -> str | None:
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor) if cursor else None

    def _fresh(self, pk: int) -> dict[str, Any]:
        """The ticket as written. A change can take it out of the actor's view (given back to a queue they
        do not belong to): the answer then still shows what they just wrote, and nothing more."""
        ticket = self.list_for(self.request.user).filter(pk=pk).first()
        if ticket is None:
            ticket = ticket_selectors.with_list_relations(Ticket.objects.filter(pk=pk)).get()
        return ticket_data(ticket)

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: TicketListSerializer, **errors(400, 401, 403)})
    def list(self, request: Request) -> Response:
        params = request.query_params
        form = TicketFilterForm(params, actor=request.user)
        if not form.is_valid():
            raise ValidationFailed(fields={name: [str(e) for e in errs] for name, errs in form.errors.items()})
        try:
            limit = int(params.get("limit") or ticket_selectors.DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationFailed(fields={"limit": [_("Enter a whole number.")]}) from exc
        page = ticket_selectors.ticket_list_for(
            actor=request.user,
            filters=form.filters(),
            ordering=params.get("ordering"),
            cursor=params.get("cursor"),
            limit=limit,
        )
        return Response(
            {
                "results": [ticket_data(t) for t in page.items],
                "next": self._page_url(page.next_cursor),
                "previous": self._page_url(page.previous_cursor),
            }
        )

    @extend_schema(responses={200: TicketDetailOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        follow_ups = ticket_selectors.follow_ups_for(actor=request.user, ticket=ticket)
        return Response(
            {**ticket_data(ticket), "follow_ups": [{"id": t.pk, "number": t.number, "key": t.key} for t in follow_ups]}
        )

    def _resolve_tags(self, data: dict[str, Any]) -> None:
        if "tags" in data:
            data["tags"] = customer_selectors.tags_by_ids_for(actor=self.request.user, ids=data["tags"])

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(TicketCreateSerializer, request)
        self._resolve_tags(data)
        data.setdefault("channel", Ticket.Channel.API)
        ticket = ticket_services.ticket_create(actor=request.user, **data)
        return Response(self._fresh(ticket.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TicketUpdateSerializer, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        data = _validated(TicketUpdateSerializer, request)
        version = data.pop("version")
        self._resolve_tags(data)
        ticket_services.ticket_update(actor=request.user, ticket=ticket, expected_version=version, data=data)
        return Response(self._fresh(ticket.pk))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        ticket_services.ticket_delete(actor=request.user, ticket=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: TicketOutputSerializer, **errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring a ticket back from the recycle bin."""
        ticket = ticket_selectors.ticket_deleted_get_for(actor=request.user, pk=pk)
        ticket_services.ticket_restore(actor=request.user, ticket=ticket)
        return Response(self._fresh(ticket.pk))

    @extend_schema(
        request=ReplyInputSerializer, responses={201: TicketMessageOutputSerializer, **errors(400, 401, 403, 404)}
    )
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str | None = None) -> Response:
        """A public reply, e-mailed to the requester (multipart/form-data for `files`)."""
        ticket = self.get_object()
        data = _validated(ReplyInputSerializer, request)
        message = ticket_services.ticket_reply(
            actor=request.user,
            ticket=ticket,
            body=data["body"],
            files=data.get("files") or _files(request),
            status=data.get("status"),
        )
        body = TicketMessageOutputSerializer(message, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TicketMessageInputSerializer,
        responses={201: TicketMessageOutputSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str | None = None) -> Response:
        """An internal note: never sent to the customer."""
        ticket = self.get_object()
        data = _validated(TicketMessageInputSerializer, request)
        message = ticket_services.ticket_note(
            actor=request.user, ticket=ticket, body=data["body"], files=data.get("files") or _files(request)
        )
        return Response(
            TicketMessageOutputSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=AssignInputSerializer, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """Give the ticket to a colleague (or null: back to its queue); they are notified."""
        ticket = self.get_object()
        data = _validated(AssignInputSerializer, request)
        ticket_services.ticket_assign(actor=request.user, ticket=ticket, owner=data["owner"])
        return Response(self._fresh(ticket.pk))

    @extend_schema(request=None, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def take(self, request: Request, pk: str | None = None) -> Response:
        """Pick the ticket up yourself."""
        ticket = ticket_services.ticket_take(actor=request.user, ticket=self.get_object())
        return Response(self._fresh(ticket.pk))

    def _status(self, request: Request, change: Any) -> Response:
        ticket = change(actor=request.user, ticket=self.get_object())
        return Response(self._fresh(ticket.pk))

    @extend_schema(request=None, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._status(request, ticket_services.ticket_resolve)

    @extend_schema(request=None, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._status(request, ticket_services.ticket_close)

    @extend_schema(request=None, responses={200: TicketOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return self._status(request, ticket_services.ticket_reopen)

    @extend_schema(responses={200: TicketMessageOutputSerializer(many=True), **errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """The conversation, oldest first (for long ones page through /api/v1/ticket-messages/?ticket=)."""
        ticket = self.get_object()
        rows = ticket_selectors.ticket_messages_for(actor=request.user, ticket=ticket)
        return Response([message_data(row, request=request) for row in rows])


class TicketMessageViewSet(ScopedViewSet):
    """The conversations of the tickets you see: public replies, internal notes, customers' messages.
    Written through the ticket actions (reply, note) and the e-mail intake."""

    module = MODULE
    queryset = TicketMessage.objects.none()
    ordering_fields = ["created_at"]
    ordering = "created_at"

    class MessageFilterSerializer(serializers.Serializer):
        ticket = serializers.IntegerField(required=False, min_value=1)

    def list_for(self, actor: Any) -> Any:
        ticket = None
        if self.action == "list":
            filters = self.MessageFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            ticket = filters.validated_data.get("ticket")
        return ticket_selectors.message_list_for(actor=actor, ticket=ticket)

    @extend_schema(
        parameters=[MessageFilterSerializer],
        responses={200: TicketMessageOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([message_data(row, request=request) for row in page])

    @extend_schema(responses={200: TicketMessageOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(message_data(self.get_object(), request=request))


class TicketAttachmentViewSet(ScopedViewSet):
    """Files of ticket messages; `GET /{id}/download/` streams one."""

    module = MODULE
    queryset = TicketAttachment.objects.none()
    ordering_fields = ["created_at"]
    ordering = "-created_at"

    def list_for(self, actor: Any) -> Any:
        return TicketAttachment.objects.visible_to(actor)

    @extend_schema(responses={200: TicketAttachmentOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            TicketAttachmentOutputSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(responses={200: TicketAttachmentOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(TicketAttachmentOutputSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(responses={(200, "*/*"): bytes, **errors(401, 403, 404)})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PassthroughRenderer])
    def download(self, request: Request, pk: str | None = None) -> Any:
        return file_response(self.get_object())


# Queues ---------------------------------------------------------------------------------------------------


class QueueOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    manager = TicketUserRefSerializer(allow_null=True)
    members = TicketUserRefSerializer(many=True, source="members.all")
    assignment = serializers.ChoiceField(choices=Queue.Assignment.choices)
    skills = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    is_default = serializers.BooleanField()
    is_active = serializers.BooleanField()
    web_form_enabled = serializers.BooleanField()
    web_form_url = serializers.SerializerMethodField()
    imap_enabled = serializers.BooleanField()
    imap_host = serializers.CharField()
    imap_port = serializers.IntegerField()
    imap_ssl = serializers.BooleanField()
    imap_user = serializers.CharField()
    imap_folder = serializers.CharField()
    has_imap_password = serializers.BooleanField(help_text="The password itself is never returned.")
    imap_checked_at = serializers.DateTimeField(allow_null=True)
    imap_error = serializers.CharField()
    version = serializers.IntegerField()

    def get_web_form_url(self, queue: Queue) -> str | None:
        request = self.context.get("request")
        if not queue.web_form_enabled or not queue.web_token or request is None:
            return None
        if not can(request.user, "administer", "service"):
            return None
        return request.build_absolute_uri(reverse("ticket_public:form", args=[queue.web_token]))


class QueueInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    manager = RecordField(getter=account_selectors.user_get_for, required=False, allow_null=True)
    members = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=500)
    assignment = serializers.ChoiceField(choices=Queue.Assignment.choices, required=False)
    skills = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1)),
        required=False,
        help_text='{"complaint": [user id, ...]}: who takes which ticket type (assignment "skill").',
    )
    is_default = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    web_form_enabled = serializers.BooleanField(required=False)
    imap_enabled = serializers.BooleanField(required=False)
    imap_host = serializers.CharField(max_length=255, required=False, allow_blank=True)
    imap_port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    imap_ssl = serializers.BooleanField(required=False)
    imap_user = serializers.CharField(max_length=254, required=False, allow_blank=True)
    imap_password = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True, help_text="Stored encrypted; never returned."
    )
    imap_folder = serializers.CharField(max_length=100, required=False, allow_blank=True)


class QueueUpdateSerializer(QueueInputSerializer):
    version = serializers.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False


class PollOutputSerializer(serializers.Serializer):
    taken = serializers.IntegerField()
    outcomes = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField()


def _resolve_members(actor: Any, data: dict[str, Any]) -> None:
    if "members" in data:
        wanted = set(data["members"])
        people = {u.pk: u for u in account_selectors.user_list_for(actor=actor).filter(pk__in=wanted)}
        missing = sorted(wanted - set(people))
        if missing:
            message = _("No such users: %(ids)s") % {"ids": ", ".join(map(str, missing))}
            raise ValidationFailed(message, fields={"members": [message]})
        data["members"] = [people[pk] for pk in sorted(wanted)]


class QueueViewSet(ScopedViewSet):
    """Queues 队列: members, manager, automatic assignment (round robin, fewest open tickets, by skill),
    mailbox (IMAP; the password is write-only) and the public web form. Changing them needs `administer`."""

    module = MODULE
    queryset = Queue.objects.none()
    ordering_fields = ["name"]
    ordering = "name"

    def list_for(self, actor: Any) -> Any:
        return ticket_selectors.queue_list_for(actor=actor)

    def _out(self, queue: Queue) -> dict[str, Any]:
        return QueueOutputSerializer(queue, context={"request": self.request}).data

    @extend_schema(responses={200: QueueOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(QueueOutputSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(responses={200: QueueOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(request=QueueInputSerializer, responses={201: QueueOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(QueueInputSerializer, request)
        _resolve_members(request.user, data)
        queue = ticket_config_services.queue_create(actor=request.user, **data)
        return Response(self._out(ticket_selectors.queue_get_for(actor=request.user, pk=queue.pk)), status=201)

    @extend_schema(
        request=QueueUpdateSerializer, responses={200: QueueOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        queue = self.get_object()
        data = _validated(QueueUpdateSerializer, request)
        version = data.pop("version")
        _resolve_members(request.user, data)
        ticket_config_services.queue_update(actor=request.user, queue=queue, expected_version=version, data=data)
        return Response(self._out(ticket_selectors.queue_get_for(actor=request.user, pk=queue.pk)))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        ticket_config_services.queue_delete(actor=request.user, queue=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: PollOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def poll(self, request: Request, pk: str | None = None) -> Response:
        """Read the queue's mailbox now (the scheduled job does it every minute)."""
        from kehu.core.services import require
        from kehu.service import mail_imap

        queue = self.get_object()
        require(request.user, "edit", queue)
        if not queue.imap_enabled or not queue.imap_host:
            raise ValidationFailed(
                _("This queue has no mailbox to read."), fields={"imap_enabled": [_("Switch it on.")]}
            )
        result = mail_imap.poll_queue(queue)
        return Response({"taken": result.taken, "outcomes": result.outcomes, "error": result.error})

    @extend_schema(request=None, responses={200: QueueOutputSerializer, **errors(401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="new-web-address")
    def new_web_address(self, request: Request, pk: str | None = None) -> Response:
        """A new public web-form address; the old one stops working at once."""
        queue = ticket_config_services.queue_new_web_address(actor=request.user, queue=self.get_object())
        return Response(self._out(queue))


# Canned replies -------------------------------------------------------------------------------------------


class CannedOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(help_text="With placeholders such as {{customer_name}} and {{ticket_number}}.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CannedInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=20_000)


class CannedUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100, required=False)
    body = serializers.CharField(max_length=20_000, required=False)
    version = serializers.IntegerField(min_value=1)


class RenderInputSerializer(serializers.Serializer):
    ticket = RecordField(getter=ticket_selectors.ticket_get_for)


class RenderOutputSerializer(serializers.Serializer):
    title = serializers.CharField()
    body = serializers.CharField()


class CannedReplyViewSet(ScopedViewSet):
    """Canned replies 快捷回复, shared by the organisation (`administer` maintains them).
    `POST /{id}/render/` with {"ticket": id} answers the text with its placeholders filled in."""

    module = MODULE
    queryset = CannedReply.objects.none()
    ordering_fields = ["title", "updated_at"]
    ordering = "title"

    def list_for(self, actor: Any) -> Any:
        return ticket_selectors.canned_list_for(actor=actor)

    @extend_schema(responses={200: CannedOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CannedOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: CannedOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CannedOutputSerializer(self.get_object()).data)

    @extend_schema(request=CannedInputSerializer, responses={201: CannedOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        reply = ticket_config_services.canned_create(actor=request.user, **_validated(CannedInputSerializer, request))
        return Response(CannedOutputSerializer(reply).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CannedUpdateSerializer, responses={200: CannedOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        reply = self.get_object()
        data = _validated(CannedUpdateSerializer, request)
        version = data.pop("version")
        reply = ticket_config_services.canned_update(
            actor=request.user, reply=reply, expected_version=version, data=data
        )
        return Response(CannedOutputSerializer(reply).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        ticket_config_services.canned_delete(actor=request.user, reply=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RenderInputSerializer, responses={200: RenderOutputSerializer, **errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str | None = None) -> Response:
        reply = self.get_object()
        data = _validated(RenderInputSerializer, request)
        body = ticket_config_services.render_canned(actor=request.user, reply=reply, ticket=data["ticket"])
        return Response({"title": reply.title, "body": body})


# Agents' availability -------------------------------------------------------------------------------------


class AgentStatusOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    user = TicketUserRefSerializer()
    away = serializers.BooleanField()
    away_since = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()


class AgentStatusInputSerializer(serializers.Serializer):
    away = serializers.BooleanField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AgentStatusViewSet(ScopedViewSet):
    """Who is away (automatic assignment passes them over). `GET/POST /me/` reads or sets your own."""

    module = MODULE
    queryset = AgentStatus.objects.none()
    filter_backends = ()
    pagination_class = None

    def list_for(self, actor: Any) -> Any:
        return ticket_selectors.agent_status_list_for(actor=actor)

    @extend_schema(responses={200: AgentStatusOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        from kehu.core.services import require

        require(request.user, "view", AgentStatus)
        rows = self.get_queryset()[:500]
        return Response({"results": AgentStatusOutputSerializer(rows, many=True).data, "next": None, "previous": None})

    @extend_schema(
        methods=["GET"],
        responses={200: AgentStatusOutputSerializer, **errors(401, 403)},
        operation_id="agent_statuses_me",
    )
    @extend_schema(
        methods=["POST"],
        request=AgentStatusInputSerializer,
        responses={200: AgentStatusOutputSerializer, **errors(400, 401, 403)},
        operation_id="agent_statuses_me_update",
    )
    @action(detail=False, methods=["get", "post"])
    def me(self, request: Request) -> Response:
        from kehu.core.services import require

        require(request.user, "view", AgentStatus)
        if request.method == "POST":
            data = _validated(AgentStatusInputSerializer, request)
            row = ticket_config_services.agent_set_away(
                actor=request.user, away=data["away"], note=data.get("note", "")
            )
        else:
            row = ticket_selectors.agent_status_for(actor=request.user) or AgentStatus(
                organization_id=request.user.organization_id, user=request.user
            )
        return Response(AgentStatusOutputSerializer(row).data)


# Settings -------------------------------------------------------------------------------------------------


class ServiceSettingsInputSerializer(serializers.Serializer):
    auto_close_after_days = serializers.IntegerField(
        min_value=0,
        max_value=365,
        help_text="Days a resolved ticket waits for a customer reply before it closes by itself; 0: never.",
    )
    version = serializers.IntegerField(min_value=1, required=False, help_text="The version you read (409 if stale).")


class ServiceSettingsOutputSerializer(serializers.Serializer):
    auto_close_after_days = serializers.IntegerField()
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null while the defaults apply.")


def _service_settings_out(current: ServiceSettings) -> dict[str, Any]:
    data = ServiceSettingsOutputSerializer(current).data
    if current.pk is None:
        data["updated_at"] = None
    return data


class ServiceSettingsViewSet(SingletonViewSet):
    """The organisation's service settings: one object per organisation at this address. GET reads it, PUT
    replaces it (audited as `service.settings`). Administrators only (`administer` in service)."""

    module = MODULE
    queryset = ServiceSettings.objects.none()

    def list_for(self, actor: Any) -> Any:
        return ServiceSettings.objects.visible_to(actor)

    @extend_schema(
        operation_id="service_settings_retrieve",
        responses={200: ServiceSettingsOutputSerializer, **errors(401, 403)},
    )
    def list(self, request: Request) -> Response:
        require(request.user, "administer", ServiceSettings)
        current = ticket_selectors.service_settings_for(organization_id=request.user.organization_id)
        return Response(_service_settings_out(current))

    @extend_schema(
        operation_id="service_settings_update",
        request=ServiceSettingsInputSerializer,
        responses={200: ServiceSettingsOutputSerializer, **errors(400, 401, 403, 409)},
    )
    def replace(self, request: Request) -> Response:
        serializer = ServiceSettingsInputSerializer(data=request.data)
        if not serializer.is_valid():
            raise ValidationFailed(fields={k: [str(e) for e in v] for k, v in serializer.errors.items()})
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        saved = ticket_config_services.service_settings_update(actor=request.user, data=data, expected_version=version)
        return Response(_service_settings_out(saved))


ROUTES: list[tuple[str, Any, str]] = [
    ("tickets", TicketViewSet, "ticket"),
    ("ticket-messages", TicketMessageViewSet, "ticket-message"),
    ("ticket-attachments", TicketAttachmentViewSet, "ticket-attachment"),
    ("queues", QueueViewSet, "queue"),
    ("canned-replies", CannedReplyViewSet, "canned-reply"),
    ("agent-statuses", AgentStatusViewSet, "agent-status"),
    ("service-settings", ServiceSettingsViewSet, "service-settings"),
]
