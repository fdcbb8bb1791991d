"""Saved views of the customer list and its columns: personal vs shared, other organisations, columns
persisted and rendered, the default view, and /api/v1/saved-views/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from kehu.core import saved_views
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.saved_view_models import SavedView
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_customer
from tests.customers.field_factories import make_field, make_view

URL = "/api/v1/saved-views/"


def html(response):
    return response.content.decode()


def test_personal_views_are_their_owners_and_shared_ones_the_organisations(tenant_a, tenant_b):
    rep, colleague = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    mine = make_view(tenant_a, rep, name="我的A级")
    shared = make_view(tenant_a, rep, name="全公司A级", shared=True)
    theirs = make_view(tenant_b, tenant_b.users["sales_rep"], shared=True)
    assert set(saved_views.saved_view_list_for(actor=rep)) == {mine, shared}
    assert list(saved_views.saved_view_list_for(actor=colleague)) == [shared]
    assert list(saved_views.saved_view_list_for(actor=tenant_b.admin)) == [theirs]
    with pytest.raises(NotFound):
        saved_views.saved_view_get_for(actor=colleague, pk=mine.pk)
    with pytest.raises(NotFound):
        saved_views.saved_view_get_for(actor=tenant_b.admin, pk=shared.pk)
    # A colleague sees a shared view but may not change it; an administrator of customers may.
    with pytest.raises(PermissionDenied):
        saved_views.saved_view_update(actor=colleague, view=shared, data={"name": "改名"})
    saved_views.saved_view_update(actor=tenant_a.admin, view=shared, data={"name": "改名"})
    assert SavedView.objects.get(pk=shared.pk).name == "改名"


def test_views_hold_only_valid_columns_and_orderings(tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_field(tenant_a, "text", key="code")
    view = make_view(tenant_a, rep, columns=["name", "custom.code"], ordering="-name")
    assert view.columns == ["name", "custom.code"]
    for bad in ({"columns": ["password"]}, {"columns": ["custom.nope"]}, {"ordering": "password"}, {"name": " "}):
        with pytest.raises(ValidationFailed) as exc:
            make_view(tenant_a, rep, **{"name": "x", **bad})
        assert set(exc.value.fields) == {next(iter(bad))}


def test_api_crud_visibility_and_default(api, tenant_a, tenant_b):
    rep, colleague = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    client = api(rep)
    response = client.post(
        URL,
        {
            "record_type": "customers.customer",
            "name": "A级",
            "filters": {"tier": "A"},
            "columns": ["name", "owner"],
            "ordering": "name",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    personal = response.json()
    assert personal["mine"] is True and personal["shared"] is False and personal["is_default"] is False
    shared = client.post(
        URL, {"record_type": "customers.customer", "name": "共享", "shared": True}, format="json"
    ).json()
    assert set(all_ids(api(colleague), URL)) == {shared["id"]}
    assert all_ids(api(tenant_b.admin), URL) == []
    assert_error(api(colleague).get(f"{URL}{personal['id']}/"), 404, "not_found")
    assert_error(api(colleague).patch(f"{URL}{shared['id']}/", {"name": "x"}, format="json"), 403, "permission_denied")
    response = client.patch(f"{URL}{personal['id']}/", {"name": "A级客户", "columns": ["name", "bogus"]}, format="json")
    assert "columns" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.patch(f"{URL}{personal['id']}/", {"name": "A级客户"}, format="json")
    assert response.json()["name"] == "A级客户"
    # A colleague may make the shared view their own default.
    response = api(colleague).post(f"{URL}{shared['id']}/default/", {}, format="json")
    assert response.status_code == 200 and response.json()["is_default"] is True
    assert saved_views.default_for(actor=colleague, record_type="customers.customer").pk == shared["id"]
    # Unsharing drops it from the colleague's default and list.
    client.patch(f"{URL}{shared['id']}/", {"shared": False}, format="json")
    assert saved_views.default_for(actor=colleague, record_type="customers.customer") is None
    assert client.delete(f"{URL}{personal['id']}/").status_code == 204
    assert not SavedView.objects.filter(pk=personal["id"]).exists()


def test_chosen_columns_are_rendered_saved_in_a_view_and_reopened(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_field(tenant_a, "single_select", key="grade", label="客户等级")
    make_customer(tenant_a, rep, name="列客户", email="col@example.com", custom={"grade": "金"})
    client.force_login(rep)
    page = html(client.get(reverse("customers:list")))
    assert 'data-column="phone"' in page and 'data-column="custom.grade"' not in page  # the default columns
    assert 'value="custom.grade"' in page  # offered in the column chooser
    query = {"columns": "name,email,custom.grade", "tier": ""}
    page = html(client.get(reverse("customers:list"), query))
    headers = re.findall(r'<th scope="col" data-column="([^"]+)"', page)
    assert headers == ["name", "email", "custom.grade"]
    assert "col@example.com" in page and ">金<" in page
    # Save the current state as a view: the columns persist with it.
    response = client.post(
        reverse("customers:saved_view_create"),
        {"name": "带等级", "state": "columns=name%2Cemail%2Ccustom.grade&ordering=name&custom.grade=金"},
    )
    view = SavedView.objects.get(name="带等级")
    assert view.owner == rep and view.columns == ["name", "email", "custom.grade"]
    assert view.filters == {"custom.grade": "金"} and view.ordering == "name"
    assert response.status_code == 302 and f"view={view.pk}" in response.url
    reopened = html(client.get(response.url))
    assert re.findall(r'<th scope="col" data-column="([^"]+)"', reopened) == ["name", "email", "custom.grade"]
    assert "列客户" in reopened and f'data-view="{view.pk}"' in reopened
    # Another rep of the organisation does not see the personal view.
    client.force_login(tenant_a.users["sales_rep_2"])
    assert f'data-view="{view.pk}"' not in html(client.get(reverse("customers:list")))


def test_the_default_view_opens_the_list_and_views_are_renamed_updated_and_deleted(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_customer(tenant_a, rep, name="甲客户", tier="A")
    make_customer(tenant_a, rep, name="乙客户", tier="B")
    view = make_view(tenant_a, rep, name="A级", filters={"tier": "A"}, columns=["name", "tier"])
    client.force_login(rep)
    client.post(reverse("customers:saved_view_default", args=[view.pk]))
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302
    params = parse_qs(urlparse(response.url).query)
    assert params["view"] == [str(view.pk)] and params["tier"] == ["A"] and params["columns"] == ["name,tier"]
    page = html(client.get(response.url))
    assert "甲客户" in page and "乙客户" not in page
    assert "乙客户" in html(client.get(reverse("customers:list") + "?view=none"))  # the plain list stays reachable
    client.post(
        reverse("customers:saved_view_edit", args=[view.pk]), {"action": "update", "state": "tier=B&columns=name"}
    )
    view.refresh_from_db()
    assert view.filters == {"tier": "B"} and view.columns == ["name"]
    client.post(reverse("customers:saved_view_edit", args=[view.pk]), {"name": "B级", "shared": "on"})
    view.refresh_from_db()
    assert (view.name, view.shared) == ("B级", True)
    client.post(reverse("customers:saved_view_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert client.get(reverse("customers:list")).status_code == 200  # no default any more


def test_views_of_another_organisation_or_colleague_are_404_in_the_ui(client, tenant_a, tenant_b):
    theirs = make_view(tenant_b, tenant_b.users["sales_rep"], shared=True)
    personal = make_view(tenant_a, tenant_a.users["sales_rep_2"])
    client.force_login(tenant_a.users["sales_rep"])
    for view in (theirs, personal):
        for name in ("customers:saved_view_edit", "customers:saved_view_delete", "customers:saved_view_default"):
            assert client.post(reverse(name, args=[view.pk]), {"name": "x"}).status_code == 404
    assert SavedView.objects.filter(pk__in=[theirs.pk, personal.pk]).count() == 2
