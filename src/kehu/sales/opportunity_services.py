"""Every change to pipelines and opportunities: one function per business action, each in a transaction
with its audit entry, each checking `require(actor, action, target)` first."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kehu.core import audit
from kehu.core.errors import ValidationFailed
from kehu.core.services import require, validate
from kehu.sales.models import Opportunity, Pipeline, Stage

# The pipeline every organisation starts with: (name, probability %, kind, fields required to enter).
# Names are stored translated into the organisation's language when the pipeline is created.
DEFAULT_STAGES = (
    (gettext_noop("Qualification"), 10, Stage.Kind.OPEN, ()),
    (gettext_noop("Needs analysis"), 30, Stage.Kind.OPEN, ()),
    (gettext_noop("Proposal"), 60, Stage.Kind.OPEN, ("amount",)),
    (gettext_noop("Negotiation"), 80, Stage.Kind.OPEN, ("amount", "expected_close_date")),
    (gettext_noop("Won"), 100, Stage.Kind.WON, ("amount",)),
    (gettext_noop("Lost"), 0, Stage.Kind.LOST, ()),
)

OPPORTUNITY_FIELDS = (
    "name",
    "customer",
    "contact",
    "pipeline",
    "stage",
    "amount",
    "currency",
    "expected_close_date",
    "probability",
    "next_step",
    "competitors",
    "notes",
    "custom",
)


def ensure_default_pipeline(organization: Any) -> Pipeline:
    """The organisation's default pipeline, created with the standard stages the first time it is asked for."""
    from django.utils import translation

    pipeline = Pipeline.objects.filter(organization=organization, is_default=True).first()
    if pipeline is not None:
        return pipeline
    with transaction.atomic(), translation.override(getattr(organization, "language", None) or "zh-hans"):
        pipeline = Pipeline.objects.create(organization=organization, name=_("Sales pipeline"), is_default=True)
        Stage.objects.bulk_create(
            Stage(
                organization=organization,
                pipeline=pipeline,
                name=_(name),
                position=position,
                probability=probability,
                kind=kind,
                required_fields=list(required),
            )
            for position, (name, probability, kind, required) in enumerate(DEFAULT_STAGES)
        )
    return pipeline


def missing_required_fields(opportunity: Opportunity, stage: Stage) -> list[str]:
    """The fields `stage` requires that `opportunity` leaves empty."""
    return [name for name in stage.required_fields if getattr(opportunity, name, None) in (None, "", [], {})]


@transaction.atomic
def create_opportunity(*, actor: Any, owner: Any = None, **data: Any) -> Opportunity:
    """A new opportunity; `pipeline` defaults to the organisation's default one and `stage` to its first
    stage. The customer (and contact) must be visible to the actor; the stage's gate applies."""
    require(actor, "create", Opportunity)
    unknown = sorted(set(data) - set(OPPORTUNITY_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )
    customer = data.get("customer")
    if customer is None:
        raise ValidationFailed(_("Choose a customer."), fields={"customer": [_("This field is required.")]})
    require(actor, "view", customer)
    pipeline = data.get("pipeline") or ensure_default_pipeline(actor.organization)
    stage = data.get("stage") or pipeline.stages.order_by("position", "id").first()
    if stage is None or stage.pipeline_id != pipeline.pk or pipeline.organization_id != actor.organization_id:
        raise ValidationFailed(
            _("Choose a stage of this pipeline."), fields={"stage": [_("Not a stage of this pipeline.")]}
        )
    contact = data.get("contact")
    if contact is not None and contact.customer_id != customer.pk:
        raise ValidationFailed(
            _("The contact does not belong to this customer."),
            fields={"contact": [_("Choose a contact of the customer.")]},
        )
    now = timezone.now()
    opportunity = Opportunity(
        organization_id=actor.organization_id,
        owner=owner or actor,
        created_by=actor,
        updated_by=actor,
        stage_entered_at=now,
        **{**data, "pipeline": pipeline, "stage": stage},
    )
    if "probability" not in data:
        opportunity.probability = stage.probability
    missing = missing_required_fields(opportunity, stage)
    if missing:
        message = _("Fill in these fields to enter the stage “%(stage)s”.") % {"stage": stage.name}
        raise ValidationFailed(message, fields={name: [_("Required in this stage.")] for name in missing})
    validate(
        opportunity, exclude=["organization", "owner", "created_by", "updated_by", "customer", "pipeline", "stage"]
    )
    opportunity.save()
    recorded = {
        name: getattr(opportunity, name)
        for name in OPPORTUNITY_FIELDS
        if getattr(opportunity, name) not in ("", None, {})
    }
    for name in ("customer", "contact", "pipeline", "stage"):
        if name in recorded:
            recorded[name] = str(recorded[name])
    recorded["owner"] = opportunity.owner_id
    audit.record(actor=actor, action="opportunity.create", target=opportunity, changes=recorded)
    return opportunity
