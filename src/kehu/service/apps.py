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
        modules.register(modules.Module(key="service", label=_("Service"), icon="headset", order=40, nav=()))
