"""The API's contract for failures: one error shape, the right status, never a 500 for bad input."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from tests.api.support import API, assert_error, assert_error_shape
from tests.isolation.registry import API_ROUTES

LIST_URLS = [route.list_url for route in API_ROUTES]


@pytest.mark.parametrize("url", [*LIST_URLS, f"{API}/me/"])
def test_every_route_needs_authentication(url, db):
    response = APIClient().get(url)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_unknown_paths_answer_404_in_the_error_shape(tenant_a, api):
    client = api(tenant_a.admin)

    for path in ("nope/", "users/1.5/", "users/1/nope/", "me", "users"):
        response = client.get(f"{API}/{path}")
        assert_error(response, 404, "not_found")
        assert response["Content-Type"] == "application/json"


def test_broken_bodies_are_400_or_415(tenant_a, api):
    client = api(tenant_a.admin)

    assert_error(client.post(f"{API}/teams/", '{"name": ', content_type="application/json"), 400, "parse_error")
    assert_error(client.post(f"{API}/teams/", "[1, 2]", content_type="application/json"), 400, "validation_failed")
    assert_error(client.post(f"{API}/teams/", '"x"', content_type="application/json"), 400, "validation_failed")
    assert_error(client.post(f"{API}/teams/", "name=x", content_type="text/plain"), 415, "unsupported_media_type")
    error = assert_error(
        client.post(f"{API}/roles/", {"name": ["a", "b"], "permissions": {"customers": 5}}, format="json"),
        400,
        "validation_failed",
    )
    assert "name" in error["fields"]
    assert any(field.startswith("permissions.customers") for field in error["fields"]), error["fields"]


def test_unsupported_methods_are_405(tenant_a, api):
    client = api(tenant_a.admin)

    assert_error(client.put(f"{API}/me/", {}, format="json"), 405, "method_not_allowed")
    assert_error(client.delete(f"{API}/users/"), 405, "method_not_allowed")
    assert_error(client.patch(f"{API}/tokens/{tenant_a.admin.pk}/", {}, format="json"), 405, "method_not_allowed")


BAD_QUERIES = [
    "limit=-1",
    "limit=abc",
    "limit=100000",
    "limit=0",
    "cursor=garbage",
    # Forged cursors (base64 of the position): "p=2026-01", "p=abc", a huge number, a negative offset, NUL.
    "cursor=cD0yMDI2LTAx",
    "cursor=cD1hYmM%3D",
    "cursor=cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OSZyPTE%3D",
    "cursor=bz0tNSZwPTE%3D",
    "cursor=cD0lMDA%3D",
    "ordering=password",
    "ordering=-",
    "ordering=,,,",
    "ordering=name;DROP TABLE accounts_user",
    "ordering=organization__name",
    "team=abc",
    "team=-5",
    "status=%00",
    "since=2026-13-45",
    "until=yesterday",
    "actor=1e9999",
    "search=" + "长" * 500,
    "search=%25%27%22%5C",
]


@pytest.mark.parametrize("url", LIST_URLS)
def test_bad_query_parameters_never_cause_a_500(url, tenant_a, api):
    client = api(tenant_a.admin)

    for query in BAD_QUERIES:
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query)
        if response.status_code >= 400:
            assert response.status_code in (400, 404), (url, query, response.status_code)
            assert_error_shape(response)
        else:
            assert len(response.json()["results"]) <= 200


@pytest.mark.parametrize("route", [r for r in API_ROUTES if r.detail_url], ids=str)
def test_bad_ids_are_404(route, tenant_a, api):
    client = api(tenant_a.admin)

    for bad in ("abc", "-1", "0", "1e3", "99999999999999999999999", "%00", "%E4%B8%AD", "1%20OR%201=1"):
        response = client.get(route.detail(bad))
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize("url", LIST_URLS)
def test_options_describes_the_route_without_failing(url, tenant_a, api):
    response = api(tenant_a.admin).options(url)

    assert response.status_code == 200
    assert "application/json" in response.json()["renders"]


@pytest.fixture
def low_rates(monkeypatch):
    """DRF reads the rates into the throttle classes when they are imported, so overriding the setting
    alone would not change them: set the class attribute, and start from an empty throttle history."""
    rates = {"anon": "3/minute", "user": "3/minute"}
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield rates
    cache.clear()


def test_too_many_requests_are_throttled(settings, low_rates, tenant_a, api):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": low_rates}
    client = api(tenant_a.users["sales_rep"])

    statuses = [client.get(f"{API}/me/").status_code for _ in range(3)]
    response = client.get(f"{API}/me/")

    assert statuses == [200, 200, 200]
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # The limit is per user: a colleague is not affected.
    assert api(tenant_a.users["sales_rep_2"]).get(f"{API}/me/").status_code == 200


def test_a_browser_gets_json_never_a_500(tenant_a, client):
    """The API renders JSON only (the interactive docs are /api/docs/)."""
    client.force_login(tenant_a.admin)

    browser = client.get(f"{API}/users/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser.status_code == 200
    assert browser["Content-Type"] == "application/json"
    assert_error(client.get(f"{API}/users/", HTTP_ACCEPT="text/html"), 406, "not_acceptable")


def test_a_nul_byte_in_the_query_is_a_400_everywhere(tenant_a, api, client):
    response = api(tenant_a.admin).get("/api/v1/users/?search=a%00b")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    client.force_login(tenant_a.admin)
    assert client.get("/search/?q=%00").status_code == 400
