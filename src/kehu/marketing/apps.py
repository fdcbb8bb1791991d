from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from kehu.core import modules


class MarketingConfig(AppConfig):
    name = "kehu.marketing"
    label = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        modules.register(modules.Module(key="marketing", label=_("Marketing"), icon="megaphone", order=30))
