"""`kehu createtoken`: an API token for a user. Only the token goes to stdout, so scripts can capture it:

TOKEN=$(kehu createtoken --email admin@example.com --scope write)
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from kehu.accounts import services
from kehu.accounts.models import User
from kehu.core.management import domain_errors


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only the token, on stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The user the token acts as.")
        parser.add_argument("--scope", default="read", choices=["read", "write"])
        parser.add_argument("--expires", type=int, default=None, help="Days until it expires (default: 365).")
        parser.add_argument("--name", default="CLI", help="A name to recognise the token by.")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email=email).select_related("organization", "role").first()
        if user is None:
            raise CommandError(_("No user has the email %(email)s.") % {"email": email})
        if not user.is_active:
            raise CommandError(_("%(email)s is not active; a token for them would not work.") % {"email": email})
        with domain_errors():
            token, raw = services.token_create(
                actor=user, name=options["name"], scope=options["scope"], expires_days=options["expires"]
            )
        # The secret is not stored (only its hash): this is the one time anybody sees it.
        self.stdout.write(raw)
        self.stderr.write(
            _("Token %(prefix)s… (%(scope)s) for %(email)s expires %(expires)s. It is shown only once.")
            % {
                "prefix": token.prefix,
                "scope": token.scope,
                "email": user.email,
                "expires": token.expires_at.date().isoformat(),
            }
        )
