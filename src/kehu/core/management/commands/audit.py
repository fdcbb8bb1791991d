"""`kehu audit verify`: recompute the audit log's hash chains and name the first broken entry."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from kehu.accounts.models import Organization
from kehu.core import audit
from kehu.core.models import AuditChainHead, AuditEntry


class Command(BaseCommand):
    help = "Check the audit log. `audit verify` exits 1 when an entry was altered or removed."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="Recompute every hash chain (or one organisation's).")
        verify.add_argument("--org", default=None, help="Only the chain of this organisation (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self.verify(org_name=options.get("org"))

    def verify(self, *, org_name: str | None) -> None:
        chains = None
        if org_name:
            org = Organization.objects.filter(name=org_name.strip()).first()
            if org is None:
                raise CommandError(_("No organisation is named %(name)s.") % {"name": org_name})
            chains = [audit.chain_name(org.pk)]
        heads = AuditChainHead.objects.all() if chains is None else AuditChainHead.objects.filter(chain__in=chains)
        problems = audit.verify(chains)
        if problems:
            names = dict(Organization.objects.values_list("id", "name"))
            for problem in problems:
                self.stderr.write(self.style.ERROR(self._describe(problem, names)))
            raise CommandError(
                _("The audit log was tampered with: %(n)d broken chain(s).") % {"n": len(problems)}, returncode=1
            )
        entries = AuditEntry.objects.filter(chain__in=heads.values("chain")).count()
        self.stdout.write(
            self.style.SUCCESS(
                _("OK: %(entries)d entries in %(chains)d chains") % {"entries": entries, "chains": heads.count()}
            )
        )

    @staticmethod
    def _describe(problem: audit.ChainProblem, names: dict[int, str]) -> str:
        chain = problem.chain
        if chain.startswith("org:"):
            org_id = int(chain.split(":", 1)[1])
            chain = f"{chain} ({names.get(org_id, _('deleted organisation'))})"
        if problem.entry_id:
            where = _("entry id %(id)s (seq %(seq)s)") % {"id": problem.entry_id, "seq": problem.seq}
        else:
            where = _("missing entry (seq %(seq)s)") % {"seq": problem.seq}
        return f"{chain}: {where}: {problem.reason}"
