"""Customer pages: parse the request, call a selector or a service, render. The module gate and the
domain-error pages are the middleware's job; a record outside the actor's scope is a 404 from the
selector before any form is looked at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kehu.core import custom_fields, fast_html
from kehu.core.errors import DomainError, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers import saved_view_views, selectors, services, timeline
from kehu.customers.forms import (
    BulkForm,
    ContactForm,
    CustomerFilterForm,
    CustomerForm,
    TagForm,
    apply_service_errors,
)
from kehu.customers.list_columns import CONTACT_TYPE, CUSTOMER_TYPE
from kehu.customers.models import Customer, Tag

TIMELINE_PAGE = 30
RECYCLE_BIN_LIMIT = 100
# Column -> the direction a first click sorts in (names A→Z, dates newest first).
SORTABLE = {"name": "name", "tier": "tier", "updated_at": "-updated_at", "created_at": "-created_at"}


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


# Customers -------------------------------------------------------------------------------------------


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Customer)
    if (default_view := saved_view_views.default_redirect(request)) is not None:
        return default_view
    form = CustomerFilterForm(request.GET or None, actor=actor, with_choices=True)
    filters = form.filters() if form.is_bound else {}
    ordering = request.GET.get("ordering") or selectors.DEFAULT_ORDERING
    limit = int(request.GET["limit"]) if request.GET.get("limit", "").isdigit() else selectors.DEFAULT_PAGE_SIZE
    try:
        page = selectors.customer_list_for(
            actor=actor,
            filters=filters,
            ordering=ordering,
            cursor=request.GET.get("cursor"),
            limit=limit,
            as_rows=True,
        )
    except ValidationFailed as exc:  # a stale cursor or an unknown sort column: the first page instead
        messages.warning(request, exc.message)
        ordering = selectors.DEFAULT_ORDERING
        page = selectors.customer_list_for(actor=actor, filters=filters, ordering=ordering, limit=limit, as_rows=True)
    can_assign = can(actor, "assign", Customer)
    can_edit = can(actor, "edit", Customer)
    can_delete = can(actor, "delete", Customer)
    can_export = can(actor, "export", Customer)  # the Export buttons (imports branch)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "ordering": page.ordering,
        "sort": _sort_links(page.ordering),
        "can_create": can(actor, "create", Customer),
        "can_assign": can_assign,
        "can_edit": can_edit,
        "can_delete": can_delete,
        "can_export": can_export,
        "bulk_enabled": can_assign or can_edit or can_delete or can_export,
        # The bulk bar's selects, written in Python (kehu.core.fast_html): one option per colleague and per tag.
        "owner_options": mark_safe(fast_html.options(form.owner_choices)) if can_assign else "",  # noqa: S308
        "tag_options": mark_safe(fast_html.options(form.tag_choices)) if can_edit else "",  # noqa: S308
        "tags": form.tag_choices if can_edit else [],
        "can_manage_fields": can(actor, "administer", "customers"),
    }
    # Columns, saved views and custom-field filters (customers/saved_view_views.py).
    context.update(
        saved_view_views.list_context(
            request, page=page, form=form, sort=context["sort"], selectable=context["bulk_enabled"]
        )
    )
    return render(request, "customers/list.html", context)


@login_required
def customer_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Customer)
    can_assign = can(actor, "assign", Customer)
    form = CustomerForm(request.POST or None, actor=actor, can_assign=can_assign)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.customer_create(actor=actor, owner=form.cleaned_data.get("owner"), **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": result.customer.name})
            if result.duplicates:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d existing customer looks like a duplicate of this one: see below.",
                        "%(count)d existing customers look like duplicates of this one: see below.",
                        len(result.duplicates),
                    )
                    % {"count": len(result.duplicates)},
                )
            return redirect("customers:detail", pk=result.customer.pk)
    return render(request, "customers/form.html", {"form": form, "customer": None})


def _conflict_rows(form: CustomerForm | ContactForm, fresh: Any) -> list[dict[str, str]]:
    """The fields where the saved record now differs from what the user typed."""
    rows = []
    for name in form.Meta.fields:
        if name not in form.cleaned_data:
            continue
        mine = form.cleaned_data[name]
        if name == "tags":
            saved_value, my_value = sorted(t.name for t in fresh.tags.all()), sorted(t.name for t in mine)
            saved, typed = ", ".join(saved_value), ", ".join(my_value)
        else:
            saved_value, my_value = getattr(fresh, name), mine
            display = getattr(fresh, f"get_{name}_display", None)
            saved = str(display()) if display else str(saved_value if saved_value not in (None, "") else "—")
            typed = (
                str(dict(form.fields[name].choices).get(mine, mine))
                if hasattr(form.fields[name], "choices")
                else str(mine)
            )
            typed = typed if mine not in (None, "") else "—"
        if isinstance(saved_value, datetime) and isinstance(my_value, datetime):
            differs = saved_value.replace(second=0, microsecond=0) != my_value.replace(second=0, microsecond=0)
        else:
            differs = saved_value != my_value and not (saved_value in (None, "") and my_value in (None, ""))
        if differs:
            rows.append({"field": str(form.fields[name].label), "saved": saved, "mine": typed})
    return rows


def _conflict_form(request: HttpRequest, form_class: type, fresh: Any, **kwargs: Any) -> Any:
    """Re-bind the user's input to the current version: saving again is a deliberate overwrite."""
    data = request.POST.copy()
    data["version"] = str(fresh.version)
    form = form_class(data, editing=True, **kwargs)
    form.is_valid()
    form.add_error(None, str(VersionConflict.default_message))
    return form


def _versioned_edit(
    request: HttpRequest, *, form_class: type, record: Any, refetch: Any, save: Any, form_kwargs: dict[str, Any]
) -> tuple[Any, Any, list[dict[str, str]] | None, bool]:
    """The edit flow both records share: validate, save with the version the user opened, and on a
    conflict keep the user's input beside the saved values. Returns (form, record, conflict, saved)."""
    if request.method != "POST":
        return form_class(initial=form_class.initial_for(record), editing=True, **form_kwargs), record, None, False
    form = form_class(request.POST, editing=True, **form_kwargs)
    if not form.is_valid():
        return form, record, None, False
    try:
        save(record, form.cleaned_data["version"], form.service_data())
    except VersionConflict:
        fresh = refetch()
        conflict = _conflict_rows(form, fresh)
        return _conflict_form(request, form_class, fresh, **form_kwargs), fresh, conflict, False
    except ValidationFailed as exc:
        apply_service_errors(form, exc)
        return form, record, None, False
    messages.success(request, _("Changes saved."))
    return form, record, None, True


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer's page: header, fields, contacts, note box, files and the first page of the timeline
    (only the providers with rows for the customer are called: timeline.presence, read with the customer).
    The other modules' panels (activities, opportunities) are loaded by htmx right after the page
    (customer_panels), with a link for a browser without JavaScript."""
    from kehu.customers import panels

    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk, timeline_presence=True)
    can_assign = can(actor, "assign", customer)
    contacts = selectors.customer_contacts_for(actor=actor, customer=customer)
    # Custom fields (kehu.core.custom_fields): the customer's and each contact's values.
    definitions = custom_fields.definitions_by_type(actor.organization_id, [CUSTOMER_TYPE, CONTACT_TYPE])
    for contact, values in zip(contacts, custom_fields.shown_many(contacts, definitions[CONTACT_TYPE]), strict=True):
        contact.custom_values = [v for v in values if v.text]
    context = {
        "customer": customer,
        "custom_values": custom_fields.shown(customer, definitions[CUSTOMER_TYPE]),
        "contacts": contacts,
        "duplicates": selectors.customer_duplicates_for(actor=actor, customer=customer),
        "can_edit": can(actor, "edit", customer),
        "can_delete": can(actor, "delete", customer),
        "can_assign": can_assign,
        "owners": selectors.owner_options_for(actor=actor) if can_assign else [],
        "has_panels": panels.shown(actor),
    }
    # Notes and attachments (feature "notes"): the note box and the files panel.
    from kehu.customers.note_views import detail_context as notes_context

    context.update(notes_context(request, customer, contacts=context["contacts"]))
    # Public pool 公海: claim / release buttons, and the contacts of a pool customer.
    from kehu.customers.pool_views import detail_context as pool_context

    context.update(pool_context(actor, customer))
    # Header buttons of other modules (kehu.customers.panels); their panels come with customer_panels.
    context["panel_actions"] = panels.render(request, customer, place="actions")
    # After the files panel: the timeline's first page of files is the panel's (note_selectors.newest_attachments_for).
    items = selectors.customer_timeline(actor=actor, customer=customer, limit=TIMELINE_PAGE)
    context["timeline"] = timeline.items_html(items, customer_pk=customer.pk, limit=TIMELINE_PAGE)
    return render(request, "customers/detail.html", context)


def _customer_part(request: HttpRequest, customer: Customer, html: SafeString, title: str, card: bool) -> HttpResponse:
    """A part of the customer's page loaded after it: the bare HTML for htmx, a page of its own otherwise
    (the link of a browser without JavaScript, or "show older" opened in a new tab)."""
    if request.htmx:
        return HttpResponse(html)
    context = {"customer": customer, "part": html, "title": title, "card": card}
    return render(request, "customers/detail_part.html", context)


@login_required
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer's timeline: its older items (the "show older" button under the page's first page of it:
    `?before=`, loaded by htmx), or a page of its own (the same button without JavaScript)."""
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk, tags=False, timeline_presence=True)
    try:
        before = datetime.fromisoformat(request.GET.get("before", ""))
    except ValueError:
        before = None
    items = selectors.customer_timeline(actor=actor, customer=customer, limit=TIMELINE_PAGE, before=before)
    html = timeline.items_html(items, customer_pk=customer.pk, limit=TIMELINE_PAGE)
    return _customer_part(request, customer, html, _("Timeline"), card=True)


@login_required
def customer_panels(request: HttpRequest, pk: int) -> HttpResponse:
    """The panels other modules add to the customer's page (kehu.customers.panels: activities,
    opportunities), loaded by htmx when the page has loaded."""
    from kehu.customers import panels

    customer = selectors.customer_get_for(actor=request.user, pk=pk, tags=False)
    html = mark_safe("".join(panels.render(request, customer)))  # noqa: S308 - each block is (panels.render)
    return _customer_part(request, customer, html, _("More on this customer"), card=False)


@login_required
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    require(actor, "edit", customer)
    form, customer, conflict, saved = _versioned_edit(
        request,
        form_class=CustomerForm,
        record=customer,
        refetch=lambda: selectors.customer_get_for(actor=actor, pk=pk),
        save=lambda record, version, data: services.customer_update(
            actor=actor, customer=record, expected_version=version, data=data
        ),
        form_kwargs={"actor": actor},
    )
    if saved:
        return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", {"form": form, "customer": customer, "conflict": conflict})


@login_required
@require_POST
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    services.customer_delete(actor=actor, customer=customer)
    messages.success(request, _("%(name)s was moved to the recycle bin.") % {"name": customer.name})
    return redirect("customers:list")


@login_required
@require_POST
def customer_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_deleted_get_for(actor=actor, pk=pk)
    services.customer_restore(actor=actor, customer=customer)
    messages.success(request, _("%(name)s was restored.") % {"name": customer.name})
    return redirect("customers:detail", pk=customer.pk)


@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Customer)
    customers = selectors.customer_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[:RECYCLE_BIN_LIMIT]
    return render(
        request,
        "customers/recycle_bin.html",
        {
            "customers": customers,
            "can_restore": can(actor, "restore", Customer),
            "limit": RECYCLE_BIN_LIMIT,
            "can_purge": can(actor, "purge", Customer),  # administrators delete for good (pool_views.py)
        },
    )


@login_required
@require_POST
def customer_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = BulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("customers:list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    customers = selectors.customers_for_bulk(actor=actor, ids=data["ids"])
    try:
        if data["action"] == "assign":
            owners = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}
            moved = services.customer_assign(actor=actor, customers=customers, owner=owners.get(data["owner"]))
            messages.success(
                request,
                ngettext("%(count)d customer assigned.", "%(count)d customers assigned.", len(moved))
                % {"count": len(moved)},
            )
        elif data["action"] in ("tag_add", "tag_remove"):
            tags = selectors.tags_by_ids_for(actor=actor, ids=[data["tag"]])
            change = services.customers_tag_add if data["action"] == "tag_add" else services.customers_tag_remove
            count = change(actor=actor, customers=customers, tags=tags)
            messages.success(
                request,
                ngettext("%(count)d customer changed.", "%(count)d customers changed.", count) % {"count": count},
            )
        else:
            count = services.customers_delete(actor=actor, customers=customers)
            messages.success(
                request,
                ngettext(
                    "%(count)d customer moved to the recycle bin.",
                    "%(count)d customers moved to the recycle bin.",
                    count,
                )
                % {"count": count},
            )
    except DomainError as exc:  # nothing was changed: the bulk action is all or nothing
        messages.error(request, exc.message)
    return HttpResponseRedirect(target)


# Contacts --------------------------------------------------------------------------------------------


@login_required
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    require(actor, "edit", customer)
    form = ContactForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=actor, customer=customer, **form.service_data())
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Contact %(name)s added.") % {"name": contact.name})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/contact_form.html", {"form": form, "customer": customer, "contact": None})


@login_required
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    contact = selectors.contact_get_for(actor=actor, pk=pk)
    customer = contact.customer
    require(actor, "edit", contact)
    form, contact, conflict, saved = _versioned_edit(
        request,
        form_class=ContactForm,
        record=contact,
        refetch=lambda: selectors.contact_get_for(actor=actor, pk=pk),
        save=lambda record, version, data: services.contact_update(
            actor=actor, contact=record, expected_version=version, data=data
        ),
        form_kwargs={"customer": customer},
    )
    if saved:
        return redirect("customers:detail", pk=customer.pk)
    context = {"form": form, "customer": customer, "contact": contact, "conflict": conflict}
    return render(request, "customers/contact_form.html", context)


@login_required
@require_POST
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    contact = selectors.contact_get_for(actor=actor, pk=pk)
    services.contact_delete(actor=actor, contact=contact)
    messages.success(request, _("Contact %(name)s removed.") % {"name": contact.name})
    return redirect("customers:detail", pk=contact.customer_id)


# Tags ------------------------------------------------------------------------------------------------


@login_required
def tag_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Tag)
    form = TagForm(request.POST or None, actor=actor)
    if request.method == "POST":
        require(actor, "create", Tag)
        if form.is_valid():
            try:
                tag = services.tag_create(actor=actor, **form.cleaned_data)
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Tag %(name)s created.") % {"name": tag.name})
                return redirect("customers:tags")
    context = {
        "form": form,
        "tags": selectors.tag_list_for(actor=actor),
        "can_create": can(actor, "create", Tag),
        "can_manage": can(actor, "edit", Tag),
    }
    return render(request, "customers/tags.html", context)


@login_required
@require_POST
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    tag = selectors.tag_get_for(actor=actor, pk=pk)
    form = TagForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            services.tag_update(actor=actor, tag=tag, data=form.cleaned_data)
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Tag saved."))
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: {' '.join(errors)}")
    return redirect("customers:tags")


@login_required
@require_POST
def tag_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    tag = selectors.tag_get_for(actor=actor, pk=pk)
    services.tag_delete(actor=actor, tag=tag)
    messages.success(request, _("Tag %(name)s deleted.") % {"name": tag.name})
    return redirect("customers:tags")
