"""Automatic assignment 自动分配: the rule engine, and the services that change the rules and settings.

A lead from any channel (web form, import, API, a user's form without an owner) goes through the
organisation's active rules in order. A rule matches when ALL its conditions match (no conditions: every
lead); its action then picks an owner among the eligible people (active, with `view` in sales, under the
rule's cap of open leads). A rule whose action finds nobody passes the lead on to the next rule. When no
rule assigns, the organisation's fallback owner (LeadSettings) gets it; without one the caller decides
(the person who entered the lead keeps it; a web form's lead stays unassigned, in the lists of the
roles that see the whole organisation, until someone assigns it).

Conditions: [{"field": f, "op": op, "value": v}] where f is a lead field (source, province, city, region =
province or city, industry, company, name, title, email, phone, score, notes) or "custom.<key>", and op
is "equals", "contains" or "in" (v then a list). Text compares case-insensitively; provinces and cities
also without their 省/市/自治区 suffix, so "广东" matches "广东省".

One `Assigner` takes the organisation's active rules from the cache (`active_rules`: read once per change
of the rules, see there) and evaluates leads in Python; only the chosen rule's action touches the database
(its team's members, the reps' open-lead counters (lead_loads.py), the round-robin cursor), so a lead
creation with twenty rules costs a handful of queries. Imports use one Assigner per chunk.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Subquery
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, custom_fields
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.sales import lead_loads
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSettings

MAX_CONDITIONS = 20
MAX_VALUES = 200
VALUE_MAX_LENGTH = 200
MAX_CAP = 100_000
RULE_FIELDS = ("name", "is_active", "conditions", "action", "team", "user", "cap")
SETTINGS_FIELDS = ("default_owner", "reassign_after_days")

CONDITION_FIELDS = {
    "source": gettext_lazy("Source"),
    "region": gettext_lazy("Region (province or city)"),
    "province": gettext_lazy("Province"),
    "city": gettext_lazy("City"),
    "industry": gettext_lazy("Industry"),
    "company": gettext_lazy("Company"),
    "name": gettext_lazy("Name"),
    "title": gettext_lazy("Job title"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "score": gettext_lazy("Score"),
    "notes": gettext_lazy("Notes"),
}
OPERATORS = {
    "equals": gettext_lazy("equals"),
    "contains": gettext_lazy("contains"),
    "in": gettext_lazy("is one of"),
}
REGION_FIELDS = ("region", "province", "city")
# Longest first: "广西壮族自治区" loses "壮族自治区", not only "区".
REGION_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "地区", "省", "市")
SPLIT_RE = re.compile(r"[,，、;；\n]+")


# Conditions ----------------------------------------------------------------------------------------------


def _key(value: Any) -> str:
    return str(value).strip().casefold()


def _region_key(value: Any) -> str:
    text = _key(value)
    for suffix in REGION_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def _normaliser(field: str) -> Any:
    if field in REGION_FIELDS:
        return _region_key
    if field == "phone":
        return _digits
    return _key


def lead_values(lead: Lead, field: str) -> list[str]:
    """The lead's values of a condition field, normalised as the rule's values are (empty ones left out)."""
    if field == "region":
        raw: list[Any] = [lead.province, lead.city]
    elif field == "phone":
        raw = [lead.phone_normalized or lead.phone]
    elif field.startswith("custom."):
        value = (lead.custom or {}).get(field.removeprefix("custom."))
        raw = value if isinstance(value, list) else [value]
    else:
        raw = [getattr(lead, field, "")]
    normalise = _normaliser(field)
    return [text for text in (normalise(v) for v in raw if v not in (None, "")) if text]


def condition_matches(lead: Lead, condition: dict[str, Any]) -> bool:
    field, op, value = condition["field"], condition["op"], condition["value"]
    normalise = _normaliser(field)
    values = lead_values(lead, field)
    if op == "in":
        wanted = {normalise(v) for v in value}
        return any(v in wanted for v in values)
    target = normalise(value)
    if op == "contains":
        return bool(target) and any(target in v for v in values)
    return any(v == target for v in values)


def rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    return all(condition_matches(lead, condition) for condition in rule.conditions or [])


def _condition_error(index: int, message: str) -> ValidationFailed:
    text = _("Condition %(n)d: %(message)s") % {"n": index + 1, "message": message}
    return ValidationFailed(text, fields={"conditions": [text]})


def clean_conditions(organization_id: int, conditions: Any) -> list[dict[str, Any]]:
    """The conditions as stored ([{"field", "op", "value"}]), or ValidationFailed naming the bad one."""
    if conditions in (None, ""):
        return []
    if not isinstance(conditions, list | tuple):
        message = _("Conditions must be a list of {field, op, value}.")
        raise ValidationFailed(message, fields={"conditions": [message]})
    if len(conditions) > MAX_CONDITIONS:
        message = _("A rule has at most %(n)d conditions.") % {"n": MAX_CONDITIONS}
        raise ValidationFailed(message, fields={"conditions": [message]})
    custom_keys = {d.key for d in custom_fields.definitions_for(organization_id, "sales.lead")}
    cleaned = []
    for index, condition in enumerate(conditions):
        if not isinstance(condition, dict):
            raise _condition_error(index, _("Give a field, an operator and a value."))
        field = str(condition.get("field") or "").strip()
        op = str(condition.get("op") or "").strip()
        value = condition.get("value")
        if field not in CONDITION_FIELDS and not (
            field.startswith("custom.") and field.removeprefix("custom.") in custom_keys
        ):
            raise _condition_error(index, _("Unknown field %(field)s.") % {"field": field or "—"})
        if op not in OPERATORS:
            raise _condition_error(index, _("Choose equals, contains or in."))
        if op == "in":
            if isinstance(value, str):
                value = SPLIT_RE.split(value)
            if not isinstance(value, list | tuple):
                raise _condition_error(index, _("Give a list of values."))
            value = [str(v).strip() for v in value if str(v).strip()]
            if not value:
                raise _condition_error(index, _("Give at least one value."))
            if len(value) > MAX_VALUES or any(len(v) > VALUE_MAX_LENGTH for v in value):
                raise _condition_error(
                    index, _("At most %(n)d values of %(m)d characters.") % {"n": MAX_VALUES, "m": VALUE_MAX_LENGTH}
                )
            value = list(dict.fromkeys(value))
        else:
            if isinstance(value, list | tuple | dict) or value is None:
                raise _condition_error(index, _("Give one value."))
            value = str(value).strip()
            if not value:
                raise _condition_error(index, _("Give a value."))
            if len(value) > VALUE_MAX_LENGTH:
                raise _condition_error(index, _("At most %(m)d characters.") % {"m": VALUE_MAX_LENGTH})
        cleaned.append({"field": field, "op": op, "value": value})
    return cleaned


def condition_text(condition: dict[str, Any]) -> str:
    """A condition as people read it: 省份 是其中之一 广东, 广西."""
    field = condition.get("field", "")
    label = CONDITION_FIELDS.get(field) or field.removeprefix("custom.")
    value = condition.get("value")
    shown = ", ".join(value) if isinstance(value, list) else str(value)
    return f"{label} {OPERATORS.get(condition.get('op', ''), '')} {shown}"


# The rules, cached ---------------------------------------------------------------------------------------------

# Entries also expire, for changes that bypass the services and the model's signals (a queryset update).
RULES_SECONDS = 600
_local = threading.local()


def _rules_key(organization_id: int) -> str:
    return f"kehu:sales:assignment-rules:{organization_id}"


def _version_key(organization_id: int) -> str:
    return f"kehu:sales:assignment-rules-version:{organization_id}"


def _changing() -> set[int]:
    """Organisations whose rules this thread changed in a transaction not committed yet."""
    if not hasattr(_local, "changing"):
        _local.changing = set()
    return _local.changing


def rules_changed(organization_id: int) -> None:
    """The organisation's rules changed (call inside the change's transaction). Until the commit this thread
    reads them from the database, and caches nothing (a rollback would leave the cache wrong); every other
    process still reads the committed rules. The commit gives the organisation a new version: every process
    (Redis in production) then reads the rules again."""
    if transaction.get_connection().in_atomic_block:
        _changing().add(organization_id)

    def committed() -> None:
        _changing().discard(organization_id)
        cache.set(_version_key(organization_id), time.time_ns(), None)

    transaction.on_commit(committed)


def _read_rules(organization_id: int) -> list[AssignmentRule]:
    # The rules' own rows, no related objects: the team's members, the named user and their role are read
    # when a rule is chosen, so that a change to users, teams or roles (which the rule services never see)
    # counts at once, as it did when the rules were read for every lead.
    return list(
        AssignmentRule.objects.filter(organization_id=organization_id, is_active=True).order_by("position", "id")
    )


def active_rules(organization_id: int) -> list[AssignmentRule]:
    """The organisation's active rules in order: from the cache when they have not changed since it was
    filled (one cache read for the version and the rules), else one query. Lead creation read them for every
    lead."""
    if organization_id in _changing():
        if transaction.get_connection().in_atomic_block:
            return _read_rules(organization_id)
        _changing().discard(organization_id)  # that transaction was rolled back: nothing to hide any more
    version_key, rules_key = _version_key(organization_id), _rules_key(organization_id)
    found = cache.get_many([version_key, rules_key])
    version = found.get(version_key)
    if version is None:
        cache.add(version_key, time.time_ns(), None)
        version = cache.get(version_key, 0)
    cached = found.get(rules_key)
    if cached is not None and cached[0] == version:
        return list(cached[1])
    # The version read before the rules: a change committed meanwhile has a newer one, so what is stored
    # here is never taken for the changed rules.
    rules = _read_rules(organization_id)
    cache.set(rules_key, (version, rules), RULES_SECONDS)
    return rules


def _rule_saved_or_deleted(sender: Any, instance: AssignmentRule, **kwargs: Any) -> None:
    # Saves and deletes outside the rule services too (the organisation's deletion cascading, tests' data).
    rules_changed(instance.organization_id)


post_save.connect(_rule_saved_or_deleted, sender=AssignmentRule, dispatch_uid="kehu-assignment-rules-saved")
post_delete.connect(_rule_saved_or_deleted, sender=AssignmentRule, dispatch_uid="kehu-assignment-rules-deleted")


# The engine ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """Who gets a lead and why: via "rule" (`rule` says which), "default" (the fallback owner) or "none"."""

    owner: Any
    rule: AssignmentRule | None
    via: str


NOBODY = Choice(None, None, "none")


def eligible(user: Any, organization_id: int) -> bool:
    """May `user` own leads of the organisation: an active member with `view` in sales."""
    return user is not None and user.is_active and user.organization_id == organization_id and can(user, "view", Lead)


class Assigner:
    """Evaluates the organisation's rules for one lead or for a batch (an import chunk). Call `save()` after
    the leads are written: it stores the round-robin cursors the choices moved."""

    def __init__(self, organization_id: int, *, one_lead: bool = False) -> None:
        self.organization_id = organization_id
        self.rules = active_rules(organization_id)
        # A batch counts each chosen owner's open leads, so that its later choices (caps, least loaded) see
        # the batch's own leads. For `one_lead` (a user's or a web form's lead) nothing reads them after the
        # choice: counting the owner's ~10,000 open leads would be a query for nothing.
        self.needs_loads = not one_lead and any(
            r.cap or r.action == AssignmentRule.Action.LEAST_LOADED for r in self.rules
        )
        self._settings: LeadSettings | None = None
        self._members: dict[int, list[Any]] = {}
        self._users: dict[int, Any] = {}
        self._loads: dict[int, int] = {}
        self._cursors: dict[int, int | None] = {}
        self._moved: set[int] = set()

    # Lookups, each at most once per Assigner ------------------------------------------------------------

    @property
    def settings(self) -> LeadSettings:
        if self._settings is None:
            from kehu.sales.lead_selectors import lead_settings_for

            self._settings = lead_settings_for(organization_id=self.organization_id)
        return self._settings

    def members(self, team_id: int) -> list[Any]:
        """The eligible members of the team and its sub-teams, in a stable order (by id). One query, the
        team's path read in it (a team moved since the rules were cached counts where it is now)."""
        if team_id not in self._members:
            from kehu.accounts.models import Team, User

            path = Team.objects.filter(pk=team_id, organization_id=self.organization_id).values("path")[:1]
            users = (
                User.objects.filter(
                    organization_id=self.organization_id, is_active=True, team__path__startswith=Subquery(path)
                )
                .select_related("role", "organization")
                .order_by("pk")
            )
            self._members[team_id] = [u for u in users if eligible(u, self.organization_id)]
        return self._members[team_id]

    def user(self, user_id: int) -> Any:
        """A rule's named user as they are now (active, role), or None when gone."""
        if user_id not in self._users:
            from kehu.accounts.models import User

            self._users[user_id] = (
                User.objects.filter(pk=user_id, organization_id=self.organization_id)
                .select_related("role", "organization")
                .first()
            )
        return self._users[user_id]

    def loads(self, users: list[Any]) -> dict[int, int]:
        """Open leads held by each of `users`: one small query of the counters the database keeps
        (lead_loads.py) for the ones not read yet."""
        missing = [u.pk for u in users if u.pk not in self._loads]
        if missing:
            self._loads.update(lead_loads.open_leads(self.organization_id, missing))
        return {u.pk: self._loads[u.pk] for u in users}

    def _cursor(self, rule: AssignmentRule) -> int | None:
        if rule.pk not in self._cursors:
            # Locked until the caller's transaction ends: two leads arriving at once take turns.
            locked = (
                AssignmentRule.objects.select_for_update().filter(pk=rule.pk).values_list("last_assigned_id", flat=True)
            )
            self._cursors[rule.pk] = next(iter(locked), None)
        return self._cursors[rule.pk]

    # Choosing ---------------------------------------------------------------------------------------------

    def _under_cap(self, rule: AssignmentRule, users: list[Any]) -> list[Any]:
        if not rule.cap:
            return users
        loads = self.loads(users)
        return [u for u in users if loads[u.pk] < rule.cap]

    def _pick(self, rule: AssignmentRule, exclude: set[int]) -> Any:
        action = rule.action
        if action == AssignmentRule.Action.USER:
            user = self.user(rule.user_id) if rule.user_id else None
            if user is None or user.pk in exclude or not eligible(user, self.organization_id):
                return None
            return user if self._under_cap(rule, [user]) else None
        if rule.team_id is None:
            return None
        candidates = [u for u in self.members(rule.team_id) if u.pk not in exclude]
        candidates = self._under_cap(rule, candidates)
        if not candidates:
            return None
        if action == AssignmentRule.Action.LEAST_LOADED:
            loads = self.loads(candidates)
            return min(candidates, key=lambda u: (loads[u.pk], u.pk))
        # Round-robin: the first member after the one who got the last lead (by id, wrapping around).
        cursor = self._cursor(rule)
        after = [u for u in candidates if cursor is not None and u.pk > cursor]
        chosen = (after or candidates)[0]
        self._cursors[rule.pk] = chosen.pk
        self._moved.add(rule.pk)
        return chosen

    def choose(self, lead: Lead, *, exclude: set[int] | frozenset[int] = frozenset()) -> Choice:
        """The owner the rules give `lead` (never one of `exclude`), counted as holding one more open lead."""
        exclude = set(exclude)
        for rule in self.rules:
            if not rule_matches(rule, lead):
                continue
            owner = self._pick(rule, exclude)
            if owner is not None:
                self._count(owner)
                return Choice(owner, rule, "rule")
        fallback = self.settings.default_owner if self.settings.default_owner_id else None
        if fallback is not None and fallback.pk not in exclude and eligible(fallback, self.organization_id):
            self._count(fallback)
            return Choice(fallback, None, "default")
        return NOBODY

    def _count(self, owner: Any) -> None:
        if self.needs_loads:
            self.loads([owner])
            self._loads[owner.pk] += 1

    def save(self) -> None:
        """Store the round-robin cursors the choices moved (once per rule)."""
        for pk in self._moved:
            AssignmentRule.objects.filter(pk=pk).update(last_assigned_id=self._cursors[pk])
        self._moved.clear()


# Rules: services ----------------------------------------------------------------------------------------------


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _check_rule(actor: Any, rule: AssignmentRule) -> None:
    rule.name = (rule.name or "").strip()
    if not rule.name:
        raise _fail("name", _("Enter a name."))
    if len(rule.name) > 100:
        raise _fail("name", _("At most %(n)d characters.") % {"n": 100})
    if rule.action not in AssignmentRule.Action.values:
        raise _fail("action", _("Choose round-robin, least loaded or a named user."))
    if not isinstance(rule.cap, int) or isinstance(rule.cap, bool) or not 0 <= rule.cap <= MAX_CAP:
        raise _fail("cap", _("Enter a whole number from 0 to %(n)d.") % {"n": MAX_CAP})
    rule.conditions = clean_conditions(actor.organization_id, rule.conditions)
    if rule.action == AssignmentRule.Action.USER:
        if rule.user is None or not eligible(rule.user, actor.organization_id):
            raise _fail("user", _("Choose an active colleague who has access to sales."))
        rule.team = None
    else:
        if rule.team is None or rule.team.organization_id != actor.organization_id:
            raise _fail("team", _("Choose a team of your organisation."))
        rule.user = None


def _recorded(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "is_active": rule.is_active,
        "conditions": rule.conditions,
        "action": rule.action,
        "team": rule.team_id,
        "user": rule.user_id,
        "cap": rule.cap,
        "position": rule.position,
    }


def _check_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={name: [_("This field cannot be set here.")] for name in unknown},
        )


@transaction.atomic
def rule_create(*, actor: Any, **data: Any) -> AssignmentRule:
    """A new rule at the end of the list (a catch-all rule belongs there)."""
    require(actor, "create", AssignmentRule)
    _check_fields(data, RULE_FIELDS)
    rule = AssignmentRule(organization_id=actor.organization_id, **data)
    _check_rule(actor, rule)
    last = AssignmentRule.objects.filter(organization_id=actor.organization_id).aggregate(m=Max("position"))["m"]
    rule.position = 0 if last is None else last + 1
    rule.save()
    audit.record(actor=actor, action="assignment_rule.create", target=rule, changes=_recorded(rule))
    return rule


@transaction.atomic
def rule_update(
    *, actor: Any, rule: AssignmentRule, expected_version: int | None, data: dict[str, Any]
) -> AssignmentRule:
    require(actor, "edit", rule)
    _check_fields(data, RULE_FIELDS)
    if expected_version is not None and expected_version != rule.version:
        raise VersionConflict()
    before = _recorded(rule)
    for name, value in data.items():
        setattr(rule, name, value)
    _check_rule(actor, rule)
    changes = audit.diff(before, _recorded(rule))
    if not changes:
        return rule
    now = timezone.now()
    updated = AssignmentRule.objects.filter(pk=rule.pk, version=rule.version).update(
        name=rule.name,
        is_active=rule.is_active,
        conditions=rule.conditions,
        action=rule.action,
        team=rule.team,
        user=rule.user,
        cap=rule.cap,
        version=rule.version + 1,
        updated_at=now,
    )
    if updated != 1:
        raise VersionConflict()
    rule.version, rule.updated_at = rule.version + 1, now
    rules_changed(actor.organization_id)  # a queryset update: no post_save signal
    audit.record(actor=actor, action="assignment_rule.update", target=rule, changes=changes)
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: AssignmentRule) -> None:
    """Rules are configuration: deleting one is for good (audited). Leads it assigned keep its name."""
    require(actor, "delete", rule)
    audit.record(actor=actor, action="assignment_rule.delete", target=rule, changes=_recorded(rule))
    rule.delete()


@transaction.atomic
def rule_move(*, actor: Any, rule: AssignmentRule, position: int) -> AssignmentRule:
    """Put the rule at `position` (0 = first) and number the organisation's rules 0, 1, 2, ... again."""
    require(actor, "edit", rule)
    rules = list(
        AssignmentRule.objects.select_for_update()
        .filter(organization_id=actor.organization_id)
        .order_by("position", "id")
    )
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    target = max(0, min(int(position), len(rules) - 1))
    if target == index:
        return rule
    rules.insert(target, rules.pop(index))
    for number, item in enumerate(rules):
        if item.position != number:
            AssignmentRule.objects.filter(pk=item.pk).update(position=number)
    rules_changed(actor.organization_id)  # queryset updates: no post_save signal
    audit.record(
        actor=actor,
        action="assignment_rule.move",
        target=rule,
        changes={"position": {"before": index, "after": target}},
    )
    rule.position = target
    return rule


@transaction.atomic
def lead_settings_update(*, actor: Any, expected_version: int | None, data: dict[str, Any]) -> LeadSettings:
    """The fallback owner and the re-assignment of untouched leads (one row per organisation)."""
    require(actor, "edit", LeadSettings)
    _check_fields(data, SETTINGS_FIELDS)
    settings, _created = LeadSettings.objects.select_for_update().get_or_create(organization_id=actor.organization_id)
    if expected_version is not None and expected_version != settings.version:
        raise VersionConflict()
    owner = data.get("default_owner", settings.default_owner)
    if owner is not None and not eligible(owner, actor.organization_id):
        raise _fail("default_owner", _("Choose an active colleague who has access to sales."))
    days = data.get("reassign_after_days", settings.reassign_after_days)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
        raise _fail("reassign_after_days", _("Enter a number of days from 0 to 3650."))
    before = {"default_owner": settings.default_owner_id, "reassign_after_days": settings.reassign_after_days}
    settings.default_owner, settings.reassign_after_days = owner, days
    after = {"default_owner": settings.default_owner_id, "reassign_after_days": settings.reassign_after_days}
    changes = audit.diff(before, after)
    if changes:
        settings.version += 1
        settings.updated_at = timezone.now()
        settings.save()
        audit.record(actor=actor, action="lead_settings.update", target=settings, changes=changes)
    return settings
