from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.core import search
        from kehu.customers import policies, selectors, timeline

        policies.register()

        modules.register(
            modules.Module(
                key="customers",
                label=_("Customers"),
                icon="people",
                order=10,
                nav=(
                    modules.NavItem(_("Customers"), "customers:list", "people"),
                    modules.NavItem(_("Recycle bin"), "customers:recycle_bin", "trash"),
                ),
            )
        )
        search.register_provider("customers", selectors.search_provider)
        timeline.register(selectors.audit_timeline, module="customers")
        from kehu.customers import importing  # imports: the customers adapter of the import engine

        importing.register()
