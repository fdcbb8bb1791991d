"""Customer search through the search backend: the same queries give the same customers on SQLite and
PostgreSQL (run this file with DATABASE_URL=postgres://... too), within the actor's scope, ranked."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from kehu.core.search import global_search
from kehu.core.search_backends import SearchBackend
from kehu.customers import search, selectors, services
from kehu.customers.models import Customer
from tests.customers.factories import make_contact, make_customer

URL = "/api/v1/customers/"


@pytest.fixture
def book(tenant_a, tenant_b):
    rep, rep2, admin = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"], tenant_a.admin
    book = {
        "huawei": make_customer(tenant_a, owner=rep, name="华为技术有限公司", short_name="华为", phone="13800138000"),
        "sh_huawei": make_customer(tenant_a, owner=rep2, name="上海华为科技有限公司", phone="021 5555 6666"),
        "zhang": make_customer(tenant_a, owner=rep, name="张记餐饮", email="zhang@canyin.cn", kind="person"),
        "acme": make_customer(tenant_a, owner=rep2, name="Acme Trading Co", short_name="ACME", email="Sales@Acme.com"),
        "crland": make_customer(tenant_a, owner=admin, name="华润置地"),
        "deleted": make_customer(tenant_a, owner=rep, name="华为删除测试公司"),
        "foreign": make_customer(tenant_b, owner=tenant_b.users["sales_rep"], name="华为 Other Corp"),
    }
    make_contact(tenant_a, book["crland"], name="李小龙", phone="+86 137 1234 5678", email="Bruce@Dragon.hk")
    services.customer_delete(actor=admin, customer=book["deleted"])
    return book


def found(actor, query):
    """Names of the customers the list finds (newest first, as the list shows them)."""
    return {c.name for c in selectors.customer_list_for(actor=actor, filters={"search": query}).items}


CASES = [
    ("华", {"华为技术有限公司", "上海华为科技有限公司", "华润置地"}),  # one Chinese character
    ("为", {"华为技术有限公司", "上海华为科技有限公司"}),
    ("华为", {"华为技术有限公司", "上海华为科技有限公司"}),  # two characters
    ("华为科技", {"上海华为科技有限公司"}),  # 3+ characters
    ("有限公司", {"华为技术有限公司", "上海华为科技有限公司"}),
    ("8000", {"华为技术有限公司"}),  # 4 phone digits
    ("1380013", {"华为技术有限公司"}),
    ("+86 138 0013", {"华为技术有限公司"}),  # +86-prefixed
    ("138-0013-8000", {"华为技术有限公司"}),
    ("5555 6666", {"上海华为科技有限公司"}),  # a landline
    ("canyin", {"张记餐饮"}),  # email fragment
    ("@acme.c", {"Acme Trading Co"}),
    ("小龙", {"华润置地"}),  # a contact's name
    ("李", {"华润置地"}),
    ("1234 5678", {"华润置地"}),  # a contact's phone
    ("dragon.hk", {"华润置地"}),  # a contact's email, typed in any case
    ("DRAGON", {"华润置地"}),
    ("acme trad", {"Acme Trading Co"}),  # mixed case English
    ("aCmE", {"Acme Trading Co"}),
    ("Ac", {"Acme Trading Co"}),  # two letters: names only...
    ("hk", set()),  # ...so not the contact's email domain
    ("123", set()),  # three digits are not a phone search
    ("删除", set()),  # deleted customers are not found
    ("Other Corp", set()),  # nor another organisation's
    ("不存在的公司", set()),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_the_admin_finds_customers_by_any_fragment(tenant_a, book, query, expected):
    assert found(tenant_a.admin, query) == expected


def test_the_index_path_finds_the_same_as_the_walk(tenant_a, book, monkeypatch):
    """With a walk of one row the index path answers (pg_trgm / name grams / FTS5 / LIKE): same ids."""
    admin = tenant_a.admin
    walked = {query: found(admin, query) for query, _expected in CASES}
    monkeypatch.setattr(SearchBackend, "walk_rows", 1)
    for query, expected in CASES:
        assert found(admin, query) == walked[query] == expected, query


def test_scope_own_never_sees_others_customers_through_search(api, tenant_a, tenant_b, book):
    rep = tenant_a.users["sales_rep"]
    assert found(rep, "华为") == {"华为技术有限公司"}
    assert found(rep, "华") == {"华为技术有限公司"}
    assert found(rep, "acme") == set()
    assert found(rep, "小龙") == set()
    assert found(rep, "5555 6666") == set()
    ids = [c["id"] for c in api(rep).get(f"{URL}?search=华为").json()["results"]]
    assert ids == [book["huawei"].pk]
    groups = dict(global_search(actor=rep, query="华"))
    assert [hit.title for hits in groups.values() for hit in hits] == ["华为技术有限公司"]
    assert found(tenant_b.users["sales_rep"], "华为") == {"华为 Other Corp"}


def test_renames_and_contact_changes_are_found_immediately(tenant_a, book):
    admin = tenant_a.admin
    customer = book["zhang"]
    services.customer_update(
        actor=admin, customer=customer, expected_version=customer.version, data={"name": "王氏面馆"}
    )
    assert found(admin, "王氏") == {"王氏面馆"}
    assert found(admin, "张记") == set()
    assert found(admin, "canyin") == {"王氏面馆"}  # the email stayed
    contact = make_contact(tenant_a, customer, name="赵云", phone="13912345678")
    assert found(admin, "赵") == {"王氏面馆"}
    assert found(admin, "13912345") == {"王氏面馆"}
    contact = services.contact_update(
        actor=admin, contact=contact, expected_version=contact.version, data={"name": "关羽"}
    )
    assert found(admin, "赵云") == set() and found(admin, "关羽") == {"王氏面馆"}
    services.contact_delete(actor=admin, contact=contact)
    assert found(admin, "关羽") == set()
    # A full save() writes back the search columns it loaded; the database recomputes them.
    fresh = Customer.objects.get(pk=customer.pk)
    fresh.name = "李氏面馆"
    fresh.save()
    assert found(admin, "李氏") == {"李氏面馆"} and found(admin, "王氏") == set()


def test_exact_and_prefix_matches_come_first_then_the_newest(tenant_a, book):
    admin = tenant_a.admin
    exact = make_customer(tenant_a, owner=admin, name="华为")
    newest = make_customer(tenant_a, owner=admin, name="深圳华为终端")
    Customer.objects.filter(pk=exact.pk).update(updated_at=timezone.now() - timedelta(days=30))
    Customer.objects.filter(pk=newest.pk).update(updated_at=timezone.now() + timedelta(minutes=1))
    ids = search.search_ids(Customer.objects.visible_to(admin), "华为")
    assert ids == [exact.pk, book["huawei"].pk, newest.pk, book["sh_huawei"].pk]
    # The search box shows the same order.
    (_label, hits), *_others = global_search(actor=admin, query="华为")
    titles = [hit.title for hit in hits]
    assert titles[:4] == ["华为", "华为技术有限公司", "深圳华为终端", "上海华为科技有限公司"]


def test_the_search_box_lists_matching_contacts_after_customers(tenant_a, book):
    hits = [hit for hits in dict(global_search(actor=tenant_a.admin, query="小龙")).values() for hit in hits]
    assert [(hit.kind, hit.title) for hit in hits] == [("customer", "华润置地"), ("contact", "李小龙")]


def test_a_searched_list_pages_through_every_match(api, tenant_a, book):
    admin = tenant_a.admin
    made = [make_customer(tenant_a, owner=admin, name=f"分页测试{n:02d}号") for n in range(7)]
    client = api(admin)
    seen, url = [], f"{URL}?search={quote('分页')}&limit=3"  # percent-encoded, as a browser sends it
    while url:
        body = client.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert seen == [c.pk for c in reversed(made)]  # newest first, none twice, none missing
    by_name = client.get(f"{URL}?search=分页&ordering=name&limit=50").json()["results"]
    assert [c["name"] for c in by_name] == [f"分页测试{n:02d}号" for n in range(7)]


def test_the_unbounded_filter_agrees_with_the_list(tenant_a, book):
    admin = tenant_a.admin
    for query, expected in CASES:
        qs = selectors.customer_queryset_for(actor=admin, filters={"search": query})
        assert {c.name for c in qs} == expected, query


def test_search_data_in_python_matches_the_database(tenant_a, book):
    """The seed writes search data computed in Python; it must equal what the triggers compute."""
    customer = Customer.objects.get(pk=book["crland"].pk)
    names, text, grams = search.search_data(
        name=customer.name, phone=customer.phone_normalized, contacts=[("李小龙", "13712345678", "bruce@dragon.hk")]
    )
    assert (customer.search_names, customer.search_text) == (names, text)
    assert names == "华润置地\n李小龙" and text == "华润置地\n李小龙\n13712345678\nbruce@dragon.hk"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name_grams FROM customers_customer WHERE id = %s", [customer.pk])
            assert cursor.fetchone()[0] == grams


def test_tripled_text_holds_a_short_fragment_exactly_when_the_text_does():
    """The SQLite short-fragment table relies on this (core/search_backends/sqlite.py)."""
    import itertools

    from kehu.core.search_backends.sqlite import tripled

    alphabet = "张三a"
    texts = ["".join(p) for n in range(5) for p in itertools.product(alphabet, repeat=n)]
    fragments = ["".join(p) for n in (1, 2) for p in itertools.product(alphabet, repeat=n)]
    for text in texts:
        for fragment in fragments:
            assert (fragment in text) == (tripled(fragment) in tripled(text)), (text, fragment)
