"""Pages of notes and attachments: the note box and the files panel of the customer page, the note page
(read, edit, delete), the mention picker's suggestions, uploads and downloads.

Records are read through the selectors first, so another organisation's (or another scope's) customer,
note or file is a 404 before any form is looked at. Files are never served from a public media URL:
the download view checks visibility and streams the file as an attachment.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers import mentions, note_selectors, note_services, selectors
from kehu.customers.models import Customer
from kehu.customers.note_forms import AttachmentForm, NoteForm, apply_errors
from kehu.customers.note_models import Attachment, Note

ATTACHMENT_PANEL_LIMIT = note_selectors.NEWEST_ATTACHMENTS
RECYCLE_BIN_LIMIT = 100


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _contacts(actor: Any, customer: Customer) -> list[Any]:
    return selectors.customer_contacts_for(actor=actor, customer=customer)


def _tell_about_mentions(request: HttpRequest, result: note_services.NoteSaved) -> None:
    if result.notified:
        names = ", ".join(str(u) for u in result.notified)
        messages.info(request, _("Notified: %(names)s.") % {"names": names})
    for user in result.not_notified:
        messages.warning(
            request,
            _("%(name)s cannot see this customer and was not notified. Share it with them another way.")
            % {"name": user},
        )


def detail_context(request: HttpRequest, customer: Customer, contacts: list[Any] | None = None) -> dict[str, Any]:
    """What the customer page's note box and files panel need (merged into the detail page's context)."""
    actor = request.user
    can_write = can(actor, "create", Note) and can(actor, "view", customer)
    attachments = note_selectors.newest_attachments_for(actor=actor, customer=customer)
    for attachment in attachments:
        attachment.deletable = can(actor, "delete", attachment)
    contacts = contacts if contacts is not None else _contacts(actor, customer)
    return {
        "note_form": NoteForm(contacts=contacts) if can_write else None,
        "attachment_form": AttachmentForm() if can(actor, "create", Attachment) else None,
        "attachments": attachments,
        "attachment_limit": ATTACHMENT_PANEL_LIMIT,
    }


@login_required
@require_POST
def note_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    require(actor, "create", Note)
    form = NoteForm(request.POST, request.FILES, contacts=_contacts(actor, customer))
    if form.is_valid():
        try:
            result = note_services.note_create(
                actor=actor,
                customer=customer,
                body=form.cleaned_data["body"],
                contact=form.cleaned_data.get("contact"),
                files=form.cleaned_data.get("files") or [],
                base_url=_base_url(request),
            )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Note added."))
            _tell_about_mentions(request, result)
            return redirect("customers:detail", pk=customer.pk)
    # Errors: the note box on a page of its own, with what was typed (files must be chosen again).
    return render(
        request, "customers/notes/note_form.html", {"form": form, "customer": customer, "note": None}, status=400
    )


@login_required
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The note's page: its text and files; editing and deleting for its author or an administrator."""
    actor = request.user
    note = note_selectors.note_get_for(actor=actor, pk=pk)
    customer = selectors.customer_get_for(actor=actor, pk=note.customer_id)
    can_edit = can(actor, "edit", note)
    contacts = _contacts(actor, customer)
    status = 200
    if request.method == "POST":
        require(actor, "edit", note)
        form = NoteForm(request.POST, contacts=contacts, editing=True)
        if form.is_valid():
            data = {"body": form.cleaned_data["body"]}
            if "contact" in form.cleaned_data:
                data["contact"] = form.cleaned_data["contact"]
            try:
                result = note_services.note_update(
                    actor=actor,
                    note=note,
                    expected_version=form.cleaned_data["version"],
                    data=data,
                    base_url=_base_url(request),
                )
            except VersionConflict as exc:
                # Keep the user's text, offer the current version: saving again overwrites deliberately.
                fresh = note_selectors.note_get_for(actor=actor, pk=pk)
                posted = request.POST.copy()
                posted["version"] = str(fresh.version)
                form = NoteForm(posted, contacts=contacts, editing=True)
                form.is_valid()
                form.add_error(None, exc.message)
                note = fresh
            except ValidationFailed as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                _tell_about_mentions(request, result)
                return redirect("customers:detail", pk=customer.pk)
        status = 400
    else:
        initial = {"body": note.body, "contact": note.contact_id, "version": note.version}
        form = NoteForm(initial=initial, contacts=contacts, editing=True)
    context = {
        "form": form if can_edit else None,
        "customer": customer,
        "note": note,
        "note_text": mentions.plain(note.body),
        "can_edit": can_edit,
        "can_delete": can(actor, "delete", note),
        "attachments": note_selectors.attachment_list_for(actor=actor, note=note).order_by("-created_at", "-pk"),
    }
    return render(request, "customers/notes/note_form.html", context, status=status)


@login_required
@require_POST
def note_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    note = note_selectors.note_get_for(actor=actor, pk=pk)
    note_services.note_delete(actor=actor, note=note)
    messages.success(request, _("The note was deleted."))
    return redirect("customers:detail", pk=note.customer_id)


@login_required
@require_GET
def mention_suggestions(request: HttpRequest, pk: int) -> HttpResponse:
    """The picker's list (htmx/fetch partial): colleagues matching ?q= by name or email."""
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    candidates = note_selectors.mention_candidates_for(actor=actor, customer=customer, query=request.GET.get("q", ""))
    return render(request, "customers/notes/_mention_suggestions.html", {"candidates": candidates})


# Attachments -----------------------------------------------------------------------------------------


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    require(actor, "create", Attachment)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            saved = note_services.attachments_create(actor=actor, customer=customer, files=form.cleaned_data["files"])
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                ngettext("%(count)d file attached.", "%(count)d files attached.", len(saved)) % {"count": len(saved)},
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{_('Files')}: {error}")
    return redirect("customers:detail", pk=customer.pk)


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = note_selectors.attachment_get_for(actor=request.user, pk=pk)
    return file_response(attachment)


def file_response(attachment: Attachment) -> FileResponse:
    """The stored file as a download (never inline: an uploaded HTML or SVG must not run in our origin),
    under its original name (RFC 6266 filename* for Chinese names)."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise NotFound(_("The file is missing from storage.")) from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    attachment = note_selectors.attachment_get_for(actor=actor, pk=pk)
    note_services.attachment_delete(actor=actor, attachment=attachment)
    messages.success(request, _("%(name)s was deleted.") % {"name": attachment.original_name})
    return redirect("customers:detail", pk=attachment.customer_id)


# Recycle bin ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def recycle_bin_notes(request: HttpRequest) -> HttpResponse:
    """The recycle bin's second tab: deleted notes and files of the customers the user may see (optionally
    of one customer, ?customer=ID), each restorable by whoever may delete it."""
    actor = request.user
    require(actor, "view", Note)
    customer = None
    if request.GET.get("customer"):
        customer = selectors.customer_get_for(actor=actor, pk=request.GET["customer"])
    notes = list(note_selectors.note_recycle_bin_for(actor=actor, customer=customer)[:RECYCLE_BIN_LIMIT])
    for note in notes:
        note.restorable = can(actor, "restore", note)
        note.text = mentions.plain(note.body)
    files = list(note_selectors.attachment_recycle_bin_for(actor=actor, customer=customer)[:RECYCLE_BIN_LIMIT])
    for attachment in files:
        attachment.with_note = attachment.note is not None and attachment.note.deleted_at is not None
        attachment.restorable = not attachment.with_note and can(actor, "restore", attachment)
    context = {"notes": notes, "files": files, "customer": customer, "limit": RECYCLE_BIN_LIMIT}
    return render(request, "customers/notes/recycle_bin.html", context)


def _restored(request: HttpRequest, customer_id: int, message: str) -> HttpResponse:
    messages.success(request, message)
    back = request.POST.get("next", "")
    if back == "bin":
        return redirect(f"{reverse('customers:recycle_bin_notes')}?customer={customer_id}")
    return redirect("customers:detail", pk=customer_id)


@login_required
@require_POST
def note_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    note = note_selectors.note_deleted_get_for(actor=actor, pk=pk)
    try:
        note_services.note_restore(actor=actor, note=note)
    except (ValidationFailed, VersionConflict) as exc:
        messages.error(request, exc.message)
        return redirect("customers:recycle_bin_notes")
    return _restored(request, note.customer_id, _("The note was restored."))


@login_required
@require_POST
def attachment_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    attachment = note_selectors.attachment_deleted_get_for(actor=actor, pk=pk)
    try:
        note_services.attachment_restore(actor=actor, attachment=attachment)
    except (ValidationFailed, VersionConflict) as exc:
        messages.error(request, exc.message)
        return redirect("customers:recycle_bin_notes")
    return _restored(request, attachment.customer_id, _("%(name)s was restored.") % {"name": attachment.original_name})
