"""Ticket pages: parse the request, call a selector or a service, render. The module gate and the
domain-error pages are the middleware's job; a ticket outside the actor's view is a 404 from the selector
before any form is looked at."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from kehu.core import custom_fields
from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers.note_views import file_response
from kehu.service import (
    ticket_assignment,
    ticket_config_services,
    ticket_list_rows,
    ticket_message_html,
    ticket_panels,
    ticket_selectors,
    ticket_services,
)
from kehu.service.ticket_forms import (
    AssignForm,
    BulkForm,
    ReplyForm,
    StatusForm,
    TicketFilterForm,
    TicketForm,
    apply_service_errors,
)
from kehu.service.ticket_models import Ticket, TicketMessage
from kehu.service.ticket_services import TICKET_TYPE

RECYCLE_BIN_LIMIT = 100
# Column -> the direction a first click sorts in. Due dates sort soonest first: "time left".
SORTABLE = {
    "number": "-number",
    "priority": "-priority",
    "updated_at": "-updated_at",
    "created_at": "-created_at",
    "resolution_due_at": "resolution_due_at",
    "first_response_due_at": "first_response_due_at",
}


def _safe_next(request: HttpRequest, target: str | None, fallback: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    links = {}
    for column, first in SORTABLE.items():
        if current.lstrip("-") == column:
            state = "desc" if current.startswith("-") else "asc"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", first
        links[column] = {"ordering": target, "state": state}
    return links


def _limit(request: HttpRequest) -> int:
    value = request.GET.get("limit", "")
    return int(value) if value.isdigit() else ticket_selectors.DEFAULT_PAGE_SIZE


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Ticket)
    form = TicketFilterForm(request.GET or None, actor=actor, with_choices=True)
    filters = form.filters() if form.is_bound else {}
    ordering = request.GET.get("ordering") or ticket_selectors.DEFAULT_ORDERING
    try:
        page = ticket_selectors.ticket_list_for(
            actor=actor, filters=filters, ordering=ordering, cursor=request.GET.get("cursor"), limit=_limit(request)
        )
    except ValidationFailed as exc:  # a stale cursor or an unknown sort column: the first page instead
        messages.warning(request, exc.message)
        page = ticket_selectors.ticket_list_for(actor=actor, filters=filters, limit=_limit(request))
    can_assign = can(actor, "assign", Ticket)
    can_edit = can(actor, "edit", Ticket)
    can_delete = can(actor, "delete", Ticket)
    status = ticket_selectors.agent_status_for(actor=actor)
    # One column per active ticket field; their values (user names in one query for the page) ride on the rows.
    custom_columns = form.custom_definitions
    for ticket, shown in zip(page.items, custom_fields.shown_many(list(page.items), custom_columns), strict=True):
        ticket.custom_shown = shown
    context = {
        "page": page,
        "custom_columns": custom_columns,
        "form": form,
        "filtered": bool({k: v for k, v in filters.items() if k != "search"} or filters.get("search")),
        "ordering": page.ordering,
        "sort": _sort_links(page.ordering),
        "can_create": can(actor, "create", Ticket),
        "can_assign": can_assign,
        "can_edit": can_edit,
        "can_delete": can_delete,
        "bulk_enabled": can_assign or can_edit or can_delete,
        "rows": ticket_list_rows.rows_html(page.items, bulk_enabled=can_assign or can_edit or can_delete),
        "assignees": form.assignees if can_assign else [],
        "away": bool(status and status.away),
        "can_manage_queues": can(actor, "administer", "service"),
    }
    return render(request, "service/ticket/list.html", context)


@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Ticket)
    initial = {}
    if request.GET.get("customer", "").isdigit():
        initial["customer"] = int(request.GET["customer"])
    form = TicketForm(request.POST or None, request.FILES or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = ticket_services.ticket_create(actor=actor, **form.create_kwargs())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Ticket #%(number)s created.") % {"number": ticket.number})
            if can(actor, "view", ticket):
                return redirect("service:ticket_detail", pk=ticket.pk)
            return redirect("service:ticket_list")
    return render(request, "service/ticket/form.html", {"form": form, "ticket": None})


def _reply_form_initial(ticket: Ticket) -> dict[str, Any]:
    has_address = bool(ticket_services.reply_recipient(ticket))
    return {
        "kind": TicketMessage.Kind.REPLY if has_address else TicketMessage.Kind.NOTE,
        "status": Ticket.Status.PENDING if has_address else Ticket.Status.OPEN,
    }


def _detail_context(request: HttpRequest, ticket: Ticket, reply_form: ReplyForm | None = None) -> dict[str, Any]:
    actor = request.user
    can_edit = can(actor, "edit", ticket)
    can_assign = can(actor, "assign", ticket)
    definitions = custom_fields.definitions_for(actor.organization_id, TICKET_TYPE)
    conversation = ticket_selectors.ticket_messages_for(actor=actor, ticket=ticket)
    # The panels beside it (knowledge suggestions read the first message) use what the page has loaded.
    ticket.conversation = conversation
    return {
        "ticket": ticket,
        "messages_": conversation,
        "conversation": ticket_message_html.conversation_html(conversation),  # the template's markup, in Python
        "history": ticket_selectors.ticket_history_for(actor=actor, ticket=ticket),
        "follow_ups": ticket_selectors.follow_ups_for(actor=actor, ticket=ticket),
        "custom_values": [v for v in custom_fields.shown(ticket, definitions) if v.text],
        "assignment_reason": ticket_assignment.reason_label(ticket.assignment_reason),
        "reply_form": reply_form or (ReplyForm(initial=_reply_form_initial(ticket)) if can_edit else None),
        "recipient": ticket_services.reply_recipient(ticket),
        "canned": list(ticket_selectors.canned_list_for(actor=actor)) if can_edit else [],
        "can_edit": can_edit,
        "can_assign": can_assign,
        "can_take": can(actor, "take", ticket) and ticket.owner_id != actor.pk,
        "can_delete": can(actor, "delete", ticket),
        "assignees": ticket_selectors.assignee_refs_for(actor=actor) if can_assign else [],
        "next_statuses": [
            (value, label)
            for value, label in Ticket.Status.choices
            if value in ticket_services.TRANSITIONS.get(ticket.status, ())
        ],
        # The customer timeline asks every module (notes, imports, activities, orders, tickets: 7+ queries):
        # the page loads it right after itself (ticket_customer_timeline), with a link to the customer's.
        "show_timeline": ticket_selectors.customer_timeline_shown(actor=actor, ticket=ticket),
        # What the agent needs to read and answer (the SLA clock) is on the page; the customer's contacts,
        # other tickets, orders and the suggested articles come right after it (ticket_side_panels).
        "panels": ticket_panels.panels_for(actor=actor, ticket=ticket, deferred=False),
    }


def _side_panels_context(actor: Any, ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "panels": ticket_panels.panels_for(actor=actor, ticket=ticket, deferred=True),
        "contacts": ticket_selectors.customer_contacts_for(actor=actor, ticket=ticket),
        "past_tickets": ticket_selectors.past_tickets_for(actor=actor, ticket=ticket),
        "orders": ticket_selectors.customer_orders_for(actor=actor, ticket=ticket),
    }


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = ticket_selectors.ticket_get_for(actor=request.user, pk=pk)
    return render(request, "service/ticket/detail.html", _detail_context(request, ticket))


@login_required
@require_GET
def ticket_customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket page's customer timeline box (htmx loads it when the page has loaded)."""
    ticket = ticket_selectors.ticket_customer_get_for(actor=request.user, pk=pk)
    if not ticket_selectors.customer_timeline_shown(actor=request.user, ticket=ticket):
        return HttpResponse("")  # no customer, or one the actor may not see: no box
    items = ticket_selectors.customer_timeline_for(actor=request.user, ticket=ticket)
    return render(request, "service/ticket/_customer_timeline.html", {"ticket": ticket, "customer_timeline": items})


@login_required
@require_GET
def ticket_side_panels(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket page's side panels (suggested articles, the customer's contacts, other tickets and orders):
    htmx loads them into the page when it has loaded; without scripts the page links here, a page of its own."""
    ticket = ticket_selectors.ticket_side_get_for(actor=request.user, pk=pk)
    context = _side_panels_context(request.user, ticket)
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, "service/ticket/_side_panels.html", context)
    return render(request, "service/ticket/side_panels.html", context)


@login_required
@require_POST
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """The box under the conversation: a public reply (e-mailed), an internal note, or the customer's words."""
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    require(actor, "edit", ticket)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == TicketMessage.Kind.REPLY:
                ticket_services.ticket_reply(
                    actor=actor,
                    ticket=ticket,
                    body=data["body"],
                    files=data["files"],
                    status=data.get("status") or None,
                )
                messages.success(
                    request, _("Reply sent to %(email)s.") % {"email": ticket_services.reply_recipient(ticket)}
                )
            elif data["kind"] == TicketMessage.Kind.NOTE:
                ticket_services.ticket_note(actor=actor, ticket=ticket, body=data["body"], files=data["files"])
                messages.success(request, _("Internal note added."))
            else:
                ticket_services.ticket_log_customer_message(
                    actor=actor, ticket=ticket, body=data["body"], files=data["files"]
                )
                messages.success(request, _("The customer's message was added."))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            return redirect("service:ticket_detail", pk=ticket.pk)
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    return render(request, "service/ticket/detail.html", _detail_context(request, ticket, form), status=400)


@login_required
@require_POST
def ticket_take(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    try:
        ticket_services.ticket_take(actor=actor, ticket=ticket)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Ticket #%(number)s is yours now.") % {"number": ticket.number})
    return redirect("service:ticket_detail", pk=ticket.pk)


def _owner_from(actor: Any, value: str) -> tuple[Any, bool]:
    """(user or None, valid) from "unassigned" or a user id among the assignable colleagues."""
    if value == "unassigned":
        return None, True
    people = {str(u.pk): u for u in ticket_selectors.assignee_choices_for(actor=actor)}
    user = people.get(value)
    return user, user is not None


@login_required
@require_POST
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    require(actor, "assign", ticket)
    form = AssignForm(request.POST)
    owner, valid = _owner_from(actor, form.data.get("owner", ""))
    if not valid:
        messages.error(request, _("Choose an active colleague who works on tickets."))
    else:
        try:
            ticket_services.ticket_assign(actor=actor, ticket=ticket, owner=owner)
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Assignee saved."))
            if not can(actor, "view", ticket):  # given back to a queue the actor does not see
                return redirect("service:ticket_list")
    return redirect("service:ticket_detail", pk=ticket.pk)


@login_required
@require_POST
def ticket_status(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    require(actor, "edit", ticket)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a status."))
    else:
        try:
            ticket_services.ticket_set_status(actor=actor, ticket=ticket, status=form.cleaned_data["status"])
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Status: %(status)s.") % {"status": ticket.get_status_display()})
    return redirect("service:ticket_detail", pk=ticket.pk)


def _conflict_rows(form: TicketForm, fresh: Ticket) -> list[dict[str, str]]:
    rows = []
    for name in ("subject", "kind", "priority", "channel", "requester_name", "requester_email"):
        mine, saved = form.cleaned_data.get(name), getattr(fresh, name)
        if name in form.cleaned_data and mine != saved:
            display = getattr(fresh, f"get_{name}_display", None)
            rows.append(
                {
                    "field": str(form.fields[name].label),
                    "saved": str(display() if display else saved or "—"),
                    "mine": str(
                        dict(form.fields[name].choices).get(mine, mine)
                        if hasattr(form.fields[name], "choices")
                        else mine or "—"
                    ),
                }
            )
    return rows


@login_required
def ticket_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    require(actor, "edit", ticket)
    conflict = None
    if request.method != "POST":
        form = TicketForm(initial=TicketForm.initial_for(ticket), actor=actor, ticket=ticket)
    else:
        form = TicketForm(request.POST, actor=actor, ticket=ticket)
        if form.is_valid():
            try:
                ticket_services.ticket_update(
                    actor=actor, ticket=ticket, expected_version=form.cleaned_data["version"], data=form.service_data()
                )
            except VersionConflict:
                fresh = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
                conflict = _conflict_rows(form, fresh)
                data = request.POST.copy()
                data["version"] = str(fresh.version)
                form = TicketForm(data, actor=actor, ticket=fresh)
                form.is_valid()
                form.add_error(None, str(VersionConflict.default_message))
                ticket = fresh
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("service:ticket_detail", pk=ticket.pk)
    return render(request, "service/ticket/form.html", {"form": form, "ticket": ticket, "conflict": conflict})


@login_required
@require_POST
def ticket_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    ticket_services.ticket_delete(actor=actor, ticket=ticket)
    messages.success(request, _("Ticket #%(number)s was moved to the recycle bin.") % {"number": ticket.number})
    return redirect("service:ticket_list")


@login_required
@require_POST
def ticket_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    ticket = ticket_selectors.ticket_deleted_get_for(actor=actor, pk=pk)
    ticket_services.ticket_restore(actor=actor, ticket=ticket)
    messages.success(request, _("Ticket #%(number)s was restored.") % {"number": ticket.number})
    return redirect("service:ticket_detail", pk=ticket.pk)


@login_required
def ticket_recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Ticket)
    tickets = ticket_selectors.ticket_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[:RECYCLE_BIN_LIMIT]
    return render(
        request,
        "service/ticket/recycle_bin.html",
        {"tickets": tickets, "can_restore": can(actor, "restore", Ticket), "limit": RECYCLE_BIN_LIMIT},
    )


@login_required
@require_POST
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = BulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("service:ticket_list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    tickets = ticket_selectors.tickets_for_bulk(actor=actor, ids=data["ids"])
    try:
        if data["action"] == "assign":
            owner, valid = _owner_from(actor, data["owner"])
            if not valid:
                raise ValidationFailed(_("Choose an active colleague who works on tickets."))
            moved = ticket_services.tickets_assign(actor=actor, tickets=tickets, owner=owner)
            count = len(moved)
            text = ngettext("%(count)d ticket assigned.", "%(count)d tickets assigned.", count)
        elif data["action"] == "close":
            count = ticket_services.tickets_close(actor=actor, tickets=tickets)
            text = ngettext("%(count)d ticket closed.", "%(count)d tickets closed.", count)
        else:
            count = ticket_services.tickets_delete(actor=actor, tickets=tickets)
            text = ngettext(
                "%(count)d ticket moved to the recycle bin.", "%(count)d tickets moved to the recycle bin.", count
            )
        messages.success(request, text % {"count": count})
    except DomainError as exc:  # nothing was changed: the bulk action is all or nothing
        messages.error(request, exc.message)
    return HttpResponseRedirect(target)


@login_required
@require_GET
def ticket_canned(request: HttpRequest, pk: int) -> JsonResponse:
    """A canned reply rendered for this ticket (the reply box's picker inserts the text)."""
    actor = request.user
    ticket = ticket_selectors.ticket_get_for(actor=actor, pk=pk)
    reply = ticket_selectors.canned_get_for(actor=actor, pk=request.GET.get("reply"))
    body = ticket_config_services.render_canned(actor=actor, reply=reply, ticket=ticket)
    return JsonResponse({"title": reply.title, "body": body})


@login_required
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = ticket_selectors.attachment_get_for(actor=request.user, pk=pk)
    return file_response(attachment)
