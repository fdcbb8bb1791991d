"""Custom field definitions and saved views made through the core services, as an administrator would."""

from __future__ import annotations

from itertools import count
from typing import Any

from kehu.core import custom_fields, saved_views
from kehu.core.custom_field_models import CustomFieldDefinition
from kehu.core.saved_view_models import SavedView

_seq = count(1)


def make_field(
    tenant: Any,
    field_type: str = "text",
    key: str | None = None,
    record_type: str = "customers.customer",
    **fields: Any,
) -> CustomFieldDefinition:
    key = f"field_{next(_seq)}" if key is None else key
    fields.setdefault("label", key.replace("_", " ").title() or "Unnamed")
    if field_type in ("single_select", "multi_select"):
        fields.setdefault("options", ["金", "银", "铜"])
    return custom_fields.definition_create(
        actor=tenant.admin, record_type=record_type, key=key, field_type=field_type, **fields
    )


def make_view(tenant: Any, owner: Any = None, *, shared: bool = False, **fields: Any) -> SavedView:
    fields.setdefault("name", f"视图 {next(_seq)}")
    fields.setdefault("record_type", "customers.customer")
    return saved_views.saved_view_create(actor=owner or tenant.users["sales_rep"], shared=shared, **fields)
