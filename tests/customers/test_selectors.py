"""Reads: visibility by organisation and scope, filters, search, keyset pages, timeline, recycle bin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.search import global_search
from kehu.customers import selectors, services, timeline
from kehu.customers.models import Contact, Customer
from tests.customers.factories import make_contact, make_customer, make_tag


def names(page):
    return [c.name for c in page.items]


@pytest.fixture
def book(tenant_a, tenant_b):
    """Customers of two reps of tenant_a (same team, sales east) and one of tenant_b."""
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    return {
        "mine": make_customer(tenant_a, owner=rep, name="华为技术有限公司", phone="13800138000", tier="A"),
        "mine2": make_customer(tenant_a, owner=rep, name="张记餐饮", email="zhang@canyin.cn", tier="C"),
        "colleague": make_customer(tenant_a, owner=rep2, name="华润置地", phone="13900139000"),
        "admin": make_customer(tenant_a, owner=tenant_a.admin, name="总部直管客户"),
        "foreign": make_customer(tenant_b, owner=tenant_b.users["sales_rep"], name="华为 Other Corp"),
    }


def test_a_rep_with_scope_own_sees_only_own_customers(tenant_a, book):
    rep = tenant_a.users["sales_rep"]
    page = selectors.customer_list_for(actor=rep)
    assert set(names(page)) == {"华为技术有限公司", "张记餐饮"}
    assert selectors.customer_get_for(actor=rep, pk=book["mine"].pk) == book["mine"]
    for other in ("colleague", "admin", "foreign"):
        with pytest.raises(NotFound):
            selectors.customer_get_for(actor=rep, pk=book[other].pk)


def test_a_manager_with_team_tree_sees_the_teams_customers(tenant_a, book):
    page = selectors.customer_list_for(actor=tenant_a.users["sales_manager"])
    # The admin's customer: the admin is in "Sales" too, the manager's own team.
    assert set(names(page)) == {"华为技术有限公司", "张记餐饮", "华润置地", "总部直管客户"}


def test_another_organisation_sees_none_of_them(tenant_b, book):
    for user in tenant_b.users.values():
        visible = set(names(selectors.customer_list_for(actor=user)))
        assert visible <= {"华为 Other Corp"}
        assert selectors.customer_list_for(actor=user, filters={"search": "华"}).items in ([], [book["foreign"]])


def test_search_finds_by_name_fragment_phone_digits_email_and_contact(tenant_a, book):
    admin = tenant_a.admin
    make_contact(tenant_a, book["admin"], name="李小龙", phone="+86 137 1234 5678")

    def found(query):
        return set(names(selectors.customer_list_for(actor=admin, filters={"search": query})))

    assert found("华") == {"华为技术有限公司", "华润置地"}  # one Chinese character
    assert found("华为") == {"华为技术有限公司"}
    assert found("1380013") == {"华为技术有限公司"}  # 4+ digits of a phone
    assert found("+86 138 0013") == {"华为技术有限公司"}
    assert found("8000") == {"华为技术有限公司"}
    assert found("CANYIN") == {"张记餐饮"}  # email, any case
    assert found("小龙") == {"总部直管客户"}  # a contact's name
    assert found("5678") == {"总部直管客户"}  # a contact's phone
    assert found("123") == set()  # three digits are not a phone search
    assert found("Other Corp") == set()  # never another organisation's


def test_search_respects_the_scope(tenant_a, book):
    rep = tenant_a.users["sales_rep"]
    assert names(selectors.customer_list_for(actor=rep, filters={"search": "华润"})) == []
    assert names(selectors.customer_list_for(actor=rep, filters={"search": "13900139000"})) == []


def test_filters(tenant_a, book):
    admin = tenant_a.admin
    tag = make_tag(tenant_a)
    services.customers_tag_add(actor=admin, customers=[book["mine2"]], tags=[tag])

    def found(**filters):
        return set(names(selectors.customer_list_for(actor=admin, filters=filters)))

    assert found(tier="A") == {"华为技术有限公司"}
    assert found(tag=tag.pk) == {"张记餐饮"}
    assert found(owner=tenant_a.users["sales_rep_2"].pk) == {"华润置地"}
    assert found(stage="lead_in", tier="C") == {"张记餐饮"}


def test_keyset_pages_walk_every_row_once_in_order(tenant_a):
    rep = tenant_a.users["sales_rep"]
    base = timezone.now()
    for i in range(7):
        c = make_customer(tenant_a, owner=rep, name=f"客户{i % 3}")  # repeated names: ties broken by id
        Customer.objects.filter(pk=c.pk).update(updated_at=base - timedelta(minutes=i % 2))
    for ordering in ("-updated_at", "name", "-name", "tier", "created_at"):
        seen, cursor = [], None
        while True:
            page = selectors.customer_list_for(actor=rep, ordering=ordering, cursor=cursor, limit=3)
            seen.extend(page.items)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert len(seen) == 7 and len({c.pk for c in seen}) == 7
        field = ordering.lstrip("-")
        keys = [(getattr(c, field), c.pk) for c in seen]
        assert keys == sorted(keys, reverse=ordering.startswith("-"))
        # and back again with the previous cursor
        back = selectors.customer_list_for(actor=rep, ordering=ordering, cursor=page.previous_cursor, limit=3)
        assert [c.pk for c in back.items] == [c.pk for c in seen[-len(page.items) - 3 : -len(page.items)]]


def test_ordering_and_cursor_are_validated(tenant_a):
    with pytest.raises(ValidationFailed) as exc:
        selectors.customer_list_for(actor=tenant_a.admin, ordering="password")
    assert "ordering" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        selectors.customer_list_for(actor=tenant_a.admin, cursor="garbage!")
    assert "cursor" in exc.value.fields
    make_customer(tenant_a)
    make_customer(tenant_a)
    page = selectors.customer_list_for(actor=tenant_a.admin, ordering="name", limit=1)
    with pytest.raises(ValidationFailed):  # a cursor of one sort order is no good for another
        selectors.customer_list_for(actor=tenant_a.admin, ordering="-updated_at", cursor=page.next_cursor)


def test_the_list_runs_two_queries_whatever_the_page_size(tenant_a, django_assert_max_num_queries):
    rep = tenant_a.users["sales_rep"]
    tags = [make_tag(tenant_a) for _ in range(3)]
    for _ in range(12):
        make_customer(tenant_a, owner=rep, tags=tags)
    rep = type(rep).objects.select_related("organization", "role", "team").get(pk=rep.pk)
    selectors.customer_list_for(actor=rep)  # warms the actor's role and organisation caches
    with django_assert_max_num_queries(2):
        page = selectors.customer_list_for(actor=rep)
        assert all(len(c.tags.all()) == 3 and c.owner.pk == rep.pk for c in page.items)


def test_the_timeline_shows_the_customer_and_its_contacts_newest_first(tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep, name="时间线公司", tier="C")
    contact = make_contact(tenant_a, customer, name="王五")
    services.customer_update(actor=rep, customer=customer, expected_version=1, data={"tier": "A"})
    services.contact_delete(actor=rep, contact=contact)
    services.customer_assign(actor=manager, customers=[customer], owner=tenant_a.users["sales_rep_2"])
    other = make_customer(tenant_a, owner=rep)
    services.customer_update(actor=rep, customer=other, expected_version=1, data={"tier": "B"})

    items = selectors.customer_timeline(actor=manager, customer=customer)
    assert [i.kind for i in items] == [
        "customer.assign",
        "contact.delete",
        "customer.update",
        "contact.create",
        "customer.create",
    ]
    assign, _deleted, update = items[0], items[1], items[2]
    assert assign.changes[0].before == str(rep) and assign.changes[0].after == str(tenant_a.users["sales_rep_2"])
    assert (update.changes[0].before, update.changes[0].after) == ("C", str(Customer.Tier.A.label))
    assert "王五" in items[1].title
    assert items[0].actor == str(manager)
    older = selectors.customer_timeline(actor=manager, customer=customer, before=items[1].at)
    assert [i.kind for i in older] == [i.kind for i in items[2:]]


def test_the_timeline_is_extensible_by_other_modules(tenant_a):
    customer = make_customer(tenant_a)
    sentinel = timezone.now() + timedelta(days=1)

    def orders(*, actor, customer, limit, before):
        return [timeline.TimelineItem(at=sentinel, kind="order.paid", title="订单已付款", module="sales")]

    timeline.register(orders, module="sales")
    try:
        items = selectors.customer_timeline(actor=tenant_a.admin, customer=customer)
        assert items[0].kind == "order.paid"
        # a module the actor may not see contributes nothing
        items = selectors.customer_timeline(actor=tenant_a.users["service_agent"], customer=customer)
        assert "order.paid" not in [i.kind for i in items]
    finally:
        timeline._registry.pop(f"{orders.__module__}.{orders.__qualname__}")


def test_a_provider_whose_rows_do_not_exist_is_not_called(tenant_a, django_assert_num_queries):
    customer = make_customer(tenant_a)
    other = make_customer(tenant_a)
    sentinel = timezone.now() + timedelta(days=1)
    calls = []

    def contact_events(*, actor, customer, limit, before):
        calls.append(customer.pk)
        return [timeline.TimelineItem(at=sentinel, kind="contact.event", title="联系人事件")]

    def contact_rows(organization_id, customer_id):
        return Contact.objects.filter(organization_id=organization_id, customer_id=customer_id)

    timeline.register(contact_events, module="customers", exists=contact_rows)
    try:
        make_contact(tenant_a, customer, name="有联系人")
        # Asked in one statement when the customer was read without timeline.presence() ...
        items = timeline.collect(actor=tenant_a.admin, customer=other)
        assert calls == [] and "contact.event" not in [i.kind for i in items]
        items = timeline.collect(actor=tenant_a.admin, customer=customer)
        assert calls == [customer.pk] and items[0].kind == "contact.event"
        # ... and with no statement of its own when it was (the customer's timeline view reads it so).
        with_presence = selectors.customer_get_for(actor=tenant_a.admin, pk=other.pk, timeline_presence=True)
        with django_assert_num_queries(0):
            timeline._present(with_presence, [timeline._registry[timeline_key(contact_events)]])
        with_presence = selectors.customer_get_for(actor=tenant_a.admin, pk=customer.pk, timeline_presence=True)
        assert selectors.customer_timeline(actor=tenant_a.admin, customer=with_presence)[0].kind == "contact.event"
    finally:
        timeline._registry.pop(timeline_key(contact_events))


def timeline_key(provider):
    return f"{provider.__module__}.{provider.__qualname__}"


def test_the_timeline_of_an_invisible_customer_is_not_found(tenant_a):
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    with pytest.raises(NotFound):
        selectors.customer_timeline(actor=tenant_a.users["sales_rep"], customer=customer)


def test_the_recycle_bin_shows_deleted_customers_in_scope(tenant_a, tenant_b):
    manager = tenant_a.users["sales_manager"]
    mine = make_customer(tenant_a, owner=tenant_a.users["sales_rep"])
    services.customer_delete(actor=manager, customer=mine)
    foreign = make_customer(tenant_b)
    services.customer_delete(actor=tenant_b.admin, customer=foreign)
    assert list(selectors.customer_recycle_bin_for(actor=manager)) == [mine]
    assert list(selectors.customer_recycle_bin_for(actor=tenant_a.users["sales_rep"])) == [mine]
    assert list(selectors.customer_recycle_bin_for(actor=tenant_a.users["sales_rep_2"])) == []
    with pytest.raises(NotFound):
        selectors.customer_deleted_get_for(actor=manager, pk=foreign.pk)


def test_global_search_provider_respects_scope(tenant_a, book):
    make_contact(tenant_a, book["mine"], name="华小姐")
    groups = dict(global_search(actor=tenant_a.users["sales_rep"], query="华"))
    hits = next(iter(groups.values()))
    assert [(h.kind, h.title) for h in hits] == [("customer", "华为技术有限公司"), ("contact", "华小姐")]
    assert all(h.url == f"/customers/{book['mine'].pk}/" for h in hits)


def test_module_disabled_means_nothing_is_visible(tenant_a, book):
    org = tenant_a.org
    org.enabled_modules = [m for m in org.enabled_modules if m != "customers"]
    org.save()
    admin = type(tenant_a.admin).objects.get(pk=tenant_a.admin.pk)
    assert selectors.customer_list_for(actor=admin).items == []
    assert global_search(actor=admin, query="华") == []


def test_a_customers_parts_asked_of_its_row_are_what_visible_to_shows(tenant_a, tenant_b, book):
    """visible_of (the customer's page: contacts, notes, files, read with the customer's row at hand) shows
    exactly visible_to's rows of that customer, for every role, owner, the pool and another organisation."""
    from kehu.customers.note_models import Attachment, Note
    from tests.customers.note_factories import make_attachment, make_note

    pool = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="公海客户")
    Customer.objects.filter(pk=pool.pk).update(owner=None)
    gone = make_customer(tenant_a, owner=tenant_a.users["sales_rep"], name="已删除客户")
    customers = [*book.values(), pool, gone]
    for customer in customers:
        tenant = tenant_b if customer.organization_id == tenant_b.org.pk else tenant_a
        make_contact(tenant, customer)
        make_note(tenant, customer)
        make_attachment(tenant, customer)
    Customer.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    shown = 0
    for user in [*tenant_a.users.values(), tenant_b.users["sales_rep"]]:
        for customer in customers:
            customer = Customer.objects.get(pk=customer.pk)
            for model in (Contact, Note, Attachment):
                expected = set(model.objects.visible_to(user).filter(customer=customer).values_list("pk", flat=True))
                assert set(model.objects.visible_of(user, customer).values_list("pk", flat=True)) == expected
                shown += len(expected)
    assert shown


def test_a_manager_without_a_team_opens_their_own_customers_and_the_pool(tenant_a):
    """A team scope without a team is the own scope (scope_filter): the page opens what the list shows."""
    from kehu.accounts import services as account_services
    from tests.conftest import PASSWORD

    lone = account_services.user_create(
        actor=tenant_a.admin,
        organization=tenant_a.org,
        email="lone@a.test",
        password=PASSWORD,
        role=tenant_a.role("sales_manager"),
        name="无部门经理",
        team=None,
    )
    mine = make_customer(tenant_a, owner=lone, name="经理自己的客户")
    other = make_customer(tenant_a, owner=tenant_a.users["sales_rep"], name="别人的客户")
    pool = make_customer(tenant_a, owner=tenant_a.users["sales_rep"], name="公海里的客户")
    Customer.objects.filter(pk=pool.pk).update(owner=None)
    assert set(Customer.objects.visible_to(lone).values_list("pk", flat=True)) == {mine.pk}
    assert selectors.customer_get_for(actor=lone, pk=mine.pk) == mine
    assert selectors.customer_get_for(actor=lone, pk=pool.pk) == pool
    with pytest.raises(NotFound):
        selectors.customer_get_for(actor=lone, pk=other.pk)
    # and the object policy agrees with the lists: their own customer is theirs to edit, another's is not
    from kehu.core.permissions import can

    assert can(lone, "edit", mine) and not can(lone, "edit", other)
