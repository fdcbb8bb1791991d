"""Quote and order numbers, opportunities and leads in the global search box and in `?search=` of the quote
and order lists, within the actor's organisation and data scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.search import global_search
from kehu.sales import commerce_services as services
from tests.sales.commerce_factories import make_order, make_quote
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def titles(groups) -> dict[str, list[str]]:
    return {str(label): [hit.title for hit in hits] for label, hits in groups}


def test_the_search_box_finds_quotes_and_orders_by_number_within_scope(tenant_a, tenant_b):
    rep, rep_2, manager = (tenant_a.users[k] for k in ("sales_rep", "sales_rep_2", "sales_manager"))
    mine = make_quote(tenant_a, rep)
    theirs = make_quote(tenant_a, rep_2)
    order = make_order(tenant_a, rep)
    foreign = make_quote(tenant_b)
    assert mine.number == foreign.number  # numbering is per organisation: the same text in both

    found = [hit for _label, hits in global_search(actor=rep, query=mine.number) for hit in hits]
    urls = [hit.url for hit in found]
    assert mine.get_absolute_url() in urls
    assert theirs.get_absolute_url() not in urls  # a colleague's quote: outside "own"
    assert foreign.get_absolute_url() not in urls  # another organisation's, same number
    found = [hit.url for _label, hits in global_search(actor=rep, query=order.number) for hit in hits]
    assert order.get_absolute_url() in found

    seen = [hit.url for _label, hits in global_search(actor=manager, query="Q-") for hit in hits]
    assert mine.get_absolute_url() in seen and theirs.get_absolute_url() in seen
    assert foreign.get_absolute_url() not in seen


def test_each_sales_record_type_has_its_own_group(tenant_a):
    admin = tenant_a.admin
    opportunity = make_opportunity(tenant_a, name="华为云迁移项目")
    make_lead(tenant_a, name="华为 王经理")
    quote = services.quote_create(actor=admin, opportunity=opportunity, title="华为云 报价")
    from django.utils import translation

    with translation.override("en"):
        groups = titles(global_search(actor=admin, query="华为"))
    assert "华为云迁移项目" in groups["Opportunities"]
    assert any(quote.number in title for title in groups["Quotes"])
    assert groups["Leads"]


def test_list_search_takes_a_number_or_a_revision_as_displayed(tenant_a, api, client):
    rep = tenant_a.users["sales_rep"]
    quote = make_quote(tenant_a, rep)
    services.quote_send(actor=tenant_a.admin, quote=quote, email=False)
    revision = services.quote_revise(actor=tenant_a.admin, quote=quote)
    other = make_quote(tenant_a, rep)
    order = make_order(tenant_a, rep)

    body = api(rep).get("/api/v1/quotes/", {"search": revision.display_number}).json()
    assert [row["id"] for row in body["results"]] == [revision.pk]
    body = api(rep).get("/api/v1/quotes/", {"search": other.number.lower()}).json()
    assert [row["id"] for row in body["results"]] == [other.pk]
    body = api(rep).get("/api/v1/orders/", {"search": order.number}).json()
    assert [row["id"] for row in body["results"]] == [order.pk]
    body = api(tenant_a.users["sales_rep_2"]).get("/api/v1/orders/", {"search": order.number}).json()
    assert body["results"] == []

    client.force_login(rep)
    html = client.get(reverse("sales:quote_list"), {"search": other.number}, **EN).content.decode()
    assert other.get_absolute_url() in html and revision.get_absolute_url() not in html
    html = client.get(reverse("sales:order_list"), {"search": order.number}, **EN).content.decode()
    assert order.get_absolute_url() in html


def test_the_search_box_reads_each_record_type_in_bounded_queries(tenant_a, django_assert_max_num_queries):
    """Customers, leads, opportunities, quotes and orders each come from one walk (customers: walk, name
    prefix, the records, their contacts): the queries do not grow with what is found."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import translation

    from tests.customers.factories import make_customer

    admin = tenant_a.admin
    customer = make_customer(tenant_a, name="星河客户 0")
    make_opportunity(tenant_a, customer=customer, name="星河项目 0")
    make_lead(tenant_a, name="星河 0", company="星河公司")
    make_quote(tenant_a, customer=customer, title="星河报价 0")
    global_search(actor=admin, query="星河")  # the actor's per-request caches, as the page's middleware fills them
    with CaptureQueriesContext(connection) as few:
        global_search(actor=admin, query="星河")
    for n in range(1, 13):
        customer = make_customer(tenant_a, name=f"星河客户 {n}")
        make_opportunity(tenant_a, customer=customer, name=f"星河项目 {n}")
        make_lead(tenant_a, name=f"星河 {n}", company="星河公司")
    with translation.override("en"), django_assert_max_num_queries(len(few.captured_queries)):
        groups = titles(global_search(actor=admin, query="星河"))
    assert len(groups["Opportunities"]) == len(groups["Leads"]) == 10
    assert groups["Opportunities"][0] == "星河项目 12" and groups["Leads"][0] == "星河 12"
