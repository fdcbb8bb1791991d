from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        modules.register(modules.Module(key="analytics", label=_("Analytics"), icon="bar-chart", order=50))
