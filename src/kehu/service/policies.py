"""Who may do what with service records. Nothing else in the module looks at roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kehu.core.permissions import Policy, register_policy
from kehu.service.models import MODULE, Queue, Ticket

if TYPE_CHECKING:
    from kehu.accounts.models import User


class TicketPolicy(Policy):
    """The role's actions within its data scope (the topic "ticket" refines this for queue members and
    unassigned tickets); restore needs delete."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        return super().can(actor, "delete" if action == "restore" else action, target)


class QueuePolicy(Policy):
    """Queues are the organisation's configuration: read with `view`, changed with `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        return getattr(target, "organization_id", actor.organization_id) == actor.organization_id


def register() -> None:
    register_policy(Ticket, TicketPolicy())
    register_policy(Queue, QueuePolicy())
