"""A system check that refuses to start when a business model escapes the tenancy mechanism."""

from typing import Any

from django.apps import apps
from django.core import checks

from kehu.core.models import BusinessModel, TenantQuerySet

# Models with an `organization` field that are not business records, and why.
NOT_BUSINESS = {
    "core.auditentry": "append-only log, read through the audit selector",
    "accounts.user": "tenant-scoped platform record",
    "accounts.team": "tenant-scoped platform record",
    "accounts.role": "tenant-scoped platform record",
    "accounts.apitoken": "tenant-scoped platform record",
    "accounts.supportgrant": "the organisation's grants of vendor support access, read through support_selectors",
    "accounts.supportactor": "in-memory proxy of a platform staff user during a support session, never saved",
    "core.notification": "personal inbox, read through notification_list_for",
    "customers.customertag": "link row of a customer and a tag, read through the customer",
    "customers.poolsettings": "one settings row per organisation, read through pool_settings_for",
    "customers.poolmove": "log row of a customer's pool moves, read through the pool rules",
    "core.choiceoption": "organisation configuration: an option of an editable list, read through choice_lists",
    "core.savedviewdefault": "a user's own list preference, read through saved_views.default_for",
    "sales.pipeline": "organisation configuration, read through the pipeline selectors",
    "sales.stage": "organisation configuration, part of its pipeline",
    "service.queue": "organisation configuration, read through the queue selectors",
    "sales.stagechange": "history row of an opportunity, read through the opportunity",
    "sales.pricelistitem": "organisation catalogue, part of its price list",  # commerce
    "sales.commercesequence": "the last quote/order number of an organisation and year",  # commerce
    "sales.leadsource": "organisation configuration: the sources it adds to the built-in ones",  # leads
    "sales.webform": "organisation configuration: a web-to-lead form, read through lead_selectors",  # leads
    "sales.assignmentrule": "organisation configuration: one automatic assignment rule",  # leads
    "sales.leadsettings": "one settings row per organisation, read through lead_settings_for",  # leads
    "service.ticketcounter": "one counter row per organisation: its last ticket number",  # tickets
    "service.tickettag": "link row of a ticket and a tag, read through the ticket",  # tickets
    "service.ticketmessage": "part of its ticket's conversation, visible exactly when the ticket is",  # tickets
    "service.ticketattachment": "a file of a ticket message, visible exactly when the ticket is",  # tickets
    "service.cannedreply": "organisation configuration: shared canned replies",  # tickets
    "service.agentstatus": "one availability row per agent, read through the ticket selectors",  # tickets
    "core.importrow": "outcome of one row of an import job, read through the job",  # imports
    # Service SLA, knowledge base and surveys (topic "sla").
    "service.businesscalendar": "organisation configuration, read through the calendar selectors",
    "service.workingperiod": "part of its business calendar",
    "service.calendarday": "part of its business calendar",
    "service.slapolicy": "organisation configuration, read through the SLA policy selectors",
    "service.slatarget": "part of its SLA policy",
    "service.ticketsla": "SLA state of one ticket, read through the ticket",
    "service.kbcategory": "organisation configuration, read through the knowledge base selectors",
    "service.helpcentre": "one settings row per organisation, read through help_centre_for",
    "service.surveyresponse": "the answer of one survey, read through the survey",
    "service.servicesettings": "one settings row per organisation, read through service_settings_for",
}


@checks.register()
def tenancy_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    errors = []
    for model in apps.get_models():
        if not model.__module__.startswith("kehu."):
            continue
        try:
            model._meta.get_field("organization")
        except Exception:  # noqa: S112 - a model without tenant field is not a tenant record
            continue
        label = model._meta.label_lower
        if label in NOT_BUSINESS:
            if not isinstance(model._default_manager.all(), TenantQuerySet):
                errors.append(checks.Error(f"{label} must use a TenantQuerySet manager.", id="kehu.E002"))
            continue
        if not issubclass(model, BusinessModel):
            errors.append(
                checks.Error(
                    f"{label} has an organization but does not inherit kehu.core.models.BusinessModel.",
                    hint="Inherit BusinessModel so visible_to(actor) applies the tenant and scope.",
                    id="kehu.E001",
                )
            )
    return errors
