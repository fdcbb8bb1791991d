"""Who may do what with the knowledge base. Nothing else in the topic looks at roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.service.models import MODULE, HelpCentre, KbArticle, KbCategory

if TYPE_CHECKING:
    from kehu.accounts.models import User


class KbCategoryPolicy(Policy):
    """Categories shape everyone's knowledge base: read with `view`, changed with `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return target.organization_id == actor.organization_id
        return True


class KbArticlePolicy(Policy):
    """A published article is read by everyone with `view` in service; a draft, and every change
    (writing, publishing, deleting), follows the role's actions within its data scope over the author.
    Restoring from the recycle bin needs `delete`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        if action == "restore":
            action = "delete"
        grant = actor.grant_for(self.module)
        if action not in grant.actions:
            return False
        if isinstance(target, KbArticle):
            if target.organization_id != actor.organization_id:
                return False
            if action == "view" and target.is_published and target.deleted_at is None:
                return True
            return self.in_scope(actor, target, grant.scope)
        return True


class HelpCentrePolicy(KbCategoryPolicy):
    """The public help centre's address and switch: `administer` in service."""


def register() -> None:
    register_policy(KbCategory, KbCategoryPolicy())
    register_policy(KbArticle, KbArticlePolicy())
    register_policy(HelpCentre, HelpCentrePolicy())
