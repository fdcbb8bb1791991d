"""Who may do what with customers, contacts and tags. Nothing else in the module looks at roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kehu.core.permissions import Policy, register_policy
from kehu.customers.models import MODULE, Contact, Customer, Tag

if TYPE_CHECKING:
    from kehu.accounts.models import User


class CustomerPolicy(Policy):
    """The role's actions within its data scope. Restoring from the recycle bin needs the delete right."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        return super().can(actor, "delete" if action == "restore" else action, target)


class ContactPolicy(Policy):
    """A contact is part of its customer's record: viewing it needs `view`, and adding, changing or
    removing it needs `edit`, both on the customer (so within the scope of the customer's owner)."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "edit"
        if needed not in grant.actions:
            return False
        if isinstance(target, Contact):
            return self.in_scope(actor, target.customer, grant.scope)
        return True


class TagPolicy(Policy):
    """Tags are shared by the organisation: whoever edits customers may create one and tag with it;
    renaming, recolouring and deleting a tag changes everyone's lists, so it needs `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = {"view": "view", "create": "edit"}.get(action, "administer")
        if needed not in grant.actions:
            return False
        if isinstance(target, Tag):
            return target.organization_id == actor.organization_id
        return True


def register() -> None:
    """Called from the app's ready(): the policies apply wherever `can()` meets these record types."""
    register_policy(Customer, CustomerPolicy())
    register_policy(Contact, ContactPolicy())
    register_policy(Tag, TagPolicy())
