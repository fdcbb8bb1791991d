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
                    # Leads 线索 (lead topic).
                    modules.NavItem(_("Leads"), "sales:lead_list", "funnel"),
                    modules.NavItem(_("Web forms"), "sales:webform_list", "ui-checks-grid", action="administer"),
                    modules.NavItem(_("Assignment rules"), "sales:rule_list", "signpost-split", action="administer"),
                ),
            )
        )
        self._ready_leads()

    @staticmethod
    def _ready_leads() -> None:
        """Leads 线索: policies of their configuration, custom fields, search, the customer timeline, merges
        and the import adapter."""
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
        search.register_provider("sales", lead_selectors.search_provider)
        timeline.register(lead_selectors.customer_timeline, module="sales")
        merge.register(lead_services.move_converted_leads)
        lead_importing.register()
