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
                    modules.NavItem(_("Public pool"), "customers:pool", "inbox"),
                ),
            )
        )
        search.register_provider("customers", selectors.search_provider)
        # SQLite search triggers step aside while migrations rebuild tables (customers/search.py).
        from django.db.models.signals import post_migrate, pre_migrate

        from kehu.customers import search as customer_search

        pre_migrate.connect(customer_search.suspend_triggers, sender=self, dispatch_uid="customers_search_off")
        post_migrate.connect(customer_search.ensure_schema, sender=self, dispatch_uid="customers_search_on")
        timeline.register(selectors.audit_timeline, module="customers")
        from kehu.customers import importing

        # The import that created it.
        timeline.register(importing.import_timeline, module="customers", exists=importing.import_rows)

        # Notes and attachments (feature "notes"): their policies, and their items on the timeline.
        from kehu.customers import note_policies, note_selectors

        note_policies.register()
        timeline.register(note_selectors.note_timeline, module="customers", exists=note_selectors.note_rows)
        timeline.register(note_selectors.attachment_timeline, module="customers", exists=note_selectors.attachment_rows)

        # Public pool 公海 and merge: their timeline texts and the built-in merge handlers.
        # Custom fields and saved views (kehu.core.custom_fields / saved_views).
        from kehu.customers import list_columns, merge, pool  # noqa: F401

        list_columns.register()

        from kehu.customers import importing  # imports: the customers adapter of the import engine

        importing.register()
        from kehu.core import audit_labels

        audit_labels.register(selectors.AUDIT_LABELS)
