"""The isolation matrix: every registered API route and record page, as every default role of tenant_a.

Nothing of tenant_b is ever listed, read or changed (its records answer 404, never 200 or 403, and keep
every field and the audit chain as they were); within tenant_a, records are listed and readable exactly
when `can(actor, "view", record)` says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.urls import Resolver404, resolve, reverse

from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from tests.api.support import all_ids, assert_error, assert_error_shape
from tests.conftest import ROLE_KEYS
from tests.isolation.registry import API_ROUTES, API_SINGLETONS, UI_PAGES, ApiRoute, ApiSingleton, UiPage

DETAIL_ROUTES = [r for r in API_ROUTES if r.detail_url]
SCOPED_ROUTES = [r for r in API_ROUTES if r.owned_factory]
# Colleagues in different teams: sales (administrator, manager, marketer) and sales east (the reps).
OWNER_KEYS = ("administrator", "sales_manager", "marketer", "sales_rep", "sales_rep_2")


def snapshot(record: models.Model) -> dict[str, Any]:
    fresh = type(record)._base_manager.get(pk=record.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def routed(url: str, method: str) -> bool:
    """Does `url` accept `method` at all (else DRF answers 405, which reveals nothing either)?"""
    try:
        match = resolve(url)
    except Resolver404:
        return False
    actions = getattr(match.func, "actions", None)
    if actions is not None:
        return method in actions
    view_class = getattr(match.func, "view_class", None)
    return view_class is not None and hasattr(view_class, method)


def tenant_ids(model: type[models.Model], ids: list[Any], organization_id: int) -> set[Any]:
    """Of `ids`, those whose record belongs to another organisation than `organization_id`."""
    return set(
        model._base_manager.filter(pk__in=ids).exclude(organization_id=organization_id).values_list("pk", flat=True)
    )


# API -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_api_list_never_contains_another_organizations_records(route: ApiRoute, role, tenant_a, tenant_b, api):
    theirs = route.factory(tenant_b)
    ours = route.factory(tenant_a)
    client = api(tenant_a.users[role])

    response = client.get(route.list_url)
    if response.status_code == 403:  # a role without the right to list (the audit log for non-administrators)
        assert_error(response, 403, "permission_denied")
        assert role != "administrator"
        return
    ids = all_ids(client, route.list_url, route.id_key)

    assert theirs.pk not in ids
    assert tenant_ids(type(theirs), ids, tenant_a.org.pk) == set(), "a record of another organisation was listed"
    if role == "administrator":  # the list is not trivially empty: the check above means something
        assert ours.pk in ids


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_api_another_organizations_record_is_not_found(route: ApiRoute, role, tenant_a, tenant_b, api):
    theirs = route.factory(tenant_b)
    before = snapshot(theirs)
    audit_before = AuditEntry.objects.filter(organization=tenant_b.org).count()
    client = api(tenant_a.users[role])
    url = route.detail(theirs.pk)

    attempts: list[tuple[str, str, Any]] = [("get", url, None), ("patch", url, route.patch_data)]
    attempts += [("post", f"{url}{action}/", {}) for action in route.detail_actions]
    attempts.append(("delete", url, None))
    for method, target, data in attempts:
        if data is None:
            response = getattr(client, method)(target)
        else:
            response = getattr(client, method)(target, data, format="json")
        expected = 404 if routed(target, method) else 405
        assert response.status_code == expected, f"{method.upper()} {target} as {role}: {response.status_code}"
        assert_error_shape(response)

    assert snapshot(theirs) == before, "a record of another organisation was changed"
    assert AuditEntry.objects.filter(organization=tenant_b.org).count() == audit_before
    # The same URL works for a record of one's own organisation, so the 404s above are not a typo.
    ours = route.factory(tenant_a)
    assert api(tenant_a.admin).get(route.detail(ours.pk)).status_code == 200


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=str)
def test_api_lists_and_reads_exactly_the_records_in_the_roles_scope(route: ApiRoute, role, tenant_a, api):
    records = [route.owned_factory(tenant_a, tenant_a.users[key]) for key in OWNER_KEYS]
    actor = tenant_a.users[role]
    client = api(actor)

    response = client.get(route.list_url)
    if response.status_code == 403:
        assert_error(response, 403, "permission_denied")
        listed: set[Any] = set()
    else:
        listed = set(all_ids(client, route.list_url, route.id_key))
    for record, owner_key in zip(records, OWNER_KEYS, strict=True):
        visible = can(actor, "view", record)
        assert (record.pk in listed) == visible, f"{role} / record of {owner_key}: listed={record.pk in listed}"
        if route.detail_url:
            status = client.get(route.detail(record.pk)).status_code
            assert status == (200 if visible else 404), f"{role} / record of {owner_key}: {status}"


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("singleton", API_SINGLETONS, ids=str)
def test_api_settings_objects_are_the_actors_organisations_own(singleton: ApiSingleton, role, tenant_a, tenant_b, api):
    """GET answers the actor's organisation's object (never another's values); PUT changes only that one."""
    theirs = singleton.factory(tenant_b)
    before = snapshot(theirs)
    audit_before = AuditEntry.objects.filter(organization=tenant_b.org).count()
    client = api(tenant_a.users[role])

    response = client.get(singleton.url)
    if response.status_code == 403:
        assert_error_shape(response)
        assert role != "administrator"
    else:
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        ours = singleton.shown(tenant_a)
        assert {key: body[key] for key in ours} == ours
        assert {key: body[key] for key in ours} != singleton.shown(tenant_b), "another organisation's values"
    response = client.put(singleton.url, singleton.put_data, format="json")
    assert response.status_code in (200, 403), response.status_code
    if response.status_code == 403:
        assert_error_shape(response)
    if role == "administrator":
        assert response.status_code == 200
        assert {key: response.json()[key] for key in singleton.put_data} == singleton.put_data

    assert snapshot(theirs) == before, "another organisation's settings were changed"
    assert AuditEntry.objects.filter(organization=tenant_b.org).count() == audit_before


# UI --------------------------------------------------------------------------------------------------


MISSING_PK = 2_000_000_000  # an id no record has


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("page", UI_PAGES, ids=str)
def test_ui_pages_never_show_or_change_another_organizations_records(page: UiPage, role, tenant_a, tenant_b, client):
    """A page answers for another organisation's record exactly as for an id that does not exist: 404, or
    403 when the role may not use the page at all. Never 200, never a redirect after a change."""
    theirs = page.factory(tenant_b)
    before = snapshot(theirs)
    client.force_login(tenant_a.users[role])

    def url(name: str, pk: Any) -> str:
        return reverse(name, kwargs={page.pk_kwarg: pk})

    if page.list_url_name:
        response = client.get(reverse(page.list_url_name))
        assert response.status_code in (200, 403), response.status_code
        html = response.content.decode()
        for name in page.record_url_names:
            assert url(name, theirs.pk) not in html, f"{page.list_url_name} links to a record of another organisation"
    checks = [("get", name) for name in (page.detail_url_name, *page.get_url_names) if name]
    checks += [("post", name) for name in page.post_url_names]
    for method, name in checks:
        send = getattr(client, method)
        data = page.post_data if method == "post" else None
        status = send(url(name, theirs.pk), data).status_code
        missing_status = send(url(name, MISSING_PK), data).status_code
        assert status in (403, 404), f"{method.upper()} {name} as {role}: {status}"
        assert status == missing_status, (
            f"{method.upper()} {name} as {role}: {status}, for a missing id {missing_status}"
        )
        if role == "administrator":
            assert status == 404, f"{method.upper()} {name}: {status}"

    assert snapshot(theirs) == before, "a record of another organisation was changed"
