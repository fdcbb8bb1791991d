"""`kehu createuser`: an active user with a password in an existing organisation."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from kehu.accounts import services
from kehu.accounts.models import Organization, Role, Team
from kehu.core.management import domain_errors


class Command(BaseCommand):
    help = "Create an active user with a password, a role and optionally a team."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Name of the organisation.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, help="Role key, e.g. administrator, sales_rep, service_agent.")
        parser.add_argument("--team", default=None, help="Team (department) name.")
        parser.add_argument("--name", default="", help="Display name.")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(name=options["org"].strip()).first()
        if org is None:
            raise CommandError(_("No organisation is named %(name)s.") % {"name": options["org"]})
        role = Role.objects.filter(organization=org, key=options["role"]).first()
        if role is None:
            keys = ", ".join(Role.objects.filter(organization=org).order_by("key").values_list("key", flat=True))
            raise CommandError(
                _("No role with key %(key)s in %(org)s. Roles: %(keys)s.")
                % {"key": options["role"], "org": org.name, "keys": keys}
            )
        team = None
        if options["team"]:
            teams = list(Team.objects.filter(organization=org, name=options["team"].strip())[:2])
            if not teams:
                raise CommandError(_("No team is named %(name)s in %(org)s.") % {"name": options["team"], "org": org})
            if len(teams) > 1:
                raise CommandError(
                    _("More than one team is named %(name)s in %(org)s; rename one first.")
                    % {"name": options["team"], "org": org}
                )
            team = teams[0]
        with domain_errors():
            user = services.user_create(
                actor=None,
                organization=org,
                email=options["email"],
                password=options["password"],
                role=role,
                name=options["name"],
                team=team,
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("Created user %(email)s (id %(id)s) in %(org)s with role %(role)s.")
                % {"email": user.email, "id": user.pk, "org": org.name, "role": role.key}
            )
        )
