from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from kehu.customers import merge, timeline
        from kehu.sales import (
            activity_policies,
            activity_selectors,
            activity_services,
            activity_tasks,  # noqa: F401 - Celery discovers tasks.py only
            commerce_policies,
            commerce_selectors,
            commerce_services,
            opportunity_hooks,
            policies,
        )

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
                    modules.NavItem(_("Pipelines"), "sales:pipeline_list", "diagram-2", action="administer"),
                ),
            )
        )
        # Activities 跟进 (activity_*.py): policy, customer timeline, merge.
        activity_policies.register()
        timeline.register(activity_selectors.activity_timeline, module="sales")
        merge.register(activity_services.activities_move_to_survivor, name="activities")
        # Opportunities: custom fields, the customer's timeline and page, and customer merges.
        opportunity_hooks.register()
        # Commerce: policies, the customer timeline, and the merge handler for quotes and orders.
        commerce_policies.register()
        timeline.register(commerce_selectors.commerce_timeline, module="sales")
        merge.register(commerce_services.move_to_survivor, name="sales.commerce")
