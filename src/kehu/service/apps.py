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
                    # Tickets 工单 (topic "ticket").
                    modules.NavItem(_("Tickets"), "service:ticket_list", "life-preserver"),
                    modules.NavItem(_("Queues"), "service:queue_list", "inboxes", action="administer"),
                    modules.NavItem(_("Canned replies"), "service:canned_list", "chat-square-quote"),
                ),
            )
        )
        self._ready_tickets()

    @staticmethod
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

        custom_fields.register_record_type(ticket_services.TICKET_TYPE, _("Ticket"), Ticket)
        search.register_provider("service", ticket_selectors.search_provider)
        timeline.register(ticket_selectors.customer_ticket_timeline, module="service")
        merge.register(ticket_services.move_tickets, name="tickets")
