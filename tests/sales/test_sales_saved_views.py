"""Saved views of the sales lists (leads, opportunities, quotes, orders): the customers' mechanism
(kehu.core.saved_views and saved_view_pages) with the same bar, pages and API — personal or shared, filters,
sort and (leads) columns, the default view, and isolation."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from kehu.core import saved_views
from kehu.core.errors import ValidationFailed
from kehu.core.saved_view_models import SavedView
from tests.api.support import assert_error
from tests.customers.field_factories import make_view
from tests.sales.commerce_factories import make_order, make_quote
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
LISTS = (
    ("sales.lead", "sales:lead_list", "sales:lead_saved_view"),
    ("sales.opportunity", "sales:opportunity_list", "sales:opportunity_saved_view"),
    ("sales.quote", "sales:quote_list", "sales:quote_saved_view"),
    ("sales.order", "sales:order_list", "sales:order_saved_view"),
    ("sales.activity", "sales:activity_list", "sales:activity_saved_view"),
)


def html(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(("record_type", "list_url", "prefix"), LISTS)
def test_every_sales_list_saves_filters_and_sort_as_a_view(client, tenant_a, record_type, list_url, prefix):
    rep = tenant_a.users["sales_rep"]
    client.force_login(rep)
    page = html(client.get(reverse(list_url)))
    assert 'data-testid="saved-views"' in page and 'data-testid="save-view-form"' in page
    response = client.post(
        reverse(f"{prefix}_create"), {"name": "我的筛选", "state": "search=华为&ordering=-created_at&cursor=x"}
    )
    view = SavedView.objects.get(name="我的筛选")
    assert (view.record_type, view.owner, view.shared) == (record_type, rep, False)
    assert view.filters == {"search": "华为"} and view.ordering == "-created_at"
    assert response.status_code == 302 and f"view={view.pk}" in response.url
    page = html(client.get(response.url))
    assert f'data-view="{view.pk}"' in page and 'data-testid="view-update"' in page

    client.post(reverse(f"{prefix}_default", args=[view.pk]))
    opened = client.get(reverse(list_url))
    assert opened.status_code == 302 and parse_qs(urlparse(opened.url).query)["search"] == ["华为"]
    client.post(reverse(f"{prefix}_edit", args=[view.pk]), {"action": "update", "state": "search=腾讯"})
    view.refresh_from_db()
    assert view.filters == {"search": "腾讯"} and view.ordering == ""
    client.post(reverse(f"{prefix}_edit", args=[view.pk]), {"name": "共享筛选", "shared": "on"})
    view.refresh_from_db()
    assert (view.name, view.shared) == ("共享筛选", True)
    # A shared view is on a colleague's tabs; a personal one is not.
    client.force_login(tenant_a.users["sales_rep_2"])
    assert f'data-view="{view.pk}"' in html(client.get(reverse(list_url) + "?view=none"))
    client.force_login(rep)
    client.post(reverse(f"{prefix}_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert client.get(reverse(list_url)).status_code == 200  # no default any more


def test_the_lead_list_has_a_column_chooser_and_views_keep_columns(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_lead(tenant_a, rep, name="列线索", email="col@example.com", status="contacted")
    make_lead(tenant_a, rep, name="另一个", status="new")
    client.force_login(rep)
    page = html(client.get(reverse("sales:lead_list")))
    assert 'data-testid="columns-button"' in page and 'value="email"' in page
    assert "col@example.com" not in page  # e-mail is not a default column
    page = html(client.get(reverse("sales:lead_list"), {"columns": "name,email"}))
    assert "col@example.com" in page and "Company" not in re.sub(r"<option[^>]*>.*?</option>", "", page)
    client.post(
        reverse("sales:lead_saved_view_create"),
        {"name": "联系过", "state": "status=contacted&columns=name%2Cemail&ordering=name"},
    )
    view = SavedView.objects.get(name="联系过")
    assert view.columns == ["name", "email"] and view.filters == {"status": "contacted"} and view.ordering == "name"
    page = html(
        client.get(reverse("sales:lead_list"), {"view": view.pk, "status": "contacted", "columns": "name,email"})
    )
    assert "列线索" in page and "另一个" not in page and "col@example.com" in page


def test_views_are_validated_against_their_list(tenant_a):
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(ValidationFailed) as exc:
        make_view(tenant_a, rep, record_type="sales.quote", name="x", ordering="password")
    assert set(exc.value.fields) == {"ordering"}
    with pytest.raises(ValidationFailed) as exc:
        make_view(tenant_a, rep, record_type="sales.quote", name="x", columns=["total"])  # no chooser on quotes
    assert set(exc.value.fields) == {"columns"}
    with pytest.raises(ValidationFailed) as exc:
        make_view(tenant_a, rep, record_type="sales.lead", name="x", columns=["password"])
    assert set(exc.value.fields) == {"columns"}
    assert make_view(tenant_a, rep, record_type="sales.order", name="ok", ordering="-total").ordering == "-total"


def test_the_api_serves_sales_views_and_hides_them_from_who_cannot_see_the_list(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)
    response = client.post(
        "/api/v1/saved-views/",
        {"record_type": "sales.quote", "name": "草稿", "filters": {"status": "draft"}, "ordering": "-total"},
        format="json",
    )
    assert response.status_code == 201, response.content
    view_id = response.json()["id"]
    listed = client.get("/api/v1/saved-views/", {"record_type": "sales.quote"}).json()["results"]
    assert [v["id"] for v in listed] == [view_id]
    shared = make_view(tenant_a, rep, record_type="sales.order", shared=True)
    # The marketer (no sales access) never sees a sales list's view, even a shared one.
    marketer = api(tenant_a.users["marketer"])
    assert shared.pk not in [v["id"] for v in marketer.get("/api/v1/saved-views/").json()["results"]]
    assert_error(api(tenant_b.admin).get(f"/api/v1/saved-views/{view_id}/"), 404, "not_found")
    assert {v.record_type for v in saved_views.saved_view_list_for(actor=rep)} == {"sales.quote", "sales.order"}


def test_a_view_shows_only_what_the_user_may_see(client, tenant_a):
    rep, rep_2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    mine, theirs = make_quote(tenant_a, rep, title="华为 报价"), make_quote(tenant_a, rep_2, title="华为 报价")
    make_opportunity(tenant_a, rep_2, name="华为 项目")
    make_order(tenant_a, rep_2, title="华为 订单")
    view = make_view(tenant_a, rep, record_type="sales.quote", shared=True, filters={"search": "华为"})
    client.force_login(rep)
    page = html(client.get(reverse("sales:quote_list"), {"view": view.pk, "search": "华为"}))
    assert mine.get_absolute_url() in page and theirs.get_absolute_url() not in page
