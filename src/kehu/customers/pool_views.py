"""Pages of the public pool 公海, its settings, the duplicates list with merge, and the recycle-bin purge.
Parse, call a selector or a service, render: the rules live in customers/pool.py and merge.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kehu.core.errors import DomainError, ValidationFailed
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers import merge, pool, pool_selectors, selectors
from kehu.customers.forms import CustomerFilterForm, apply_service_errors
from kehu.customers.models import Customer
from kehu.customers.pool_forms import BulkReleaseForm, MergeForm, PoolBulkForm, PoolSettingsForm, ReleaseForm
from kehu.customers.views import _safe_next, _sort_links


def detail_context(actor: Any, customer: Customer) -> dict[str, Any]:
    """What the customer page adds for the pool: claim or release buttons, and a pool customer's contacts."""
    in_pool = customer.owner_id is None
    context: dict[str, Any] = {
        "in_pool": in_pool,
        "can_claim": in_pool and can(actor, "claim", customer),
        "can_release": not in_pool and can(actor, "release", customer),
        "release_form": ReleaseForm(),
    }
    if in_pool:
        context["contacts"] = pool_selectors.pool_contacts_for(actor=actor, customer=customer)
    return context


def _error_messages(request: HttpRequest, form: Any) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


# Pool ---------------------------------------------------------------------------------------------------


@login_required
def pool_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Customer)
    form = CustomerFilterForm(request.GET or None, actor=actor, with_choices=True)
    filters = form.filters() if form.is_bound else {}
    filters.pop("owner", None)  # nobody owns a pool customer
    ordering = request.GET.get("ordering") or selectors.DEFAULT_ORDERING
    try:
        page = pool_selectors.pool_list_for(
            actor=actor, filters=filters, ordering=ordering, cursor=request.GET.get("cursor")
        )
    except ValidationFailed as exc:
        messages.warning(request, exc.message)
        page = pool_selectors.pool_list_for(actor=actor, filters=filters)
    can_claim = can(actor, "claim", Customer)
    can_assign = can(actor, "assign", Customer)
    rules = pool_selectors.pool_settings_for(organization_id=actor.organization_id)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "ordering": page.ordering,
        "sort": _sort_links(page.ordering),
        "can_claim": can_claim,
        "can_assign": can_assign,
        "can_administer": can(actor, "administer", Customer),
        "owners": selectors.owner_choices_for(actor=actor) if can_assign else [],
        "rules": rules,
        "held": pool_selectors.held_count(user=actor) if can_claim else None,
    }
    return render(request, "customers/pool/list.html", context)


@login_required
@require_POST
def pool_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = PoolBulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("customers:pool"))
    if not form.is_valid():
        _error_messages(request, form)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    customers = pool_selectors.pool_customers_for_bulk(actor=actor, ids=data["ids"])
    owner = None
    if data["action"] == "assign":
        owner = {u.pk: u for u in selectors.owner_choices_for(actor=actor)}.get(data["owner"])
        if owner is None:
            messages.error(request, _("Choose an active colleague who has access to customers."))
            return HttpResponseRedirect(target)
    try:
        claimed = pool.customers_claim(actor=actor, customers=customers, owner=owner)
    except DomainError as exc:  # nothing was claimed: all or nothing
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            ngettext("%(count)d customer claimed.", "%(count)d customers claimed.", len(claimed))
            % {"count": len(claimed)},
        )
    return HttpResponseRedirect(target)


@login_required
@require_POST
def customer_claim(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = pool_selectors.pool_customer_get_for(actor=actor, pk=pk)
    try:
        pool.customer_claim(actor=actor, customer=customer)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is now yours.") % {"name": customer.name})
    return redirect("customers:detail", pk=customer.pk)


@login_required
@require_POST
def customer_release(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_get_for(actor=actor, pk=pk)
    require(actor, "release", customer)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        _error_messages(request, form)
        return redirect("customers:detail", pk=customer.pk)
    try:
        pool.customer_release(actor=actor, customer=customer, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s was released to the public pool.") % {"name": customer.name})
    if can(actor, "view", customer):
        return redirect("customers:detail", pk=customer.pk)
    return redirect("customers:list")


@login_required
@require_POST
def release_bulk(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = BulkReleaseForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), reverse("customers:list"))
    if not form.is_valid():
        _error_messages(request, form)
        return HttpResponseRedirect(target)
    customers = selectors.customers_for_bulk(actor=actor, ids=form.cleaned_data["ids"])
    try:
        released = pool.customers_release(actor=actor, customers=customers, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d customer released to the public pool.",
                "%(count)d customers released to the public pool.",
                len(released),
            )
            % {"count": len(released)},
        )
    return HttpResponseRedirect(target)


@login_required
def pool_settings(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "administer", Customer)
    current = pool_selectors.pool_settings_for(organization_id=actor.organization_id)
    form = PoolSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            pool.pool_settings_update(actor=actor, data=dict(form.cleaned_data))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Public pool rules saved."))
            return redirect("customers:pool_settings")
    return render(request, "customers/pool/settings.html", {"form": form})


# Duplicates and merge ---------------------------------------------------------------------------------


@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Customer)
    pairs = pool_selectors.duplicate_pairs_for(actor=actor)
    for pair in pairs:
        pair.can_merge = can(actor, "edit", pair.first) and can(actor, "delete", pair.second)
    return render(request, "customers/pool/duplicates.html", {"pairs": pairs})


@login_required
def customer_merge(request: HttpRequest) -> HttpResponse:
    """GET ?ids=1&ids=2: the side-by-side form; POST: merge. Every id must be visible (else 404)."""
    actor = request.user
    ids = request.POST.getlist("ids") if request.method == "POST" else request.GET.getlist("ids")
    if len(ids) < 2:
        messages.error(request, _("Choose at least two customers to merge."))
        return redirect("customers:duplicates")
    customers = pool_selectors.merge_candidates_for(actor=actor, ids=ids)
    for customer in customers:
        require(actor, "edit", customer)
    form = MergeForm(request.POST or None, customers=customers)
    if request.method == "POST" and form.is_valid():
        by_pk = {c.pk: c for c in customers}
        survivor = by_pk[form.cleaned_data["survivor"]]
        others = [c for c in customers if c.pk != survivor.pk]
        try:
            merge.customer_merge(actor=actor, survivor=survivor, others=others, choices=form.choices())
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d customer merged into %(name)s.", "%(count)d customers merged into %(name)s.", len(others)
                )
                % {"count": len(others), "name": survivor.name},
            )
            return redirect("customers:detail", pk=survivor.pk)
    return render(request, "customers/pool/merge.html", {"form": form, "customers": customers})


# Recycle bin purge ------------------------------------------------------------------------------------


@login_required
@require_POST
def customer_purge(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    customer = selectors.customer_deleted_get_for(actor=actor, pk=pk)
    name = customer.name
    pool.customer_purge(actor=actor, customer=customer)
    messages.success(request, _("%(name)s was deleted for good.") % {"name": name})
    return redirect("customers:recycle_bin")
