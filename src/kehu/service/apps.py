from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("Service")

    def ready(self) -> None:
        from kehu.service import policies

        policies.register()
        modules.register(
            modules.Module(
                key="service",
                label=_("Service"),
                icon="headset",
                order=40,
                nav=(
                    # Topic "sla": SLA policies, the knowledge base, the service report.
                    modules.NavItem(_("SLA policies"), "service:sla_policies", "stopwatch"),
                    modules.NavItem(_("Knowledge base"), "service:kb_list", "journal-text"),
                    modules.NavItem(_("Service report"), "service:report", "bar-chart"),
                ),
            )
        )

        # Topic "sla": policies of calendars, SLA policies, surveys and the knowledge base; the SLA clocks
        # and the satisfaction survey follow ticket events; the ticket page shows the clock and suggested
        # articles; the sweep's Celery task.
        from kehu.service import (
            knowledge_panels,
            knowledge_policies,
            sla_panels,
            sla_policies,
            sla_services,
            sla_tasks,  # noqa: F401
            survey_services,
            ticket_hooks,
            ticket_panels,
        )

        sla_policies.register()
        knowledge_policies.register()
        ticket_hooks.register(sla_services.on_ticket_event)
        ticket_hooks.register(survey_services.on_ticket_event)
        ticket_panels.register(sla_panels.sla_panel, order=10)
        ticket_panels.register(knowledge_panels.suggestions_panel, order=20)
