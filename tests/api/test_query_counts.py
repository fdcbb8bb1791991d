"""No N+1 on any list: the queries of a list page do not grow with the number of rows on it.

Runs over every route of the isolation registry, so a module's list is checked once it registers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.isolation.registry import API_ROUTES, ApiRoute

MAX_QUERIES = 10  # auth, organisation, role, the page, and a few select_related-free lookups at most


def _queries(client, url: str) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx), len(response.json()["results"]), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_list_queries_do_not_grow_with_the_rows(route: ApiRoute, tenant_a, api):
    client = api(tenant_a.admin)
    url = f"{route.list_url}?limit=200"
    route.factory(tenant_a)
    _queries(client, url)  # warm-up: per-process caches (content types, ...)
    few, rows_before, _ = _queries(client, url)

    for _ in range(6):
        route.factory(tenant_a)
    many, rows_after, sql = _queries(client, url)

    assert rows_after >= rows_before + 6
    assert many == few, "\n".join(sql)
    assert many <= MAX_QUERIES, "\n".join(sql)
