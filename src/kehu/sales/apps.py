from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from kehu.sales import policies

        policies.register()
        modules.register(
            modules.Module(
                key="sales",
                label=_("Sales"),
                icon="graph-up-arrow",
                order=20,
                nav=(
                    # Opportunities 商机: the board is a rep's home, so it comes first.
                    modules.NavItem(_("Opportunities"), "sales:opportunity_board", "kanban"),
                    modules.NavItem(_("Leads"), "sales:lead_list", "funnel"),
                    modules.NavItem(_("Opportunity list"), "sales:opportunity_list", "list-ul"),
                    # Activities and follow-ups 跟进
                    modules.NavItem(_("My day"), "sales:my_day", icon="sun"),
                    modules.NavItem(_("Calendar"), "sales:activity_calendar", icon="calendar3"),
                    modules.NavItem(_("Activities"), "sales:activity_list", icon="list-check"),
                    # Commerce: quotes, orders, payments 回款, products
                    modules.NavItem(_("Quotes"), "sales:quote_list", "file-earmark-text"),
                    modules.NavItem(_("Orders"), "sales:order_list", "receipt"),
                    modules.NavItem(_("Payments"), "sales:payment_list", "cash-coin"),
                    modules.NavItem(_("Products"), "sales:product_list", "box-seam"),
                    # Forecasts and quotas
                    modules.NavItem(_("Forecast"), "sales:forecast", "graph-up"),
                    # Administration
                    modules.NavItem(_("Pipelines"), "sales:pipeline_list", "diagram-2", action="administer"),
                    modules.NavItem(_("Web forms"), "sales:webform_list", "ui-checks-grid", action="administer"),
                    modules.NavItem(_("Assignment rules"), "sales:rule_list", "signpost-split", action="administer"),
                ),
            )
        )
        # SQLite rebuilds a table to alter it, which drops its triggers: the search triggers step aside while
        # migrations run and come back after (sales/search.py); the open-lead counters come back (lead_loads.py).
        from django.db.models.signals import post_migrate, pre_migrate

        from kehu.sales import lead_loads
        from kehu.sales import search as sales_search

        pre_migrate.connect(sales_search.suspend_triggers, sender=self, dispatch_uid="sales_search_off")
        post_migrate.connect(sales_search.ensure_schema, sender=self, dispatch_uid="sales_search_on")
        post_migrate.connect(lead_loads.ensure_installed, sender=self, dispatch_uid="sales_lead_loads_on")
        _ready_leads()
        _ready_opportunities()
        _ready_activities()
        _ready_commerce()
        _ready_forecasts()
        _ready_list_views()


def _ready_leads() -> None:
    """Leads 线索: policies of their configuration, custom fields, search, the customer timeline, merges and
    the import adapter."""
    from kehu.core import custom_fields, search
    from kehu.customers import merge, timeline
    from kehu.sales import (
        lead_importing,
        lead_policies,
        lead_selectors,
        lead_services,
        lead_tasks,  # noqa: F401  (the Celery task: celery.py autodiscovers only tasks.py)
    )
    from kehu.sales.models import Lead

    lead_policies.register()
    custom_fields.register_record_type(lead_selectors.LEAD_TYPE, _("Lead"), Lead)
    search.register_provider("sales", lead_selectors.search_provider, label=_("Leads"))
    timeline.register(lead_selectors.customer_timeline, module="sales", exists=lead_selectors.converted_rows)
    merge.register(lead_services.move_converted_leads)
    lead_importing.register()
    from kehu.core import audit_labels

    audit_labels.register(lead_selectors.AUDIT_LABELS)


def _ready_opportunities() -> None:
    """Opportunities: custom fields, the customer's timeline and page, and customer merges."""
    from kehu.sales import opportunity_hooks

    opportunity_hooks.register()


def _ready_activities() -> None:
    """Activities 跟进: policy, customer timeline, merge (and the reminders task)."""
    from kehu.customers import merge, panels, timeline
    from kehu.sales import (
        activity_policies,
        activity_selectors,
        activity_services,
        activity_tasks,  # noqa: F401 (the reminders task)
        activity_views,
    )

    activity_policies.register()
    timeline.register(activity_selectors.activity_timeline, module="sales", exists=activity_selectors.activity_rows)
    merge.register(activity_services.activities_move_to_survivor, name="activities")
    # The customer's page: the panel above the opportunities (order 10), the "Log activity" header button.
    panels.register(activity_views.customer_panel, module="sales", order=5)
    panels.register(activity_views.customer_log_button, module="sales", order=10, place="actions")


def _ready_commerce() -> None:
    """Commerce: policies, the customer timeline, and the merge handler for quotes and orders."""
    from kehu.customers import merge, panels, timeline
    from kehu.sales import commerce_policies, commerce_selectors, commerce_services, commerce_views, search_providers

    commerce_policies.register()
    search_providers.register()  # opportunities, quotes and orders in the global search box
    panels.register(commerce_views.customer_quote_button, module="sales", order=20, place="actions")
    timeline.register(commerce_selectors.quote_timeline, module="sales", exists=commerce_selectors.quote_rows)
    timeline.register(commerce_selectors.order_timeline, module="sales", exists=commerce_selectors.order_rows)
    merge.register(commerce_services.move_to_survivor, name="sales.commerce")


def _ready_list_views() -> None:
    """Saved views of the lead, opportunity, quote and order lists (kehu.core.saved_views)."""
    from kehu.sales import list_views

    list_views.register()


def _ready_forecasts() -> None:
    """Forecasts: the quotas' policy."""
    from kehu.sales import forecast_policies

    forecast_policies.register()
