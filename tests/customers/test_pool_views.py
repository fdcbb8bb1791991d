"""The pool, settings, duplicates, merge and purge pages render and act; the nav shows the pool."""

from django.urls import reverse

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, PoolSettings
from tests.customers.factories import make_contact, make_customer, make_deleted_customer, make_pool_customer
from tests.customers.pages import customer_page


def html(response):
    return response.content.decode()


def owner_of(customer):
    return Customer._base_manager.get(pk=customer.pk).owner_id


def test_the_pool_page_lists_and_claims(client, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    ours, other = make_pool_customer(tenant_a, name="公海甲"), make_pool_customer(tenant_a, name="公海乙")
    make_pool_customer(tenant_b, name="外组织公海")
    client.force_login(rep)
    body = html(client.get(reverse("customers:pool")))
    assert "公海甲" in body and "公海乙" in body and "外组织公海" not in body
    assert reverse("customers:pool") in body  # the nav item
    assert 'data-testid="pool-settings"' not in body  # administrators only
    assert "公海乙" not in html(client.get(reverse("customers:pool"), {"search": "甲"}))
    response = client.post(reverse("customers:claim", args=[ours.pk]))
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[ours.pk])
    assert owner_of(ours) == rep.pk
    response = client.post(
        reverse("customers:pool_bulk"), {"action": "claim", "ids": [other.pk], "next": reverse("customers:pool")}
    )
    assert response.status_code == 302 and owner_of(other) == rep.pk


def test_the_detail_page_of_a_pool_customer_offers_claim_and_shows_its_contacts(client, tenant_a):
    customer = make_pool_customer(tenant_a)
    make_contact(tenant_a, customer, name="公海联系人")
    client.force_login(tenant_a.users["sales_rep"])
    body = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert 'data-testid="claim-customer"' in body and 'data-testid="in-pool"' in body
    assert "公海联系人" in body and 'data-testid="edit-customer"' not in body
    client.force_login(tenant_a.users["read_only"])
    body = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert 'data-testid="claim-customer"' not in body


def test_release_from_the_detail_page_needs_a_reason_and_shows_on_the_timeline(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    client.force_login(rep)
    body = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert 'data-testid="release-form"' in body
    client.post(reverse("customers:release", args=[customer.pk]), {"reason": ""})
    assert owner_of(customer) == rep.pk
    response = client.post(reverse("customers:release", args=[customer.pk]), {"reason": "客户已转向竞品"})
    assert response.status_code == 302 and owner_of(customer) is None
    body = customer_page(client, customer)
    assert 'data-kind="customer.release"' in body and "客户已转向竞品" in body


def test_bulk_release_from_the_customer_list(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    first, second = make_customer(tenant_a, owner=rep), make_customer(tenant_a, owner=rep)
    client.force_login(rep)
    assert 'data-testid="bulk-release"' in html(client.get(reverse("customers:list")))
    client.post(reverse("customers:pool_release_bulk"), {"ids": [first.pk, second.pk]})  # no reason: nothing
    assert owner_of(first) == rep.pk
    response = client.post(reverse("customers:pool_release_bulk"), {"ids": [first.pk, second.pk], "reason": "调岗"})
    assert response.status_code == 302 and owner_of(first) is None and owner_of(second) is None


def test_administrators_edit_the_rules_with_inline_errors(client, tenant_a):
    client.force_login(tenant_a.users["sales_manager"])
    assert client.get(reverse("customers:pool_settings")).status_code == 403
    client.force_login(tenant_a.admin)
    assert 'data-testid="pool-settings"' in html(client.get(reverse("customers:pool")))
    data = {
        "auto_return_days": "99999",
        "max_customers_per_rep": "50",
        "reclaim_cooldown_days": "3",
        "recycle_bin_retention_days": "60",
    }
    response = client.post(reverse("customers:pool_settings"), data)
    assert response.status_code == 200 and 'data-testid="error-auto_return_days"' in html(response)
    assert 'value="50"' in html(response)  # keeps what was typed
    data["auto_return_days"] = "45"
    assert client.post(reverse("customers:pool_settings"), data).status_code == 302
    saved = PoolSettings.objects.get(organization=tenant_a.org)
    assert (saved.auto_return_days, saved.max_customers_per_rep, saved.recycle_bin_retention_days) == (45, 50, 60)


def test_duplicates_page_and_side_by_side_merge(client, tenant_a):
    a = make_customer(tenant_a, name="乙公司", phone="13800138000", city="上海")
    b = make_customer(tenant_a, name="乙公司 分部", phone="13800138000", city="杭州")
    client.force_login(tenant_a.admin)
    body = html(client.get(reverse("customers:duplicates")))
    assert f'data-pair="{a.pk}-{b.pk}"' in body and 'data-testid="merge"' in body
    url = reverse("customers:merge")
    body = html(client.get(url, {"ids": [a.pk, b.pk]}))
    assert 'name="choice_city"' in body and 'name="choice_phone"' not in body  # only differing fields
    response = client.post(url, {"ids": [a.pk, b.pk], "survivor": a.pk, "choice_name": a.pk, "choice_city": b.pk})
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[a.pk])
    assert Customer.objects.get(pk=a.pk).city == "杭州"
    assert Customer._base_manager.get(pk=b.pk).merged_into_id == a.pk
    assert "乙公司 分部" in html(client.get(reverse("customers:recycle_bin")))


def test_a_rep_sees_duplicates_of_own_customers_and_cannot_merge_others(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    mine = make_customer(tenant_a, owner=rep, name="丙公司")
    colleagues = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="丙公司")
    client.force_login(rep)
    assert 'data-pair="' not in html(client.get(reverse("customers:duplicates")))
    assert client.get(reverse("customers:merge"), {"ids": [mine.pk, colleagues.pk]}).status_code == 404


def test_an_administrator_purges_from_the_recycle_bin(client, tenant_a):
    customer = make_deleted_customer(tenant_a, name="彻底删除我")
    client.force_login(tenant_a.users["sales_manager"])
    assert 'data-testid="purge"' not in html(client.get(reverse("customers:recycle_bin")))
    assert client.post(reverse("customers:purge", args=[customer.pk])).status_code == 403
    client.force_login(tenant_a.admin)
    body = html(client.get(reverse("customers:recycle_bin")))
    assert 'data-testid="purge"' in body and "data-confirm" in body
    response = client.post(reverse("customers:purge", args=[customer.pk]))
    assert response.status_code == 302 and not Customer._base_manager.filter(pk=customer.pk).exists()
    assert AuditEntry.objects.filter(action="customer.purge", target_id=str(customer.pk)).exists()
