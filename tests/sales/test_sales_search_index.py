"""Opportunities and leads through the one search module (kehu/sales/search.py): the triggers keep their
search data right (a customer renamed or merged, an opportunity moved, a lead edited), the lists and the box
find every match of any fragment (1 character up), and within the actor's organisation and data scope."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone, translation

from kehu.core import search_backends
from kehu.core.search import global_search
from kehu.customers import services as customer_services
from kehu.customers.merge import customer_merge
from kehu.customers.models import Customer
from kehu.sales import lead_services, opportunity_services
from kehu.sales import search as sales_search
from kehu.sales.lead_models import Lead
from kehu.sales.opportunity_models import Opportunity
from tests.customers.factories import make_customer
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
API = "/api/v1"


def box(actor, query: str, label: str) -> list[str]:
    with translation.override("en"):
        groups = global_search(actor=actor, query=query)
    for group, hits in groups:
        if str(group) == label:
            assert not hits.more_url  # indexed: never a bounded walk
            return [hit.url for hit in hits]
    return []


def listed(api, actor, path: str, query: str, **params: str) -> list[int]:
    """The ids of every page of a list's search, following its next links (pages of 2)."""
    client = api(actor)
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    url, ids = f"{API}/{path}/?search={quote(query)}&limit=2{extra}", []
    while url:
        body = client.get(url).json()
        ids += [item["id"] for item in body["results"]]
        url = body["next"]
    return ids


def stored(model, pk: int) -> tuple[str, list[str] | None]:
    """(search_names, name_grams on PostgreSQL) as the database holds them."""
    row = model.objects.filter(pk=pk).values_list("search_names", flat=True).get()
    grams = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT name_grams FROM {model._meta.db_table} WHERE id = %s", [pk])
            grams = list(cursor.fetchone()[0])
    return row, grams


def test_the_triggers_compute_what_the_seed_computes(tenant_a):
    customer = make_customer(tenant_a, name="饕餮 Foods 有限公司")
    opportunity = make_opportunity(tenant_a, customer=customer, name="ERP 升级 A1")
    names, grams = sales_search.opportunity_search_data(name="ERP 升级 A1", customer_name="饕餮 Foods 有限公司")
    assert stored(Opportunity, opportunity.pk) == (names, grams if connection.vendor == "postgresql" else None)
    lead = make_lead(tenant_a, name="王 Wei", company="龘龘科技", phone="138 0013 8000", email="Wang@Example.com")
    lead.refresh_from_db()
    names, text, grams = sales_search.lead_search_data(
        name="王 Wei", company="龘龘科技", phone=lead.phone_normalized, email=lead.email_normalized
    )
    assert (lead.search_names, lead.search_text) == (names, text)
    assert stored(Lead, lead.pk) == (names, grams if connection.vendor == "postgresql" else None)


def test_an_opportunity_is_found_by_its_customers_new_name(tenant_a, api):
    admin = tenant_a.admin
    customer = make_customer(tenant_a, name="旧名字有限公司")
    opportunity = make_opportunity(tenant_a, customer=customer, name="云迁移")
    deleted = make_opportunity(tenant_a, customer=customer, name="旧项目")
    opportunity_services.delete_opportunity(actor=admin, opportunity=deleted)
    url = opportunity.get_absolute_url()
    assert box(admin, "旧名", "Opportunities") == [url]
    customer = customer_services.customer_update(
        actor=admin, customer=customer, expected_version=customer.version, data={"name": "饕鬄新名"}
    )
    for fragment in ("饕", "饕鬄", "鬄新名", "饕鬄新名"):
        assert box(admin, fragment, "Opportunities") == [url]
        assert listed(api, admin, "opportunities", fragment) == [opportunity.pk]
    assert box(admin, "旧名", "Opportunities") == []
    assert listed(api, admin, "opportunities", "旧名字") == []
    # The deleted one was renamed too: restored, it is found by the new name.
    deleted.refresh_from_db()
    opportunity_services.restore_opportunity(actor=admin, opportunity=deleted)
    assert sorted(listed(api, admin, "opportunities", "饕鬄")) == sorted([opportunity.pk, deleted.pk])


def test_a_merged_customers_opportunities_carry_the_survivors_name(tenant_a, api):
    admin = tenant_a.admin
    survivor = make_customer(tenant_a, name="龘存续公司")
    other = make_customer(tenant_a, name="靐合并公司")
    opportunity = make_opportunity(tenant_a, customer=other, name="年度维保")
    customer_merge(actor=admin, survivor=survivor, others=[other])
    assert listed(api, admin, "opportunities", "龘存") == [opportunity.pk]
    assert listed(api, admin, "opportunities", "靐合") == []
    assert box(admin, "龘", "Opportunities") == [opportunity.get_absolute_url()]


def test_deleted_records_are_not_found_until_restored(tenant_a, api):
    admin = tenant_a.admin
    opportunity = make_opportunity(tenant_a, name="爩项目")
    lead = make_lead(tenant_a, name="爩线索")
    opportunity_services.delete_opportunity(actor=admin, opportunity=opportunity)
    lead_services.lead_delete(actor=admin, lead=lead)
    assert box(admin, "爩", "Opportunities") == [] and box(admin, "爩", "Leads") == []
    assert listed(api, admin, "opportunities", "爩") == [] and listed(api, admin, "leads", "爩") == []
    opportunity.refresh_from_db()
    lead.refresh_from_db()
    opportunity_services.restore_opportunity(actor=admin, opportunity=opportunity)
    lead_services.lead_restore(actor=admin, lead=lead)
    assert listed(api, admin, "opportunities", "爩") == [opportunity.pk]
    assert listed(api, admin, "leads", "爩") == [lead.pk]


def test_a_rep_with_scope_own_finds_none_of_a_colleagues_records(tenant_a, tenant_b, api):
    rep, rep_2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    mine = make_opportunity(tenant_a, rep, name="齉齉 mine")
    theirs = make_opportunity(tenant_a, rep_2, name="齉齉 theirs")
    foreign = make_opportunity(tenant_b, name="齉齉 foreign")
    my_lead = make_lead(tenant_a, rep, company="齉齉公司")
    their_lead = make_lead(tenant_a, rep_2, company="齉齉公司")
    make_lead(tenant_b, company="齉齉公司")
    for fragment in ("齉", "齉齉", "齉齉 m", "齉齉 t"):
        assert set(listed(api, rep, "opportunities", fragment)) <= {mine.pk}
        assert set(listed(api, rep, "leads", fragment)) <= {my_lead.pk}
    assert box(rep, "齉", "Opportunities") == [mine.get_absolute_url()]
    assert box(rep, "齉", "Leads") == [my_lead.get_absolute_url()]
    assert listed(api, rep, "opportunities", "theirs") == []
    admin = tenant_a.admin
    assert sorted(listed(api, admin, "opportunities", "齉")) == sorted([mine.pk, theirs.pk])
    assert sorted(listed(api, admin, "leads", "齉")) == sorted([my_lead.pk, their_lead.pk])
    assert foreign.pk not in listed(api, admin, "opportunities", "齉齉")


def test_lead_fragments_of_every_length(tenant_a, api):
    admin = tenant_a.admin
    lead = make_lead(tenant_a, name="张三", company="华为技术", phone="13800138000", email="zhang@huawei.example")
    make_lead(tenant_a, name="李四", company="腾讯")
    for fragment in ("张", "为技", "华为技术", "HUAWEI", "huawei.ex", "0013 8000", "+86 138 0013"):
        assert listed(api, admin, "leads", fragment) == [lead.pk], fragment
        assert box(admin, fragment, "Leads") == [lead.get_absolute_url()], fragment
    assert listed(api, admin, "leads", "zh") == []  # 1-2 characters: the names only (as customers)
    lead_services.lead_update(actor=admin, lead=lead, expected_version=lead.version, data={"company": "龘龘"})
    assert listed(api, admin, "leads", "华为") == [] and listed(api, admin, "leads", "龘") == [lead.pk]


@pytest.mark.parametrize("budget", [None, (1, 1, 2)])
def test_every_page_of_a_search_whatever_the_walk(tenant_a, api, monkeypatch, budget):
    """Newest first through the walk, then the index step (a budget of one row forces it); other orders
    filter every match."""
    if budget:
        for name, value in zip(("walk_rows", "min_sample", "max_walk_rows"), budget, strict=True):
            monkeypatch.setattr(search_backends.SearchBackend, name, value)
    admin = tenant_a.admin
    customer = make_customer(tenant_a, name="餮客户")
    now = timezone.now()
    made = []
    for n in range(7):
        opportunity = make_opportunity(tenant_a, customer=customer if n % 2 else None, name=f"项目{n}")
        Opportunity.objects.filter(pk=opportunity.pk).update(updated_at=now - timedelta(minutes=n))
        made.append(opportunity.pk)
    expected = [pk for n, pk in enumerate(made) if n % 2]
    assert listed(api, admin, "opportunities", "餮") == expected
    assert listed(api, admin, "opportunities", "餮客户") == expected
    assert sorted(listed(api, admin, "opportunities", "餮", ordering="name")) == sorted(expected)
    assert Customer.objects.filter(pk=customer.pk).exists()
