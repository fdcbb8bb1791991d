"""`kehu reassign_leads [--days N] [--org NAME]`: re-apply the assignment rules to open leads nobody touched
for N days (each goes to someone other than its owner). Without --days, each organisation's own setting
decides (and organisations without one are skipped). The scheduler runs the same job daily."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.accounts.models import Organization
from kehu.sales import lead_services


class Command(BaseCommand):
    help = "Re-assign open leads untouched for N days by the assignment rules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, help="Untouched for at least this many days (default: each organisation's setting)."
        )
        parser.add_argument("--org", help="Only this organisation (its name).")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options.get("days")
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        organization_id = None
        if options.get("org"):
            org = Organization.objects.filter(name=options["org"]).first()
            if org is None:
                raise CommandError(f"No organisation named {options['org']!r}.")
            organization_id = org.pk
        if days is not None and organization_id is None:
            total = sum(
                lead_services.leads_reassign_stale(organization_id=pk, days=days)
                for pk in Organization.objects.order_by("pk").values_list("pk", flat=True)
            )
        else:
            total = lead_services.leads_reassign_stale(organization_id=organization_id, days=days)
        self.stdout.write(f"re-assigned leads: {total}")
