"""Who may do what with users, teams, roles and tokens: viewing needs `platform.view`, changing needs
`platform.administer`, and only within the actor's own organisation. A user may always manage their
own API tokens."""

from typing import Any

from kehu.accounts.models import ApiToken, Role, Team, User
from kehu.core import modules
from kehu.core.permissions import Policy, register_policy


class PlatformRecordPolicy(Policy):
    module = modules.PLATFORM

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        if hasattr(target, "organization_id") and not isinstance(target, type):
            return target.organization_id == actor.organization_id
        return True


class ApiTokenPolicy(PlatformRecordPolicy):
    def can(self, actor: User, action: str, target: Any) -> bool:
        if isinstance(target, ApiToken) and target.user_id == actor.pk:
            return True
        if target is ApiToken and action in ("view", "create"):
            return True  # everyone sees and creates their own; visible_to narrows the list
        return super().can(actor, action, target)


for model in (User, Team, Role):
    register_policy(model, PlatformRecordPolicy())
register_policy(ApiToken, ApiTokenPolicy())
