"""A module the organisation has not enabled answers 403 `module_not_enabled` on every API route and
page of the module, before any record is looked up; the platform is always on."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from kehu.accounts import services
from kehu.accounts.models import Organization, User
from tests.api.support import assert_error
from tests.isolation.registry import API_ROUTES, UI_PAGES, ApiRoute, UiPage

MODULE_ROUTES = [r for r in API_ROUTES if r.module != "platform"]
MODULE_PAGES = [p for p in UI_PAGES if p.module != "platform" and p.list_url_name]


def disable(org: Organization, module: str) -> None:
    Organization.objects.filter(pk=org.pk).update(enabled_modules=[m for m in org.enabled_modules if m != module])


def fresh(user: User) -> User:
    """The user as the next request loads it, with the organisation's current modules."""
    return User.objects.select_related("organization", "role", "team").get(pk=user.pk)


@pytest.mark.urls("tests.isolation.gate_urls")
def test_a_module_view_set_is_gated_by_the_organisations_modules(tenant_a, api):
    admin = tenant_a.admin
    team = tenant_a.teams["sales"]
    assert api(fresh(admin)).get("/api/test/gate-probe/").status_code == 200

    disable(tenant_a.org, "customers")

    client = api(fresh(admin))
    assert_error(client.get("/api/test/gate-probe/"), 403, "module_not_enabled")
    assert_error(client.get(f"/api/test/gate-probe/{team.pk}/"), 403, "module_not_enabled")
    assert_error(client.get("/api/test/gate-probe/999999/"), 403, "module_not_enabled")  # before any lookup
    assert client.get("/api/v1/teams/").status_code == 200  # the platform is always on


@pytest.mark.parametrize("route", MODULE_ROUTES, ids=str)
def test_a_disabled_modules_api_answers_module_not_enabled(route: ApiRoute, tenant_a, api):
    ours = route.factory(tenant_a)
    disable(tenant_a.org, route.module)
    client = api(fresh(tenant_a.admin))

    assert_error(client.get(route.list_url), 403, "module_not_enabled")
    assert_error(client.post(route.list_url, {"name": "x"}, format="json"), 403, "module_not_enabled")
    if route.detail_url:
        for method in ("get", "patch", "delete"):
            response = getattr(client, method)(route.detail(ours.pk))
            assert_error(response, 403, "module_not_enabled")
    # Still there (and, for a record with a recycle bin, not in it); configuration rows have no deleted_at.
    live = {"deleted_at__isnull": True} if any(f.name == "deleted_at" for f in type(ours)._meta.fields) else {}
    assert type(ours)._base_manager.filter(pk=ours.pk, **live).exists()


@pytest.mark.parametrize("route", MODULE_ROUTES, ids=str)
def test_api_tokens_meet_the_same_gate(route: ApiRoute, tenant_a):
    _token, raw = services.token_create(actor=tenant_a.admin, scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(route.list_url).status_code == 200

    disable(tenant_a.org, route.module)

    assert_error(client.get(route.list_url), 403, "module_not_enabled")


@pytest.mark.parametrize("page", MODULE_PAGES, ids=str)
def test_a_disabled_modules_pages_are_403(page: UiPage, tenant_a, client):
    client.force_login(tenant_a.admin)
    url = reverse(page.list_url_name)
    assert client.get(url).status_code == 200

    disable(tenant_a.org, page.module)

    assert client.get(url).status_code == 403
