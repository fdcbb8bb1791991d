"""Which tickets an actor sees: the one rule that `Ticket.objects.visible_to()` and `TicketPolicy` share.

The role's data scope applies to the assignee (`owner`), as for every business record, and the queues widen
it: the members of a queue see its unassigned tickets (so that they can pick them up), and a queue's manager
sees every ticket of the queue, whoever has it. Nothing else widens it.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from django.db.models import Exists, OuterRef, Q

from kehu.core.models import scope_filter
from kehu.core.permissions import Policy, Scope
from kehu.service.models import MODULE


def queue_ids_for(actor: Any) -> tuple[frozenset[int], frozenset[int]]:
    """(the queues the actor is a member of, the queues the actor manages), read once per actor object
    (it lives for one request or one job, like the team members the data scope reads)."""
    memo = actor.__dict__.setdefault("_kehu_ticket_queues", {})
    if "ids" not in memo:
        from kehu.service.ticket_models import Queue

        # One query for both (every ticket page and API call of an agent pays it): the queues the actor
        # belongs to or manages, each with whether they belong to it.
        is_member = Exists(Queue.members.through.objects.filter(queue_id=OuterRef("pk"), user_id=actor.pk))
        rows = (
            Queue.objects.filter(organization_id=actor.organization_id)
            .annotate(is_member=is_member)
            .filter(Q(is_member=True) | Q(manager_id=actor.pk))
            .order_by()
            .values_list("pk", "is_member", "manager_id")
        )
        member, managed = set(), set()
        for pk, belongs, manager_id in rows:
            if belongs:
                member.add(pk)
            if manager_id == actor.pk:
                managed.add(pk)
        memo["ids"] = (frozenset(member), frozenset(managed))
    return memo["ids"]


def forget_queues(actor: Any) -> None:
    """After the actor's memberships changed within the same request (tests, the queue editor)."""
    actor.__dict__.pop("_kehu_ticket_queues", None)


def ticket_scope_branches(actor: Any) -> list[Q]:
    """The conditions on tickets of the actor's organisation whose OR is ticket_scope_q(actor): the role's
    data scope on the assignee, the unassigned tickets of the queues the actor is a member of, every ticket of
    the queues they manage ([Q()] for the whole organisation).

    A list can read each branch newest first by an index of its own and merge them
    (TicketQuerySet.visible_parts): as one OR, PostgreSQL either walks every ticket of the organisation or
    collects all of an agent's tickets before it sorts them (RESULTS.md, ticketsearch)."""
    scope = actor.grant_for(MODULE).scope
    if scope == Scope.ORGANIZATION:
        return [Q()]
    branches = [scope_filter(actor, scope)]
    member, managed = queue_ids_for(actor)
    if member:
        branches.append(Q(owner__isnull=True, queue_id__in=sorted(member)))
    if managed:
        branches.append(Q(queue_id__in=sorted(managed)))
    return branches


def ticket_scope_q(actor: Any) -> Q:
    """The condition on tickets of the actor's organisation (the caller adds the organisation)."""
    return reduce(operator.or_, ticket_scope_branches(actor))


def ticket_in_view(actor: Any, ticket: Any) -> bool:
    """The same rule for one ticket: True when `ticket_scope_q(actor)` would select it."""
    if ticket.organization_id != actor.organization_id:
        return False
    scope = actor.grant_for(MODULE).scope
    if Policy.in_scope(Policy(), actor, ticket, scope):
        return True
    member, managed = queue_ids_for(actor)
    if ticket.queue_id is None:
        return False
    return ticket.queue_id in managed or (ticket.owner_id is None and ticket.queue_id in member)
