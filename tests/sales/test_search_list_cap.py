"""A searched list sorted by anything but recency pages through at most LIST_LIMIT matches (the one cap of
kehu.core.search_backends, capped_ids), the same for customers, opportunities and leads, in the API and the UI:
every page is cut from the same capped set, in the order asked; newest first pages through every match. When the
cap cut the matches, the API's envelope says so (`capped_at`) and the page shows a notice; a sales rep's capped
search holds their own matches only (walked by the owner-led index on PostgreSQL: sales/search.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kehu.core import search_backends
from kehu.customers.models import Customer
from kehu.sales import search as sales_search
from kehu.sales.lead_models import Lead
from kehu.sales.opportunity_models import Opportunity
from tests.conftest import login_client
from tests.customers.factories import make_customer
from tests.customers.test_search_list_cap import aged, paged, pages
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
API = "/api/v1"
CAP = 3
LISTS = [("customers:list", "customers"), ("sales:opportunity_list", "opportunities"), ("sales:lead_list", "leads")]


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr(search_backends, "LIST_LIMIT", CAP)


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
    newest = pages(client, f"{API}/{path}/?search={quote('星辰')}")
    assert [item["id"] for body in newest for item in body["results"]] == ids  # every match, whatever the cap
    assert {body["capped_at"] for body in newest} == {None}  # newest first is never capped
    in_order = pages(client, f"{API}/{path}/?search={quote('星辰')}&ordering={ordering}")
    # The CAP newest matches, in the order asked: names fall and amounts rise with age ("9号" at 100 is the
    # newest), so by name and by -amount both are oldest first. Every page says the list was capped.
    assert [item["id"] for body in in_order for item in body["results"]] == list(reversed(ids[:CAP]))
    assert {body["capped_at"] for body in in_order} == {CAP}


@pytest.mark.parametrize("path", ["customers", "opportunities", "leads"])
def test_capped_at_is_null_when_the_cap_holds_every_match(tenant_a, api, records, monkeypatch, path):
    monkeypatch.setattr(search_backends, "LIST_LIMIT", 5)  # exactly the five matches: nothing cut
    client = api(tenant_a.admin)
    body = client.get(f"{API}/{path}/?search={quote('星辰')}&ordering=name").json()
    assert body["capped_at"] is None
    assert len(body["results"]) == 5
    body = client.get(f"{API}/{path}/?ordering=name").json()  # no search: no cap
    assert body["capped_at"] is None


@pytest.mark.parametrize(("url", "path"), LISTS)
def test_the_list_page_shows_the_same_capped_matches_and_says_so(tenant_a, client, records, capped, url, path):
    login_client(client, tenant_a.admin)
    page = client.get(reverse(url), {"search": "星辰", "ordering": "name"}).content.decode()
    shown = [pk for pk in records[path] if f"/{path}/{pk}/" in page]
    assert shown == records[path][:CAP]
    assert 'data-testid="search-cap"' in page
    link = page.split('data-testid="search-cap-recent"')[0].rsplit('href="', 1)[1].split('"')[0]
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["ordering"] == ["-updated_at"]  # the way to every match, with the search kept
    assert query["search"] == ["星辰"]
    page = client.get(reverse(url), {"search": "星辰"}).content.decode()
    assert [pk for pk in records[path] if f"/{path}/{pk}/" in page] == records[path]
    assert 'data-testid="search-cap"' not in page


@pytest.mark.parametrize(("url", "path"), LISTS)
def test_no_notice_when_the_cap_holds_every_match(tenant_a, client, records, monkeypatch, url, path):
    monkeypatch.setattr(search_backends, "LIST_LIMIT", 5)
    login_client(client, tenant_a.admin)
    page = client.get(reverse(url), {"search": "星辰", "ordering": "name"}).content.decode()
    assert [pk for pk in records[path] if f"/{path}/{pk}/" in page] == records[path]
    assert 'data-testid="search-cap"' not in page


def test_the_notice_names_the_sort_column(tenant_a, client, records, capped):
    admin = tenant_a.admin
    admin.language = "en"  # the text asserted is the English source string
    admin.save(update_fields=["language"])
    login_client(client, admin)
    page = client.get(reverse("sales:opportunity_list"), {"search": "星辰", "ordering": "-amount"})
    text = " ".join(page.content.decode().split())
    assert f"Sorted by amount, this list shows the {CAP} most relevant matches; sort by last updated" in text


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("opportunities", lambda tenant, owner, name: make_opportunity(tenant, owner, name=name)),
        ("leads", lambda tenant, owner, name: make_lead(tenant, owner, name=name, company="月亮")),
    ],
)
def test_a_reps_sorted_search_holds_their_own_matches_capped(tenant_a, api, capped, path, make):
    """The rep's five matches are older than a colleague's five: the capped set is the rep's own newest
    (their walk reads their own rows), never a colleague's; the manager's holds the newest of both."""
    rep, rep_2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    model = Opportunity if path == "opportunities" else Lead
    theirs = aged(model, [make(tenant_a, rep_2, f"{9 - n}号星辰") for n in range(5)])
    mine = [make(tenant_a, rep, f"{4 - n}号星辰") for n in range(5)]
    now = timezone.now()
    for n, record in enumerate(mine):
        model.objects.filter(pk=record.pk).update(updated_at=now - timedelta(hours=1, minutes=n))
    mine = [record.pk for record in mine]
    bodies = pages(api(rep), f"{API}/{path}/?search={quote('星辰')}&ordering=name")
    assert [item["id"] for body in bodies for item in body["results"]] == list(reversed(mine[:CAP]))
    assert {body["capped_at"] for body in bodies} == {CAP}
    manager = tenant_a.users["sales_manager"]
    by_manager = paged(api(manager), f"{API}/{path}/?search={quote('星辰')}&ordering=name")
    assert by_manager == list(reversed(theirs[:CAP]))


@pytest.mark.parametrize("component", ["CustomerList", "OpportunityList", "LeadList"])
def test_the_schema_documents_capped_at(tenant_a, api, component):
    schema = api(tenant_a.admin).get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"][component]["properties"]
    assert properties["capped_at"]["type"] == "integer"
    assert properties["capped_at"]["nullable"] is True
    assert {"results", "next", "previous"} <= set(properties)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
def test_postgres_has_owner_led_covering_walk_indexes(db):
    """A rep's walk reads their own rows newest first, from the index alone (plans at scale: RESULTS.md, salescap)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('sales_opportunity', 'sales_lead')"
        )
        indexes = dict(cursor.fetchall())
    assert (
        "btree (organization_id, owner_id, updated_at, id) INCLUDE (name, search_names) WHERE (deleted_at IS NULL)"
        in indexes["opp_search_owner_walk"]
    )
    assert (
        "btree (organization_id, owner_id, updated_at, id) INCLUDE (name, search_names, search_text) "
        "WHERE (deleted_at IS NULL)" in indexes["lead_search_owner_walk"]
    )
    assert set(sales_search.OWNER_WALK_INDEXES) <= set(sales_search.WALK_INDEXES)
