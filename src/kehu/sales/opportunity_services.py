"""Every change to pipelines and opportunities: one function per business action, each in a transaction
with its audit entry, each checking `require(actor, action, target)` first.

Stage changes go through `change_stage` alone (creation aside): it applies the target stage's gate (its
required fields), closes the opportunity when the stage is a won or lost one, reopens it when it leaves
one, and writes the StageChange row that the history and the time-in-stage figures read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from kehu.core import audit, custom_fields
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.sales.models import Opportunity, Pipeline, Stage, StageChange
from kehu.sales.opportunity_summary import opportunities_changed

OPPORTUNITY_TYPE = "sales.opportunity"  # the custom-field record type

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
    "lost_reason",
    "won_reason",
)
# What update_opportunity changes; the stage (and so the pipeline) changes through change_stage, the owner
# through reassign_opportunities.
UPDATE_FIELDS = tuple(name for name in OPPORTUNITY_FIELDS if name not in ("pipeline", "stage"))
# The opportunity fields a stage may require (besides custom fields, named "custom.<key>").
REQUIRABLE_FIELDS = ("amount", "expected_close_date", "contact", "next_step", "competitors", "notes")
STAGE_FIELDS = ("name", "probability", "kind", "required_fields", "rot_days")
PIPELINE_FIELDS = ("name", "is_default", "is_active")
REASON_MAX = 255
_TRUSTED = ["organization", "owner", "created_by", "updated_by", "customer", "contact", "pipeline", "stage"]


def _error(field: str, message: str, code: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]}, code=code)


def _check_fields(data: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


def field_label(organization_id: int, name: str, definitions: list[Any] | None = None) -> str:
    """What people call an opportunity field (a custom one by its label)."""
    if name.startswith("custom."):
        if definitions is None:
            definitions = custom_fields.definitions_for(organization_id, OPPORTUNITY_TYPE, include_inactive=True)
        return next((str(d.label) for d in definitions if d.param == name), name.removeprefix("custom."))
    try:
        return str(Opportunity._meta.get_field(name).verbose_name).capitalize()
    except FieldDoesNotExist:  # an unknown name reads as itself
        return name


# Pipelines -------------------------------------------------------------------------------------------


def _default_stage_rows(organization: Any) -> list[dict[str, Any]]:
    with translation.override(getattr(organization, "language", None) or "zh-hans"):
        return [
            {"name": _(name), "probability": probability, "kind": kind, "required_fields": list(required)}
            for name, probability, kind, required in DEFAULT_STAGES
        ]


def ensure_default_pipeline(organization: Any) -> Pipeline:
    """The organisation's default pipeline, created with the standard stages the first time it is asked for."""
    pipeline = Pipeline.objects.filter(organization=organization, is_default=True).first()
    if pipeline is not None:
        return pipeline
    with transaction.atomic(), translation.override(getattr(organization, "language", None) or "zh-hans"):
        pipeline = Pipeline.objects.create(organization=organization, name=_("Sales pipeline"), is_default=True)
        Stage.objects.bulk_create(
            Stage(organization=organization, pipeline=pipeline, position=position, **row)
            for position, row in enumerate(_default_stage_rows(organization))
        )
    return pipeline


def clean_required_fields(organization_id: int, value: Any) -> list[str]:
    """The fields a stage may require: standard ones of REQUIRABLE_FIELDS and active custom fields."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _error("required_fields", _("Give the required fields as a list of field names."))
    allowed = set(REQUIRABLE_FIELDS) | {
        d.param for d in custom_fields.definitions_for(organization_id, OPPORTUNITY_TYPE)
    }
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise _error(
            "required_fields",
            _("These fields cannot be required: %(names)s. Choose from: %(allowed)s")
            % {"names": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))},
        )
    return list(dict.fromkeys(value))


def _check_stage(stage: Stage) -> None:
    stage.name = (stage.name or "").strip()
    if not stage.name:
        raise _error("name", _("Give the stage a name."))
    taken = Stage.objects.filter(pipeline_id=stage.pipeline_id, name=stage.name).exclude(pk=stage.pk).exists()
    if taken:
        raise _error("name", _("This pipeline already has a stage with this name."))
    validate(stage, exclude=["organization", "pipeline", "required_fields"])


def _check_pipeline_name(pipeline: Pipeline) -> None:
    pipeline.name = (pipeline.name or "").strip()
    if not pipeline.name:
        raise _error("name", _("Give the pipeline a name."))
    taken = (
        Pipeline.objects.filter(organization_id=pipeline.organization_id, name=pipeline.name)
        .exclude(pk=pipeline.pk)
        .exists()
    )
    if taken:
        raise _error("name", _("A pipeline with this name already exists."))
    validate(pipeline, exclude=["organization"])


def _save_new(pipeline: Pipeline) -> None:
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise _error("name", _("A pipeline with this name already exists.")) from exc


def _make_default(pipeline: Pipeline) -> None:
    Pipeline.objects.filter(organization_id=pipeline.organization_id, is_default=True).exclude(pk=pipeline.pk).update(
        is_default=False
    )


@transaction.atomic
def create_pipeline(
    *, actor: Any, name: str, is_default: bool = False, is_active: bool = True, stages: Iterable[dict] | None = None
) -> Pipeline:
    """A new pipeline; without `stages`, it starts with the standard stages (which administrators edit)."""
    require(actor, "create", Pipeline)
    organization = actor.organization
    position = Pipeline.objects.filter(organization=organization).aggregate(m=Max("position"))["m"]
    pipeline = Pipeline(
        organization=organization,
        name=name,
        is_default=bool(is_default),
        is_active=bool(is_active) or bool(is_default),
        position=0 if position is None else position + 1,
    )
    _check_pipeline_name(pipeline)
    rows = list(stages) if stages is not None else _default_stage_rows(organization)
    if not rows:
        raise _error("stages", _("A pipeline needs at least one stage."))
    if not any(row.get("kind", Stage.Kind.OPEN) == Stage.Kind.OPEN for row in rows):
        raise _error("stages", _("A pipeline needs at least one open stage."))
    _save_new(pipeline)
    if pipeline.is_default:
        _make_default(pipeline)
    for index, row in enumerate(rows):
        _check_fields(row, STAGE_FIELDS)
        stage = Stage(organization=organization, pipeline=pipeline, position=index, **row)
        stage.required_fields = clean_required_fields(organization.pk, row.get("required_fields"))
        try:
            _check_stage(stage)
        except ValidationFailed as exc:
            raise ValidationFailed(
                _("Stage %(number)d: %(message)s") % {"number": index + 1, "message": exc.message},
                fields={f"stages.{index}.{k}": v for k, v in exc.fields.items()},
            ) from exc
        stage.save()
    audit.record(
        actor=actor,
        action="pipeline.create",
        target=pipeline,
        changes={"name": pipeline.name, "is_default": pipeline.is_default, "stages": [r["name"] for r in rows]},
    )
    return pipeline


@transaction.atomic
def update_pipeline(*, actor: Any, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    """Rename, make the default, deactivate (hidden from the board and from new opportunities)."""
    require(actor, "edit", pipeline)
    _check_fields(data, PIPELINE_FIELDS)
    if data.get("is_default") is False and pipeline.is_default:
        raise _error("is_default", _("Make another pipeline the default instead."))
    if data.get("is_active") is False and (pipeline.is_default or data.get("is_default")):
        raise _error("is_active", _("The default pipeline cannot be deactivated."))
    before = audit.snapshot(pipeline, data.keys())
    for name, value in data.items():
        setattr(pipeline, name, value)
    _check_pipeline_name(pipeline)
    changes = audit.diff(before, audit.snapshot(pipeline, data.keys()))
    if not changes:
        return pipeline
    pipeline.save(update_fields=list(changes))
    if pipeline.is_default:
        _make_default(pipeline)
    audit.record(actor=actor, action="pipeline.update", target=pipeline, changes=changes)
    return pipeline


def _opportunity_counts(**filters: Any) -> tuple[int, int]:
    """(live, in the recycle bin) opportunities matching `filters`."""
    rows = Opportunity.objects.filter(**filters).values_list("deleted_at", flat=True)
    live = deleted = 0
    for deleted_at in rows.iterator():
        if deleted_at is None:
            live += 1
        else:
            deleted += 1
    return live, deleted


def _in_use_message(live: int, deleted: int, what: str) -> str:
    if deleted and not live:
        return ngettext(
            "%(count)d opportunity in the recycle bin is still in %(what)s. Restore it and move it, or delete it "
            "for good, first.",
            "%(count)d opportunities in the recycle bin are still in %(what)s. Restore them and move them, or "
            "delete them for good, first.",
            deleted,
        ) % {"count": deleted, "what": what}
    return ngettext(
        "%(count)d opportunity is in %(what)s. Move it to another stage first.",
        "%(count)d opportunities are in %(what)s. Move them to another stage first.",
        live + deleted,
    ) % {"count": live + deleted, "what": what}


@transaction.atomic
def delete_pipeline(*, actor: Any, pipeline: Pipeline) -> None:
    """Delete a pipeline that holds no opportunity (nor the default one)."""
    require(actor, "delete", pipeline)
    if pipeline.is_default:
        raise ValidationFailed(_("The default pipeline cannot be deleted. Make another pipeline the default first."))
    live, deleted = _opportunity_counts(organization_id=pipeline.organization_id, pipeline=pipeline)
    if live or deleted:
        what = _("the pipeline “%(name)s”") % {"name": pipeline.name}
        raise ValidationFailed(_in_use_message(live, deleted, what), code="pipeline_in_use")
    audit.record(actor=actor, action="pipeline.delete", target=pipeline, changes={"name": pipeline.name})
    pipeline.delete()


# Stages ----------------------------------------------------------------------------------------------


def _stages_of(pipeline: Pipeline) -> list[Stage]:
    return list(
        Stage.objects.filter(organization_id=pipeline.organization_id, pipeline=pipeline).order_by("position", "id")
    )


@transaction.atomic
def create_stage(*, actor: Any, pipeline: Pipeline, position: int | None = None, **data: Any) -> Stage:
    """Add a stage (at the end, or at `position`, 0 being first)."""
    require(actor, "create", Stage)
    require(actor, "edit", pipeline)
    _check_fields(data, STAGE_FIELDS)
    stages = _stages_of(pipeline)
    stage = Stage(organization_id=pipeline.organization_id, pipeline=pipeline, **data)
    stage.required_fields = clean_required_fields(pipeline.organization_id, data.get("required_fields"))
    _check_stage(stage)
    stage.position = len(stages)
    stage.save()
    if position is not None and 0 <= position < len(stages):
        order = [s.pk for s in stages]
        order.insert(position, stage.pk)
        _renumber(pipeline, order)
    audit.record(
        actor=actor,
        action="stage.create",
        target=stage,
        changes={name: getattr(stage, name) for name in STAGE_FIELDS} | {"pipeline": pipeline.name},
    )
    return stage


@transaction.atomic
def update_stage(*, actor: Any, stage: Stage, data: dict[str, Any]) -> Stage:
    """Rename, change the probability, the required fields, the rotting days, or the kind (only of an empty
    stage: the opportunities in it would otherwise be open in a won stage, or closed in an open one)."""
    require(actor, "edit", stage)
    _check_fields(data, STAGE_FIELDS)
    data = dict(data)
    if "required_fields" in data:
        data["required_fields"] = clean_required_fields(stage.organization_id, data["required_fields"])
    if "kind" in data and data["kind"] != stage.kind:
        live, deleted = _opportunity_counts(organization_id=stage.organization_id, stage=stage)
        if live or deleted:
            what = _("the stage “%(name)s”") % {"name": stage.name}
            raise _error(
                "kind",
                _in_use_message(live, deleted, what) + " " + _("Only an empty stage can change its kind."),
                code="stage_in_use",
            )
        if stage.kind == Stage.Kind.OPEN:
            _check_keeps_an_open_stage(stage)
    before = audit.snapshot(stage, data.keys())
    for name, value in data.items():
        setattr(stage, name, value)
    _check_stage(stage)
    changes = audit.diff(before, audit.snapshot(stage, data.keys()))
    if not changes:
        return stage
    stage.save(update_fields=list(changes))
    audit.record(actor=actor, action="stage.update", target=stage, changes=changes)
    return stage


def _check_keeps_an_open_stage(stage: Stage) -> None:
    others = Stage.objects.filter(pipeline_id=stage.pipeline_id, kind=Stage.Kind.OPEN).exclude(pk=stage.pk)
    if not others.exists():
        raise ValidationFailed(_("A pipeline needs at least one open stage."), code="last_open_stage")


@transaction.atomic
def delete_stage(*, actor: Any, stage: Stage) -> None:
    """Delete a stage no opportunity is in (a clear error names how many are, otherwise)."""
    require(actor, "delete", stage)
    live, deleted = _opportunity_counts(organization_id=stage.organization_id, stage=stage)
    if live or deleted:
        what = _("the stage “%(name)s”") % {"name": stage.name}
        raise ValidationFailed(_in_use_message(live, deleted, what), code="stage_in_use")
    if stage.kind == Stage.Kind.OPEN:
        _check_keeps_an_open_stage(stage)
    pipeline = stage.pipeline
    audit.record(
        actor=actor, action="stage.delete", target=stage, changes={"name": stage.name, "pipeline": pipeline.name}
    )
    stage.delete()
    _renumber(pipeline, [s.pk for s in _stages_of(pipeline)])


def _renumber(pipeline: Pipeline, order: list[int]) -> None:
    for position, pk in enumerate(order):
        Stage.objects.filter(pk=pk, pipeline=pipeline).exclude(position=position).update(position=position)


@transaction.atomic
def reorder_stages(*, actor: Any, pipeline: Pipeline, stage_ids: Sequence[Any]) -> list[Stage]:
    """Put the pipeline's stages in the order of `stage_ids` (every stage of the pipeline, once)."""
    require(actor, "edit", pipeline)
    stages = _stages_of(pipeline)
    try:
        wanted = [int(pk) for pk in stage_ids]
    except (TypeError, ValueError) as exc:
        raise _error("stages", _("List the ids of the pipeline's stages.")) from exc
    if sorted(wanted) != sorted(s.pk for s in stages):
        raise _error("stages", _("List every stage of this pipeline exactly once."))
    before = [s.name for s in stages]
    _renumber(pipeline, wanted)
    names = {s.pk: s.name for s in stages}
    after = [names[pk] for pk in wanted]
    if before != after:
        audit.record(
            actor=actor,
            action="pipeline.reorder",
            target=pipeline,
            changes={"stages": {"before": before, "after": after}},
        )
    return _stages_of(pipeline)


def move_stage(*, actor: Any, stage: Stage, offset: int) -> list[Stage]:
    """Move a stage up (offset -1) or down (+1) among its pipeline's stages."""
    order = [s.pk for s in _stages_of(stage.pipeline)]
    index = order.index(stage.pk)
    target = max(0, min(len(order) - 1, index + offset))
    order.insert(target, order.pop(index))
    return reorder_stages(actor=actor, pipeline=stage.pipeline, stage_ids=order)


# Opportunities: helpers ------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def missing_required_fields(opportunity: Opportunity, stage: Stage) -> list[str]:
    """The fields `stage` requires that `opportunity` leaves empty ("custom.<key>" for custom fields)."""
    missing = []
    for name in stage.required_fields:
        if name.startswith("custom."):
            value = (opportunity.custom or {}).get(name.removeprefix("custom."))
        else:
            value = getattr(opportunity, name, None)
        if _is_empty(value):
            missing.append(name)
    return missing


def _gate(opportunity: Opportunity, stage: Stage, changed: Iterable[str] | None = None) -> None:
    """Refuse entering `stage` while its required fields are empty, naming each field. With `changed` (an
    edit within the stage), refuse only emptying a required field: one an administrator made required
    after the opportunity entered the stage does not block unrelated edits."""
    missing = missing_required_fields(opportunity, stage)
    if changed is not None:
        changed = set(changed)
        missing = [name for name in missing if name in changed]
    if not missing:
        return
    labels = ", ".join(field_label(opportunity.organization_id, name) for name in missing)
    message = _("Fill in these fields to enter the stage “%(stage)s”.") % {"stage": stage.name}
    raise ValidationFailed(f"{message} ({labels})", fields={name: [_("Required in this stage.")] for name in missing})


def _check_owner(actor: Any, owner: Any) -> None:
    if (
        owner is None
        or getattr(owner, "organization_id", None) != actor.organization_id
        or not owner.is_active
        or not can(owner, "view", Opportunity)
    ):
        message = _("Choose an active colleague who has access to opportunities.")
        raise _error("owner", message)


def _check_relations(actor: Any, opportunity: Opportunity) -> None:
    customer = opportunity.customer
    if customer.organization_id != actor.organization_id or customer.deleted_at is not None:
        raise _error("customer", _("No such record, or it is not visible to you."))
    contact = opportunity.contact
    if contact is not None and (contact.customer_id != customer.pk or contact.deleted_at is not None):
        raise ValidationFailed(
            _("The contact does not belong to this customer."),
            fields={"contact": [_("Choose a contact of the customer.")]},
        )


def _clean_reasons(data: dict[str, Any]) -> None:
    for name in ("lost_reason", "won_reason"):
        if name in data:
            value = (data[name] or "").strip()
            if len(value) > REASON_MAX:
                raise _error(name, _("At most %(n)d characters.") % {"n": REASON_MAX})
            data[name] = value


def _audit_custom(changes: dict[str, Any]) -> dict[str, Any]:
    change = changes.pop("custom", None)
    if change:
        before, after = change.get("before") or {}, change.get("after") or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"custom.{key}"] = {"before": before.get(key), "after": after.get(key)}
    return changes


def _apply(actor: Any, opportunity: Opportunity, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set `data` (fields of UPDATE_FIELDS) on the opportunity, validate, return the audit diff."""
    _check_fields(data, UPDATE_FIELDS)
    data = dict(data)
    _clean_reasons(data)
    if "customer" in data:
        if data["customer"] is None:
            raise _error("customer", _("Choose a customer."))
        require(actor, "view", data["customer"])
    if "custom" in data:
        data["custom"] = custom_fields.clean(
            actor.organization_id, OPPORTUNITY_TYPE, data["custom"] or {}, partial=True, current=opportunity.custom
        )
    if "currency" in data and not data["currency"]:
        data["currency"] = "CNY"
    before = audit.snapshot(opportunity, data.keys())
    for name, value in data.items():
        setattr(opportunity, name, value)
    _check_relations(actor, opportunity)
    validate(opportunity, exclude=_TRUSTED)
    return audit.diff(before, audit.snapshot(opportunity, data.keys()))


def _recorded(opportunity: Opportunity) -> dict[str, Any]:
    recorded = {
        name: getattr(opportunity, name)
        for name in OPPORTUNITY_FIELDS
        if getattr(opportunity, name) not in ("", None, {})
    }
    for name in ("customer", "contact", "pipeline", "stage"):
        if name in recorded:
            recorded[name] = str(recorded[name])
    recorded["owner"] = opportunity.owner_id
    recorded["status"] = opportunity.status
    return recorded


def _close_or_reopen(opportunity: Opportunity, stage: Stage, now: Any) -> None:
    """Status follows the stage's kind: a won or lost stage closes, an open one (re)opens."""
    if stage.kind == Stage.Kind.OPEN:
        opportunity.status = Opportunity.Status.OPEN
        opportunity.closed_at = None
        opportunity.lost_reason = ""
        opportunity.won_reason = ""
    else:
        if stage.kind == Stage.Kind.LOST and not opportunity.lost_reason:
            raise _error("lost_reason", _("Say why the opportunity was lost."))
        if opportunity.status != stage.kind or opportunity.closed_at is None:
            opportunity.closed_at = now
        opportunity.status = stage.kind
        if stage.kind == Stage.Kind.WON:
            opportunity.lost_reason = ""
        else:
            opportunity.won_reason = ""


@contextmanager
def _unchanged_on_error(opportunity: Opportunity) -> Iterator[None]:
    """A refused change leaves the caller's instance as it was (its transaction rolls back the rest)."""
    saved = {f.attname: getattr(opportunity, f.attname) for f in opportunity._meta.concrete_fields}
    cached = {name: opportunity._state.fields_cache.get(name) for name in ("stage", "pipeline", "customer", "contact")}
    try:
        yield
    except Exception:
        for name, value in saved.items():
            setattr(opportunity, name, value)
        for name, value in cached.items():
            if value is None:
                opportunity._state.fields_cache.pop(name, None)
            else:
                opportunity._state.fields_cache[name] = value
        raise


def _record_stage_change(actor: Any, opportunity: Opportunity, previous: Stage | None, since: Any, now: Any) -> None:
    seconds = int((now - since).total_seconds()) if previous is not None and since else None
    StageChange.objects.create(
        organization_id=opportunity.organization_id,
        opportunity=opportunity,
        from_stage=previous,
        to_stage=opportunity.stage,
        from_stage_name=previous.name if previous else "",
        to_stage_name=opportunity.stage.name,
        at=now,
        by=actor if getattr(actor, "is_authenticated", False) else None,
        seconds_in_previous=max(seconds, 0) if seconds is not None else None,
    )


# Opportunities: actions ------------------------------------------------------------------------------


@transaction.atomic
def create_opportunity(*, actor: Any, owner: Any = None, **data: Any) -> Opportunity:
    """A new opportunity; `pipeline` defaults to the organisation's default one and `stage` to its first
    stage. The customer (and contact) must be visible to the actor; the stage's gate applies, and a won or
    lost stage creates it closed (lost needs `lost_reason`). Another owner than the actor needs `assign`."""
    require(actor, "create", Opportunity)
    _check_fields(data, OPPORTUNITY_FIELDS)
    _clean_reasons(data)
    customer = data.get("customer")
    if customer is None:
        raise ValidationFailed(_("Choose a customer."), fields={"customer": [_("This field is required.")]})
    require(actor, "view", customer)
    owner = owner or actor
    if owner.pk != actor.pk:
        require(actor, "assign", Opportunity)
    _check_owner(actor, owner)
    pipeline = data.get("pipeline") or ensure_default_pipeline(actor.organization)
    stage = data.get("stage") or pipeline.stages.order_by("position", "id").first()
    if stage is None or stage.pipeline_id != pipeline.pk or pipeline.organization_id != actor.organization_id:
        raise ValidationFailed(
            _("Choose a stage of this pipeline."), fields={"stage": [_("Not a stage of this pipeline.")]}
        )
    data["custom"] = custom_fields.clean(actor.organization_id, OPPORTUNITY_TYPE, data.get("custom"), partial=False)
    now = timezone.now()
    opportunity = Opportunity(
        organization_id=actor.organization_id,
        owner=owner,
        created_by=actor,
        updated_by=actor,
        stage_entered_at=now,
        **{**data, "pipeline": pipeline, "stage": stage},
    )
    if "probability" not in data or data["probability"] is None:
        opportunity.probability = stage.probability
    if not opportunity.currency:
        opportunity.currency = "CNY"
    _check_relations(actor, opportunity)
    _gate(opportunity, stage)
    _close_or_reopen(opportunity, stage, now)
    validate(opportunity, exclude=_TRUSTED)
    opportunity.save()
    opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
    _record_stage_change(actor, opportunity, None, None, now)
    audit.record(actor=actor, action="opportunity.create", target=opportunity, changes=_recorded(opportunity))
    return opportunity


@transaction.atomic
def update_opportunity(
    *, actor: Any, opportunity: Opportunity, expected_version: int | None, data: dict[str, Any]
) -> Opportunity:
    """Change fields. Refused with VersionConflict when the opportunity changed since the caller read
    `expected_version`, and when a field the current stage requires would become empty."""
    with _unchanged_on_error(opportunity):
        return _update(actor=actor, opportunity=opportunity, expected_version=expected_version, data=data)


def _update(*, actor: Any, opportunity: Opportunity, expected_version: int | None, data: dict[str, Any]) -> Opportunity:
    require(actor, "edit", opportunity)
    if expected_version is not None and expected_version != opportunity.version:
        raise VersionConflict()
    changes = _apply(actor, opportunity, data)
    if not changes:
        return opportunity
    _gate(opportunity, opportunity.stage, changed=_audit_custom(dict(changes)))
    save_versioned(opportunity, actor=actor, expected_version=expected_version, fields=list(changes))
    opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
    audit.record(actor=actor, action="opportunity.update", target=opportunity, changes=_audit_custom(changes))
    return opportunity


@transaction.atomic
def change_stage(
    *,
    actor: Any,
    opportunity: Opportunity,
    stage: Stage,
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
) -> Opportunity:
    """Move the opportunity to `stage` (of its pipeline, or of another pipeline of the organisation), setting
    `data` (fields of UPDATE_FIELDS, e.g. the ones the gate asks for, or `lost_reason`) in the same step.

    The target stage's required fields must be filled (ValidationFailed names each empty one); entering a
    won or lost stage closes the opportunity, a lost one needs `lost_reason`; moving a closed opportunity to
    an open stage reopens it. The probability becomes the stage's. Every move writes a StageChange."""
    with _unchanged_on_error(opportunity):
        return _move(actor=actor, opportunity=opportunity, stage=stage, expected_version=expected_version, data=data)


def _move(
    *, actor: Any, opportunity: Opportunity, stage: Stage, expected_version: int | None, data: dict[str, Any] | None
) -> Opportunity:
    require(actor, "edit", opportunity)
    if not isinstance(stage, Stage) or stage.organization_id != actor.organization_id:
        raise _error("stage", _("Choose a stage of one of your pipelines."))
    if expected_version is not None and expected_version != opportunity.version:
        raise VersionConflict()
    changes = _apply(actor, opportunity, data or {})
    previous, since = opportunity.stage, opportunity.stage_entered_at
    if stage.pk == previous.pk:
        if not changes:
            return opportunity
        _gate(opportunity, stage, changed=_audit_custom(dict(changes)))
        if stage.kind == Stage.Kind.LOST and not opportunity.lost_reason:
            raise _error("lost_reason", _("Say why the opportunity was lost."))
        save_versioned(opportunity, actor=actor, expected_version=expected_version, fields=list(changes))
        opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
        audit.record(actor=actor, action="opportunity.update", target=opportunity, changes=_audit_custom(changes))
        return opportunity
    _gate(opportunity, stage)
    now = timezone.now()
    before_status = opportunity.status
    opportunity.stage, opportunity.pipeline = stage, stage.pipeline
    opportunity.stage_entered_at = now
    opportunity.probability = stage.probability
    _close_or_reopen(opportunity, stage, now)
    fields = [
        *changes,
        "stage",
        "pipeline",
        "stage_entered_at",
        "probability",
        "status",
        "closed_at",
        "lost_reason",
        "won_reason",
    ]
    save_versioned(opportunity, actor=actor, expected_version=expected_version, fields=list(dict.fromkeys(fields)))
    opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
    _record_stage_change(actor, opportunity, previous, since, now)
    changes = _audit_custom(changes)
    changes["stage"] = {"before": previous.name, "after": stage.name}
    if previous.pipeline_id != stage.pipeline_id:
        changes["pipeline"] = {"before": str(previous.pipeline), "after": str(stage.pipeline)}
    if before_status != opportunity.status:
        changes["status"] = {"before": before_status, "after": opportunity.status}
    for name in ("lost_reason", "won_reason"):
        if getattr(opportunity, name):
            changes[name] = getattr(opportunity, name)
    if stage.kind == Stage.Kind.WON and before_status != Opportunity.Status.WON:
        action = "opportunity.won"
    elif stage.kind == Stage.Kind.LOST and before_status != Opportunity.Status.LOST:
        action = "opportunity.lost"
    elif stage.kind == Stage.Kind.OPEN and before_status != Opportunity.Status.OPEN:
        action = "opportunity.reopen"
    else:
        action = "opportunity.stage_change"
    audit.record(actor=actor, action=action, target=opportunity, changes=changes)
    return opportunity


def _closing_stage(opportunity: Opportunity, kind: str) -> Stage:
    stage = (
        Stage.objects.filter(
            organization_id=opportunity.organization_id, pipeline_id=opportunity.pipeline_id, kind=kind
        )
        .order_by("position", "id")
        .first()
    )
    if stage is None:
        message = (
            _("This pipeline has no won stage. An administrator can add one.")
            if kind == Stage.Kind.WON
            else _("This pipeline has no lost stage. An administrator can add one.")
        )
        raise ValidationFailed(message, fields={"stage": [message]})
    return stage


def mark_won(
    *, actor: Any, opportunity: Opportunity, reason: str = "", expected_version: int | None = None
) -> Opportunity:
    """Close as won: into the pipeline's (first) won stage, whose gate applies."""
    require(actor, "edit", opportunity)
    if opportunity.status == Opportunity.Status.WON:
        return opportunity
    stage = _closing_stage(opportunity, Stage.Kind.WON)
    return change_stage(
        actor=actor,
        opportunity=opportunity,
        stage=stage,
        expected_version=expected_version,
        data={"won_reason": reason or ""},
    )


def mark_lost(*, actor: Any, opportunity: Opportunity, reason: str, expected_version: int | None = None) -> Opportunity:
    """Close as lost, with the reason (required): into the pipeline's (first) lost stage."""
    require(actor, "edit", opportunity)
    reason = (reason or "").strip()
    if not reason:
        raise _error("reason", _("Say why the opportunity was lost."))
    if opportunity.status == Opportunity.Status.LOST:
        return opportunity
    stage = _closing_stage(opportunity, Stage.Kind.LOST)
    try:
        return change_stage(
            actor=actor,
            opportunity=opportunity,
            stage=stage,
            expected_version=expected_version,
            data={"lost_reason": reason},
        )
    except ValidationFailed as exc:
        if "lost_reason" in exc.fields:
            exc.fields["reason"] = exc.fields.pop("lost_reason")
        raise


@transaction.atomic
def reassign_opportunities(*, actor: Any, opportunities: Iterable[Opportunity], owner: Any) -> list[Opportunity]:
    """Give opportunities to `owner` (all or nothing); the new owner is notified in the app and by email."""
    _check_owner(actor, owner)
    moved = []
    for opportunity in opportunities:
        require(actor, "assign", opportunity)
        if opportunity.owner_id == owner.pk:
            continue
        before = opportunity.owner_id
        now = timezone.now()
        opportunities_changed(opportunity.organization_id, [before, owner.pk])
        Opportunity.objects.filter(pk=opportunity.pk).update(
            owner=owner, version=F("version") + 1, updated_at=now, updated_by_id=actor.pk
        )
        opportunity.owner, opportunity.version, opportunity.updated_at = owner, opportunity.version + 1, now
        audit.record(
            actor=actor,
            action="opportunity.assign",
            target=opportunity,
            changes={"owner": {"before": before, "after": owner.pk}},
        )
        moved.append(opportunity)
    if moved and owner.pk != actor.pk:
        _notify_assigned(actor=actor, owner=owner, opportunities=moved)
    return moved


def _notify_assigned(*, actor: Any, owner: Any, opportunities: list[Opportunity]) -> None:
    with translation.override(owner.language or owner.organization.language):
        if len(opportunities) == 1:
            title = _("%(actor)s assigned the opportunity %(name)s to you") % {
                "actor": actor,
                "name": opportunities[0].name,
            }
            url = reverse("sales:opportunity_detail", args=[opportunities[0].pk])
        else:
            title = ngettext(
                "%(actor)s assigned %(count)d opportunity to you",
                "%(actor)s assigned %(count)d opportunities to you",
                len(opportunities),
            ) % {"actor": actor, "count": len(opportunities)}
            url = f"{reverse('sales:opportunity_list')}?owner={owner.pk}"
        body = ", ".join(o.name for o in opportunities[:10])
    notify(recipient=owner, title=title, body=body, url=url, email=True)


@transaction.atomic
def delete_opportunity(*, actor: Any, opportunity: Opportunity, expected_version: int | None = None) -> Opportunity:
    """Move to the recycle bin (soft delete); `restore_opportunity` brings it back."""
    require(actor, "delete", opportunity)
    opportunity.deleted_at = timezone.now()
    save_versioned(opportunity, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
    audit.record(actor=actor, action="opportunity.delete", target=opportunity)
    return opportunity


@transaction.atomic
def delete_opportunities(*, actor: Any, opportunities: Iterable[Opportunity]) -> int:
    """Bulk delete: all or nothing."""
    count = 0
    for opportunity in opportunities:
        delete_opportunity(actor=actor, opportunity=opportunity)
        count += 1
    return count


@transaction.atomic
def restore_opportunity(*, actor: Any, opportunity: Opportunity) -> Opportunity:
    require(actor, "restore", opportunity)
    if opportunity.deleted_at is None:
        return opportunity
    now = timezone.now()
    restored = Opportunity.objects.filter(
        pk=opportunity.pk, version=opportunity.version, deleted_at__isnull=False
    ).update(deleted_at=None, version=opportunity.version + 1, updated_at=now, updated_by_id=actor.pk)
    opportunities_changed(opportunity.organization_id, [opportunity.owner_id])
    if restored != 1:
        raise VersionConflict()
    opportunity.deleted_at, opportunity.version, opportunity.updated_at = None, opportunity.version + 1, now
    audit.record(actor=actor, action="opportunity.restore", target=opportunity)
    return opportunity


def move_to_customer(*, actor: Any, survivor: Any, others: list[Any]) -> int:
    """Merge handler (kehu.customers.merge): the merged customers' opportunities now belong to the survivor,
    history and all. Open edit forms go stale (the version moves on)."""
    return Opportunity.objects.filter(organization_id=survivor.organization_id, customer__in=others).update(
        customer=survivor, version=F("version") + 1, updated_at=timezone.now()
    )
