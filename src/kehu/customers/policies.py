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
        # Public pool 公海, merge and purge: the rules are pool_can() below.
        if action in POOL_ACTIONS or _in_pool(actor, target):
            return self.pool_can(actor, action, target)
        return super().can(actor, "delete" if action == "restore" else action, target)

    def pool_can(self, actor: User, action: str, target: Any) -> bool:
        """A customer without an owner sits in the organisation's public pool: everyone with `view` in
        customers sees it, whoever may `edit` (or `create`) customers claims it, and `assign` gives it to a
        colleague. Releasing needs `edit` on the customer as its scope stands; purging from the recycle
        bin needs `administer`. Other actions on a pool customer follow the role's scope as usual."""
        grant = actor.grant_for(self.module)
        if action == "purge":
            return super().can(actor, "administer", target)
        if action == "release":
            if isinstance(target, Customer) and target.owner_id is None:
                return False
            return super().can(actor, "edit", target)
        if action == "claim":
            if isinstance(target, Customer) and not _in_pool(actor, target):
                return False
            return "view" in grant.actions and bool({"edit", "create"} & set(grant.actions))
        if action in ("view", "assign"):  # target is a pool customer here
            return action in grant.actions
        return super().can(actor, "delete" if action == "restore" else action, target)


POOL_ACTIONS = ("claim", "release", "purge")


def _in_pool(actor: User, target: Any) -> bool:
    """A live customer of the actor's organisation without an owner."""
    return (
        isinstance(target, Customer)
        and target.owner_id is None
        and target.deleted_at is None
        and target.organization_id == actor.organization_id
    )


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
