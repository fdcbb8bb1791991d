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
                    # commerce: products, quotes, orders, payments 回款
                    modules.NavItem(_("Quotes"), "sales:quote_list", "file-earmark-text"),
                    modules.NavItem(_("Orders"), "sales:order_list", "receipt"),
                    modules.NavItem(_("Payments"), "sales:payment_list", "cash-coin"),
                    modules.NavItem(_("Products"), "sales:product_list", "box-seam"),
                ),
            )
        )
        # commerce: policies, the customer timeline, and the merge handler for quotes and orders.
        from kehu.customers import merge, timeline
        from kehu.sales import commerce_policies, commerce_selectors, commerce_services

        commerce_policies.register()
        timeline.register(commerce_selectors.commerce_timeline, module="sales")
        merge.register(commerce_services.move_to_survivor, name="sales.commerce")
