"""Who may do what with users, teams, roles and tokens: viewing needs `platform.view`, changing needs
`platform.administer`, and only within the actor's own organisation. A user may always manage their
own API tokens."""

from typing import Any

from kehu.accounts.models import ApiToken, Role, SupportGrant, Team, User
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


class SupportGrantPolicy(Policy):
    """Granting the vendor access to the organisation's data is an administrator's decision: listing,
    creating and revoking grants all need `platform.administer`."""

    module = modules.PLATFORM

    def can(self, actor: User, action: str, target: Any) -> bool:
        if "administer" not in actor.grant_for(self.module).actions:
            return False
        if isinstance(target, SupportGrant):
            return target.organization_id == actor.organization_id
        return True


def is_platform_staff(user: Any) -> bool:
    """The vendor's staff: active staff superusers who belong to no organisation (the /platform/ area)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.is_superuser
        and not user.organization_id
        and not getattr(user, "is_support_actor", False)
    )


for model in (User, Team, Role):
    register_policy(model, PlatformRecordPolicy())
register_policy(ApiToken, ApiTokenPolicy())
register_policy(SupportGrant, SupportGrantPolicy())
