"""`kehu createorg`: a new organisation (tenant) with the default roles and its first administrator."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from kehu.accounts import services
from kehu.core import modules
from kehu.core.management import domain_errors


def parse_modules(value: str | None) -> list[str] | None:
    """`customers, sales` -> ["customers", "sales"]; None (option absent) means every module."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Create an organisation with the default roles and its administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        known = ", ".join(m.key for m in modules.licensable_modules())
        parser.add_argument("--name", required=True, help="Organisation name, unique on this installation.")
        parser.add_argument("--admin-email", required=True, help="Email of the first administrator.")
        parser.add_argument("--password", required=True, help="Password of the first administrator.")
        parser.add_argument("--admin-name", default="", help="Display name of the administrator.")
        parser.add_argument(
            "--modules", default=None, help=f"Comma-separated modules to enable (default: all). Known: {known}."
        )
        parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"], help="Default language.")
        parser.add_argument("--time-zone", default="Asia/Shanghai", help="IANA time zone, e.g. Asia/Shanghai.")

    def handle(self, *args: Any, **options: Any) -> None:
        with domain_errors():
            # The administrator signs in with this password, so it meets the same rules as any other.
            services.password_validate(options["password"])
            org = services.organization_create(
                actor=None,
                name=options["name"],
                admin_email=options["admin_email"],
                admin_password=options["password"],
                admin_name=options["admin_name"],
                modules_enabled=parse_modules(options["modules"]),
                language=options["language"],
                time_zone=options["time_zone"],
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("Created organisation %(name)s (id %(id)s) with modules: %(modules)s.")
                % {"name": org.name, "id": org.pk, "modules": ", ".join(org.enabled_modules) or "-"}
            )
        )
        self.stdout.write(_("Administrator: %(email)s") % {"email": options["admin_email"].strip().lower()})
