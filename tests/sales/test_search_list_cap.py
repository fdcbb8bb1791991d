"""A searched list sorted by anything but recency pages through at most LIST_LIMIT matches (the one cap of
kehu.core.search_backends), the same for customers, opportunities and leads, in the API and the UI: every
page is cut from the same capped set, in the order asked; newest first pages through every match."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.customers import search as customer_search
from kehu.customers.models import Customer
from kehu.sales import search as sales_search
from kehu.sales.lead_models import Lead
from kehu.sales.opportunity_models import Opportunity
from tests.conftest import login_client
from tests.customers.factories import make_customer
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
API = "/api/v1"
CAP = 3


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr(customer_search, "LIST_LIMIT", CAP)
    monkeypatch.setattr(sales_search, "LIST_LIMIT", CAP)


def aged(model, records: list) -> list[int]:
    """Give `records` decreasing recency in their order (the first the newest); their ids."""
    now = timezone.now()
    for n, record in enumerate(records):
        model.objects.filter(pk=record.pk).update(updated_at=now - timedelta(minutes=n))
    return [record.pk for record in records]


def paged(client, url: str) -> list[int]:
    """The ids of every page of an API list (pages of 2), following its next links."""
    ids, url = [], f"{url}&limit=2"
    while url:
        body = client.get(url).json()
        ids += [item["id"] for item in body["results"]]
        url = body["next"]
    return ids


@pytest.fixture
def records(tenant_a):
    """Five matches of 星辰 (and one non-match) of each type, their names in the reverse order of their
    recency (so that "by name" and "newest first" differ), the fragment never a name prefix (customers rank
    prefixes first)."""
    customer = make_customer(tenant_a, name="月亮")
    made = {"customers": [], "opportunities": [], "leads": []}
    for n in range(5):
        made["customers"].append(make_customer(tenant_a, name=f"{9 - n}号星辰"))
        made["opportunities"].append(
            make_opportunity(tenant_a, customer=customer, name=f"{9 - n}号星辰", amount=Decimal(100 + n))
        )
        made["leads"].append(make_lead(tenant_a, name=f"{9 - n}号星辰", company="月亮"))
    make_customer(tenant_a, name="太阳")
    make_opportunity(tenant_a, customer=customer, name="太阳")
    make_lead(tenant_a, name="太阳", company="月亮")
    return {
        "customers": aged(Customer, made["customers"]),
        "opportunities": aged(Opportunity, made["opportunities"]),
        "leads": aged(Lead, made["leads"]),
    }


@pytest.mark.parametrize(
    ("path", "ordering"),
    [("customers", "name"), ("opportunities", "name"), ("opportunities", "-amount"), ("leads", "name")],
)
def test_a_search_in_another_order_pages_through_the_capped_matches(tenant_a, api, records, capped, path, ordering):
    ids = records[path]  # newest first
    client = api(tenant_a.admin)
    newest = paged(client, f"{API}/{path}/?search={quote('星辰')}")
    assert newest == ids  # newest first: every match, whatever the cap
    in_order = paged(client, f"{API}/{path}/?search={quote('星辰')}&ordering={ordering}")
    # The CAP newest matches, in the order asked: names fall and amounts rise with age ("9号" at 100 is the
    # newest), so by name and by -amount both are oldest first.
    assert in_order == list(reversed(ids[:CAP]))


@pytest.mark.parametrize(
    ("url", "path"),
    [("customers:list", "customers"), ("sales:opportunity_list", "opportunities"), ("sales:lead_list", "leads")],
)
def test_the_list_page_shows_the_same_capped_matches(tenant_a, client, records, capped, url, path):
    login_client(client, tenant_a.admin)
    page = client.get(reverse(url), {"search": "星辰", "ordering": "name"}).content.decode()
    shown = [pk for pk in records[path] if f"/{path}/{pk}/" in page]
    assert shown == records[path][:CAP]
    page = client.get(reverse(url), {"search": "星辰"}).content.decode()
    assert [pk for pk in records[path] if f"/{path}/{pk}/" in page] == records[path]
