"""Every change to leads and their sources: one function per business action, each in a transaction with
its audit entry, each checking `require(actor, action, target)` first.

Assignment: a lead created without an owner (form, import, API, a user's form) takes the owner the
organisation's rules give (sales/lead_assignment.py); the lead then says which rule made it
(`assigned_rule`, `assigned_rule_name`), and a "lead.assign" audit entry says so too.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kehu.core import audit, choice_lists, custom_fields, modules
from kehu.core.errors import DomainError, ModuleNotEnabled, NotFound, ValidationFailed, VersionConflict
from kehu.core.notifications import notify
from kehu.core.permissions import can
from kehu.core.services import require, save_versioned, validate
from kehu.sales.lead_assignment import Assigner, Choice, eligible
from kehu.sales.lead_models import Lead, LeadSettings, LeadSource
from kehu.sales.lead_selectors import LEAD_TYPE, source_choices

LEAD_FIELDS = (
    "name",
    "company",
    "title",
    "phone",
    "email",
    "source",
    "status",
    "score",
    "industry",
    "province",
    "city",
    "notes",
    "custom",
)
_DERIVED = {"phone": "phone_normalized", "email": "email_normalized"}
# Set by the service from objects it already checked: no need for full_clean to query them again.
_TRUSTED = [
    "organization",
    "owner",
    "created_by",
    "updated_by",
    "assigned_rule",
    "web_form",
    "converted_customer",
    "converted_contact",
    "converted_opportunity",
]
SOURCE_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
REASSIGN_BATCH = 500


class AlreadyConverted(DomainError):
    code = "already_converted"
    status = 409
    default_message = gettext_lazy("This lead has already been converted.")


class DuplicateCustomer(DomainError):
    """Creating a customer for the lead would create one that exists: choose the existing one instead."""

    code = "duplicate_customer"
    status = 409


class SystemActor:
    """Who acts when nobody signed in does: a web form's visitor (with their IP) or the scheduler. The
    audit log records no user for it, the label it gives, and the IP."""

    is_authenticated = False
    pk = None
    organization_id = None

    def __init__(self, label: str, ip: str | None = None) -> None:
        self.label = label
        self.request_ip = ip

    def __str__(self) -> str:
        return self.label


# Checks ---------------------------------------------------------------------------------------------------


def _check_fields(data: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


def check_source(organization_id: int, source: Any) -> str:
    """A built-in source or an active source of the organisation; else a validation error on "source"."""
    if source in Lead.Source.values:  # no need to read the organisation's own sources
        return source
    allowed = dict(source_choices(organization_id))
    if source not in allowed:
        message = _("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)}
        raise ValidationFailed(message, fields={"source": [message]})
    return source


def _check_owner(actor: Any, owner: Any) -> None:
    if owner is None or not eligible(owner, actor.organization_id):
        message = _("Choose an active colleague who has access to sales.")
        raise ValidationFailed(message, fields={"owner": [message]})


def _check_status(status: Any, *, current: str | None) -> None:
    if status == Lead.Status.CONVERTED and current != Lead.Status.CONVERTED:
        message = _("A lead becomes converted by converting it into a customer.")
        raise ValidationFailed(message, fields={"status": [message]})
    if current == Lead.Status.CONVERTED and status != current:
        message = _("A converted lead keeps its status.")
        raise ValidationFailed(message, fields={"status": [message]})


def _set_and_diff(lead: Lead, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    before = audit.snapshot(lead, data.keys())
    for name, value in data.items():
        setattr(lead, name, value)
    validate(lead, exclude=_TRUSTED)
    return audit.diff(before, audit.snapshot(lead, data.keys()))


def _changed_fields(changes: dict[str, Any]) -> list[str]:
    return list(changes) + [_DERIVED[name] for name in changes if name in _DERIVED]


def _audit_custom(changes: dict[str, Any]) -> dict[str, Any]:
    """The audit entry names each custom field that changed, not the whole object."""
    change = changes.pop("custom", None)
    if change:
        before, after = change.get("before") or {}, change.get("after") or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"custom.{key}"] = {"before": before.get(key), "after": after.get(key)}
    return changes


def _recorded(lead: Lead) -> dict[str, Any]:
    recorded = {name: getattr(lead, name) for name in LEAD_FIELDS if getattr(lead, name) not in ("", None, {})}
    recorded["owner"] = lead.owner_id
    return recorded


# Notifications ----------------------------------------------------------------------------------------------


def _notify(owner: Any, leads: list[Lead], *, actor: Any, choice: Choice | None) -> None:
    """The new owner hears of their leads once per batch in the app; by email too when nobody at a desk
    handed them over (a web form's visitor, the scheduler) or a colleague assigned them by hand."""
    if owner is None or not leads or (getattr(actor, "pk", None) == owner.pk):
        return
    with translation.override(owner.language or owner.organization.language):
        if len(leads) == 1:
            lead = leads[0]
            if choice is not None and choice.rule is not None:
                title = _("New lead %(name)s, assigned to you by the rule “%(rule)s”") % {
                    "name": lead,
                    "rule": choice.rule.name,
                }
            elif getattr(actor, "is_authenticated", False) and (choice is None or choice.via == "manual"):
                title = _("%(actor)s assigned the lead %(name)s to you") % {"actor": actor, "name": lead}
            else:
                title = _("New lead %(name)s, assigned to you") % {"name": lead}
            url = reverse("sales:lead_detail", args=[lead.pk])
        else:
            title = ngettext("%(count)d lead assigned to you", "%(count)d leads assigned to you", len(leads)) % {
                "count": len(leads)
            }
            url = f"{reverse('sales:lead_list')}?owner={owner.pk}"
        body = ", ".join(f"{lead.name} {lead.company}".strip() for lead in leads[:10])
    by_hand = choice is not None and choice.via == "manual"
    email = by_hand or not getattr(actor, "is_authenticated", False)
    notify(recipient=owner, title=title, body=body, url=url, email=email)


# Creating ----------------------------------------------------------------------------------------------------


def create_lead(
    *,
    organization_id: int,
    actor: Any,
    fields: dict[str, Any],
    owner: Any = None,
    fallback_owner: Any = None,
    web_form: Any = None,
) -> Lead:
    """The one way a lead comes into being (a user's form, the API, a web form): validate, take `owner` or
    the owner the rules give (else `fallback_owner`), save, audit, notify. Callers check permissions."""
    _check_fields(fields, LEAD_FIELDS)
    fields = dict(fields)
    fields.setdefault("source", Lead.Source.OTHER)
    check_source(organization_id, fields["source"])
    _check_status(fields.get("status"), current=None)
    fields["custom"] = custom_fields.clean(organization_id, LEAD_TYPE, fields.get("custom") or {}, partial=False)
    user = actor if getattr(actor, "is_authenticated", False) else None
    lead = Lead(organization_id=organization_id, created_by=user, updated_by=user, web_form=web_form, **fields)
    validate(lead, exclude=_TRUSTED)
    assigner = None
    choice: Choice | None = None
    if owner is not None:
        lead.owner = owner
    else:
        assigner = Assigner(organization_id, one_lead=True)
        choice = assigner.choose(lead)
        lead.owner = choice.owner or fallback_owner
        if choice.owner is not None:
            lead.assigned_rule = choice.rule
            lead.assigned_rule_name = choice.rule.name if choice.rule else ""
            lead.assigned_at = timezone.now()
    lead.save()
    if assigner is not None:
        assigner.save()
    entries = [("lead.create", lead, _recorded(lead))]
    if choice is not None and choice.owner is not None:
        entries.append(("lead.assign", lead, _assign_changes(lead, before=None, choice=choice)))
    # Both entries with one lock of the audit chain (the same entries as two audit.record calls).
    audit.record_many(organization_id=organization_id, items=entries, actor_label=_label(actor) or "", actor=actor)
    _notify(lead.owner, [lead], actor=actor, choice=choice)
    return lead


def _label(actor: Any) -> str | None:
    return None if getattr(actor, "is_authenticated", False) else str(actor)


def _assign_changes(lead: Lead, *, before: int | None, choice: Choice, extra: dict | None = None) -> dict[str, Any]:
    changes: dict[str, Any] = {"owner": {"before": before, "after": lead.owner_id}, "via": choice.via}
    if choice.rule is not None:
        changes.update(rule=choice.rule.name, rule_id=choice.rule.pk)
    changes.update(extra or {})
    return changes


def _audit_assign(actor: Any, lead: Lead, *, before: int | None, choice: Choice, extra: dict | None = None) -> None:
    changes = _assign_changes(lead, before=before, choice=choice, extra=extra)
    audit.record(actor=actor, action="lead.assign", target=lead, changes=changes, actor_label=_label(actor))


@transaction.atomic
def lead_create(*, actor: Any, owner: Any = None, **fields: Any) -> Lead:
    """A user's lead (UI or API). Without `owner` the assignment rules choose; when none assigns, the user
    keeps the lead. Another owner than oneself needs the `assign` right."""
    require(actor, "create", Lead)
    if owner is not None:
        if owner.pk != actor.pk:
            require(actor, "assign", Lead)
        _check_owner(actor, owner)
    fallback = actor if eligible(actor, actor.organization_id) else None
    return create_lead(
        organization_id=actor.organization_id, actor=actor, fields=fields, owner=owner, fallback_owner=fallback
    )


# Changing ----------------------------------------------------------------------------------------------------


@transaction.atomic
def lead_update(*, actor: Any, lead: Lead, expected_version: int | None, data: dict[str, Any]) -> Lead:
    """Change fields; refused with VersionConflict when the lead changed since the caller read
    `expected_version`. The owner changes through leads_assign / leads_apply_rules."""
    require(actor, "edit", lead)
    data = dict(data)
    _check_fields(data, LEAD_FIELDS)
    if expected_version is not None and expected_version != lead.version:
        raise VersionConflict()
    if "status" in data:
        _check_status(data["status"], current=lead.status)
    if "source" in data and data["source"] != lead.source:
        check_source(lead.organization_id, data["source"])
    if "custom" in data:
        data["custom"] = custom_fields.clean(
            lead.organization_id, LEAD_TYPE, data["custom"] or {}, partial=True, current=lead.custom
        )
    changes = _set_and_diff(lead, data)
    if not changes:
        return lead
    save_versioned(lead, actor=actor, expected_version=expected_version, fields=_changed_fields(changes))
    audit.record(actor=actor, action="lead.update", target=lead, changes=_audit_custom(changes))
    return lead


@transaction.atomic
def lead_delete(*, actor: Any, lead: Lead, expected_version: int | None = None) -> Lead:
    """Move to the recycle bin (soft delete); `lead_restore` brings it back."""
    require(actor, "delete", lead)
    lead.deleted_at = timezone.now()
    save_versioned(lead, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="lead.delete", target=lead)
    return lead


@transaction.atomic
def leads_delete(*, actor: Any, leads: Iterable[Lead]) -> int:
    """Bulk delete: all or nothing."""
    count = 0
    for lead in leads:
        lead_delete(actor=actor, lead=lead)
        count += 1
    return count


@transaction.atomic
def lead_restore(*, actor: Any, lead: Lead) -> Lead:
    require(actor, "restore", lead)
    if lead.deleted_at is None:
        return lead
    now = timezone.now()
    restored = Lead.objects.filter(pk=lead.pk, version=lead.version, deleted_at__isnull=False).update(
        deleted_at=None, version=lead.version + 1, updated_at=now, updated_by_id=actor.pk
    )
    if restored != 1:
        raise VersionConflict()
    lead.deleted_at, lead.version, lead.updated_at = None, lead.version + 1, now
    audit.record(actor=actor, action="lead.restore", target=lead)
    return lead


# Assigning ---------------------------------------------------------------------------------------------------


def _set_owner(lead: Lead, choice: Choice, *, actor: Any) -> int | None:
    """Give `lead` to choice.owner (one UPDATE, the version bumped so open edit forms notice)."""
    before = lead.owner_id
    now = timezone.now()
    rule = choice.rule if choice.via != "manual" else None
    Lead.objects.filter(pk=lead.pk).update(
        owner=choice.owner,
        assigned_rule=rule,
        assigned_rule_name=rule.name if rule else "",
        assigned_at=now,
        version=F("version") + 1,
        updated_at=now,
        updated_by_id=getattr(actor, "pk", None),
    )
    lead.owner, lead.assigned_rule, lead.assigned_rule_name, lead.assigned_at = (
        choice.owner,
        rule,
        rule.name if rule else "",
        now,
    )
    lead.version, lead.updated_at = lead.version + 1, now
    return before


@transaction.atomic
def leads_assign(*, actor: Any, leads: Iterable[Lead], owner: Any) -> list[Lead]:
    """Give leads to a colleague by hand; all or nothing. The new owner is notified once for the batch."""
    _check_owner(actor, owner)
    moved = []
    choice = Choice(owner, None, "manual")
    for lead in leads:
        require(actor, "assign", lead)
        if lead.owner_id == owner.pk:
            continue
        before = _set_owner(lead, choice, actor=actor)
        _audit_assign(actor, lead, before=before, choice=choice)
        moved.append(lead)
    _notify(owner, moved, actor=actor, choice=choice)
    return moved


@dataclass(frozen=True)
class RuleOutcome:
    lead: Lead
    choice: Choice
    changed: bool


@transaction.atomic
def leads_apply_rules(*, actor: Any, leads: Iterable[Lead]) -> list[RuleOutcome]:
    """Run the assignment rules again for these leads (all or nothing). A lead no rule assigns (and no
    fallback owner takes) keeps its owner."""
    leads = list(leads)
    for lead in leads:
        require(actor, "assign", lead)
    if not leads:
        return []
    assigner = Assigner(actor.organization_id)
    outcomes = []
    received: dict[int, tuple[Any, list[Lead], Choice]] = {}
    for lead in leads:
        choice = assigner.choose(lead)
        rule_id = choice.rule.pk if choice.rule else None
        if choice.owner is None or (choice.owner.pk == lead.owner_id and rule_id == lead.assigned_rule_id):
            outcomes.append(RuleOutcome(lead, choice, False))
            continue
        before = _set_owner(lead, choice, actor=actor)
        _audit_assign(actor, lead, before=before, choice=choice)
        outcomes.append(RuleOutcome(lead, choice, True))
        if before != choice.owner.pk:
            received.setdefault(choice.owner.pk, (choice.owner, [], choice))[1].append(lead)
    assigner.save()
    for owner, owned, choice in received.values():
        _notify(owner, owned, actor=actor, choice=choice if len(owned) == 1 else None)
    return outcomes


def stale_leads(*, organization_id: int, days: int, now: Any = None) -> Any:
    """Open leads that nobody touched (no change, no activity) for `days` days, oldest first."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return (
        Lead.objects.filter(
            organization_id=organization_id,
            deleted_at__isnull=True,
            status__in=Lead.OPEN_STATUSES,
            updated_at__lt=cutoff,
        )
        .filter(Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=cutoff))
        .order_by("updated_at", "pk")
    )


def leads_reassign_stale(*, organization_id: int | None = None, days: int | None = None, now: Any = None) -> int:
    """Re-apply the rules to open leads untouched for N days, giving each to someone other than its current
    owner (the scheduler's daily job, `kehu reassign_leads`, and the button on the rules page). `days`
    defaults to each organisation's setting (0 there: the organisation is skipped). Returns how many leads
    changed hands. Idempotent: a re-assigned lead was just touched, so a second run leaves it alone."""
    from kehu.accounts.models import Organization

    if organization_id is not None:
        organizations = list(Organization.objects.filter(pk=organization_id))
    else:
        with_setting = LeadSettings.objects.filter(reassign_after_days__gt=0).values_list("organization_id", flat=True)
        organizations = list(Organization.objects.filter(pk__in=list(with_setting)))
    moved = 0
    for organization in organizations:
        if not modules.is_enabled(organization, "sales"):
            continue
        wanted = days if days is not None else _reassign_days(organization.pk)
        if not wanted:
            continue
        moved += _reassign_organization(organization.pk, wanted, now=now)
    return moved


def _reassign_days(organization_id: int) -> int:
    found = LeadSettings.objects.filter(organization_id=organization_id).values_list("reassign_after_days", flat=True)
    return next(iter(found), 0)


def _reassign_organization(organization_id: int, days: int, *, now: Any) -> int:
    actor = SystemActor(_("Automatic re-assignment"))
    moved = 0
    ids = list(stale_leads(organization_id=organization_id, days=days, now=now).values_list("pk", flat=True))
    for start in range(0, len(ids), REASSIGN_BATCH):
        batch = ids[start : start + REASSIGN_BATCH]
        with transaction.atomic():
            assigner = Assigner(organization_id)
            received: dict[int, tuple[Any, list[Lead]]] = {}
            leads = Lead.objects.filter(pk__in=batch, organization_id=organization_id).select_related("owner")
            for lead in leads.order_by("updated_at", "pk"):
                choice = assigner.choose(lead, exclude={lead.owner_id} if lead.owner_id else set())
                if choice.owner is None:
                    continue
                before = _set_owner(lead, choice, actor=None)
                logged = Choice(choice.owner, choice.rule, "reassign")
                _audit_assign(actor, lead, before=before, choice=logged, extra={"days": days})
                received.setdefault(choice.owner.pk, (choice.owner, []))[1].append(lead)
                moved += 1
            assigner.save()
            for owner, owned in received.values():
                _notify(owner, owned, actor=actor, choice=None)
    return moved


# Converting -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerMatch:
    """An existing customer that looks like the lead's (the customers' duplicate rules: the same normalised
    phone or email, on the customer or one of its contacts, or the same name). `visible`: the user may open
    it; otherwise only its owner's name is shown. `strong`: phone, email or company name (a person's name
    alone is too common to refuse a new customer for)."""

    customer: Any
    reasons: tuple[str, ...]
    visible: bool
    strong: bool

    @property
    def owner_name(self) -> str:
        return str(self.customer.owner) if self.customer.owner_id else _("the public pool")

    @property
    def reason_labels(self) -> list[str]:
        labels = {
            "phone": _("same phone"),
            "email": _("same email"),
            "name": _("same name"),
            "contact_phone": _("a contact with the same phone"),
            "contact_email": _("a contact with the same email"),
        }
        return [labels[r] for r in self.reasons]


def customer_name_for(lead: Lead) -> str:
    return lead.company or lead.name


def lead_customer_matches_for(*, actor: Any, lead: Lead, limit: int = 10) -> list[CustomerMatch]:
    """Existing customers the lead may already be, visible ones first.

    Searched in the whole organisation, not only the actor's scope: a duplicate check that could not see a
    colleague's customer would let a rep create it twice. Customers outside the actor's scope are returned
    with `visible=False`, and the pages show only who owns them."""
    from kehu.customers.models import Contact, Customer

    if not can(actor, "view", lead):
        raise NotFound()
    org = lead.organization_id
    live = {"organization_id": org, "deleted_at__isnull": True}
    name = customer_name_for(lead)
    q = Q(name=name, **live)
    contact_q = Q()
    if lead.phone_normalized:
        q |= Q(phone_normalized=lead.phone_normalized, **live)
        contact_q |= Q(phone_normalized=lead.phone_normalized, **live)
    if lead.email_normalized:
        q |= Q(email_normalized=lead.email_normalized, **live)
        contact_q |= Q(email_normalized=lead.email_normalized, **live)
    reasons: dict[int, list[str]] = defaultdict(list)
    found: dict[int, Any] = {}
    for customer in Customer.objects.filter(q).select_related("owner__team").order_by()[: limit * 5]:
        found[customer.pk] = customer
        for reason, mine, theirs in (
            ("phone", lead.phone_normalized, customer.phone_normalized),
            ("email", lead.email_normalized, customer.email_normalized),
            ("name", name, customer.name),
        ):
            if mine and mine == theirs:
                reasons[customer.pk].append(reason)
    if contact_q:
        contacts = (
            Contact.objects.filter(contact_q)
            .filter(customer__deleted_at__isnull=True)
            .select_related("customer__owner__team")
            .order_by()[: limit * 5]
        )
        for contact in contacts:
            found.setdefault(contact.customer_id, contact.customer)
            for reason, mine, theirs in (
                ("contact_phone", lead.phone_normalized, contact.phone_normalized),
                ("contact_email", lead.email_normalized, contact.email_normalized),
            ):
                if mine and mine == theirs and reason not in reasons[contact.customer_id]:
                    reasons[contact.customer_id].append(reason)
    matches = []
    for pk, customer in found.items():
        why = tuple(reasons[pk])
        strong = any(r != "name" for r in why) or ("name" in why and bool(lead.company))
        matches.append(CustomerMatch(customer, why, can(actor, "view", customer), strong))
    matches.sort(key=lambda m: (not m.visible, not m.strong, -m.customer.updated_at.timestamp(), m.customer.pk))
    return matches[:limit]


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    customer: Any
    contact: Any
    opportunity: Any
    created_customer: bool
    created_contact: bool


CUSTOMER_SOURCES = {
    Lead.Source.WEB_FORM: "website",
    Lead.Source.REFERRAL: "referral",
    Lead.Source.EXHIBITION: "exhibition",
    Lead.Source.CAMPAIGN: "advertising",
    Lead.Source.OTHER: "other",
}


def _contact_for(actor: Any, customer: Any, lead: Lead) -> tuple[Any, bool]:
    """The customer's contact who is the lead's person (same phone or email, or same name), or a new one."""
    from kehu.customers import services as customer_services
    from kehu.customers.models import Contact

    contacts = Contact.objects.filter(
        organization_id=customer.organization_id, customer=customer, deleted_at__isnull=True
    )
    q = Q(name=lead.name)
    if lead.phone_normalized:
        q |= Q(phone_normalized=lead.phone_normalized)
    if lead.email_normalized:
        q |= Q(email_normalized=lead.email_normalized)
    existing = contacts.filter(q).order_by("-is_primary", "pk").first()
    if existing is not None:
        return existing, False
    has_primary = contacts.filter(is_primary=True).exists()
    contact = customer_services.contact_create(
        actor=actor,
        customer=customer,
        name=lead.name,
        title=lead.title,
        phone=lead.phone,
        email=lead.email,
        is_primary=not has_primary,
    )
    return contact, True


def _duplicate_error(matches: list[CustomerMatch]) -> DuplicateCustomer:
    parts = []
    for match in matches:
        if match.visible:
            parts.append(f"{match.customer.name} ({', '.join(match.reason_labels)})")
        else:
            parts.append(
                _("a customer of %(owner)s you cannot see (%(why)s)")
                % {"owner": match.owner_name, "why": ", ".join(match.reason_labels)}
            )
    message = _("This customer already exists: %(matches)s. Choose the existing customer instead.") % {
        "matches": "; ".join(parts)
    }
    return DuplicateCustomer(message, fields={"customer": [message]})


@transaction.atomic
def lead_convert(
    *,
    actor: Any,
    lead: Lead,
    expected_version: int | None = None,
    customer: Any = None,
    create_opportunity: bool = False,
    opportunity_name: str = "",
    amount: Any = None,
    expected_close_date: Any = None,
) -> Conversion:
    """Turn a qualified lead into a customer and contact (and, if asked, an opportunity).

    With `customer`, the lead joins that existing customer (a public-pool customer is claimed first) and
    its person becomes a contact unless one with the same phone, email or name is there already. Without,
    a new customer is created, refused with `duplicate_customer` (409) when the customers' duplicate rules
    find it exists. The lead keeps links to what it became and its status becomes converted."""
    from kehu.customers import pool
    from kehu.customers import services as customer_services
    from kehu.customers.models import STAGES, Customer
    from kehu.sales import opportunity_services

    require(actor, "edit", lead)
    if lead.status == Lead.Status.CONVERTED:
        raise AlreadyConverted()
    if expected_version is not None and expected_version != lead.version:
        raise VersionConflict()
    if lead.status != Lead.Status.QUALIFIED:
        message = _("Qualify the lead before converting it.")
        raise ValidationFailed(message, fields={"status": [message]})
    if not modules.is_enabled(actor.organization, "customers"):
        raise ModuleNotEnabled(_("Converting a lead needs the customers module."))
    created_customer = False
    if customer is not None:
        if customer.organization_id != lead.organization_id or not can(actor, "view", customer):
            raise NotFound()
        if customer.owner_id is None:  # in the public pool 公海: take it first
            customer = pool.customer_claim(actor=actor, customer=customer)
        require(actor, "edit", customer)
    else:
        strong = [m for m in lead_customer_matches_for(actor=actor, lead=lead) if m.strong]
        if strong:
            raise _duplicate_error(strong)
        owner = lead.owner if lead.owner_id else actor
        if owner.pk != actor.pk and not (can(actor, "assign", Customer) and can(owner, "view", Customer)):
            owner = actor
        fields: dict[str, Any] = {
            "kind": Customer.Kind.COMPANY if lead.company else Customer.Kind.PERSON,
            "name": customer_name_for(lead),
            "industry": lead.industry,
            "province": lead.province,
            "city": lead.city,
            # Prospect, unless the organisation deactivated it (kehu.core.choice_lists): then its first stage.
            "stage": choice_lists.default(lead.organization_id, STAGES, Customer.Stage.PROSPECT),
            "source": CUSTOMER_SOURCES.get(lead.source, ""),
            "notes": lead.notes,
        }
        if not lead.company:  # a person: the customer is reached as the person is
            fields.update(phone=lead.phone, email=lead.email)
        customer, _duplicates = customer_services.customer_create(actor=actor, owner=owner, **fields)
        created_customer = True
    contact, created_contact = _contact_for(actor, customer, lead)
    opportunity = None
    if create_opportunity:
        data: dict[str, Any] = {"name": (opportunity_name or "").strip() or customer.name, "contact": contact}
        if amount is not None:
            data["amount"] = amount
        if expected_close_date is not None:
            data["expected_close_date"] = expected_close_date
        opportunity = opportunity_services.create_opportunity(
            actor=actor, owner=customer.owner or actor, customer=customer, **data
        )
    lead.status = Lead.Status.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_customer, lead.converted_contact, lead.converted_opportunity = customer, contact, opportunity
    save_versioned(
        lead,
        actor=actor,
        expected_version=expected_version,
        fields=["status", "converted_at", "converted_customer", "converted_contact", "converted_opportunity"],
    )
    # The lead's activities (跟进) now also name the customer (contact, opportunity): its timeline shows them.
    from kehu.sales import activity_services

    activity_services.activities_link_converted_lead(
        actor=actor, lead=lead, customer=customer, contact=contact, opportunity=opportunity
    )
    audit.record(
        actor=actor,
        action="lead.convert",
        target=lead,
        changes={
            "status": {"before": Lead.Status.QUALIFIED, "after": Lead.Status.CONVERTED},
            "customer": customer.name,
            "customer_id": customer.pk,
            "created_customer": created_customer,
            "contact": contact.name,
            "contact_id": contact.pk,
            "opportunity": opportunity.name if opportunity else None,
            "opportunity_id": opportunity.pk if opportunity else None,
        },
    )
    return Conversion(lead, customer, contact, opportunity, created_customer, created_contact)


def move_converted_leads(*, actor: Any, survivor: Any, others: list[Any]) -> int:
    """Merging customers (customers/merge.py): leads converted into a merged customer now point at the
    survivor."""
    return Lead.objects.filter(organization_id=survivor.organization_id, converted_customer__in=others).update(
        converted_customer=survivor
    )


# Sources ----------------------------------------------------------------------------------------------------


def _source_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _check_source_row(source: LeadSource) -> None:
    source.label = (source.label or "").strip()
    source.key = (source.key or "").strip().lower()
    if not source.label:
        raise _source_error("label", _("Enter a label."))
    if len(source.label) > 50:
        raise _source_error("label", _("At most %(n)d characters.") % {"n": 50})
    if not SOURCE_KEY_RE.fullmatch(source.key):
        raise _source_error(
            "key", _("Use lower-case letters, digits and underscores, starting with a letter (at most 20).")
        )
    builtin = {key: str(label) for key, label in Lead.Source.choices}
    if source.key in builtin:
        raise _source_error("key", _("This key belongs to a built-in source."))
    if source.label in builtin.values():
        raise _source_error("label", _("A built-in source has this label."))
    others = LeadSource.objects.filter(organization_id=source.organization_id).exclude(pk=source.pk)
    if others.filter(key=source.key).exists():
        raise _source_error("key", _("A source with this key already exists."))
    if others.filter(label=source.label).exists():
        raise _source_error("label", _("A source with this label already exists."))


def _save_source(source: LeadSource) -> None:
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError as exc:  # a concurrent create of the same key or label
        raise _source_error("label", _("A source with this label already exists.")) from exc


@transaction.atomic
def source_create(*, actor: Any, label: str, key: str = "", is_active: bool = True) -> LeadSource:
    """An organisation's own lead source; the key (for the API and imports) is made up when not given."""
    require(actor, "create", LeadSource)
    source = LeadSource(
        organization_id=actor.organization_id,
        label=label,
        key=key or f"s_{secrets.token_hex(4)}",
        is_active=is_active,
    )
    _check_source_row(source)
    last = LeadSource.objects.filter(organization_id=actor.organization_id).aggregate(m=Max("position"))["m"]
    source.position = 0 if last is None else last + 1
    _save_source(source)
    audit.record(
        actor=actor, action="lead_source.create", target=source, changes={"key": source.key, "label": source.label}
    )
    return source


@transaction.atomic
def source_update(*, actor: Any, source: LeadSource, data: dict[str, Any]) -> LeadSource:
    """Rename or (de)activate a source. Its key never changes: leads store it."""
    require(actor, "edit", source)
    _check_fields(data, ("label", "is_active"))
    before = {"label": source.label, "is_active": source.is_active}
    for name, value in data.items():
        setattr(source, name, value)
    _check_source_row(source)
    changes = audit.diff(before, {"label": source.label, "is_active": source.is_active})
    if changes:
        _save_source(source)
        audit.record(actor=actor, action="lead_source.update", target=source, changes=changes)
    return source


@transaction.atomic
def source_delete(*, actor: Any, source: LeadSource) -> None:
    """Remove a source no lead or web form uses; one in use is deactivated instead (its leads keep it)."""
    from kehu.sales.lead_models import WebForm

    require(actor, "delete", source)
    org = source.organization_id
    if (
        Lead.objects.filter(organization_id=org, source=source.key).exists()
        or WebForm.objects.filter(organization_id=org, source=source.key).exists()
    ):
        raise _source_error("key", _("Leads or web forms use this source; deactivate it instead."))
    audit.record(actor=actor, action="lead_source.delete", target=source, changes={"key": source.key})
    source.delete()
