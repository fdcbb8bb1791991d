"""Customers: the public pool rules (one settings object per organisation) and the recycle bin of notes and
files (restored from the recycle bin's second tab) in the isolation matrix."""

from __future__ import annotations

from kehu.customers import pool, pool_selectors
from kehu.customers.models import PoolSettings
from tests.customers.note_factories import make_deleted_attachment, make_deleted_note
from tests.isolation.registry import api_singleton, ui_page

SETTINGS_SHOWN = ("auto_return_days", "max_customers_per_rep", "reclaim_cooldown_days", "recycle_bin_retention_days")


def set_pool_settings(tenant) -> PoolSettings:
    """Rules of the tenant's own, unlike the defaults every other organisation has."""
    return pool.pool_settings_update(
        actor=tenant.admin,
        data={
            "auto_return_days": 45,
            "max_customers_per_rep": 7,
            "reclaim_cooldown_days": 3,
            "recycle_bin_retention_days": 90,
        },
    )


def shown_pool_settings(tenant) -> dict[str, int]:
    current = pool_selectors.pool_settings_for(organization_id=tenant.org.pk)
    return {name: getattr(current, name) for name in SETTINGS_SHOWN}


api_singleton(
    url="/api/v1/pool-settings/",
    factory=set_pool_settings,
    shown=shown_pool_settings,
    put_data={
        "auto_return_days": 30,
        "max_customers_per_rep": 200,
        "reclaim_cooldown_days": 10,
        "recycle_bin_retention_days": 60,
    },
    module="customers",
)

ui_page(
    list_url_name="customers:recycle_bin_notes",
    detail_url_name=None,
    post_url_names=("customers:note_restore",),
    factory=make_deleted_note,
    module="customers",
)
ui_page(
    list_url_name="customers:recycle_bin_notes",
    detail_url_name=None,
    post_url_names=("customers:attachment_restore",),
    factory=make_deleted_attachment,
    module="customers",
)
