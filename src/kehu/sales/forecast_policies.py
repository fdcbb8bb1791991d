"""Who may see and set quotas. Nothing else in the forecast looks at roles.

- view: whoever may view sales records, within the role's data scope over the quota's rep (a rep sees
  their own quotas, a manager the team's, an administrator everyone's);
- create, edit, delete, restore: a role with `assign` or `administer` in sales (a sales manager, an
  administrator), for reps within that scope. Setting one's own target needs `administer`: a manager's
  quota is set by the person above them, not by the manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.sales.forecast_models import Quota
from kehu.sales.models import MODULE

if TYPE_CHECKING:
    from kehu.accounts.models import User

CHANGES = ("create", "edit", "delete", "restore")


class QuotaPolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        if "view" not in grant.actions:
            return False
        if action in CHANGES:
            if not grant.actions & {"assign", "administer"}:
                return False
            if isinstance(target, models.Model) and target.owner_id == actor.pk and "administer" not in grant.actions:
                return False
        elif action != "view" and action not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return self.in_scope(actor, target, grant.scope)
        return True


def register() -> None:
    register_policy(Quota, QuotaPolicy())
