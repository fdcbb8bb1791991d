"""Custom fields and saved views for customers: the record types, and the columns the customer list shows.

Columns are standard (keys below) or custom ("custom.<key>" of an active "customers.customer" field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.core import custom_fields, saved_views
from kehu.customers.models import Contact, Customer

CUSTOMER_TYPE = "customers.customer"
CONTACT_TYPE = "customers.contact"


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    sort: str = ""  # the ordering field when the column header sorts the list
    secondary: bool = False  # hidden on narrow screens
    definition: Any = None  # the custom field of a custom column

    @property
    def is_custom(self) -> bool:
        return self.definition is not None


STANDARD_COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("name", _("Name"), sort="name"),
        Column("tier", _("Tier"), sort="tier"),
        Column("stage", _("Stage")),
        Column("kind", _("Type"), secondary=True),
        Column("owner", _("Owner")),
        Column("phone", _("Phone"), secondary=True),
        Column("email", _("Email"), secondary=True),
        Column("industry", _("Industry"), secondary=True),
        Column("source", _("Source"), secondary=True),
        Column("region", _("Region"), secondary=True),
        Column("tags", _("Tags"), secondary=True),
        Column("next_follow_up_at", _("Next follow-up"), secondary=True),
        Column("last_contacted_at", _("Last contacted"), secondary=True),
        Column("updated_at", _("Updated"), sort="updated_at"),
        Column("created_at", _("Created"), sort="created_at", secondary=True),
    )
}
DEFAULT_COLUMNS = ["name", "tier", "stage", "owner", "phone", "region", "tags", "updated_at", "created_at"]
ORDERINGS = [p + f for f in ("updated_at", "created_at", "name", "tier") for p in ("", "-")]


def available_columns(organization: Any, definitions: list[Any] | None = None) -> list[Column]:
    """Every column the list can show: the standard ones, then the active custom fields in their order."""
    if definitions is None:
        definitions = custom_fields.definitions_for(organization, CUSTOMER_TYPE)
    custom = [Column(d.param, d.label, secondary=True, definition=d) for d in definitions]
    return [*STANDARD_COLUMNS.values(), *custom]


def column_keys(organization: Any) -> list[str]:
    return [c.key for c in available_columns(organization)]


def chosen_columns(keys: list[str] | None, available: list[Column]) -> list[Column]:
    """The columns to show, in the chosen order; unknown keys (a field deactivated since) are dropped,
    and the name column is always there (it is the link to the record)."""
    by_key = {c.key: c for c in available}
    columns = [by_key[k] for k in (keys or DEFAULT_COLUMNS) if k in by_key]
    if not any(c.key == "name" for c in columns):
        columns.insert(0, by_key["name"])
    return columns


def register() -> None:
    """Called from the app's ready()."""
    custom_fields.register_record_type(CUSTOMER_TYPE, _("Customer"), Customer)
    custom_fields.register_record_type(CONTACT_TYPE, _("Contact"), Contact)
    saved_views.register_list(CUSTOMER_TYPE, columns=column_keys, orderings=ORDERINGS)
