from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        modules.register(modules.Module(key="customers", label=_("Customers"), icon="people", order=10))
