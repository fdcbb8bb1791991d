"""Who may do what with sales records. Nothing else in the module looks at roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.sales.models import MODULE, Lead, Opportunity, Pipeline, Stage

if TYPE_CHECKING:
    from kehu.accounts.models import User


class RecordPolicy(Policy):
    """Leads and opportunities: the role's actions within its data scope (restore needs delete)."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        return super().can(actor, "delete" if action == "restore" else action, target)


class ConfigurationPolicy(Policy):
    """Pipelines and stages are the organisation's configuration: everyone with `view` in sales reads them,
    changing them needs `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        if isinstance(target, models.Model):  # a model class also has an `organization_id` attribute
            return target.organization_id == actor.organization_id
        return True


def register() -> None:
    register_policy(Lead, RecordPolicy())
    register_policy(Opportunity, RecordPolicy())
    register_policy(Pipeline, ConfigurationPolicy())
    register_policy(Stage, ConfigurationPolicy())
