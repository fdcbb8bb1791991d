"""The matrix covers everything: walk the URLconf and fail for an API route or a record page that no
module registered in tests/isolation/routes/ (or exempted there with a reason)."""

from __future__ import annotations

from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter

from kehu import api_urls
from tests.isolation.registry import API_EXEMPT, API_ROUTES, API_SINGLETONS, UI_EXEMPT, UI_PAGES

DETAIL_ACTIONS = {"retrieve", "update", "partial_update", "destroy"}
# Django's own admin, for the vendor's platform staff (who belong to no organisation), and the API,
# which the router walk below covers.
UI_SKIP_PREFIXES = ("platform/", "api/")


def test_every_api_view_set_is_in_the_matrix():
    by_list_url = {route.list_url: route for route in API_ROUTES}
    singletons = {singleton.url for singleton in API_SINGLETONS}
    missing = []
    for prefix, viewset, _basename in api_urls.router.registry:
        route = by_list_url.get(f"/api/v1/{prefix}/")
        if route is None and f"/api/v1/{prefix}/" in singletons:
            continue
        if route is None:
            missing.append(f"/api/v1/{prefix}/ ({viewset.__name__}): not registered")
            continue
        has_detail = any(hasattr(viewset, name) for name in DETAIL_ACTIONS)
        if has_detail and route.detail_url != f"/api/v1/{prefix}/{{id}}/":
            missing.append(f"/api/v1/{prefix}/: detail_url should be /api/v1/{prefix}/{{id}}/")
        for extra in viewset.get_extra_actions():
            if extra.detail and extra.url_path not in route.detail_actions:
                missing.append(f"/api/v1/{prefix}/{{id}}/{extra.url_path}/: add {extra.url_path!r} to detail_actions")
    assert not missing, "Register these in tests/isolation/routes/:\n" + "\n".join(missing)


def test_every_other_api_path_is_registered_or_exempt():
    router_patterns = {id(p) for p in api_urls.router.urls}
    others = [str(p.pattern) for p in api_urls.urlpatterns if id(p) not in router_patterns]
    assert others, "me/ and the JSON 404 should be found"
    unknown = [p for p in others if p not in API_EXEMPT]
    assert not unknown, f"API paths outside the router, neither in the matrix nor exempt: {unknown}"


def test_registered_api_routes_exist():
    registered = {f"/api/v1/{prefix}/" for prefix, _viewset, _basename in api_urls.router.registry}
    stale = [route.list_url for route in API_ROUTES if route.list_url not in registered]
    stale += [singleton.url for singleton in API_SINGLETONS if singleton.url not in registered]
    assert not stale, f"registered in the matrix but not served: {stale}"


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + str(entry.pattern), namespace + entry.name, entry


def _takes_a_record_id(pattern: URLPattern) -> bool:
    converters = getattr(pattern.pattern, "converters", {}) or {}
    names = set(converters) | set(pattern.pattern.regex.groupindex)
    return any(isinstance(c, IntConverter) for c in converters.values()) or any(
        n in ("pk", "id") or n.endswith(("_id", "_pk")) for n in names
    )


def test_every_record_page_is_in_the_matrix():
    covered = {name for page in UI_PAGES for name in page.record_url_names} | set(UI_EXEMPT)
    missing = [
        f"{route} ({name})"
        for route, name, pattern in _walk(get_resolver().url_patterns)
        if not route.startswith(UI_SKIP_PREFIXES) and _takes_a_record_id(pattern) and name not in covered
    ]
    assert not missing, "Record pages missing from tests/isolation/routes/ (ui_page or exempt_ui):\n" + "\n".join(
        missing
    )


def test_registered_ui_pages_exist():
    names = {name for _route, name, _pattern in _walk(get_resolver().url_patterns)}
    stale = [
        name for page in UI_PAGES for name in (page.list_url_name, *page.record_url_names) if name and name not in names
    ]
    assert not stale, f"registered in the matrix but not served: {stale}"
