"""Importing customers: the customers adapter of the import engine (kehu/core/imports.py).

Fast path by design (>= 5,000 rows/s on PostgreSQL): values are normalised in Python with the same
functions the model uses (normalize_phone/email/website), duplicates of a whole chunk are found with ONE
query, and new customers, their tags and contacts are written with bulk_create. The audit log gets one
entry per chunk from the engine, not one per customer (see docs/imports.md).

Duplicates are matched among the customers the importing user may see (the same rule as the duplicate
warning when creating one customer): by normalised phone, then normalised email, then exact name.

Custom fields. Each active custom field of customers is a column `custom.<key>`, each of contacts a column
`contact.custom.<key>`; their cells go through `kehu.core.custom_fields.clean`, the same check as a form or
the API, and a bad value is a bad row naming the field (row number and reason). A new record gets the
fields' defaults and must have the required ones; an update only sets the cells the row fills.

Contacts. The contact columns (`contact_name`, `contact_title`, `contact_department`, `contact_phone`,
`contact_email`, `contact_wechat`, contact custom fields) describe one contact of the row's customer. A
new customer gets it (the first one primary). Under the "update" policy, a row that matches an existing
customer (or a customer an earlier row of the file creates) adds its contact to that customer, or fills in
the customer's contact with the same normalised phone, email or name: so a file of contacts, one row per
contact with its company's name, imports several contacts per customer. Under "skip", a matching row is
skipped with its contact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import User
from kehu.core import choice_lists, custom_fields, imports
from kehu.core.custom_field_models import FieldType
from kehu.core.errors import ValidationFailed
from kehu.core.import_models import ImportRow
from kehu.core.imports import FieldSpec, ImportAdapter, PendingRow, Preset, RowResult
from kehu.core.permissions import can
from kehu.customers import search, selectors, services, timeline
from kehu.customers.list_columns import CONTACT_TYPE, CUSTOMER_TYPE
from kehu.customers.models import STAGES, TIERS, Contact, Customer, CustomerTag, Tag
from kehu.customers.normalize import normalize_email, normalize_phone, normalize_website

Outcome = imports.Outcome
TAG_SPLIT_RE = re.compile(r"[,;，；、|]+")
# Customer fields an import sets directly (text, checked against the column's max_length).
TEXT_FIELDS = ("name", "short_name", "industry", "province", "city", "district", "address", "notes")
UPDATABLE = (*TEXT_FIELDS, "kind", "tier", "stage", "source", "phone", "email", "website")
# Contact columns: (import field, contact field, max length); phone and email are normalised as well.
CONTACT_TEXT = (
    ("contact_name", "name", 100),
    ("contact_title", "title", 100),
    ("contact_department", "department", 100),
    ("contact_wechat", "wechat", 64),
)
CONTACT_UPDATABLE = ("title", "department", "wechat", "phone", "email")
# The contact's columns an import fills from the row (when not empty).
CONTACT_COLUMNS = ("name", "title", "department", "wechat", "phone", "phone_normalized", "email", "email_normalized")
CUSTOM_PREFIX = "custom."
CONTACT_CUSTOM_PREFIX = "contact.custom."


def _key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", value).strip().lower())


def _synonyms(table: dict[str, Iterable[str]]) -> dict[str, str]:
    return {_key(word): value for value, words in table.items() for word in (value, *words)}


KIND_WORDS = _synonyms(
    {"company": ("公司", "企业", "单位", "organization", "business"), "person": ("个人", "individual")}
)
STAGE_WORDS = _synonyms(
    {
        "lead_in": ("lead", "lead in", "subscriber", "线索", "新线索", "other", "pending", "其他"),
        "prospect": (
            "prospect",
            "opportunity",
            "marketing qualified lead",
            "sales qualified lead",
            "mql",
            "sql",
            "意向",
            "意向客户",
            "潜在客户",
            "商机",
        ),
        "customer": (
            "customer",
            "customer direct",
            "customer - direct",
            "customer channel",
            "customer - channel",
            "partner",
            "channel partner / reseller",
            "installation partner",
            "technology partner",
            "成交",
            "成交客户",
            "已成交",
            "客户",
        ),
        "repeat": ("repeat", "repeat customer", "evangelist", "复购", "老客户", "复购客户"),
        "churned": ("churned", "former customer", "lost", "流失", "流失客户"),
    }
)
SOURCE_WORDS = _synonyms(
    {
        "website": ("web", "website", "online", "online store", "网站", "官网", "网络", "互联网", "organic search"),
        "referral": (
            "referral",
            "employee referral",
            "external referral",
            "word of mouth",
            "转介绍",
            "介绍",
            "推荐",
            "口碑",
        ),
        "exhibition": ("trade show", "tradeshow", "exhibition", "seminar", "event", "展会", "会议", "活动"),
        "cold_call": ("cold call", "phone inquiry", "电话", "陌拜", "电销", "电话营销"),
        "advertising": ("advertisement", "advertising", "ads", "paid search", "paid social", "广告", "推广", "投放"),
        "partner": ("partner", "partner referral", "合作伙伴", "渠道", "代理商"),
        "other": ("other", "purchased list", "其他", "其它"),
    }
)


class CustomerImportAdapter(ImportAdapter):
    key = "customers"
    model = Customer
    label = gettext_lazy("Customers")
    fields = (
        FieldSpec(
            "name",
            gettext_lazy("Name"),
            (
                "客户名称",
                "公司名称",
                "名称",
                "客户",
                "公司",
                "企业名称",
                "单位名称",
                "客户名",
                "company",
                "company name",
                "account name",
                "account",
                "customer",
                "customer name",
                "organization",
                "organisation",
            ),
            required=True,
        ),
        FieldSpec(
            "short_name", gettext_lazy("Short name"), ("简称", "客户简称", "公司简称", "short name", "abbreviation")
        ),
        FieldSpec("kind", gettext_lazy("Type"), ("客户类型", "类型", "kind", "customer type")),
        FieldSpec(
            "phone",
            gettext_lazy("Phone"),
            (
                "电话",
                "手机",
                "手机号",
                "手机号码",
                "联系电话",
                "电话号码",
                "座机",
                "phone",
                "mobile",
                "tel",
                "telephone",
                "phone number",
                "mobile phone",
                "cell",
            ),
        ),
        FieldSpec(
            "email",
            gettext_lazy("Email"),
            ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "e-mail", "email address", "mail"),
        ),
        FieldSpec(
            "province",
            gettext_lazy("Province"),
            ("省份", "省", "所在省份", "province", "state", "state/region", "region", "billing state/province"),
        ),
        FieldSpec("city", gettext_lazy("City"), ("城市", "市", "所在城市", "city", "billing city")),
        FieldSpec("district", gettext_lazy("District"), ("区县", "区", "县", "district", "county")),
        FieldSpec(
            "address",
            gettext_lazy("Address"),
            ("地址", "详细地址", "公司地址", "address", "street", "street address", "billing street"),
        ),
        FieldSpec("tier", gettext_lazy("Tier"), ("等级", "客户等级", "级别", "客户级别", "tier", "level", "grade")),
        FieldSpec(
            "stage",
            gettext_lazy("Lifecycle stage"),
            ("阶段", "客户阶段", "生命周期", "生命周期阶段", "stage", "lifecycle stage", "status"),
        ),
        FieldSpec(
            "source",
            gettext_lazy("Source"),
            ("来源", "客户来源", "线索来源", "source", "lead source", "account source", "channel"),
        ),
        FieldSpec("industry", gettext_lazy("Industry"), ("行业", "所属行业", "industry", "sector")),
        FieldSpec(
            "website",
            gettext_lazy("Website"),
            ("网站", "网址", "官网", "主页", "website", "web", "url", "domain", "company domain name", "homepage"),
        ),
        FieldSpec("tags", gettext_lazy("Tags"), ("标签", "tags", "tag", "labels")),
        FieldSpec(
            "notes",
            gettext_lazy("Notes"),
            ("备注", "说明", "描述", "简介", "notes", "note", "description", "remarks", "comments"),
        ),
        FieldSpec(
            "owner",
            gettext_lazy("Owner (email or name)"),
            ("负责人", "所有者", "归属人", "销售", "跟进人", "owner", "account owner", "company owner", "sales rep"),
        ),
        FieldSpec(
            "contact_name",
            gettext_lazy("Contact name"),
            ("联系人", "联系人姓名", "姓名", "contact", "contact name", "contact person", "primary contact"),
        ),
        FieldSpec(
            "contact_title",
            gettext_lazy("Contact job title"),
            ("职务", "职位", "联系人职务", "联系人职位", "title", "job title", "contact title", "position"),
        ),
        FieldSpec(
            "contact_department",
            gettext_lazy("Contact department"),
            ("部门", "联系人部门", "所在部门", "department", "contact department"),
        ),
        FieldSpec(
            "contact_phone",
            gettext_lazy("Contact phone"),
            ("联系人电话", "联系人手机", "联系人手机号", "contact phone", "contact mobile", "mobile phone number"),
        ),
        FieldSpec(
            "contact_email",
            gettext_lazy("Contact email"),
            ("联系人邮箱", "联系人电子邮箱", "contact email", "contact e-mail"),
        ),
        FieldSpec(
            "contact_wechat", gettext_lazy("Contact WeChat ID"), ("微信", "微信号", "联系人微信", "wechat", "wechat id")
        ),
    )
    presets = (
        Preset(
            "salesforce",
            "Salesforce",
            {
                "Account Name": "name",
                "Phone": "phone",
                "Website": "website",
                "Billing Street": "address",
                "Billing State/Province": "province",
                "Billing City": "city",
                "Industry": "industry",
                "Type": "stage",
                "Account Source": "source",
                "Description": "notes",
                "Account Owner": "owner",
            },
        ),
        Preset(
            "hubspot",
            "HubSpot",
            {
                "Company name": "name",
                "Phone Number": "phone",
                "Company Domain Name": "website",
                "Street Address": "address",
                "State/Region": "province",
                "City": "city",
                "Industry": "industry",
                "Lifecycle Stage": "stage",
                "Company owner": "owner",
                "Description": "notes",
            },
        ),
    )

    def fields_for(self, organization_id: int | None) -> tuple[FieldSpec, ...]:
        """The static fields, then the organisation's active custom fields of customers and of contacts."""
        if organization_id is None:
            return self.fields
        extra = []
        for definition in custom_fields.definitions_for(organization_id, CUSTOMER_TYPE):
            label = str(definition.label)
            extra.append(FieldSpec(f"{CUSTOM_PREFIX}{definition.key}", label, (definition.key, label)))
        for definition in custom_fields.definitions_for(organization_id, CONTACT_TYPE):
            label = _("Contact: %(field)s") % {"field": definition.label}
            extra.append(
                FieldSpec(
                    f"{CONTACT_CUSTOM_PREFIX}{definition.key}",
                    label,
                    (f"contact {definition.key}", f"联系人{definition.label}", f"contact {definition.label}"),
                )
            )
        return (*self.fields, *extra)

    # Per run -------------------------------------------------------------------------------------------

    def begin(self, *, actor: Any, job: Any, dry_run: bool) -> dict[str, Any]:
        owners: dict[str, Any] = {}
        for user in selectors.owner_choices_for(actor=actor):
            owners.setdefault(user.email.lower(), user)
            if user.name:
                owners.setdefault(user.name.strip().lower(), user)
        # Custom fields: every definition (inactive ones too, so that clean() can name them), and active
        # colleagues by email and name for user-type fields.
        definitions = {
            CUSTOMER_TYPE: custom_fields.definitions_for(actor.organization_id, CUSTOMER_TYPE, include_inactive=True),
            CONTACT_TYPE: custom_fields.definitions_for(actor.organization_id, CONTACT_TYPE, include_inactive=True),
        }
        users: dict[str, int] = {}
        if any(d.field_type == FieldType.USER for defs in definitions.values() for d in defs):
            for user in User.objects.visible_to(actor).filter(is_active=True):
                users.setdefault(user.email.lower(), user.pk)
                if user.name:
                    users.setdefault(user.name.strip().lower(), user.pk)
        # Read once (a condition inside the comprehension below was evaluated, and queried, once per word).
        active_stages = {o.key for o in choice_lists.options(actor.organization_id, STAGES, include_inactive=False)}
        # The custom-field columns of the job's mapping (fixed while it runs), so that a row's check does not
        # look through every cell for them.
        mapped = list((job.mapping or {}).values())  # in the order of the row's values (pending_rows)
        by_key = {kind: {d.key: d for d in defs} for kind, defs in definitions.items()}
        # A user-type cell is checked against the database (an active colleague): such files are checked
        # chunk by chunk in the writing thread, not ahead (prepare).
        user_columns = [
            name
            for prefix, kind in ((CUSTOM_PREFIX, CUSTOMER_TYPE), (CONTACT_CUSTOM_PREFIX, CONTACT_TYPE))
            for name in mapped
            if name.startswith(prefix)
            and getattr(by_key[kind].get(name[len(prefix) :]), "field_type", None) == FieldType.USER
        ]
        return {
            "prepare_ahead": not user_columns,
            "definitions": definitions,
            "definitions_by_key": by_key,
            "custom_columns": {
                prefix: [name for name in mapped if name.startswith(prefix)]
                for prefix in (CUSTOM_PREFIX, CONTACT_CUSTOM_PREFIX)
            },
            "users": users,
            "can_add_contacts": can(actor, "create", Contact),
            "owners": owners,
            "can_assign": can(actor, "assign", Customer),
            "can_create_tags": can(actor, "create", Tag),
            "tags": {t.name: t for t in selectors.tag_list_for(actor=actor)},
            "keys": {},  # (kind, value) -> record id or a pending Customer, across the whole run
            "precompute_search": connections[router.db_for_write(Customer)].vendor == "postgresql",
            "lengths": {name: Customer._meta.get_field(name).max_length for name in TEXT_FIELDS},
            # The choices' labels in the reader's language too, so that an exported file imports back.
            "words": {
                name: {
                    **table,
                    **{_key(str(label)): value for value, label in Customer._meta.get_field(name).flatchoices},
                }
                for name, table in (("kind", KIND_WORDS), ("source", SOURCE_WORDS))
            },
            # Tier and stage: the organisation's active options, by key or label (kehu.core.choice_lists);
            # for stages also the usual words of other CRMs' exports (STAGE_WORDS) for the built-in keys.
            "lists": {
                "tier": choice_lists.lookup_table(actor.organization_id, TIERS),
                "stage": choice_lists.lookup_table(actor.organization_id, STAGES),
            },
            "stage_words": {word: key for word, key in STAGE_WORDS.items() if key in active_stages},
            "list_labels": {
                name: ", ".join(
                    o.label for o in choice_lists.options(actor.organization_id, key, include_inactive=False)
                )
                for name, key in (("tier", TIERS), ("stage", STAGES))
            },
        }

    # Checking one row ------------------------------------------------------------------------------------

    def clean_row(
        self, actor: Any, values: dict[str, str], state: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """(clean values, {field: reason}); only the fields that the row fills are in the clean values."""
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
            errors["name"] = _("A customer needs a name.")
        for name, table in state["words"].items():
            value = values.get(name, "").strip()
            if value:
                found = table.get(_key(value))
                if found is None:
                    choices = ", ".join(dict(Customer._meta.get_field(name).flatchoices))
                    errors[name] = _("Unknown value %(value)s; use one of: %(choices)s.") % {
                        "value": value,
                        "choices": choices,
                    }
                else:
                    clean[name] = found
        for name, table in state["lists"].items():
            value = unicodedata.normalize("NFKC", values.get(name, "")).strip()
            if not value:
                continue
            found = table.get(choice_lists.fold(value))
            if found is None and name == "tier":  # "A类", "B级": the letter of a tier
                rest = value[1:].strip()
                found = table.get(choice_lists.fold(value[0])) if rest in ("类", "级") else None
            if found is None and name == "stage":
                found = state["stage_words"].get(_key(value))
            if found is None:
                errors[name] = _("Unknown value %(value)s; use one of: %(choices)s.") % {
                    "value": value,
                    "choices": state["list_labels"][name],
                }
            else:
                clean[name] = found
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
        website = values.get("website", "").strip()
        if website:
            try:
                clean["website"] = normalize_website(website)
            except ValidationError as exc:
                errors["website"] = " ".join(exc.messages)
        owner_text = values.get("owner", "").strip()
        if owner_text:
            owner = state["owners"].get(owner_text.lower())
            if owner is None:
                errors["owner"] = _("No active colleague with this email or name.")
            elif owner.pk != actor.pk and not state["can_assign"]:
                errors["owner"] = _("You may not make a colleague the owner of a customer.")
            else:
                clean["owner"] = owner
        tag_names = [t.strip()[:50] for t in TAG_SPLIT_RE.split(values.get("tags", "")) if t.strip()]
        if tag_names:
            unknown = [t for t in tag_names if t not in state["tags"]]
            if unknown and not state["can_create_tags"]:
                errors["tags"] = _("Unknown tags: %(names)s") % {"names": ", ".join(unknown)}
            clean["tags"] = list(dict.fromkeys(tag_names))
        custom = self._clean_custom(actor, values, CUSTOM_PREFIX, CUSTOMER_TYPE, state, errors)
        if custom:
            clean["custom"] = custom
        contact = self._clean_contact(actor, values, state, errors)
        if contact:
            clean["contact"] = contact
        return clean, errors

    @staticmethod
    def _custom_input(definition: Any, text: str, state: dict[str, Any]) -> Any:
        """A cell as custom_fields.clean takes it: a list for multi selects (split like tags), a user's id
        for user fields (by email or name)."""
        if definition.field_type == FieldType.MULTI_SELECT:
            return [part.strip() for part in TAG_SPLIT_RE.split(text) if part.strip()]
        if definition.field_type == FieldType.USER:
            return state["users"].get(text.lower(), text)
        return text

    def _clean_custom(
        self, actor: Any, values: dict[str, str], prefix: str, record_type: str, state: dict[str, Any], errors: dict
    ) -> dict[str, Any]:
        """The filled custom-field cells of the row (columns `<prefix><key>`), normalised by the one check
        every custom value passes; bad ones land in `errors` under their column's field name."""
        columns = state["custom_columns"][prefix]
        if not columns:  # the usual file: no custom-field column mapped
            return {}
        by_key = state["definitions_by_key"][record_type]
        given: dict[str, Any] = {}
        for name in columns:
            text = values.get(name, "")
            if not text.strip():
                continue
            key = name[len(prefix) :]
            definition = by_key.get(key)
            given[key] = self._custom_input(definition, text.strip(), state) if definition else text.strip()
        if not given:
            return {}
        try:
            return custom_fields.clean(
                actor.organization_id,
                record_type,
                given,
                partial=True,
                current=None,
                definitions=state["definitions"][record_type],
            )
        except ValidationFailed as exc:
            for field_name, reasons in exc.fields.items():
                errors[prefix + field_name.removeprefix(CUSTOM_PREFIX)] = " ".join(reasons)
            return {}

    def _clean_contact(self, actor: Any, values: dict[str, str], state: dict[str, Any], errors: dict) -> dict[str, Any]:
        """The row's contact (contact columns), or {} when the row has none."""
        contact: dict[str, Any] = {}
        for column, name, limit in CONTACT_TEXT:
            value = values.get(column, "").strip()
            if not value:
                continue
            if len(value) > limit:
                errors[column] = _("At most %(max)d characters (this has %(n)d).") % {"max": limit, "n": len(value)}
            contact[name] = value
        for column, name, normalise in (
            ("contact_phone", "phone", normalize_phone),
            ("contact_email", "email", normalize_email),
        ):
            value = values.get(column, "").strip()
            if value:
                try:
                    contact[f"{name}_normalized"] = normalise(value)
                    contact[name] = value
                except ValidationError as exc:
                    errors[column] = " ".join(exc.messages)
        custom = self._clean_custom(actor, values, CONTACT_CUSTOM_PREFIX, CONTACT_TYPE, state, errors)
        if custom:
            contact["custom"] = custom
        has_contact_cells = any(values.get(c, "").strip() for c in ("contact_phone", "contact_email")) or any(
            values.get(name, "").strip() for name in state["custom_columns"][CONTACT_CUSTOM_PREFIX]
        )
        if not contact and not has_contact_cells:
            return {}
        if not contact.get("name"):
            errors["contact_name"] = _("A contact needs a name.")
        elif not state["can_add_contacts"]:
            errors["contact_name"] = _("You may not add contacts to customers.")
        return contact

    @staticmethod
    def _complete_custom(
        actor: Any, record_type: str, given: dict[str, Any], state: dict[str, Any], prefix: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A new record's whole `custom`: the row's values, the defaults of the fields it leaves empty, and
        an error for each required field it leaves empty (as creating one record through a form)."""
        missing = [d for d in state["definitions"][record_type] if d.key not in given]
        if not missing:  # nothing to default or require (most organisations define no custom fields)
            return {**given}, {}
        try:
            defaults = custom_fields.clean(
                actor.organization_id, record_type, {}, partial=False, current=None, definitions=missing
            )
        except ValidationFailed as exc:
            return {}, {prefix + name.removeprefix(CUSTOM_PREFIX): " ".join(r) for name, r in exc.fields.items()}
        return {**defaults, **given}, {}

    @staticmethod
    def match_keys(clean: dict[str, Any]) -> list[tuple[str, str]]:
        keys = []
        if clean.get("phone_normalized"):
            keys.append(("phone", clean["phone_normalized"]))
        if clean.get("email_normalized"):
            keys.append(("email", clean["email_normalized"]))
        if clean.get("name"):
            keys.append(("name", clean["name"]))
        return keys

    def _existing(self, actor: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Customer]:
        """ONE query for the whole chunk: visible customers sharing a phone, an email or a name."""
        by_kind: dict[str, set[str]] = {"phone": set(), "email": set(), "name": set()}
        for kind, value in keys:
            by_kind[kind].add(value)
        q = Q()
        for kind, column in (("phone", "phone_normalized"), ("email", "email_normalized"), ("name", "name")):
            if by_kind[kind]:
                q |= Q(imports.any_of(column, by_kind[kind]))
        if not q:
            return {}
        found: dict[tuple[str, str], Customer] = {}
        for customer in Customer.objects.visible_to(actor).filter(q).select_related("owner__team").order_by("pk"):
            for key in (
                ("phone", customer.phone_normalized),
                ("email", customer.email_normalized),
                ("name", customer.name),
            ):
                if key[1] and key in keys:
                    found.setdefault(key, customer)
        return found

    # One chunk -------------------------------------------------------------------------------------------

    def prepare(self, *, actor: Any, job: Any, rows: list[PendingRow], state: dict[str, Any]) -> None:
        """Ahead of the chunk (in the engine's worker thread): what each row is without looking at the
        database or the other rows (_Prepared), and on PostgreSQL the search columns of the customer it
        would create."""
        if not state["prepare_ahead"]:
            return
        search_ahead = state["precompute_search"]
        for row in rows:
            row.prepared = self._prepare_row(actor, row.values, state, new_values=True, search_ahead=search_ahead)

    def _prepare_row(
        self, actor: Any, values: dict[str, str], state: dict[str, Any], *, new_values: bool, search_ahead: bool
    ) -> _Prepared:
        """The row's check, match keys, and (when it has no errors) what a new customer made of it needs:
        the custom values completed with defaults (or the errors of required ones left empty), and with
        `new_values` its column values and contact."""
        clean, errors = self.clean_row(actor, values, state)
        row = _Prepared(clean, errors)
        if errors:
            return row
        row.keys = self.match_keys(clean)
        custom, new_errors = self._complete_custom(actor, CUSTOMER_TYPE, clean.get("custom", {}), state, CUSTOM_PREFIX)
        contact = clean.get("contact")
        if contact:
            contact_custom, contact_errors = self._complete_custom(
                actor, CONTACT_TYPE, contact.get("custom", {}), state, CONTACT_CUSTOM_PREFIX
            )
            new_errors.update(contact_errors)
        row.new_errors = new_errors
        if new_values and not new_errors:
            row.values = {**self._new_values(actor, clean), "custom": custom}
            row.contact = {**contact, "custom": contact_custom} if contact else None
            if search_ahead:
                row.search = _search_columns(clean)
        return row

    def independent(self, *, rows: list[PendingRow], state: dict[str, Any]) -> bool:
        """The rows (checked ahead) share no match key with the chunk written last, and that chunk only
        created customers: then its uncommitted rows are nothing these rows would match or update (a
        customer it created has its row's keys; one it changed may have had any), and reading before its
        COMMIT finds what reading after it would. Rows naming a tag not created yet wait too: creating it
        writes an audit entry, which must not lock the audit chain before the chunk holds the job's lock
        (a cancel locks the job, then the chain)."""
        written = state.get("written")
        if written is not None and written["changed_existing"]:
            return False
        keys = written["keys"] if written is not None else set()
        tags = state["tags"]
        for row in rows:
            prepared = row.prepared
            if prepared is None or not keys.isdisjoint(prepared.keys):
                return False
            if not prepared.errors and any(name not in tags for name in prepared.clean.get("tags", ())):
                return False
        return True

    def process_chunk(
        self, *, actor: Any, job: Any, rows: list[PendingRow], state: dict[str, Any], dry_run: bool
    ) -> list[RowResult]:
        policy = job.policy
        prepared: list[_Prepared] = [
            row.prepared or self._prepare_row(actor, row.values, state, new_values=not dry_run, search_ahead=False)
            for row in rows
        ]
        cleaned = [(row.clean, row.errors) for row in prepared]
        wanted = {key for row in prepared for key in row.keys}
        existing = self._existing(actor, wanted - set(state["keys"]))
        # Contacts of the existing customers that rows with a contact match (update policy): one query.
        contacts = self._contacts_of(actor, policy, cleaned, existing, state)
        results: list[RowResult] = []
        creates: list[tuple[int, _New, dict[str, Any]]] = []
        updates: dict[int, Customer] = {}
        update_fields: set[str] = set()
        update_tags: list[tuple[Customer, list[str]]] = []
        contact_updates: dict[int, Contact] = {}
        contact_creates: list[tuple[Customer, dict[str, Any]]] = []
        now = timezone.now()
        for row in prepared:
            clean, errors, keys = row.clean, row.errors, row.keys
            if errors:
                results.append(RowResult(Outcome.ERROR, errors=errors))
                continue
            match = None
            if policy != "create":
                for key in keys:
                    match = state["keys"].get(key) or existing.get(key)
                    if match is not None:
                        break
            if match is None:
                if row.new_errors:
                    results.append(RowResult(Outcome.ERROR, errors=row.new_errors))
                    continue
                contact = clean.get("contact")
                # A check only needs to know that the key is taken: no values kept (memory stays flat), except
                # what later rows' contacts are matched by (only "update" folds a row into a new customer).
                if not dry_run:
                    new = _New(row.values)
                    new.search = row.search
                    if row.contact:
                        new.contacts.append(row.contact)
                elif contact and policy == "update":
                    new = _New({})
                    new.contacts.append(_contact_keys(contact))
                else:
                    new = _CHECKED
                results.append(RowResult(Outcome.CREATED))
                creates.append((len(results) - 1, new, clean))
                for key in keys:
                    state["keys"].setdefault(key, new)
                continue
            if policy == "skip":
                results.append(
                    RowResult(Outcome.SKIPPED, record_id=match.pk, message=_("Matches an existing customer."))
                )
                continue
            # policy == "update"
            if isinstance(match, _New):  # a customer this file creates: fold the row into it
                contact = clean.get("contact")
                if contact and match is not _CHECKED:
                    errors = self._fold_contact(actor, match.contacts, contact, state, keys_only=dry_run)
                elif contact:  # dry run: a new contact of a new customer needs its required fields
                    errors = self._complete_custom(
                        actor, CONTACT_TYPE, contact.get("custom", {}), state, CONTACT_CUSTOM_PREFIX
                    )[1]
                else:
                    errors = {}
                if errors:
                    results.append(RowResult(Outcome.ERROR, errors=errors))
                    continue
                if not dry_run:
                    values = self._new_values(actor, clean, only_filled=True)
                    if clean.get("custom"):
                        values["custom"] = {**match.values.get("custom", {}), **clean["custom"]}
                    match.values.update(values)
                    match.search = None  # its names or contacts may have changed: computed when inserted
                results.append(RowResult(Outcome.UPDATED))
                creates.append((len(results) - 1, match, clean))
                continue
            if not can(actor, "edit", match):
                results.append(RowResult(Outcome.ERROR, errors={"name": _("Matches a customer you may not change.")}))
                continue
            contact_changed = False
            if clean.get("contact"):
                outcome = self._contact_for(actor, match, clean["contact"], contacts, state, now)
                if isinstance(outcome, dict):  # errors
                    results.append(RowResult(Outcome.ERROR, errors=outcome))
                    continue
                if outcome is not None:
                    contact_changed = True
                    target, is_new = outcome
                    if is_new:
                        contact_creates.append((match, target))
                    else:
                        contact_updates[target.pk] = target
            changed = self._apply(match, clean)
            if changed or clean.get("tags") or contact_changed:
                if changed or clean.get("tags"):
                    match.updated_at, match.updated_by_id = now, actor.pk
                if changed and match.pk not in updates:
                    match.version += 1
                update_fields.update(changed)
                if changed:
                    updates[match.pk] = match
                if clean.get("tags"):
                    update_tags.append((match, clean["tags"]))
                results.append(RowResult(Outcome.UPDATED, record_id=match.pk))
            else:
                results.append(RowResult(Outcome.SKIPPED, record_id=match.pk, message=_("No changes.")))
            for key in keys:
                state["keys"].setdefault(key, match)
        if dry_run:
            return results
        self._write(actor, creates, updates, update_fields, update_tags, results, state)
        self._write_contacts(actor, contact_creates, contact_updates, now)
        # What the next chunk must not read before this one commits (independent()): the keys these rows
        # match by, and whether existing customers or contacts changed.
        state["written"] = {
            "keys": wanted,
            "changed_existing": bool(updates or update_tags or contact_creates or contact_updates),
        }
        # Written and committed with this chunk: later chunks find them with their one query.
        state["keys"] = {k: v for k, v in state["keys"].items() if not isinstance(v, _New)}
        return results

    # Contacts of the rows ------------------------------------------------------------------------------

    def _contacts_of(
        self,
        actor: Any,
        policy: str,
        cleaned: list[tuple[dict[str, Any], dict[str, str]]],
        existing: dict[tuple[str, str], Customer],
        state: dict[str, Any],
    ) -> dict[int, list[Any]]:
        """customer id -> its live contacts, for the existing customers that rows with a contact match."""
        if policy != "update":
            return {}
        ids = set()
        for clean, errors in cleaned:
            if errors or not clean.get("contact"):
                continue
            for key in self.match_keys(clean):
                match = state["keys"].get(key) or existing.get(key)
                if match is not None:
                    if isinstance(match, Customer):
                        ids.add(match.pk)
                    break
        found: dict[int, list[Any]] = {pk: [] for pk in ids}
        if ids:
            qs = Contact.objects.filter(
                organization_id=actor.organization_id, customer_id__in=ids, deleted_at__isnull=True
            )
            for contact in qs.order_by("pk"):
                found[contact.customer_id].append(contact)
        return found

    @staticmethod
    def _same_contact(candidates: list[Any], contact: dict[str, Any]) -> Any:
        """The contact among `candidates` (Contact rows or pending dicts) with the row's normalised phone,
        then email, then name."""
        for field in ("phone_normalized", "email_normalized", "name"):
            value = contact.get(field)
            if not value:
                continue
            for candidate in candidates:
                known = candidate.get(field) if isinstance(candidate, dict) else getattr(candidate, field)
                if known == value:
                    return candidate
        return None

    def _fold_contact(
        self,
        actor: Any,
        pending: list[dict[str, Any]],
        contact: dict[str, Any],
        state: dict[str, Any],
        keys_only: bool = False,
    ) -> dict[str, str]:
        """Add the row's contact to a customer this file creates (or fill in the same contact); errors.
        A dry run keeps only what contacts are matched by."""
        same = self._same_contact(pending, contact)
        if same is not None:
            if keys_only:
                same.update(_contact_keys(contact))
            else:
                same.update({k: v for k, v in contact.items() if k != "custom"})
                same["custom"] = {**same.get("custom", {}), **contact.get("custom", {})}
            return {}
        custom, errors = self._complete_custom(
            actor, CONTACT_TYPE, contact.get("custom", {}), state, CONTACT_CUSTOM_PREFIX
        )
        if not errors:
            pending.append(_contact_keys(contact) if keys_only else {**contact, "custom": custom})
        return errors

    def _contact_for(
        self,
        actor: Any,
        customer: Customer,
        contact: dict[str, Any],
        contacts: dict[int, list[Any]],
        state: dict[str, Any],
        now: Any,
    ) -> tuple[Any, bool] | dict[str, str] | None:
        """The row's contact on an existing customer: (contact to save, is new), None when nothing changes,
        or the row's errors."""
        known = contacts.setdefault(customer.pk, [])
        same = self._same_contact(known, contact)
        if same is None:
            custom, errors = self._complete_custom(
                actor, CONTACT_TYPE, contact.get("custom", {}), state, CONTACT_CUSTOM_PREFIX
            )
            if errors:
                return errors
            has_primary = any(c.get("is_primary") if isinstance(c, dict) else c.is_primary for c in known)
            new = {**contact, "custom": custom, "is_primary": not has_primary}
            known.append(new)
            return new, True
        if isinstance(same, dict):  # added by an earlier row of this chunk
            same.update({k: v for k, v in contact.items() if k != "custom"})
            same["custom"] = {**same.get("custom", {}), **contact.get("custom", {})}
            return None
        changed = False
        for name in (*CONTACT_UPDATABLE, "name"):
            if name in contact and getattr(same, name) != contact[name]:
                setattr(same, name, contact[name])
                changed = True
                if name in ("phone", "email"):
                    setattr(same, f"{name}_normalized", contact[f"{name}_normalized"])
        if contact.get("custom"):
            merged = {**(same.custom or {}), **contact["custom"]}
            if merged != same.custom:
                same.custom = merged
                changed = True
        if not changed:
            return None
        if not getattr(same, "_import_bumped", False):
            same.version += 1
            same._import_bumped = True
        same.updated_at, same.updated_by_id = now, actor.pk
        return same, False

    @staticmethod
    def _created(actor: Any, now: Any) -> dict[str, Any]:
        """The columns every record an import creates shares (insert_rows' defaults)."""
        return {
            "organization_id": actor.organization_id,
            "created_by_id": actor.pk,
            "updated_by_id": actor.pk,
            "created_at": now,
            "updated_at": now,
        }

    @staticmethod
    def _contact_row(customer_id: int, owner_id: int | None, contact: dict[str, Any], primary: bool) -> dict[str, Any]:
        row = {name: contact[name] for name in CONTACT_COLUMNS if contact.get(name)}
        row.update(customer_id=customer_id, owner_id=owner_id, is_primary=primary, custom=contact.get("custom") or {})
        return row

    def _write_contacts(
        self,
        actor: Any,
        creates: list[tuple[Customer, dict[str, Any]]],
        updates: dict[int, Contact],
        now: Any,
    ) -> None:
        rows = [
            self._contact_row(customer.pk, customer.owner_id, contact, contact.get("is_primary", False))
            for customer, contact in creates
        ]
        imports.insert_rows(Contact, rows, defaults=self._created(actor, now))
        if updates:
            Contact.objects.bulk_update(
                list(updates.values()),
                [
                    *CONTACT_UPDATABLE,
                    "name",
                    "phone_normalized",
                    "email_normalized",
                    "custom",
                    "version",
                    "updated_at",
                    "updated_by",
                ],
                batch_size=imports.CHUNK_SIZE,
            )

    @staticmethod
    def _new_values(actor: Any, clean: dict[str, Any], only_filled: bool = False) -> dict[str, Any]:
        """A new customer's columns from the row (what all new ones share: _created()); with `only_filled`,
        the columns the row fills (folded into a customer an earlier row creates)."""
        values = {name: clean[name] for name in UPDATABLE if name in clean}
        for derived in ("phone_normalized", "email_normalized"):
            if derived in clean:
                values[derived] = clean[derived]
        if clean.get("owner") is not None:
            values["owner_id"] = clean["owner"].pk
        if only_filled:
            return values
        values.setdefault("owner_id", actor.pk)
        return values

    @staticmethod
    def _apply(customer: Customer, clean: dict[str, Any]) -> list[str]:
        """Fill in what the row has (an empty cell never erases a value); the names of changed columns."""
        changed = []
        for name in UPDATABLE:
            if name in clean and getattr(customer, name) != clean[name]:
                setattr(customer, name, clean[name])
                changed.append(name)
                derived = {"phone": "phone_normalized", "email": "email_normalized"}.get(name)
                if derived:
                    setattr(customer, derived, clean[derived])
                    changed.append(derived)
        if clean.get("custom"):
            merged = {**(customer.custom or {}), **clean["custom"]}
            if merged != customer.custom:
                customer.custom = merged
                changed.append("custom")
        owner = clean.get("owner")
        if owner is not None and owner.pk != customer.owner_id:
            customer.owner = owner
            changed.append("owner")
        return changed

    def _write(
        self,
        actor: Any,
        creates: list[tuple[int, _New, dict[str, Any]]],
        updates: dict[int, Customer],
        update_fields: set[str],
        update_tags: list[tuple[Customer, list[str]]],
        results: list[RowResult],
        state: dict[str, Any],
    ) -> None:
        new = list({id(n): n for _i, n, _clean in creates}.values())
        now = timezone.now()
        self._insert_new(actor, new, now)
        for index, item, _clean in creates:
            results[index].record_id = item.pk
        if updates:
            Customer.objects.bulk_update(
                list(updates.values()),
                [*sorted(update_fields), "version", "updated_at", "updated_by"],
                batch_size=imports.CHUNK_SIZE,
            )
            if "owner" in update_fields:  # contacts follow their customer's owner (as customer_assign does)
                for customer in updates.values():
                    Contact.objects.filter(organization_id=customer.organization_id, customer=customer).update(
                        owner_id=customer.owner_id
                    )
        organization_id = actor.organization_id
        links: list[dict[str, Any]] = []
        seen_links: set[tuple[int, int]] = set()
        for _index, item, clean in creates:
            for tag in self._tags(actor, clean.get("tags", ()), state):
                if (item.pk, tag.pk) not in seen_links:
                    seen_links.add((item.pk, tag.pk))
                    links.append({"organization_id": organization_id, "customer_id": item.pk, "tag_id": tag.pk})
        imports.insert_rows(CustomerTag, links)
        existing_links = [
            CustomerTag(organization_id=organization_id, customer=customer, tag=tag)
            for customer, names in update_tags
            for tag in self._tags(actor, names, state)
        ]
        CustomerTag.objects.bulk_create(existing_links, ignore_conflicts=True)

    def _insert_new(self, actor: Any, new: list[_New], now: Any) -> None:
        """Insert the chunk's new customers and their contacts (the first one primary). On PostgreSQL with
        their search columns computed here (search.precomputed_search), so that the row triggers do
        nothing; a customer whose text Python might lower-case differently is left to the triggers."""
        connection = connections[router.db_for_write(Customer)]
        precompute = connection.vendor == "postgresql"
        extra: tuple[str, ...] = ()
        by_triggers: list[_New] = []
        if precompute:
            extra = ("name_grams",)
            for item in new:
                values = item.values
                data = item.search  # computed ahead from the row (prepare), unless other rows folded into it
                if data is None:
                    data = _search_columns(values, item.contacts)
                if data is _BY_TRIGGERS:
                    by_triggers.append(item)
                    data = ("", "", "{}")
                values["search_names"], values["search_text"], values["name_grams"] = data
        with search.precomputed_search(connection) if precompute else nullcontext():
            created = self._created(actor, now)
            ids = imports.insert_rows(
                Customer, [n.values for n in new], returning=True, extra_columns=extra, defaults=created
            )
            for item, pk in zip(new, ids, strict=True):
                item.pk = pk
            contacts = [
                self._contact_row(item.pk, item.values["owner_id"], contact, position == 0)
                for item in new
                for position, contact in enumerate(item.contacts)
            ]
            imports.insert_rows(Contact, contacts, defaults=created)
        search.refresh(connection, [item.pk for item in by_triggers])

    @staticmethod
    def _tags(actor: Any, names: Iterable[str], state: dict[str, Any]) -> list[Tag]:
        tags = []
        for name in names:
            tag = state["tags"].get(name)
            if tag is None:  # a new label: made through the service (validated, audited), once per run
                tag = services.tag_create(actor=actor, name=name)
                state["tags"][name] = tag
            tags.append(tag)
        return tags


class _Prepared:
    """One row as CustomerImportAdapter._prepare_row() found it, before matching: its clean values and
    errors, match keys, and for a new customer the errors of its custom values (new_errors), its column
    values and contact (None until asked for) and its search columns (None: computed when inserted)."""

    __slots__ = ("clean", "contact", "errors", "keys", "new_errors", "search", "values")

    def __init__(self, clean: dict[str, Any], errors: dict[str, str]) -> None:
        self.clean, self.errors = clean, errors
        self.keys: list[tuple[str, str]] = []
        self.new_errors: dict[str, str] = {}
        self.values: dict[str, Any] | None = None
        self.contact: dict[str, Any] | None = None
        self.search: Any = None


class _New:
    """A customer this import will create: its column values, its contacts, its search columns when
    computed ahead (_search_columns) and its id once inserted."""

    __slots__ = ("contacts", "pk", "search", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.contacts: list[dict[str, Any]] = []
        self.search: Any = None
        self.pk: int | None = None


_BY_TRIGGERS = ("triggers",)  # search columns the database computes (search_data_exact() declined)


def _search_columns(values: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> Any:
    """(search_names, search_text, name_grams as a text[] literal) of a new customer with these values
    (clean values of a row, or the columns of a _New) and contacts (by default the row's own contact),
    or _BY_TRIGGERS."""
    if contacts is None:
        contacts = [values["contact"]] if values.get("contact") else []
    data = search.search_data_exact(
        name=values.get("name", ""),
        short_name=values.get("short_name", ""),
        phone=values.get("phone_normalized", ""),
        email=values.get("email_normalized", ""),
        contacts=[(c.get("name", ""), c.get("phone_normalized", ""), c.get("email_normalized", "")) for c in contacts],
    )
    if data is None:
        return _BY_TRIGGERS
    names, text, grams = data
    return names, text, imports.pg_text_array(grams)


_CHECKED = _New({})  # stands for every customer (without a contact) a dry run would create


def _contact_keys(contact: dict[str, Any]) -> dict[str, Any]:
    """What a contact is matched by (a dry run keeps no more of the contacts it would create)."""
    return {k: contact[k] for k in ("name", "phone_normalized", "email_normalized") if contact.get(k)}


ADAPTER = CustomerImportAdapter()


def import_rows(organization_id: Any, customer_id: Any) -> QuerySet[ImportRow]:
    """What import_timeline can show at most (timeline.register's `exists`): import rows that name the
    customer's id (of any record type: a superset is enough)."""
    return ImportRow.objects.filter(organization_id=organization_id, record_id=customer_id)


def import_timeline(
    *, actor: Any, customer: Customer, limit: int, before: datetime | None = None
) -> list[timeline.TimelineItem]:
    """The imports that created or updated the customer. The engine audits one entry per chunk (on the
    job), so the customer's own trace of an import is its ImportRow."""
    rows = (
        ImportRow.objects.filter(
            organization_id=customer.organization_id,
            record_id=customer.pk,
            job__record_type=ADAPTER.key,
            outcome__in=(Outcome.CREATED, Outcome.UPDATED),
        )
        .select_related("job", "job__owner")
        .order_by("-job__created_at")
    )
    items = []
    for row in rows:  # one per import that touched the customer: a handful
        job = row.job
        at = job.started_at or job.created_at
        if before is not None and at >= before:
            continue
        created = row.outcome == Outcome.CREATED
        template = (
            _("Imported from %(file)s, row %(row)d") if created else _("Updated by the import of %(file)s, row %(row)d")
        )
        items.append(
            timeline.TimelineItem(
                at=at,
                kind=f"{ADAPTER.key}.import",
                title=template % {"file": job.original_name, "row": row.row_number},
                actor=str(job.owner) if job.owner_id else "",
                icon="upload",
                url=reverse("customers:import_detail", args=[job.pk]) if can(actor, "view", job) else "",
            )
        )
    return items[:limit]


def register() -> None:
    imports.register_adapter(ADAPTER)
