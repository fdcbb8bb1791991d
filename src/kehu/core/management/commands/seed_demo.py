"""`kehu seed_demo`: the demo organisation 示例科技有限公司 with a user per role. Safe to run again."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kehu.core import demo
from kehu.core.management import domain_errors


class Command(BaseCommand):
    help = "Create the demo organisation, its teams, one user per role and sample data (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with domain_errors():
            ctx = demo.build()
        if ctx.changes:
            self.stdout.write(_("Demo data created: %(n)d new records.") % {"n": len(ctx.changes)})
        else:
            self.stdout.write(_("Demo data is already complete; nothing changed."))
        admin = ctx.admin
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(_("Demo organisation: %(org)s") % {"org": ctx.organization.name}))
        self.stdout.write(self.style.SUCCESS(_("  Sign in as:  %(email)s") % {"email": admin.email}))
        self.stdout.write(self.style.SUCCESS(_("  Password:    %(password)s") % {"password": ctx.password}))
        self.stdout.write(_("  Other demo users (same password):"))
        for key, user in ctx.users.items():
            if key == "administrator":
                continue
            role = user.role.name if user.role_id else "-"
            team = user.team.name if user.team_id else "-"
            self.stdout.write(f"    {user.email:<32} {user.name}  {role} / {team}")
