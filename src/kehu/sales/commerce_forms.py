"""Forms of the commerce pages: they parse and present, the services decide. Model validation runs on a
throwaway instance so that errors show next to their field; records named in the input (customer, contact,
product) are resolved through the selectors, so an id the user may not see fails like a missing one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core import choice_lists
from kehu.core.errors import NotFound
from kehu.customers import selectors as customer_selectors
from kehu.customers.forms import apply_service_errors  # noqa: F401  (re-exported for the views)
from kehu.customers.models import TIERS, Customer
from kehu.sales import commerce_selectors
from kehu.sales.commerce_models import Instalment, Order, Payment, PriceList, Product, Quote

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"})
PERCENT_INPUT = forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "100", "inputmode": "decimal"})


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *list(choices)]


class _StyledMixin:
    def style(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control")


class _VersionedMixin:
    """`version` carries what the user opened, so saving over a colleague's change is refused (409)."""

    def setup_version(self, editing: bool) -> None:
        if editing:
            self.fields["version"].required = True  # type: ignore[attr-defined]
        else:
            del self.fields["version"]  # type: ignore[attr-defined]

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)  # type: ignore[attr-defined]
        data.pop("version", None)
        return data


# Catalogue ---------------------------------------------------------------------------------------------------


class ProductForm(_VersionedMixin, _StyledMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Product
        fields = ["sku", "name", "unit", "price", "currency", "tax_rate", "is_active", "description"]
        widgets = {
            "price": MONEY_INPUT,
            "tax_rate": PERCENT_INPUT,
            "description": forms.Textarea(attrs={"rows": 3}),
            "currency": forms.TextInput(attrs={"maxlength": 3, "style": "text-transform: uppercase"}),
        }

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = Product(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        if not editing and not self.is_bound:
            self.initial.setdefault("currency", actor.organization.currency or "CNY")
        self.fields["tax_rate"].required = False
        self.setup_version(editing)
        self.style()

    def validate_unique(self) -> None:
        """The service checks the SKU within the organisation (with a message about the recycle bin)."""

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if data.get("tax_rate") is None:
            data["tax_rate"] = Decimal(0)
        return data

    @staticmethod
    def initial_for(product: Product) -> dict[str, Any]:
        return {**forms.model_to_dict(product, fields=ProductForm.Meta.fields), "version": product.version}


class ProductFilterForm(forms.Form):
    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Name or SKU…"), "type": "search"}),
    )
    active = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active and inactive")), ("1", _("Active")), ("0", _("Deactivated"))],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))


class PriceListForm(_VersionedMixin, _StyledMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    tier = forms.ChoiceField(label=_("customer tier"), choices=[("", _("Every tier"))], required=False)

    class Meta:
        model = PriceList
        fields = ["name", "currency", "tier", "is_active", "description"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "currency": forms.TextInput(attrs={"maxlength": 3, "style": "text-transform: uppercase"}),
        }

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = PriceList(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        # The organisation's customer tiers (kehu.core.choice_lists), keeping the list's own if deactivated.
        current = str(self.initial.get("tier") or "")
        self.fields["tier"].choices = [
            ("", _("Every tier")),
            *choice_lists.choices(actor.organization_id, TIERS, current=current),
        ]
        if not editing and not self.is_bound:
            self.initial.setdefault("currency", actor.organization.currency or "CNY")
        self.setup_version(editing)
        self.style()

    def validate_unique(self) -> None:
        """The service checks names and the one active list per currency and tier."""

    @staticmethod
    def initial_for(price_list: PriceList) -> dict[str, Any]:
        return {**forms.model_to_dict(price_list, fields=PriceListForm.Meta.fields), "version": price_list.version}


class SetPriceForm(_StyledMixin, forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    price = forms.DecimalField(
        label=_("Price"), max_digits=16, decimal_places=2, min_value=0, required=False, widget=MONEY_INPUT
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        products = commerce_selectors.product_list_for(actor=actor).order_by("name", "pk")[:1000]
        self.fields["product"].choices = _blank((p.pk, str(p)) for p in products)
        self.fields["price"].help_text = _("Leave empty to remove the product from the list.")
        self.style()

    def clean_product(self) -> Product:
        try:
            return commerce_selectors.product_get_for(actor=self.actor, pk=self.cleaned_data["product"])
        except NotFound as exc:
            raise forms.ValidationError(_("Choose a product of your catalogue.")) from exc


# Documents ---------------------------------------------------------------------------------------------------


class DocumentFilterForm(forms.Form):
    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Number, title or customer…"), "type": "search"}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    customer = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, actor: Any, statuses: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = _blank(statuses, _("Any status"))
        owners = customer_selectors.owner_choices_for(actor=actor)
        self.fields["owner"].choices = _blank(((u.pk, str(u)) for u in owners), _("Any owner"))
        for field in self.fields.values():
            if isinstance(field.widget, forms.HiddenInput):
                continue
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class _DocumentForm(_VersionedMixin, _StyledMixin, forms.ModelForm):
    """The header of a quote or an order. The customer is chosen when creating (or given by the page that
    links here); the contact from the customer's contacts."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    customer = forms.IntegerField(label=_("Customer"), min_value=1, widget=forms.Select)
    contact = forms.TypedChoiceField(label=_("Contact"), coerce=int, required=False, empty_value=None)

    document_fields: list[str] = []

    def __init__(
        self, *args: Any, actor: Any, customer: Customer | None = None, editing: bool = False, **kwargs: Any
    ) -> None:
        kwargs["instance"] = self._meta.model(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fixed_customer = customer
        self.setup_version(editing)
        if editing or customer is not None:
            del self.fields["customer"]
        else:
            self.fields["customer"].widget.choices = self._customer_options()
        if customer is not None:
            contacts = customer_selectors.contact_list_for(actor=actor, customer=customer).order_by(
                "-is_primary", "name"
            )
            self.fields["contact"].choices = _blank((c.pk, str(c)) for c in contacts)
        else:
            del self.fields["contact"]  # picked on the edit page, once the customer is known
        if not editing and not self.is_bound:
            self.initial.setdefault("currency", actor.organization.currency or "CNY")
        self.fields["discount_percent"].required = False
        self.style()

    def _customer_options(self) -> list[tuple[Any, Any]]:
        """The newest customers the actor may see (the search box above the list fetches others), and the
        one already chosen when the form comes back with an error."""
        options = [
            (c.pk, c.name)
            for c in customer_selectors.customer_queryset_for(actor=self.actor).order_by("-updated_at")[:30]
        ]
        chosen = self.data.get("customer") if self.is_bound else None
        if chosen and str(chosen).isdigit() and int(chosen) not in {pk for pk, _name in options}:
            try:
                customer = customer_selectors.customer_get_for(actor=self.actor, pk=chosen)
                options.insert(0, (customer.pk, customer.name))
            except NotFound:
                pass
        return _blank(options, _("Choose a customer…"))

    def clean_customer(self) -> Customer:
        try:
            return customer_selectors.customer_get_for(actor=self.actor, pk=self.cleaned_data["customer"])
        except NotFound as exc:
            raise forms.ValidationError(_("No such customer, or it is not visible to you.")) from exc

    def clean_contact(self) -> Any:
        pk = self.cleaned_data.get("contact")
        if not pk:
            return None
        try:
            return customer_selectors.contact_get_for(actor=self.actor, pk=pk)
        except NotFound as exc:
            raise forms.ValidationError(_("Choose a contact of the customer.")) from exc

    def validate_unique(self) -> None:
        """Numbers are the service's."""

    def _post_clean(self) -> None:
        # The throwaway instance validates the header fields only (customer and contact are checked above).
        exclude = self._get_validation_exclusions()
        exclude.update(
            {"customer", "contact", "opportunity", "quote", "number", "issue_date", "valid_until", "order_date"}
        )
        try:
            self.instance = forms.models.construct_instance(self, self.instance, self._meta.fields, exclude)
            self.instance.full_clean(exclude=exclude, validate_unique=False)
        except forms.ValidationError as exc:
            self._update_errors(exc)

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        data.pop("customer", None)
        return data

    @classmethod
    def initial_for(cls, document: Any) -> dict[str, Any]:
        initial = forms.model_to_dict(document, fields=cls.Meta.fields)
        initial["contact"] = document.contact_id
        initial["version"] = document.version
        return initial


class QuoteForm(_DocumentForm):
    class Meta:
        model = Quote
        fields = ["title", "contact", "currency", "issue_date", "valid_until", "discount_percent", "terms", "notes"]
        widgets = {
            "issue_date": DATE_INPUT,
            "valid_until": DATE_INPUT,
            "discount_percent": PERCENT_INPUT,
            "terms": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 2}),
            "currency": forms.TextInput(attrs={"maxlength": 3, "style": "text-transform: uppercase"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["issue_date"].required = False
        self.fields["valid_until"].required = False
        self.fields["issue_date"].help_text = _("Default: today.")
        self.fields["valid_until"].help_text = _("Default: 30 days after the quote date.")


class OrderForm(_DocumentForm):
    class Meta:
        model = Order
        fields = ["title", "contact", "currency", "order_date", "discount_percent", "terms", "notes"]
        widgets = QuoteForm.Meta.widgets | {"order_date": DATE_INPUT}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order_date"].required = False
        self.fields["order_date"].help_text = _("Default: today.")


class LineForm(_VersionedMixin, _StyledMixin, forms.Form):
    """One line of a quote or an order. With a product, empty fields come from it (and, without a unit
    price, from the customer's price list)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False, empty_value=None)
    name = forms.CharField(label=_("Description"), max_length=255, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=14,
        decimal_places=3,
        min_value=Decimal("0.001"),
        initial=1,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    unit_price = forms.DecimalField(
        label=_("Unit price"), max_digits=16, decimal_places=2, min_value=0, required=False, widget=MONEY_INPUT
    )
    discount_percent = forms.DecimalField(
        label=_("Discount (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        widget=PERCENT_INPUT,
    )
    tax_rate = forms.DecimalField(
        label=_("Tax rate (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        widget=PERCENT_INPUT,
    )

    def __init__(self, *args: Any, actor: Any, line: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.line = line
        products = commerce_selectors.product_choices_for(actor=actor, include=getattr(line, "product_id", None))
        self.products = {p.pk: p for p in products}
        self.fields["product"].choices = _blank(
            ((p.pk, f"{p.name} · {p.sku}") for p in products), _("Free text (no product)")
        )
        self.fields["unit_price"].help_text = _("Empty: the customer's price for the product.")
        self.fields["tax_rate"].help_text = _("Empty: the product's tax rate.")
        self.setup_version(line is not None)
        self.style()

    def clean_product(self) -> Product | None:
        pk = self.cleaned_data.get("product")
        if not pk:
            return None
        product = self.products.get(pk)
        if product is None:
            raise forms.ValidationError(_("Choose a product of your catalogue."))
        return product

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if self.line is not None:
            # Editing: an empty optional field keeps what the line has (the product fills only new lines).
            for name in ("unit_price", "tax_rate", "discount_percent"):
                if data.get(name) is None:
                    data.pop(name)
            chosen = data.get("product")
            if getattr(chosen, "pk", None) == self.line.product_id:  # the product did not change
                data.pop("product")
        return data

    @staticmethod
    def initial_for(line: Any) -> dict[str, Any]:
        return {
            "product": line.product_id,
            "name": line.name,
            "quantity": line.quantity,
            "unit": line.unit,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
            "tax_rate": line.tax_rate,
            "version": line.version,
        }


class SendForm(_StyledMixin, forms.Form):
    to = forms.EmailField(label=_("Send to"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class RejectForm(_StyledMixin, forms.Form):
    reason = forms.CharField(label=_("Reason for rejection"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class VersionForm(forms.Form):
    version = forms.IntegerField(required=False, min_value=1)


# Payments ----------------------------------------------------------------------------------------------------


class PaymentForm(_VersionedMixin, _StyledMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Payment
        fields = ["received_on", "amount", "method", "reference", "note"]
        widgets = {
            "received_on": DATE_INPUT,
            "amount": forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        }

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = Payment(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        # The service says why an amount is refused (not positive, more than outstanding): no min here.
        self.fields["amount"].validators = []
        self.fields["received_on"].required = False
        self.setup_version(editing)
        self.style()

    def _post_clean(self) -> None:
        """The service validates the payment against its order."""

    @staticmethod
    def initial_for(payment: Payment) -> dict[str, Any]:
        return {**forms.model_to_dict(payment, fields=PaymentForm.Meta.fields), "version": payment.version}


class InstalmentForm(_VersionedMixin, _StyledMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Instalment
        fields = ["due_date", "amount", "note"]
        widgets = {"due_date": DATE_INPUT, "amount": forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"})}

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        kwargs["instance"] = Instalment(organization_id=actor.organization_id)
        super().__init__(*args, **kwargs)
        self.fields["amount"].validators = []
        self.setup_version(editing)
        self.style()

    def _post_clean(self) -> None:
        """The service validates the instalment against its order."""

    @staticmethod
    def initial_for(instalment: Instalment) -> dict[str, Any]:
        return {**forms.model_to_dict(instalment, fields=InstalmentForm.Meta.fields), "version": instalment.version}


class PaymentFilterForm(forms.Form):
    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Order number, reference or customer…"), "type": "search"}),
    )
    method = forms.ChoiceField(
        label=_("Method"), required=False, choices=_blank(Payment.Method.choices, _("Any method"))
    )
    customer = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.HiddenInput):
                continue
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
