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
        # Activities and follow-ups 跟进 (activity_*.py): policy, customer timeline, merge, reminders task.
        from kehu.customers import merge, timeline
        from kehu.sales import activity_policies, activity_selectors, activity_services, activity_tasks  # noqa: F401

        activity_policies.register()
        timeline.register(activity_selectors.activity_timeline, module="sales")
        merge.register(activity_services.activities_move_to_survivor, name="activities")
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
                    modules.NavItem(_("My day"), "sales:my_day", icon="sun"),  # activities: the rep's landing page
                    modules.NavItem(_("Calendar"), "sales:activity_calendar", icon="calendar3"),
                    modules.NavItem(_("Activities"), "sales:activity_list", icon="list-check"),
                    modules.NavItem(_("Pipelines"), "sales:pipeline_list", "diagram-2", action="administer"),
                ),
            )
        )
        # Opportunities: custom fields, the customer's timeline and page, and customer merges.
        from kehu.sales import opportunity_hooks

        opportunity_hooks.register()
