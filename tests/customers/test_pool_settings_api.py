"""GET/PUT /api/v1/pool-settings/: the organisation's public pool rules, for administrators, checked exactly
like the settings page."""

from __future__ import annotations

import pytest
from django.test import Client

from kehu.core.models import AuditEntry
from kehu.customers import pool, pool_selectors
from kehu.customers.models import PoolSettings
from kehu.customers.pool_models import (
    DEFAULT_AUTO_RETURN_DAYS,
    DEFAULT_MAX_CUSTOMERS,
    DEFAULT_RECLAIM_COOLDOWN_DAYS,
    DEFAULT_RETENTION_DAYS,
)
from tests.api.support import assert_error
from tests.conftest import make_tenant

URL = "/api/v1/pool-settings/"
VALID = {
    "auto_return_days": 30,
    "max_customers_per_rep": 150,
    "reclaim_cooldown_days": 5,
    "recycle_bin_retention_days": 60,
}


def test_administrators_read_the_defaults_until_they_save(api, tenant_a):
    response = api(tenant_a.admin).get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "auto_return_days": DEFAULT_AUTO_RETURN_DAYS,
        "max_customers_per_rep": DEFAULT_MAX_CUSTOMERS,
        "reclaim_cooldown_days": DEFAULT_RECLAIM_COOLDOWN_DAYS,
        "recycle_bin_retention_days": DEFAULT_RETENTION_DAYS,
        "updated_at": None,
        "updated_by": None,
    }


def test_put_replaces_the_rules_and_is_audited(api, tenant_a, django_assert_max_num_queries):
    client = api(tenant_a.admin)

    response = client.put(URL, VALID, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in VALID} == VALID
    assert body["updated_by"]["id"] == tenant_a.admin.pk and body["updated_at"]
    saved = PoolSettings.objects.get(organization=tenant_a.org)
    assert {k: getattr(saved, k) for k in VALID} == VALID
    entry = AuditEntry.objects.get(organization=tenant_a.org, action="customers.pool_settings")
    assert entry.actor == tenant_a.admin
    assert entry.changes["max_customers_per_rep"] == {"before": DEFAULT_MAX_CUSTOMERS, "after": 150}
    # The rules apply at once (the same row the pool's services read).
    assert pool_selectors.pool_settings_for(organization_id=tenant_a.org.pk).max_customers_per_rep == 150
    with django_assert_max_num_queries(4):
        assert client.get(URL).json()["max_customers_per_rep"] == 150
    # The same values again change nothing and write no second entry.
    assert client.put(URL, VALID, format="json").status_code == 200
    assert AuditEntry.objects.filter(organization=tenant_a.org, action="customers.pool_settings").count() == 1


BAD_BODIES = [
    ({**VALID, "auto_return_days": -1}, "auto_return_days"),
    ({**VALID, "auto_return_days": 3651}, "auto_return_days"),
    ({**VALID, "reclaim_cooldown_days": "abc"}, "reclaim_cooldown_days"),
    ({**VALID, "max_customers_per_rep": 1_000_001}, "max_customers_per_rep"),
    ({**VALID, "recycle_bin_retention_days": None}, "recycle_bin_retention_days"),
    ({k: v for k, v in VALID.items() if k != "reclaim_cooldown_days"}, "reclaim_cooldown_days"),
    ({**VALID, "owner": 1}, "owner"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_values_are_refused_like_on_the_settings_page(api, tenant_a, body, field):
    pool.pool_settings_update(actor=tenant_a.admin, data={"max_customers_per_rep": 9})

    client = api(tenant_a.admin)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    error = assert_error(client.put(URL, body, format="json"), 400, "validation_failed")

    assert list(error["fields"]) == [field], error
    assert PoolSettings.objects.get(organization=tenant_a.org).max_customers_per_rep == 9
    if field != "owner":  # the page's form has no such field; everything else it refuses on the same field
        web = Client(headers={"accept-language": "en"})
        web.force_login(tenant_a.admin)
        form_data = {k: "" if v is None else v for k, v in body.items()}
        page = web.post("/customers/pool/settings/", form_data)
        assert page.status_code == 200 and f'name="{field}"' in page.content.decode()
        assert page.context["form"].errors.keys() == {field}
        assert [str(m) for m in page.context["form"].errors[field]] == error["fields"][field]


def test_a_json_list_is_a_validation_error_not_a_crash(api, tenant_a):
    assert_error(api(tenant_a.admin).put(URL, [1, 2], format="json"), 400, "validation_failed")


@pytest.mark.parametrize("role", ["sales_manager", "sales_rep", "marketer", "read_only", "analyst"])
def test_only_administrators_read_and_change_the_rules(api, tenant_a, role):
    client = api(tenant_a.users[role])

    assert_error(client.get(URL), 403, "permission_denied")
    assert_error(client.put(URL, VALID, format="json"), 403, "permission_denied")
    assert not PoolSettings.objects.filter(organization=tenant_a.org).exists()


def test_other_methods_are_not_allowed(api, tenant_a):
    client = api(tenant_a.admin)
    for method in ("post", "patch", "delete"):
        assert getattr(client, method)(URL, VALID, format="json").status_code == 405, method
    # One object per organisation: there is no address per id.
    assert_error(client.put(f"{URL}1/", VALID, format="json"), 404, "not_found")


def test_the_module_must_be_enabled(api, db):
    tenant = make_tenant("No customers Ltd", "nocust", modules=["sales"])
    assert_error(api(tenant.admin).get(URL), 403, "module_not_enabled")
