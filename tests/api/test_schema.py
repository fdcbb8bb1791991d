"""OpenAPI 3 at /api/schema/ (generated without warnings, valid) and Swagger UI at /api/docs/ served
entirely from our own static files."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

PLATFORM_PATHS = {
    "/api/v1/me/": {"get", "patch"},
    "/api/v1/users/": {"get", "post"},
    "/api/v1/users/{id}/": {"get", "patch"},
    "/api/v1/users/{id}/deactivate/": {"post"},
    "/api/v1/users/{id}/reactivate/": {"post"},
    "/api/v1/teams/": {"get", "post"},
    "/api/v1/teams/{id}/": {"get", "patch", "delete"},
    "/api/v1/roles/": {"get", "post"},
    "/api/v1/roles/{id}/": {"get", "patch", "delete"},
    "/api/v1/roles/{id}/copy/": {"post"},
    "/api/v1/tokens/": {"get", "post"},
    "/api/v1/tokens/{id}/": {"get", "delete"},
    "/api/v1/audit-entries/": {"get"},
}


def test_the_schema_generates_without_warnings_and_validates(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)

    problems = sorted({*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache})
    assert not problems, "drf-spectacular warnings/errors:\n" + "\n".join(problems)
    validate_schema(schema)  # OpenAPI 3 JSON schema
    for path, methods in PLATFORM_PATHS.items():
        assert path in schema["paths"], path
        assert set(schema["paths"][path]) == methods, path


def test_the_schema_documents_the_contract(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    users_list = schema["paths"]["/api/v1/users/"]["get"]

    params = {p["name"] for p in users_list["parameters"]}
    assert {"status", "team", "search", "ordering", "cursor", "limit"} <= params
    assert set(users_list["responses"]) >= {"200", "401", "403"}
    assert schema["components"]["schemas"]["Error"]["properties"]["error"]["$ref"].endswith("/ErrorDetail")
    page = schema["components"]["schemas"]["PaginatedUserOutputList"]
    assert set(page["properties"]) == {"results", "next", "previous"}
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <API token>",
    }
    token_created = schema["components"]["schemas"]["ApiTokenCreatedOutput"]
    assert "token" in token_created["properties"]


def test_the_schema_is_served(client, db):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert set(PLATFORM_PATHS) <= set(response.json()["paths"])


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.urls.append(values["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"])


def test_the_docs_load_nothing_from_another_host(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = _Assets()
    assets.feed(html)
    assert len(assets.urls) >= 4  # favicon, css, the two bundles
    for url in assets.urls:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url  # served by us, from drf-spectacular-sidecar
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert '"validatorUrl": null' in html  # Swagger UI would otherwise call validator.swagger.io
    assert "/api/schema/" in html
