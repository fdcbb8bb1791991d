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
                    # Tickets 工单
                    modules.NavItem(_("Tickets"), "service:ticket_list", "life-preserver"),
                    modules.NavItem(_("Knowledge base"), "service:kb_list", "journal-text"),
                    modules.NavItem(_("Service report"), "service:report", "bar-chart"),
                    modules.NavItem(_("Canned replies"), "service:canned_list", "chat-square-quote"),
                    # Administration
                    modules.NavItem(_("Queues"), "service:queue_list", "inboxes", action="administer"),
                    modules.NavItem(_("SLA policies"), "service:sla_policies", "stopwatch"),
                ),
            )
        )
        _ready_tickets()
        _ready_sla_and_knowledge()


def _ready_tickets() -> None:
    """Tickets: custom fields, global search, the customer timeline, customer merges, Celery tasks."""
    from kehu.core import custom_fields, search
    from kehu.customers import merge, timeline
    from kehu.service import (
        ticket_selectors,
        ticket_services,
        ticket_tasks,  # noqa: F401  (Celery tasks: celery.py autodiscovers only tasks.py)
    )
    from kehu.service.models import Ticket

    custom_fields.register_record_type(ticket_services.TICKET_TYPE, _("Ticket"), Ticket, public_form=True)
    search.register_provider("service", ticket_selectors.search_provider)
    timeline.register(
        ticket_selectors.customer_ticket_timeline, module="service", exists=ticket_selectors.customer_ticket_rows
    )
    merge.register(ticket_services.move_tickets, name="tickets")
    from kehu.core import audit_labels

    audit_labels.register(ticket_selectors.AUDIT_LABELS)


def _ready_sla_and_knowledge() -> None:
    """Policies of calendars, SLA policies, surveys and the knowledge base; the SLA clocks and the
    satisfaction survey follow ticket events; the ticket page shows the clock and suggested articles; the
    sweep's Celery task."""
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
    ticket_hooks.register(sla_services.on_ticket_event, batch=sla_services.on_tickets_event)
    ticket_hooks.register(survey_services.on_ticket_event)
    ticket_panels.register(sla_panels.sla_panel, order=10)
    # The suggestions read the knowledge base and the help centre: loaded with the side panels, after the page.
    ticket_panels.register(knowledge_panels.suggestions_panel, order=20, deferred=True)
