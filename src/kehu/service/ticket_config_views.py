"""Pages for the configuration around tickets: queues (administrators), canned replies, and the agent's own
"away" switch."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.service import mail_imap, ticket_assignment, ticket_config_services, ticket_selectors
from kehu.service.ticket_forms import CannedForm, QueueForm, ServiceSettingsForm, apply_service_errors
from kehu.service.ticket_models import CannedReply, Queue, ServiceSettings
from kehu.service.ticket_views import _safe_next

# Queues ---------------------------------------------------------------------------------------------------


@login_required
def queue_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Queue)
    queues = list(ticket_selectors.queue_list_for(actor=actor))
    rows = [(queue, ticket_assignment.queue_load(queue)) for queue in queues]
    context = {
        "rows": rows,
        "can_manage": can(actor, "administer", "service"),
        "web_form_urls": {
            q.pk: request.build_absolute_uri(reverse("ticket_public:form", args=[q.web_token]))
            for q in queues
            if q.web_form_enabled and q.web_token
        },
    }
    return render(request, "service/ticket/queues.html", context)


@login_required
def queue_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Queue)
    form = QueueForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            queue = ticket_config_services.queue_create(actor=actor, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Queue %(name)s created.") % {"name": queue.name})
            return redirect("service:queue_list")
    return render(request, "service/ticket/queue_form.html", {"form": form, "queue": None})


@login_required
def queue_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    queue = ticket_selectors.queue_get_for(actor=actor, pk=pk)
    require(actor, "edit", queue)
    if request.method != "POST":
        form = QueueForm(initial=QueueForm.initial_for(queue), actor=actor, editing=True)
    else:
        form = QueueForm(request.POST, actor=actor, editing=True)
        if form.is_valid():
            try:
                ticket_config_services.queue_update(
                    actor=actor, queue=queue, expected_version=form.cleaned_data["version"], data=form.service_data()
                )
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("service:queue_list")
    return render(request, "service/ticket/queue_form.html", {"form": form, "queue": queue})


@login_required
@require_POST
def queue_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    queue = ticket_selectors.queue_get_for(actor=actor, pk=pk)
    ticket_config_services.queue_delete(actor=actor, queue=queue)
    messages.success(request, _("Queue %(name)s deleted.") % {"name": queue.name})
    return redirect("service:queue_list")


@login_required
@require_POST
def queue_web_address(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    queue = ticket_selectors.queue_get_for(actor=actor, pk=pk)
    ticket_config_services.queue_new_web_address(actor=actor, queue=queue)
    messages.success(request, _("The web form has a new address; the old one no longer works."))
    return redirect("service:queue_list")


@login_required
@require_POST
def queue_poll(request: HttpRequest, pk: int) -> HttpResponse:
    """Read the queue's mailbox now (the scheduled job does it every minute)."""
    actor = request.user
    queue = ticket_selectors.queue_get_for(actor=actor, pk=pk)
    require(actor, "edit", queue)
    if not queue.imap_enabled or not queue.imap_host:
        messages.error(request, _("This queue has no mailbox to read."))
        return redirect("service:queue_list")
    result = mail_imap.poll_queue(queue)
    if result.error:
        messages.error(request, _("The mailbox could not be read: %(error)s") % {"error": result.error})
    else:
        messages.success(request, _("%(count)d new messages taken from the mailbox.") % {"count": result.taken})
    return redirect("service:queue_list")


# Canned replies -------------------------------------------------------------------------------------------


@login_required
def canned_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", CannedReply)
    return render(
        request,
        "service/ticket/canned_list.html",
        {"replies": ticket_selectors.canned_list_for(actor=actor), "can_manage": can(actor, "create", CannedReply)},
    )


@login_required
def canned_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", CannedReply)
    form = CannedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reply = ticket_config_services.canned_create(
                actor=actor, title=form.cleaned_data["title"], body=form.cleaned_data["body"]
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Canned reply %(title)s saved.") % {"title": reply.title})
            return redirect("service:canned_list")
    return render(request, "service/ticket/canned_form.html", {"form": form, "reply": None})


@login_required
def canned_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    reply = ticket_selectors.canned_get_for(actor=actor, pk=pk)
    require(actor, "edit", reply)
    if request.method != "POST":
        form = CannedForm(initial={"title": reply.title, "body": reply.body, "version": reply.version}, editing=True)
    else:
        form = CannedForm(request.POST, editing=True)
        if form.is_valid():
            data = {"title": form.cleaned_data["title"], "body": form.cleaned_data["body"]}
            try:
                ticket_config_services.canned_update(
                    actor=actor, reply=reply, expected_version=form.cleaned_data["version"], data=data
                )
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("service:canned_list")
    return render(request, "service/ticket/canned_form.html", {"form": form, "reply": reply})


@login_required
@require_POST
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    reply = ticket_selectors.canned_get_for(actor=actor, pk=pk)
    ticket_config_services.canned_delete(actor=actor, reply=reply)
    messages.success(request, _("Canned reply %(title)s deleted.") % {"title": reply.title})
    return redirect("service:canned_list")


# Away -----------------------------------------------------------------------------------------------------


@login_required
@require_POST
def agent_away(request: HttpRequest) -> HttpResponse:
    """The agent marks themselves away (automatic assignment passes them over) or back."""
    actor = request.user
    away = request.POST.get("away") == "1"
    try:
        ticket_config_services.agent_set_away(actor=actor, away=away, note=request.POST.get("note", ""))
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("You are away: no tickets are assigned to you automatically.") if away else _("Welcome back.")
        )
    return HttpResponseRedirect(_safe_next(request, request.POST.get("next"), reverse("service:ticket_list")))


# Settings -------------------------------------------------------------------------------------------------


@login_required
def service_settings(request: HttpRequest) -> HttpResponse:
    """The organisation's service settings (administrators): when resolved tickets close by themselves."""
    actor = request.user
    require(actor, "administer", ServiceSettings)
    current = ticket_selectors.service_settings_for(organization_id=actor.organization_id)
    initial = {"version": current.version, "auto_close_after_days": current.auto_close_after_days}
    form = ServiceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version", None)
        try:
            ticket_config_services.service_settings_update(actor=actor, data=data, expected_version=version)
        except VersionConflict as exc:
            form.add_error(None, exc.message)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("service:service_settings")
    context = {"form": form, "settings": current}
    return render(request, "service/ticket/settings.html", context, status=400 if form.errors else 200)
