"""Who may do what with service records. Nothing else in the module looks at roles.

Tickets (topic "ticket"): the role's actions on the tickets the actor sees (ticket_visibility: the data
scope on the assignee, the unassigned tickets of the actor's queues, every ticket of the queues they
manage). `take` (assign to oneself) and writing on a ticket (reply, note, status) need `edit`; giving a
ticket to someone else needs `assign`; restoring from the recycle bin needs `delete`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.service.models import (
    MODULE,
    AgentStatus,
    CannedReply,
    Queue,
    ServiceSettings,
    Ticket,
    TicketAttachment,
    TicketMessage,
)

if TYPE_CHECKING:
    from kehu.accounts.models import User

# Ticket actions that are another action's right.
_ACTION_ALIASES = {"restore": "delete", "take": "edit", "reply": "edit", "note": "edit"}


class TicketPolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        from kehu.service.ticket_visibility import ticket_in_view

        grant = actor.grant_for(self.module)
        if _ACTION_ALIASES.get(action, action) not in grant.actions:
            return False
        if isinstance(target, Ticket):
            return ticket_in_view(actor, target)
        return True


class TicketPartPolicy(Policy):
    """A message or an attachment is part of its ticket: seeing it is seeing the ticket; writing one is
    writing on the ticket (the ticket services check that)."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        needed = "view" if action == "view" else "edit"
        if isinstance(target, TicketMessage | TicketAttachment):
            return TicketPolicy().can(actor, needed, target.ticket)
        return needed in actor.grant_for(self.module).actions


class QueuePolicy(Policy):
    """Queues are the organisation's configuration: read with `view`, changed with `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        # A record: of the actor's organisation (the class itself has an `organization_id` descriptor).
        return not isinstance(target, models.Model) or target.organization_id == actor.organization_id


class CannedReplyPolicy(QueuePolicy):
    """Canned replies are shared: every agent reads and inserts them; `administer` maintains them."""


class AgentStatusPolicy(Policy):
    """Everyone in service sees who is away; an agent sets their own status (`view` is enough: being
    available is not a privilege), anyone else's needs `assign`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        if "view" not in grant.actions:
            return False
        if action == "view":
            return not isinstance(target, models.Model) or target.organization_id == actor.organization_id
        if isinstance(target, AgentStatus):
            if target.organization_id != actor.organization_id:
                return False
            return target.user_id == actor.pk or "assign" in grant.actions
        return True


def register() -> None:
    register_policy(Ticket, TicketPolicy())
    register_policy(TicketMessage, TicketPartPolicy())
    register_policy(TicketAttachment, TicketPartPolicy())
    register_policy(Queue, QueuePolicy())
    register_policy(CannedReply, CannedReplyPolicy())
    register_policy(AgentStatus, AgentStatusPolicy())
    register_policy(ServiceSettings, QueuePolicy())
