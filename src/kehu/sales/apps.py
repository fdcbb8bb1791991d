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
                    modules.NavItem(_("Opportunity list"), "sales:opportunity_list", "list-ul"),
                    modules.NavItem(_("Pipelines"), "sales:pipeline_list", "diagram-2", action="administer"),
                ),
            )
        )
        # Opportunities: custom fields, the customer's timeline and page, and customer merges.
        from kehu.sales import opportunity_hooks

        opportunity_hooks.register()
