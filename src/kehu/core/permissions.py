"""`can(actor, action, target)`: the one answer to every permission question.

A role grants, per module, a set of actions and a data scope. The scope decides which records
`visible_to(actor)` returns; the actions decide what the actor may do with them. Each record type may
register a policy to refine the answer; nothing else in the code looks at roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core import modules

if TYPE_CHECKING:
    from kehu.accounts.models import User


class Action(models.TextChoices):
    VIEW = "view", _("View")
    CREATE = "create", _("Create")
    EDIT = "edit", _("Edit")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    ASSIGN = "assign", _("Assign")
    ADMINISTER = "administer", _("Administer")


class Scope(models.TextChoices):
    OWN = "own", _("Own records")
    TEAM = "team", _("Own team")
    TEAM_TREE = "team_tree", _("Team and sub-teams")
    ORGANIZATION = "organization", _("Whole organisation")


class Policy:
    """The default policy for a record type: the role's actions, checked within the role's scope."""

    module: str = modules.PLATFORM

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        if action not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return self.in_scope(actor, target, grant.scope)
        return True

    def in_scope(self, actor: User, record: models.Model, scope: str) -> bool:
        if getattr(record, "organization_id", None) != actor.organization_id:
            return False
        if scope == Scope.ORGANIZATION:
            return True
        owner = getattr(record, "owner", None)
        if owner is None:
            return False
        if scope == Scope.OWN or actor.team_id is None:  # a team scope without a team: one's own (scope_filter)
            return owner.pk == actor.pk
        if owner.team_id is None:
            return False
        if scope == Scope.TEAM:
            return owner.team_id == actor.team_id
        return owner.team.path.startswith(actor.team.path)


_policies: dict[type, Policy] = {}


def register_policy(model: type[models.Model], policy: Policy) -> None:
    _policies[model] = policy


def policy_for(target: Any) -> Policy:
    cls = target if isinstance(target, type) else type(target)
    for klass in cls.__mro__:
        if klass in _policies:
            return _policies[klass]
    module = getattr(cls, "module", modules.PLATFORM)
    policy = Policy()
    policy.module = module
    return policy


def can(actor: Any, action: str, target: Any) -> bool:
    """May `actor` do `action` to `target` (a record, a model class, or a module key)?

    Fails closed: anonymous or inactive actors, actors without an organisation, and modules that are
    not enabled for the actor's organisation all answer False; a support actor gets False for every
    action but `view`.
    """
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.organization_id is None:
        return False
    if getattr(actor, "is_support_actor", False) and action != Action.VIEW:
        # The vendor's staff in a support session (kehu.accounts.support_models) only ever read.
        return False
    if isinstance(target, str):
        module_key = target
        policy = None
    else:
        policy = policy_for(target)
        module_key = policy.module
    if not modules.is_enabled(actor.organization, module_key):
        return False
    if policy is None:
        return action in actor.grant_for(module_key).actions
    return policy.can(actor, action, target)
