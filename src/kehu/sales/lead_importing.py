"""Importing leads: the leads adapter of the import engine (kehu/core/imports.py).

Each chunk is checked in Python (the model's own normalisation of phones and emails), matched against the
leads the importing user may see by normalised phone or email (one query per chunk), and new leads are
written with one multi-row INSERT. Every new lead without an owner column goes through the assignment
rules (one Assigner per chunk, so caps and round-robin count the chunk's own leads); when no rule assigns
it, the importing user keeps it. Besides the engine's one audit entry per chunk, one more entry per chunk
summarises who received how many leads by which rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, imports
from kehu.core.imports import FieldSpec, ImportAdapter, PendingRow, RowResult
from kehu.core.permissions import can
from kehu.customers.normalize import normalize_email, normalize_phone
from kehu.sales.lead_assignment import Assigner, eligible
from kehu.sales.lead_models import Lead
from kehu.sales.lead_selectors import owner_choices_for, source_choices
from kehu.sales.lead_services import _notify

Outcome = imports.Outcome
TEXT_FIELDS = ("name", "company", "title", "industry", "province", "city", "notes")
UPDATABLE = (*TEXT_FIELDS, "source", "status", "score", "phone", "email")


def _key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", value).strip().lower())


STATUS_WORDS = {
    _key(word): value
    for value, words in {
        "new": ("new", "open", "新", "新线索", "未处理", "待跟进"),
        "contacted": ("contacted", "working", "已联系", "跟进中", "联系中", "attempted to contact"),
        "qualified": ("qualified", "合格", "有效", "已确认", "sales qualified"),
        "unqualified": ("unqualified", "disqualified", "junk", "无效", "不合格", "作废"),
    }.items()
    for word in (value, *words)
}
SOURCE_WORDS = {
    _key(word): value
    for value, words in {
        "web_form": ("web", "website", "web form", "webform", "官网", "网站", "网页表单", "表单", "online"),
        "import": ("import", "导入", "purchased list"),
        "api": ("api", "接口"),
        "campaign": ("campaign", "marketing", "email", "活动", "营销", "市场活动", "广告"),
        "referral": ("referral", "partner referral", "word of mouth", "转介绍", "推荐", "介绍"),
        "exhibition": ("trade show", "tradeshow", "exhibition", "seminar", "event", "展会", "会议"),
        "other": ("other", "其他", "其它"),
    }.items()
    for word in (value, *words)
}


class LeadImportAdapter(ImportAdapter):
    key = "sales.lead"
    model = Lead
    label = gettext_lazy("Leads")
    fields = (
        FieldSpec(
            "name",
            gettext_lazy("Name"),
            ("姓名", "联系人", "联系人姓名", "名字", "线索名称", "name", "full name", "contact", "lead name"),
            required=True,
        ),
        FieldSpec("company", gettext_lazy("Company"), ("公司", "公司名称", "单位", "企业名称", "company", "account")),
        FieldSpec("title", gettext_lazy("Job title"), ("职位", "职务", "头衔", "title", "job title", "position")),
        FieldSpec(
            "phone",
            gettext_lazy("Phone"),
            ("电话", "手机", "手机号", "手机号码", "联系电话", "phone", "mobile", "tel", "telephone", "phone number"),
        ),
        FieldSpec("email", gettext_lazy("Email"), ("邮箱", "电子邮箱", "电子邮件", "email", "e-mail", "mail")),
        FieldSpec("source", gettext_lazy("Source"), ("来源", "线索来源", "source", "lead source", "channel")),
        FieldSpec("status", gettext_lazy("Status"), ("状态", "线索状态", "status", "lead status")),
        FieldSpec("score", gettext_lazy("Score"), ("评分", "分数", "score", "lead score", "rating")),
        FieldSpec("industry", gettext_lazy("Industry"), ("行业", "所属行业", "industry")),
        FieldSpec("province", gettext_lazy("Province"), ("省份", "省", "province", "state", "state/province")),
        FieldSpec("city", gettext_lazy("City"), ("城市", "市", "city")),
        FieldSpec("notes", gettext_lazy("Notes"), ("备注", "说明", "描述", "notes", "description", "remarks")),
        FieldSpec(
            "owner",
            gettext_lazy("Owner (email or name)"),
            ("负责人", "所有者", "归属人", "销售", "跟进人", "owner", "lead owner", "sales rep"),
        ),
    )

    def begin(self, *, actor: Any, job: Any, dry_run: bool) -> dict[str, Any]:
        owners: dict[str, Any] = {}
        for user in owner_choices_for(actor=actor):
            owners.setdefault(user.email.lower(), user)
            if user.name:
                owners.setdefault(user.name.strip().lower(), user)
        sources = dict(SOURCE_WORDS)
        for key, label in source_choices(actor.organization_id):
            sources[_key(key)] = key
            sources[_key(str(label))] = key
        return {
            "owners": owners,
            "sources": sources,
            "can_assign": can(actor, "assign", Lead),
            "keeps": eligible(actor, actor.organization_id),
            "lengths": {name: Lead._meta.get_field(name).max_length for name in TEXT_FIELDS},
            "keys": {},  # ("phone"|"email", value) -> a lead id, or a new lead of this run (dict)
        }

    def clean_row(self, actor: Any, values: dict[str, str], state: dict[str, Any]) -> tuple[dict, dict]:
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in TEXT_FIELDS:
            value = values.get(name, "").strip()
            if not value:
                continue
            limit = state["lengths"][name]
            if limit and len(value) > limit:
                errors[name] = _("At most %(max)d characters (this has %(n)d).") % {"max": limit, "n": len(value)}
            clean[name] = value
        if not clean.get("name"):
            errors["name"] = _("A lead needs a name.")
        for name, normalise, target in (
            ("phone", normalize_phone, "phone_normalized"),
            ("email", normalize_email, "email_normalized"),
        ):
            value = values.get(name, "").strip()
            if value:
                try:
                    clean[target] = normalise(value)
                    clean[name] = value
                except ValidationError as exc:
                    errors[name] = " ".join(exc.messages)
        source = values.get("source", "").strip()
        if source:
            found = state["sources"].get(_key(source))
            if found is None:
                errors["source"] = _("Unknown source %(value)s.") % {"value": source}
            else:
                clean["source"] = found
        status = values.get("status", "").strip()
        if status:
            found = STATUS_WORDS.get(_key(status))
            if found is None:
                errors["status"] = _("Unknown status %(value)s; use new, contacted, qualified or unqualified.") % {
                    "value": status
                }
            else:
                clean["status"] = found
        score = values.get("score", "").strip()
        if score:
            try:
                number = int(float(score))
            except ValueError:
                number = -1
            if not 0 <= number <= 32767:
                errors["score"] = _("Enter a whole number from 0 to 32767.")
            else:
                clean["score"] = number
        owner_text = values.get("owner", "").strip()
        if owner_text:
            owner = state["owners"].get(owner_text.lower())
            if owner is None:
                errors["owner"] = _("No active colleague with this email or name.")
            elif owner.pk != actor.pk and not state["can_assign"]:
                errors["owner"] = _("You may not make a colleague the owner of a lead.")
            else:
                clean["owner"] = owner
        return clean, errors

    @staticmethod
    def match_keys(clean: dict[str, Any]) -> list[tuple[str, str]]:
        keys = []
        if clean.get("phone_normalized"):
            keys.append(("phone", clean["phone_normalized"]))
        if clean.get("email_normalized"):
            keys.append(("email", clean["email_normalized"]))
        return keys

    def _existing(self, actor: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Lead]:
        """ONE query for the chunk: visible leads sharing a normalised phone or email."""
        phones = {v for k, v in keys if k == "phone"}
        emails = {v for k, v in keys if k == "email"}
        q = Q()
        if phones:
            q |= Q(imports.any_of("phone_normalized", phones))
        if emails:
            q |= Q(imports.any_of("email_normalized", emails))
        if not q:
            return {}
        found: dict[tuple[str, str], Lead] = {}
        for lead in Lead.objects.visible_to(actor).filter(q).select_related("owner__team").order_by("pk"):
            for key in (("phone", lead.phone_normalized), ("email", lead.email_normalized)):
                if key[1] and key in keys:
                    found.setdefault(key, lead)
        return found

    def prepare(self, *, actor: Any, job: Any, rows: list[PendingRow], state: dict[str, Any]) -> None:
        """Each row's check, ahead of its chunk (in the engine's worker thread; it reads only `state`)."""
        for row in rows:
            row.prepared = self.clean_row(actor, row.values, state)

    def process_chunk(
        self, *, actor: Any, job: Any, rows: list[PendingRow], state: dict[str, Any], dry_run: bool
    ) -> list[RowResult]:
        cleaned = [row.prepared or self.clean_row(actor, row.values, state) for row in rows]
        wanted = {key for clean, errors in cleaned if not errors for key in self.match_keys(clean)}
        existing = self._existing(actor, wanted - set(state["keys"]))
        results: list[RowResult] = []
        creates: list[tuple[int, dict[str, Any]]] = []
        updates: dict[int, Lead] = {}
        update_fields: set[str] = set()
        now = timezone.now()
        for clean, errors in cleaned:
            if errors:
                results.append(RowResult(Outcome.ERROR, errors=errors))
                continue
            keys = self.match_keys(clean)
            match = None
            if job.policy != "create":
                for key in keys:
                    match = state["keys"].get(key) or existing.get(key)
                    if match is not None:
                        break
            if match is None:
                values = self._values(actor, clean, now)
                results.append(RowResult(Outcome.CREATED))
                creates.append((len(results) - 1, values))
                for key in keys:
                    state["keys"].setdefault(key, values)
                continue
            if job.policy == "skip":
                record = match.pk if isinstance(match, Lead) else None
                results.append(RowResult(Outcome.SKIPPED, record_id=record, message=_("Matches an existing lead.")))
                continue
            if isinstance(match, dict):  # a lead this file creates: fold the row into it
                match.update({k: v for k, v in self._values(actor, clean, now).items() if k in clean})
                results.append(RowResult(Outcome.UPDATED))
                continue
            if not can(actor, "edit", match):
                results.append(RowResult(Outcome.ERROR, errors={"name": _("Matches a lead you may not change.")}))
                continue
            changed = self._apply(match, clean)
            if changed:
                if match.pk not in updates:
                    match.version += 1
                match.updated_at, match.updated_by_id = now, actor.pk
                updates[match.pk] = match
                update_fields.update(changed)
                results.append(RowResult(Outcome.UPDATED, record_id=match.pk))
            else:
                results.append(RowResult(Outcome.SKIPPED, record_id=match.pk, message=_("No changes.")))
        if dry_run:
            state["keys"] = {}
            return results
        self._write(actor, job, creates, updates, update_fields, results, state)
        state["keys"] = {}
        return results

    @staticmethod
    def _values(actor: Any, clean: dict[str, Any], now: Any) -> dict[str, Any]:
        values = {name: clean[name] for name in UPDATABLE if name in clean}
        for derived in ("phone_normalized", "email_normalized"):
            if derived in clean:
                values[derived] = clean[derived]
        values.setdefault("source", Lead.Source.IMPORT)
        if clean.get("owner") is not None:
            values["owner_id"] = clean["owner"].pk
        values.update(
            organization_id=actor.organization_id,
            created_by_id=actor.pk,
            updated_by_id=actor.pk,
            created_at=now,
            updated_at=now,
        )
        return values

    @staticmethod
    def _apply(lead: Lead, clean: dict[str, Any]) -> list[str]:
        """Fill in what the row has (an empty cell never erases a value); the names of changed columns."""
        changed = []
        for name in UPDATABLE:
            if name in clean and getattr(lead, name) != clean[name]:
                if name == "status" and lead.status == Lead.Status.CONVERTED:
                    continue
                setattr(lead, name, clean[name])
                changed.append(name)
                derived = {"phone": "phone_normalized", "email": "email_normalized"}.get(name)
                if derived:
                    setattr(lead, derived, clean[derived])
                    changed.append(derived)
        owner = clean.get("owner")
        if owner is not None and owner.pk != lead.owner_id:
            lead.owner = owner
            changed += ["owner", "assigned_rule", "assigned_rule_name"]
            lead.assigned_rule, lead.assigned_rule_name = None, ""
        return changed

    def _write(
        self,
        actor: Any,
        job: Any,
        creates: list[tuple[int, dict[str, Any]]],
        updates: dict[int, Lead],
        update_fields: set[str],
        results: list[RowResult],
        state: dict[str, Any],
    ) -> None:
        # Leads without an owner column: the assignment rules, in the file's order.
        assigner = Assigner(actor.organization_id)
        received: Counter = Counter()
        by_rule: Counter = Counter()
        owners: dict[int, Any] = {}
        owned: dict[int, list[Lead]] = {}
        for _index, values in creates:
            if "owner_id" in values:
                continue
            probe = Lead(**{k: v for k, v in values.items() if k not in ("owner_id",)})
            choice = assigner.choose(probe)
            if choice.owner is not None:
                values["owner_id"] = choice.owner.pk
                values["assigned_rule_id"] = choice.rule.pk if choice.rule else None
                values["assigned_rule_name"] = choice.rule.name if choice.rule else ""
                values["assigned_at"] = values["created_at"]
                received[choice.owner.pk] += 1
                by_rule[choice.rule.name if choice.rule else _("fallback owner")] += 1
                owners[choice.owner.pk] = choice.owner
            elif state["keeps"]:
                values["owner_id"] = actor.pk
        ids = imports.insert_rows(Lead, [values for _index, values in creates], returning=True)
        for (index, values), pk in zip(creates, ids, strict=True):
            results[index].record_id = pk
            owner_id = values.get("owner_id")
            if owner_id in owners:
                owned.setdefault(owner_id, []).append(
                    Lead(pk=pk, name=values["name"], company=values.get("company", ""))
                )
        assigner.save()
        if updates:
            Lead.objects.bulk_update(
                list(updates.values()), [*sorted(update_fields), "version", "updated_at", "updated_by"]
            )
        if received:
            audit.record(
                actor=actor,
                action="sales.lead.import_assign",
                target=job,
                changes={
                    "owners": {str(owners[pk]): n for pk, n in received.items()},
                    "rules": dict(by_rule),
                },
            )
            for pk, leads in owned.items():
                _notify(owners[pk], leads, actor=actor, choice=None)


ADAPTER = LeadImportAdapter()


def register() -> None:
    imports.register_adapter(ADAPTER)
