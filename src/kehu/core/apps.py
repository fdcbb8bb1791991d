from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # checks: registers the system checks; imports: the import jobs' policy and background task.
        from kehu.core import checks, imports  # noqa: F401
