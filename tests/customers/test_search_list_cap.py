"""A searched customer list sorted by anything but recency pages through at most LIST_LIMIT matches (the most
relevant; core.search_backends.capped_ids), in the API and the UI alike: every page is cut from the same capped
set, in the order asked; newest first pages through every match. The API's `capped_at` and the page's notice say
so (tests/sales/test_search_list_cap.py tests them for the three lists)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core import search_backends
from kehu.customers.models import Customer
from tests.conftest import login_client
from tests.customers.factories import make_customer

pytestmark = pytest.mark.django_db
CAP = 3


def aged(model, records: list) -> list[int]:
    """Give `records` decreasing recency in their order (the first the newest); their ids."""
    now = timezone.now()
    for n, record in enumerate(records):
        model.objects.filter(pk=record.pk).update(updated_at=now - timedelta(minutes=n))
    return [record.pk for record in records]


def pages(client, url: str) -> list[dict]:
    """Every page of an API list (pages of 2), following its next links."""
    bodies, url = [], f"{url}&limit=2"
    while url:
        body = client.get(url).json()
        bodies.append(body)
        url = body["next"]
    return bodies


def paged(client, url: str) -> list[int]:
    return [item["id"] for body in pages(client, url) for item in body["results"]]


@pytest.fixture
def matches(tenant_a, monkeypatch):
    """Five customers matching 星辰 (and one that does not), newest first, their names falling with age
    ("9号" the newest), the fragment never a name prefix (prefixes rank first)."""
    monkeypatch.setattr(search_backends, "LIST_LIMIT", CAP)
    made = [make_customer(tenant_a, name=f"{9 - n}号星辰") for n in range(5)]
    make_customer(tenant_a, name="太阳")
    return aged(Customer, made)


def test_the_api_pages_through_the_capped_matches_in_another_order(tenant_a, api, matches):
    client = api(tenant_a.admin)
    assert paged(client, f"/api/v1/customers/?search={quote('星辰')}") == matches  # newest first: all
    by_name = paged(client, f"/api/v1/customers/?search={quote('星辰')}&ordering=name")
    assert by_name == list(reversed(matches[:CAP]))  # the CAP newest (all rank alike), by name
    body = client.get(f"/api/v1/customers/?search={quote('星辰')}&ordering=name").json()
    assert body["capped_at"] == CAP


def test_the_list_page_shows_the_same_capped_matches(tenant_a, client, matches):
    login_client(client, tenant_a.admin)
    page = client.get(reverse("customers:list"), {"search": "星辰", "ordering": "name"}).content.decode()
    assert [pk for pk in matches if f"/customers/{pk}/" in page] == matches[:CAP]
    assert 'data-testid="search-cap"' in page
    page = client.get(reverse("customers:list"), {"search": "星辰"}).content.decode()
    assert [pk for pk in matches if f"/customers/{pk}/" in page] == matches
