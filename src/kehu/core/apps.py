from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        # checks: registers the system checks; imports: the import jobs' policy and background task.
        from kehu.core import checks, imports  # noqa: F401
        from kehu.core.search_backends.sqlite import register_functions

        # SQLite: the search triggers call kehu_tripled() (core/search_backends/sqlite.py).
        connection_created.connect(register_functions, dispatch_uid="kehu_sqlite_functions")
