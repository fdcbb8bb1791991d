"""Pages of products, price lists, quotes, orders and payments: parse the request, call a selector or a
service, render. A record outside the actor's scope is a 404 from the selector before any form is looked
at; domain errors of status actions come back as a message on the record's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import DomainError, NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers import selectors as customer_selectors
from kehu.sales import commerce_selectors as selectors
from kehu.sales import commerce_services as services
from kehu.sales import list_views
from kehu.sales.commerce_forms import (
    DocumentFilterForm,
    InstalmentForm,
    LineForm,
    OrderForm,
    PaymentFilterForm,
    PaymentForm,
    PriceListForm,
    ProductFilterForm,
    ProductForm,
    QuoteForm,
    RejectForm,
    SendForm,
    SetPriceForm,
    VersionForm,
    apply_service_errors,
)
from kehu.sales.commerce_models import Order, Payment, PriceList, Product, Quote


def _sort_links(current: str, columns: dict[str, str]) -> dict[str, dict[str, str]]:
    """Column -> the ordering a click asks for and whether it is the current sort."""
    links = {}
    for column, first in columns.items():
        if current.lstrip("-") == column:
            state = "desc" if current.startswith("-") else "asc"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", first
        links[column] = {"ordering": target, "state": state}
    return links


def _page(request: HttpRequest, list_for: Any, **kwargs: Any) -> Any:
    """One keyset page; a stale cursor or an unknown sort column shows the first page with a warning."""
    try:
        return list_for(ordering=request.GET.get("ordering"), cursor=request.GET.get("cursor"), **kwargs)
    except ValidationFailed as exc:
        messages.warning(request, exc.message)
        return list_for(**kwargs)


def _limit(request: HttpRequest) -> int:
    value = request.GET.get("limit", "")
    return int(value) if value.isdigit() else selectors.DEFAULT_PAGE_SIZE


def _version(request: HttpRequest) -> int | None:
    form = VersionForm(request.POST)
    return form.cleaned_data.get("version") if form.is_valid() else None


def _edit(request: HttpRequest, *, form: Any, save: Any, success: str, record: Any = None) -> tuple[bool, Any]:
    """Validate and save; on a version conflict keep the input, bound to the current version so that saving
    again is a deliberate overwrite. Returns (saved, form)."""
    if request.method != "POST" or not form.is_valid():
        return False, form
    try:
        save(form.service_data(), form.cleaned_data.get("version"))
    except VersionConflict as exc:
        if record is not None:
            data = request.POST.copy()
            data["version"] = str(type(record).objects.filter(pk=record.pk).values_list("version", flat=True).first())
            form = type(form)(data, **form.rebind_kwargs)
            form.is_valid()
        form.add_error(None, exc.message)
        return False, form
    except ValidationFailed as exc:
        apply_service_errors(form, exc)
        return False, form
    messages.success(request, success)
    return True, form


def _bound(form_class: type, request: HttpRequest, **kwargs: Any) -> Any:
    form = form_class(request.POST or None, **kwargs)
    form.rebind_kwargs = kwargs
    return form


def _do(request: HttpRequest, action: Any, success: str | None = None) -> Any:
    """Run a status action; a refusal is a message, not an error page."""
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result if result is not None else True


def _opportunity_url(opportunity: Any) -> str:
    if opportunity is None:
        return ""
    try:
        return opportunity.get_absolute_url()
    except NoReverseMatch:  # the opportunities pages may not be installed
        return ""


# Products ----------------------------------------------------------------------------------------------------


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Product)
    form = ProductFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    active = {"1": True, "0": False}.get(data.get("active") or "")
    qs = selectors.product_list_for(actor=actor, search=data.get("search", ""), active=active)
    page = _page(
        request,
        lambda **kw: selectors.keyset_page(
            qs, allowed=selectors.PRODUCT_ORDERING, default="name", limit=_limit(request), **kw
        ),
    )
    context = {
        "page": page,
        "form": form,
        "filtered": bool(data.get("search") or data.get("active")),
        "sort": _sort_links(
            page.ordering, {"name": "name", "sku": "sku", "price": "-price", "updated_at": "-updated_at"}
        ),
        "can_manage": can(actor, "create", Product),
    }
    return render(request, "sales/commerce/product_list.html", context)


@login_required
def product_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Product)
    form = _bound(ProductForm, request, actor=actor)
    saved, form = _edit(
        request,
        form=form,
        save=lambda data, _version: services.product_create(actor=actor, **data),
        success=_("Product created."),
    )
    if saved:
        return redirect("sales:product_list")
    return render(request, "sales/commerce/product_form.html", {"form": form, "product": None})


@login_required
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    product = selectors.product_get_for(actor=actor, pk=pk)
    can_edit = can(actor, "edit", product)
    if request.method == "POST":
        require(actor, "edit", product)
        form = _bound(ProductForm, request, actor=actor, editing=True)
    else:
        form = ProductForm(initial=ProductForm.initial_for(product), actor=actor, editing=True)
        form.rebind_kwargs = {"actor": actor, "editing": True}
    saved, form = _edit(
        request,
        form=form,
        record=product,
        save=lambda data, version: services.product_update(
            actor=actor, product=product, expected_version=version, data=data
        ),
        success=_("Changes saved."),
    )
    if saved:
        return redirect("sales:product_edit", pk=product.pk)
    context = {
        "form": form,
        "product": product,
        "can_edit": can_edit,
        "can_delete": can(actor, "delete", product),
    }
    return render(request, "sales/commerce/product_form.html", context)


@login_required
@require_POST
def product_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate an active product, or activate a deactivated one."""
    actor = request.user
    product = selectors.product_get_for(actor=actor, pk=pk)
    active = not product.is_active
    message = _("%(name)s is active again.") if active else _("%(name)s was deactivated.")
    _do(
        request,
        lambda: services.product_update(
            actor=actor, product=product, expected_version=_version(request), data={"is_active": active}
        ),
        message % {"name": product.name},
    )
    if request.POST.get("next") == "list":
        return redirect("sales:product_list")
    return redirect("sales:product_edit", pk=product.pk)


@login_required
@require_POST
def product_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    product = selectors.product_get_for(actor=actor, pk=pk)
    services.product_delete(actor=actor, product=product)
    messages.success(request, _("%(name)s was moved to the recycle bin.") % {"name": product.name})
    return redirect("sales:product_list")


@login_required
@require_POST
def product_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    product = selectors.product_deleted_get_for(actor=actor, pk=pk)
    if _do(
        request,
        lambda: services.product_restore(actor=actor, product=product),
        _("%(name)s was restored.") % {"name": product.name},
    ):
        return redirect("sales:product_edit", pk=product.pk)
    return redirect("sales:commerce_recycle_bin")


# Price lists -------------------------------------------------------------------------------------------------


@login_required
def price_list_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", PriceList)
    lists = selectors.price_list_list_for(actor=actor).order_by("currency", "tier", "name", "pk")[:500]
    return render(
        request,
        "sales/commerce/price_list_list.html",
        {"price_lists": lists, "can_manage": can(actor, "create", PriceList)},
    )


@login_required
def price_list_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", PriceList)
    form = _bound(PriceListForm, request, actor=actor)
    result: dict[str, Any] = {}
    saved, form = _edit(
        request,
        form=form,
        save=lambda data, _version: result.setdefault("list", services.price_list_create(actor=actor, **data)),
        success=_("Price list created. Now set the prices of its products."),
    )
    if saved:
        return redirect("sales:price_list_detail", pk=result["list"].pk)
    return render(request, "sales/commerce/price_list_form.html", {"form": form, "price_list": None})


@login_required
def price_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The list's settings (editable by administrators) and its prices."""
    actor = request.user
    price_list = selectors.price_list_get_for(actor=actor, pk=pk)
    can_edit = can(actor, "edit", price_list)
    if request.method == "POST":
        require(actor, "edit", price_list)
        form = _bound(PriceListForm, request, actor=actor, editing=True)
    else:
        form = PriceListForm(initial=PriceListForm.initial_for(price_list), actor=actor, editing=True)
        form.rebind_kwargs = {"actor": actor, "editing": True}
    saved, form = _edit(
        request,
        form=form,
        record=price_list,
        save=lambda data, version: services.price_list_update(
            actor=actor, price_list=price_list, expected_version=version, data=data
        ),
        success=_("Changes saved."),
    )
    if saved:
        return redirect("sales:price_list_detail", pk=price_list.pk)
    return _price_list_page(request, price_list, form=form, price_form=SetPriceForm(actor=actor), can_edit=can_edit)


def _price_list_page(request: HttpRequest, price_list: PriceList, **context: Any) -> HttpResponse:
    actor = request.user
    context.update(
        price_list=price_list,
        items=selectors.price_list_items_for(actor=actor, price_list=price_list),
        can_delete=can(actor, "delete", price_list),
    )
    return render(request, "sales/commerce/price_list_detail.html", context)


@login_required
@require_POST
def price_list_set_price(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    price_list = selectors.price_list_get_for(actor=actor, pk=pk)
    require(actor, "edit", price_list)
    price_form = SetPriceForm(request.POST, actor=actor)
    if price_form.is_valid():
        try:
            services.price_list_set_price(
                actor=actor,
                price_list=price_list,
                product=price_form.cleaned_data["product"],
                price=price_form.cleaned_data["price"],
            )
        except ValidationFailed as exc:
            apply_service_errors(price_form, exc)
        else:
            messages.success(request, _("Price saved."))
            return redirect("sales:price_list_detail", pk=price_list.pk)
    form = PriceListForm(initial=PriceListForm.initial_for(price_list), actor=actor, editing=True)
    return _price_list_page(request, price_list, form=form, price_form=price_form, can_edit=True)


@login_required
@require_POST
def price_list_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    price_list = selectors.price_list_get_for(actor=actor, pk=pk)
    services.price_list_delete(actor=actor, price_list=price_list)
    messages.success(request, _("%(name)s was moved to the recycle bin.") % {"name": price_list.name})
    return redirect("sales:price_list_list")


@login_required
@require_POST
def price_list_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    price_list = selectors.price_list_deleted_get_for(actor=actor, pk=pk)
    done = _do(
        request,
        lambda: services.price_list_restore(actor=actor, price_list=price_list),
        _("%(name)s was restored.") % {"name": price_list.name},
    )
    if done:
        return redirect("sales:price_list_detail", pk=price_list.pk)
    return redirect("sales:commerce_recycle_bin")


# Quotes and orders: shared parts -----------------------------------------------------------------------------


def _document_list(
    request: HttpRequest, *, model: type, list_for: Any, template: str, columns: dict[str, str], views: Any
) -> HttpResponse:
    actor = request.user
    require(actor, "view", model)
    if (default_view := views.default_redirect(request)) is not None:
        return default_view
    form = DocumentFilterForm(request.GET or None, actor=actor, statuses=model.Status.choices)
    filters = form.filters() if form.is_bound else {}
    page = _page(request, lambda **kw: list_for(actor=actor, filters=filters, limit=_limit(request), **kw))
    customer = None
    totals = []
    if filters.get("customer"):
        try:
            customer = customer_selectors.customer_get_for(actor=actor, pk=filters["customer"])
        except NotFound:
            customer = None
        if customer is not None and model is Order:
            totals = selectors.customer_totals_for(actor=actor, customer=customer)
    context = {
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "sort": _sort_links(page.ordering, columns),
        "customer": customer,
        "totals": totals,
        "can_create": can(actor, "create", model),
        **views.bar_context(request),  # saved views (sales/list_views.py)
    }
    return render(request, template, context)


def _line_form_page(
    request: HttpRequest, *, line: Any, document: Any, detail_url: str, template_context: dict[str, Any]
) -> HttpResponse:
    actor = request.user
    require(actor, "edit", document)
    if request.method == "POST":
        form = _bound(LineForm, request, actor=actor, line=line)
    else:
        form = LineForm(initial=LineForm.initial_for(line), actor=actor, line=line)
        form.rebind_kwargs = {"actor": actor, "line": line}
    saved, form = _edit(
        request,
        form=form,
        record=line,
        save=lambda data, version: services.line_update(actor=actor, line=line, expected_version=version, data=data),
        success=_("Line saved."),
    )
    if saved:
        return redirect(detail_url)
    return render(
        request,
        "sales/commerce/line_form.html",
        {"form": form, "line": line, "document": document, "detail_url": detail_url, **template_context},
    )


def _line_add(request: HttpRequest, document: Any, render_detail: Any) -> HttpResponse:
    actor = request.user
    require(actor, "edit", document)
    form = _bound(LineForm, request, actor=actor)
    saved, form = _edit(
        request,
        form=form,
        save=lambda data, _version: services.line_add(actor=actor, document=document, **data),
        success=_("Line added."),
    )
    if saved:
        return redirect(document.get_absolute_url() + "#lines")
    return render_detail(request, document, line_form=form, status=400)


def _line_delete(request: HttpRequest, line: Any, document: Any) -> HttpResponse:
    _do(
        request,
        lambda: services.line_delete(actor=request.user, line=line, expected_version=_version(request)),
        _("Line removed."),
    )
    return redirect(document.get_absolute_url() + "#lines")


# Quotes ------------------------------------------------------------------------------------------------------

QUOTE_COLUMNS = {"number": "-number", "total": "-total", "valid_until": "valid_until", "updated_at": "-updated_at"}


@login_required
def quote_list(request: HttpRequest) -> HttpResponse:
    return _document_list(
        request,
        model=Quote,
        list_for=selectors.quote_list_for,
        template="sales/commerce/quote_list.html",
        columns=QUOTE_COLUMNS,
        views=list_views.QUOTE_VIEWS,
    )


@login_required
def quote_create(request: HttpRequest) -> HttpResponse:
    """A quote for the customer or from the opportunity named in the query string (?customer=, ?opportunity=),
    or for a customer picked on the page."""
    actor = request.user
    require(actor, "create", Quote)
    opportunity = customer = None
    source = request.GET.get("opportunity") or request.POST.get("opportunity")
    if source:
        opportunity = selectors.opportunity_for_quote_get_for(actor=actor, pk=source)
        customer = opportunity.customer
    elif request.GET.get("customer") or request.POST.get("fixed_customer"):
        customer = customer_selectors.customer_get_for(
            actor=actor, pk=request.GET.get("customer") or request.POST.get("fixed_customer")
        )
    form = _bound(QuoteForm, request, actor=actor, customer=customer)
    if not form.is_bound and opportunity is not None:
        form.initial.update(title=opportunity.name, currency=opportunity.currency, contact=opportunity.contact_id)
    result: dict[str, Any] = {}

    def save(data: dict[str, Any], _version: Any) -> None:
        result["quote"] = services.quote_create(
            actor=actor,
            customer=customer or form.cleaned_data.get("customer"),
            opportunity=opportunity,
            **data,
        )

    saved, form = _edit(request, form=form, save=save, success=_("Quote created. Add its lines."))
    if saved:
        return redirect("sales:quote_detail", pk=result["quote"].pk)
    context = {"form": form, "record": None, "customer": customer, "opportunity": opportunity, "kind": "quote"}
    return render(request, "sales/commerce/document_form.html", context)


class _DocumentPages:
    """The pages quotes and orders share — the record page, the edit form, lines added / edited / deleted,
    the print view — for one document type; its own page (`render`, with the forms it shows) and its
    status actions stay with it."""

    def __init__(self, *, kind: str, form_class: type, get_for: Any, line_get_for: Any, render: Any) -> None:
        self.kind, self.form_class, self.get_for, self.line_get_for, self.render = (
            kind,
            form_class,
            get_for,
            line_get_for,
            render,
        )

    def detail(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.render(request, self.get_for(actor=request.user, pk=pk))

    def edit(self, request: HttpRequest, pk: int) -> HttpResponse:
        actor = request.user
        document = self.get_for(actor=actor, pk=pk)
        require(actor, "edit", document)
        kwargs = {"actor": actor, "customer": document.customer, "editing": True}
        if request.method == "POST":
            form = _bound(self.form_class, request, **kwargs)
        else:
            form = self.form_class(initial=self.form_class.initial_for(document), **kwargs)
            form.rebind_kwargs = kwargs
        update = getattr(services, f"{self.kind}_update")
        saved, form = _edit(
            request,
            form=form,
            record=document,
            save=lambda data, version: update(
                actor=actor, expected_version=version, data=data, **{self.kind: document}
            ),
            success=_("Changes saved."),
        )
        if saved:
            return redirect(document.get_absolute_url())
        context = {"form": form, "record": document, "customer": document.customer, "kind": self.kind}
        return render(request, "sales/commerce/document_form.html", context)

    def line_add(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _line_add(request, self.get_for(actor=request.user, pk=pk), self.render)

    def line_edit(self, request: HttpRequest, pk: int) -> HttpResponse:
        line = self.line_get_for(actor=request.user, pk=pk)
        document = getattr(line, self.kind)
        return _line_form_page(
            request, line=line, document=document, detail_url=document.get_absolute_url(), template_context={}
        )

    def line_delete(self, request: HttpRequest, pk: int) -> HttpResponse:
        line = self.line_get_for(actor=request.user, pk=pk)
        document = getattr(line, self.kind)
        require(request.user, "edit", document)
        return _line_delete(request, line, document)

    def print(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The printable document (the browser's print dialog saves it as PDF)."""
        document = self.get_for(actor=request.user, pk=pk)
        context = {
            "document": document,
            self.kind: document,
            "lines": list(document.lines.all()),
            "organization": request.user.organization,
        }
        return render(request, "sales/commerce/print.html", context)


def _quote_page(request: HttpRequest, quote: Quote, *, line_form: Any = None, status: int = 200) -> HttpResponse:
    actor = request.user
    can_edit = can(actor, "edit", quote)
    order = selectors.order_of_quote_for(actor=actor, quote=quote)
    contact_email = quote.contact.email if quote.contact_id and quote.contact else ""
    context = {
        "quote": quote,
        "document": quote,
        "lines": list(quote.lines.all()),
        "revisions": selectors.quote_revisions_for(actor=actor, quote=quote),
        "order": order,
        "opportunity_url": _opportunity_url(quote.opportunity),
        "can_edit": can_edit,
        "can_delete": can(actor, "delete", quote),
        "can_create_order": can(actor, "create", Order) and order is None and quote.status == Quote.Status.ACCEPTED,
        "line_form": line_form
        if line_form is not None
        else (LineForm(actor=actor) if can_edit and quote.is_editable else None),
        "send_form": SendForm(initial={"to": contact_email}),
        "reject_form": RejectForm(),
        "can_revise": can_edit and quote.is_current and quote.status in services.REVISABLE,
        "line_edit_url_name": "sales:quote_line_edit",
        "line_delete_url_name": "sales:quote_line_delete",
        "line_add_url": reverse("sales:quote_line_add", args=[quote.pk]),
        "today": services.organization_today(actor.organization),
    }
    return render(request, "sales/commerce/quote_detail.html", context, status=status)


QUOTE_PAGES = _DocumentPages(
    kind="quote",
    form_class=QuoteForm,
    get_for=selectors.quote_get_for,
    line_get_for=selectors.quote_line_get_for,
    render=_quote_page,
)
quote_detail = login_required(QUOTE_PAGES.detail)
quote_edit = login_required(QUOTE_PAGES.edit)
quote_line_add = login_required(require_POST(QUOTE_PAGES.line_add))
quote_line_edit = login_required(QUOTE_PAGES.line_edit)
quote_line_delete = login_required(require_POST(QUOTE_PAGES.line_delete))
quote_print = login_required(QUOTE_PAGES.print)


@login_required
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{_('Send to')}: {error}")
        return redirect("sales:quote_detail", pk=quote.pk)
    by_email = request.POST.get("mode") != "mark"
    to = form.cleaned_data.get("to") or ""
    emailed = _do(
        request,
        lambda: services.quote_send(
            actor=actor, quote=quote, expected_version=_version(request), email=by_email, to=to or None
        ),
    )
    if emailed is not None:
        if isinstance(emailed, str) and emailed:
            messages.success(request, _("The quote was e-mailed to %(email)s and marked sent.") % {"email": emailed})
        elif by_email:
            messages.warning(
                request,
                _("The quote was marked sent but not e-mailed: no e-mail address is known for its contact."),
            )
        else:
            messages.success(request, _("The quote was marked sent."))
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_accept(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    result = _do(
        request,
        lambda: services.quote_accept(actor=actor, quote=quote, expected_version=_version(request)),
        _("The quote was accepted. You can now create its order."),
    )
    if isinstance(result, services.QuoteAccepted) and result.opportunity_message:
        # Moved: good news; not moved although it was open: a warning the rep must act on.
        level = messages.success if result.opportunity_won else messages.warning
        level(request, result.opportunity_message)
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_reject(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    form = RejectForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    _do(
        request,
        lambda: services.quote_reject(actor=actor, quote=quote, expected_version=_version(request), reason=reason),
        _("The quote was marked rejected."),
    )
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_revise(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    revision = _do(request, lambda: services.quote_revise(actor=actor, quote=quote, expected_version=_version(request)))
    if isinstance(revision, Quote):
        messages.success(
            request, _("Revision %(revision)s of the quote was created as a draft.") % {"revision": revision.revision}
        )
        return redirect("sales:quote_detail", pk=revision.pk)
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_create_order(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    order = _do(request, lambda: services.order_create_from_quote(actor=actor, quote=quote))
    if isinstance(order, Order):
        messages.success(request, _("Order %(number)s created from the quote.") % {"number": order.number})
        return redirect("sales:order_detail", pk=order.pk)
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_get_for(actor=actor, pk=pk)
    done = _do(
        request,
        lambda: services.quote_delete(actor=actor, quote=quote, expected_version=_version(request)),
        _("%(number)s was moved to the recycle bin.") % {"number": quote.display_number},
    )
    if done:
        if quote.previous_id:
            return redirect("sales:quote_detail", pk=quote.previous_id)
        return redirect("sales:quote_list")
    return redirect("sales:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    quote = selectors.quote_deleted_get_for(actor=actor, pk=pk)
    if _do(
        request,
        lambda: services.quote_restore(actor=actor, quote=quote),
        _("%(number)s was restored.") % {"number": quote.display_number},
    ):
        return redirect("sales:quote_detail", pk=quote.pk)
    return redirect("sales:commerce_recycle_bin")


# Orders ------------------------------------------------------------------------------------------------------

ORDER_COLUMNS = {"number": "-number", "order_date": "-order_date", "total": "-total", "updated_at": "-updated_at"}


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    """Orders; filtered by ?customer= it is the customer's transaction history with their totals."""
    return _document_list(
        request,
        model=Order,
        list_for=selectors.order_list_for,
        template="sales/commerce/order_list.html",
        columns=ORDER_COLUMNS,
        views=list_views.ORDER_VIEWS,
    )


@login_required
def order_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", Order)
    customer = None
    fixed = request.GET.get("customer") or request.POST.get("fixed_customer")
    if fixed:
        customer = customer_selectors.customer_get_for(actor=actor, pk=fixed)
    form = _bound(OrderForm, request, actor=actor, customer=customer)
    result: dict[str, Any] = {}

    def save(data: dict[str, Any], _version: Any) -> None:
        result["order"] = services.order_create(
            actor=actor, customer=customer or form.cleaned_data.get("customer"), **data
        )

    saved, form = _edit(request, form=form, save=save, success=_("Order created. Add its lines."))
    if saved:
        return redirect("sales:order_detail", pk=result["order"].pk)
    context = {"form": form, "record": None, "customer": customer, "kind": "order"}
    return render(request, "sales/commerce/document_form.html", context)


def _order_page(
    request: HttpRequest,
    order: Order,
    *,
    line_form: Any = None,
    payment_form: Any = None,
    instalment_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.user
    can_edit = can(actor, "edit", order)
    today = services.organization_today(actor.organization)
    instalments = list(selectors.instalment_list_for(actor=actor, order=order).order_by("due_date", "pk"))
    for instalment in instalments:
        instalment.order = order  # the page's copy, with the received total just read
        instalment.state = selectors.instalment_state(instalment, today=today)
    payments = list(selectors.payment_list_for(actor=actor, order=order).order_by("-received_on", "-pk"))
    probe = Payment(organization_id=order.organization_id, order=order)
    can_pay = can(actor, "create", probe) and order.accepts_payments
    context = {
        "order": order,
        "document": order,
        "lines": list(order.lines.all()),
        "payments": payments,
        "instalments": instalments,
        "planned_total": sum((i.amount for i in instalments), start=order.total * 0),
        "can_edit": can_edit,
        "can_delete": can(actor, "delete", order),
        "can_edit_payments": can(actor, "edit", probe),
        "can_delete_payments": can(actor, "delete", probe),
        "line_form": line_form
        if line_form is not None
        else (LineForm(actor=actor) if can_edit and order.is_editable else None),
        "payment_form": payment_form
        if payment_form is not None
        else (
            PaymentForm(actor=actor, initial={"received_on": today, "amount": order.outstanding}) if can_pay else None
        ),
        "instalment_form": instalment_form
        if instalment_form is not None
        else (InstalmentForm(actor=actor) if can_edit and order.status != Order.Status.CANCELLED else None),
        "line_edit_url_name": "sales:order_line_edit",
        "line_delete_url_name": "sales:order_line_delete",
        "line_add_url": reverse("sales:order_line_add", args=[order.pk]),
        "today": today,
    }
    return render(request, "sales/commerce/order_detail.html", context, status=status)


ORDER_PAGES = _DocumentPages(
    kind="order",
    form_class=OrderForm,
    get_for=selectors.order_get_for,
    line_get_for=selectors.order_line_get_for,
    render=_order_page,
)
order_detail = login_required(ORDER_PAGES.detail)
order_edit = login_required(ORDER_PAGES.edit)
order_line_add = login_required(require_POST(ORDER_PAGES.line_add))
order_line_edit = login_required(ORDER_PAGES.line_edit)
order_line_delete = login_required(require_POST(ORDER_PAGES.line_delete))
order_print = login_required(ORDER_PAGES.print)


def _order_action(request: HttpRequest, pk: int, service: Any, success: str) -> HttpResponse:
    actor = request.user
    order = selectors.order_get_for(actor=actor, pk=pk)
    _do(request, lambda: service(actor=actor, order=order, expected_version=_version(request)), success)
    return redirect("sales:order_detail", pk=order.pk)


@login_required
@require_POST
def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, services.order_confirm, _("The order was confirmed."))


@login_required
@require_POST
def order_fulfil(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, services.order_fulfil, _("The order was marked fulfilled."))


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, services.order_cancel, _("The order was cancelled."))


@login_required
@require_POST
def order_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    order = selectors.order_get_for(actor=actor, pk=pk)
    done = _do(
        request,
        lambda: services.order_delete(actor=actor, order=order, expected_version=_version(request)),
        _("%(number)s was moved to the recycle bin.") % {"number": order.number},
    )
    return redirect("sales:order_list") if done else redirect("sales:order_detail", pk=order.pk)


@login_required
@require_POST
def order_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    order = selectors.order_deleted_get_for(actor=actor, pk=pk)
    if _do(
        request,
        lambda: services.order_restore(actor=actor, order=order),
        _("%(number)s was restored.") % {"number": order.number},
    ):
        return redirect("sales:order_detail", pk=order.pk)
    return redirect("sales:commerce_recycle_bin")


# Payments and instalments ------------------------------------------------------------------------------------


@login_required
@require_POST
def payment_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    order = selectors.order_get_for(actor=actor, pk=pk)
    form = _bound(PaymentForm, request, actor=actor)
    saved, form = _edit(
        request,
        form=form,
        save=lambda data, _version: services.payment_create(actor=actor, order=order, **data),
        success=_("Payment recorded."),
    )
    if saved:
        return redirect(order.get_absolute_url() + "#payments")
    return _order_page(request, order, payment_form=form, status=400)


@login_required
@require_POST
def instalment_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    order = selectors.order_get_for(actor=actor, pk=pk)
    form = _bound(InstalmentForm, request, actor=actor)
    saved, form = _edit(
        request,
        form=form,
        save=lambda data, _version: services.instalment_create(actor=actor, order=order, **data),
        success=_("Instalment planned."),
    )
    if saved:
        return redirect(order.get_absolute_url() + "#instalments")
    return _order_page(request, order, instalment_form=form, status=400)


@login_required
def payment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    payment = selectors.payment_get_for(actor=actor, pk=pk)
    require(actor, "edit", payment)
    if request.method == "POST":
        form = _bound(PaymentForm, request, actor=actor, editing=True)
    else:
        form = PaymentForm(initial=PaymentForm.initial_for(payment), actor=actor, editing=True)
        form.rebind_kwargs = {"actor": actor, "editing": True}
    saved, form = _edit(
        request,
        form=form,
        record=payment,
        save=lambda data, version: services.payment_update(
            actor=actor, payment=payment, expected_version=version, data=data
        ),
        success=_("Changes saved."),
    )
    if saved:
        return redirect(payment.order.get_absolute_url() + "#payments")
    context = {"form": form, "record": payment, "order": payment.order, "kind": "payment"}
    return render(request, "sales/commerce/payment_form.html", context)


@login_required
@require_POST
def payment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    payment = selectors.payment_get_for(actor=actor, pk=pk)
    services.payment_delete(actor=actor, payment=payment, expected_version=_version(request))
    messages.success(request, _("The payment was moved to the recycle bin."))
    return redirect(payment.order.get_absolute_url() + "#payments")


@login_required
@require_POST
def payment_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    payment = selectors.payment_deleted_get_for(actor=actor, pk=pk)
    if _do(request, lambda: services.payment_restore(actor=actor, payment=payment), _("The payment was restored.")):
        return redirect(payment.order.get_absolute_url() + "#payments")
    return redirect("sales:commerce_recycle_bin")


@login_required
def instalment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    instalment = selectors.instalment_get_for(actor=actor, pk=pk)
    require(actor, "edit", instalment.order)
    if request.method == "POST":
        form = _bound(InstalmentForm, request, actor=actor, editing=True)
    else:
        form = InstalmentForm(initial=InstalmentForm.initial_for(instalment), actor=actor, editing=True)
        form.rebind_kwargs = {"actor": actor, "editing": True}
    saved, form = _edit(
        request,
        form=form,
        record=instalment,
        save=lambda data, version: services.instalment_update(
            actor=actor, instalment=instalment, expected_version=version, data=data
        ),
        success=_("Changes saved."),
    )
    if saved:
        return redirect(instalment.order.get_absolute_url() + "#instalments")
    context = {"form": form, "record": instalment, "order": instalment.order, "kind": "instalment"}
    return render(request, "sales/commerce/payment_form.html", context)


@login_required
@require_POST
def instalment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    instalment = selectors.instalment_get_for(actor=actor, pk=pk)
    order = instalment.order
    _do(
        request,
        lambda: services.instalment_delete(actor=actor, instalment=instalment, expected_version=_version(request)),
        _("The planned instalment was removed."),
    )
    return redirect(order.get_absolute_url() + "#instalments")


@login_required
def payment_list(request: HttpRequest) -> HttpResponse:
    """Payments 回款: received payments, or (?tab=planned) planned instalments with an overdue filter."""
    actor = request.user
    require(actor, "view", Payment)
    tab = "planned" if request.GET.get("tab") == "planned" else "received"
    form = PaymentFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    customer = filters.get("customer")
    overdue = request.GET.get("overdue") == "1"
    today = services.organization_today(actor.organization)
    if tab == "planned":
        qs = selectors.instalment_list_for(actor=actor, customer=customer, overdue=overdue, today=today)
        page = _page(
            request,
            lambda **kw: selectors.keyset_page(
                qs, allowed=selectors.INSTALMENT_ORDERING, default="due_date", limit=_limit(request), **kw
            ),
        )
        for instalment in page.items:
            instalment.state = selectors.instalment_state(instalment, today=today)
        columns = {"due_date": "due_date", "amount": "-amount"}
    else:
        qs = selectors.payment_list_for(
            actor=actor, customer=customer, method=filters.get("method", ""), search=filters.get("search", "")
        )
        page = _page(
            request,
            lambda **kw: selectors.keyset_page(
                qs, allowed=selectors.PAYMENT_ORDERING, default="-received_on", limit=_limit(request), **kw
            ),
        )
        columns = {"received_on": "-received_on", "amount": "-amount", "created_at": "-created_at"}
    context = {
        "tab": tab,
        "page": page,
        "form": form,
        "overdue": overdue,
        "filtered": bool(filters) or overdue,
        "sort": _sort_links(page.ordering, columns),
        "today": today,
    }
    return render(request, "sales/commerce/payment_list.html", context)


# Recycle bin and pickers -------------------------------------------------------------------------------------


@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", Quote)
    context = {
        "bin": selectors.recycle_bin_for(actor=actor),
        "limit": selectors.RECYCLE_BIN_LIMIT,
        "can_restore_catalogue": can(actor, "restore", Product),
        "can_restore_documents": can(actor, "restore", Quote),
        "can_restore_payments": can(actor, "restore", Payment),
    }
    return render(request, "sales/commerce/recycle_bin.html", context)


@login_required
def customer_options(request: HttpRequest) -> HttpResponse:
    """<option>s of the customers whose name, phone or email matches ?q= (the customer picker of the quote and
    order forms); the newest ones without a query."""
    actor = request.user
    query = (request.GET.get("q") or "").strip()[:100]
    if query:
        page = customer_selectors.customer_list_for(actor=actor, filters={"search": query}, limit=30)
        customers = page.items
    else:
        customers = list(customer_selectors.customer_queryset_for(actor=actor).order_by("-updated_at")[:30])
    return render(request, "sales/commerce/_customer_options.html", {"customers": customers, "query": query})


def customer_quote_button(request: HttpRequest, customer: Any) -> str:
    """The "New quote" button of a customer page's header (kehu.customers.panels, place "actions"); ""
    for a user who may not create quotes."""
    from django.template.loader import render_to_string

    if not can(request.user, "create", Quote):
        return ""
    return render_to_string("sales/commerce/_customer_quote_button.html", {"customer": customer}, request=request)
