"""Who may do what with calendars, SLA policies and satisfaction surveys. Nothing else in these topics
looks at roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.service.models import MODULE, BusinessCalendar, CalendarDay, SlaPolicy, Survey

if TYPE_CHECKING:
    from kehu.accounts.models import User


class ServiceConfigurationPolicy(Policy):
    """Calendars, holidays and SLA policies are the organisation's configuration: everyone with `view` in
    service reads them (an agent sees why a ticket is due when it is), changing them needs `administer`."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return target.organization_id == actor.organization_id
        return True


class SurveyPolicy(Policy):
    """Surveys are owned by the agent they rate: read within the role's data scope; nobody edits an
    answer (the customer gave it)."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        if action not in ("view", "export"):
            return False
        return super().can(actor, action, target)


def register() -> None:
    for model in (BusinessCalendar, CalendarDay, SlaPolicy):
        register_policy(model, ServiceConfigurationPolicy())
    register_policy(Survey, SurveyPolicy())
