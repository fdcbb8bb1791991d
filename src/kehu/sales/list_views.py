"""Saved views 视图 of the sales lists — leads, the opportunity list, quotes, orders and activities — through the one
mechanism the customer list uses (kehu.core.saved_views, kehu.core.saved_view_pages): personal or shared,
each keeping the list's filters and sort order, and for leads the chosen columns. The API is the generic
/api/v1/saved-views/ with these record types."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from kehu.core import saved_views
from kehu.core.saved_view_pages import SavedViewPages
from kehu.sales import activity_selectors, commerce_selectors, lead_selectors, opportunity_selectors
from kehu.sales.activity_models import Activity
from kehu.sales.commerce_models import Order, Quote
from kehu.sales.lead_models import Lead
from kehu.sales.opportunity_models import Opportunity

QUOTE_TYPE = "sales.quote"
ORDER_TYPE = "sales.order"
ACTIVITY_TYPE = "sales.activity"


def _orderings(fields: tuple[str, ...]) -> list[str]:
    return [prefix + name for name in fields for prefix in ("", "-")]


# The lead list's columns: (key, label); "name" is always shown (it links to the lead).
LEAD_COLUMNS = (
    ("name", _("Name")),
    ("company", _("Company")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("status", _("Status")),
    ("source", _("Source")),
    ("region", _("Region")),
    ("score", _("Score")),
    ("owner", _("Owner")),
    ("created_at", _("Created")),
    ("updated_at", _("Updated")),
)
LEAD_DEFAULT_COLUMNS = [
    "name",
    "company",
    "phone",
    "status",
    "source",
    "region",
    "score",
    "owner",
    "created_at",
    "updated_at",
]


class _Column:
    def __init__(self, key: str, label: Any) -> None:
        self.key, self.label = key, label


def lead_columns(chosen: list[str] | None) -> tuple[list[str], list[tuple[Any, bool]]]:
    """(the keys to show, the column chooser's (column, shown) pairs) for the `columns` parameter."""
    known = [key for key, _label in LEAD_COLUMNS]
    shown = [key for key in (chosen or LEAD_DEFAULT_COLUMNS) if key in known]
    if "name" not in shown:
        shown.insert(0, "name")
    return shown, [(_Column(key, label), key in shown) for key, label in LEAD_COLUMNS]


def _lead_form(data: QueryDict, actor: Any) -> Any:
    from kehu.sales.lead_forms import LeadFilterForm

    return LeadFilterForm(data, actor=actor)


def _opportunity_form(data: QueryDict, actor: Any) -> Any:
    from kehu.sales.opportunity_forms import OpportunityFilterForm

    return OpportunityFilterForm(data, actor=actor)


def _activity_form(data: QueryDict, actor: Any) -> Any:
    from kehu.sales.activity_forms import ActivityFilterForm

    return ActivityFilterForm(data, actor=actor)


def _document_form(statuses: Any) -> Any:
    def make(data: QueryDict, actor: Any) -> Any:
        from kehu.sales.commerce_forms import DocumentFilterForm

        return DocumentFilterForm(data, actor=actor, statuses=statuses)

    return make


LEAD_VIEWS = SavedViewPages(
    record_type=lead_selectors.LEAD_TYPE,
    list_url="sales:lead_list",
    url_prefix="sales:lead_saved_view",
    model=Lead,
    filter_form=_lead_form,
    orderings=_orderings(lead_selectors.ORDERING_FIELDS),
    all_label=_("All leads"),
    default_columns=LEAD_DEFAULT_COLUMNS,
)
OPPORTUNITY_VIEWS = SavedViewPages(
    record_type="sales.opportunity",
    list_url="sales:opportunity_list",
    url_prefix="sales:opportunity_saved_view",
    model=Opportunity,
    filter_form=_opportunity_form,
    orderings=_orderings(opportunity_selectors.ORDERING_FIELDS),
    all_label=_("All opportunities"),
)
QUOTE_VIEWS = SavedViewPages(
    record_type=QUOTE_TYPE,
    list_url="sales:quote_list",
    url_prefix="sales:quote_saved_view",
    model=Quote,
    filter_form=_document_form(Quote.Status.choices),
    orderings=_orderings(commerce_selectors.QUOTE_ORDERING),
    all_label=_("All quotes"),
)
ORDER_VIEWS = SavedViewPages(
    record_type=ORDER_TYPE,
    list_url="sales:order_list",
    url_prefix="sales:order_saved_view",
    model=Order,
    filter_form=_document_form(Order.Status.choices),
    orderings=_orderings(commerce_selectors.ORDER_ORDERING),
    all_label=_("All orders"),
)
ACTIVITY_VIEWS = SavedViewPages(
    record_type=ACTIVITY_TYPE,
    list_url="sales:activity_list",
    url_prefix="sales:activity_saved_view",
    model=Activity,
    filter_form=_activity_form,
    orderings=_orderings(activity_selectors.ORDERING_FIELDS),
    all_label=_("All activities"),
)
ALL = (LEAD_VIEWS, OPPORTUNITY_VIEWS, QUOTE_VIEWS, ORDER_VIEWS, ACTIVITY_VIEWS)

urlpatterns = [
    *LEAD_VIEWS.urls("leads/views/"),
    *OPPORTUNITY_VIEWS.urls("opportunities/views/"),
    *QUOTE_VIEWS.urls("quotes/views/"),
    *ORDER_VIEWS.urls("orders/views/"),
    *ACTIVITY_VIEWS.urls("activities/views/"),
]


def register() -> None:
    """Called from the app's ready(): the lists' columns and sort orders a saved view may hold."""
    lead_keys = [key for key, _label in LEAD_COLUMNS]
    for pages in ALL:
        saved_views.register_list(
            pages.record_type,
            columns=(lambda organization: lead_keys) if pages.has_columns else (lambda organization: ()),
            orderings=pages.orderings,
            model=pages.model,
        )
