"""The isolation matrix's registry: every API route and every UI page that shows or changes one record.

Each module registers its routes in a file of its own in tests/isolation/routes/ (see platform.py):

    api_route(
        list_url="/api/v1/customers/",
        detail_url="/api/v1/customers/{id}/",
        factory=lambda tenant: make_customer(tenant),   # one record in that tenant
        module="customers",
        detail_actions=("claim", "release"),           # POST /api/v1/customers/{id}/claim/ ...
        owned_factory=lambda tenant, owner: make_customer(tenant, owner=owner),  # scope checks
    )
    api_singleton(
        url="/api/v1/pool-settings/",                  # one object per organisation: GET and PUT
        factory=lambda tenant: set_pool_settings(tenant),
        shown=lambda tenant: {"max_customers_per_rep": ...},
        put_data={...},
        module="customers",
    )
    ui_page(
        list_url_name="customers:list",
        detail_url_name="customers:detail",
        get_url_names=("customers:timeline",),
        post_url_names=("customers:edit", "customers:delete"),
        factory=...,
        module="customers",
    )

test_matrix.py then runs every route as every default role of tenant_a against records of tenant_b
(never listed; GET/PATCH/DELETE/actions answer 404 and change nothing), and, where `owned_factory` is
given, against records of tenant_a owned by different colleagues (listed and readable exactly when
`can(actor, "view", record)` says so). test_registry_complete.py walks the URLconf and fails for an API
route or a record page that nobody registered, so a new module cannot skip the matrix.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

Factory = Callable[[Any], models.Model]  # (tenant) -> a record of that tenant
OwnedFactory = Callable[[Any, Any], models.Model]  # (tenant, owner) -> a record owned by owner

DEFAULT_PATCH = {"name": "changed by another organisation"}


@dataclass(frozen=True)
class ApiRoute:
    list_url: str
    detail_url: str | None  # a template with {id}; None for list-only routes
    factory: Factory
    module: str
    detail_actions: tuple[str, ...] = ()  # extra POST routes under the detail URL
    patch_data: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PATCH))
    owned_factory: OwnedFactory | None = None
    id_key: str = "id"

    def __str__(self) -> str:
        return self.list_url

    def detail(self, pk: Any) -> str:
        assert self.detail_url is not None
        return self.detail_url.format(id=pk)


@dataclass(frozen=True)
class ApiSingleton:
    """An organisation's one settings object at a fixed address: GET reads it, PUT replaces it.

    `factory(tenant)` gives the tenant's object values of its own and returns it; `shown(tenant)` is what
    GET must answer for that tenant (a dict of some of the response's keys); `put_data` is a valid body.
    """

    url: str
    factory: Factory
    shown: Callable[[Any], dict[str, Any]]
    put_data: dict[str, Any]
    module: str

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class UiPage:
    list_url_name: str | None
    detail_url_name: str | None
    factory: Factory
    module: str
    post_url_names: tuple[str, ...] = ()  # record-level URLs that change it (edit, delete, ...): POST -> 404
    get_url_names: tuple[str, ...] = ()  # further record-level pages (a timeline tab, an edit form): GET -> 404
    pk_kwarg: str = "pk"
    post_data: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PATCH))

    def __str__(self) -> str:
        return self.detail_url_name or self.list_url_name or "?"

    @property
    def record_url_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for n in (self.detail_url_name, *self.get_url_names, *self.post_url_names) if n))


@dataclass(frozen=True)
class Exemption:
    """An API path or record page outside the matrix, with the reason a reviewer can check."""

    reason: str


API_ROUTES: list[ApiRoute] = []
API_SINGLETONS: list[ApiSingleton] = []
UI_PAGES: list[UiPage] = []
# API paths (relative to /api/v1/, as in the URLconf) that carry no other organisation's records.
API_EXEMPT: dict[str, Exemption] = {}
# URL names of record pages (taking an id) that are checked elsewhere.
UI_EXEMPT: dict[str, Exemption] = {}


def api_route(**kwargs: Any) -> ApiRoute:
    route = ApiRoute(**kwargs)
    assert route.list_url not in {r.list_url for r in API_ROUTES}, f"{route.list_url} registered twice"
    API_ROUTES.append(route)
    return route


def api_singleton(**kwargs: Any) -> ApiSingleton:
    singleton = ApiSingleton(**kwargs)
    assert singleton.url not in {s.url for s in API_SINGLETONS}, f"{singleton.url} registered twice"
    API_SINGLETONS.append(singleton)
    return singleton


def ui_page(**kwargs: Any) -> UiPage:
    page = UiPage(**kwargs)
    UI_PAGES.append(page)
    return page


def exempt_api(path: str, reason: str) -> None:
    API_EXEMPT[path] = Exemption(reason)


def exempt_ui(url_name: str, reason: str) -> None:
    UI_EXEMPT[url_name] = Exemption(reason)


def _load() -> None:
    from tests.isolation import routes

    for info in pkgutil.iter_modules(routes.__path__):
        importlib.import_module(f"{routes.__name__}.{info.name}")


_load()
