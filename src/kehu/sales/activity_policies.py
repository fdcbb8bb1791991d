"""Who may do what with activities (see activity_models.py for the visibility rule).

- view: the sales `view` right, and the scope covers the activity's owner or the owner of the customer,
  lead or opportunity it is linked to (the queryset's visible_to applies the same rule);
- create: the sales `create` right (the linked records must be visible: the services check that);
- edit (also: complete, cancel, reopen), delete (also: restore), assign: the right, and the scope covers
  the activity's OWNER. A rep sees their manager's visit on the rep's customer but does not rewrite it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kehu.core.permissions import Policy, register_policy
from kehu.sales.activity_models import Activity
from kehu.sales.models import MODULE

if TYPE_CHECKING:
    from kehu.accounts.models import User

ACTION_ALIASES = {"complete": "edit", "cancel": "edit", "reopen": "edit", "restore": "delete"}


class ActivityPolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        action = ACTION_ALIASES.get(action, action)
        grant = actor.grant_for(self.module)
        if action not in grant.actions:
            return False
        if not isinstance(target, Activity):
            return True
        if target.organization_id != actor.organization_id or self.link_deleted(target):
            return False
        if action == "view":
            return self.in_view_scope(actor, target, grant.scope)
        return self.in_scope(actor, target, grant.scope)

    @staticmethod
    def link_deleted(activity: Activity) -> bool:
        """A customer, lead or opportunity in the recycle bin takes its activities with it."""
        return any(
            getattr(activity, f"{name}_id") and getattr(activity, name).deleted_at is not None
            for name in ("customer", "lead", "opportunity")
        )

    def in_view_scope(self, actor: User, activity: Activity, scope: str) -> bool:
        if self.in_scope(actor, activity, scope):
            return True
        for name in ("customer", "lead", "opportunity"):
            if getattr(activity, f"{name}_id") and self.in_scope(actor, getattr(activity, name), scope):
                return True
        return False


def register() -> None:
    register_policy(Activity, ActivityPolicy())
