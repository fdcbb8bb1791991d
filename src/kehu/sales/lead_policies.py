"""Who may do what with the leads' configuration: sources, web forms, assignment rules and settings.
Leads themselves follow sales/policies.py's RecordPolicy (the role's actions within its data scope)."""

from __future__ import annotations

from kehu.core.permissions import register_policy
from kehu.sales.lead_models import AssignmentRule, LeadSettings, LeadSource, WebForm
from kehu.sales.policies import ConfigurationPolicy


def register() -> None:
    """Everyone with `view` in sales reads the configuration (a rep's form shows the sources, the lead page
    names its rule); creating, changing and deleting it needs `administer` in sales."""
    for model in (LeadSource, WebForm, AssignmentRule, LeadSettings):
        register_policy(model, ConfigurationPolicy())
