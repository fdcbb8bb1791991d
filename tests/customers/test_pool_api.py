"""/api/v1/pool/, claim/release (single and bulk), duplicates, merge and purge: results, rules and
errors in the one shape."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.customers import pool
from kehu.customers.models import Customer
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer, make_deleted_customer, make_pool_customer

URL = "/api/v1/customers/"


def owner_of(customer):
    return Customer._base_manager.get(pk=customer.pk).owner_id


def test_the_pool_lists_only_the_organisations_unowned_customers(api, tenant_a, tenant_b):
    ours = [make_pool_customer(tenant_a, name=f"公海{i}") for i in range(3)]
    owned = make_customer(tenant_a)
    theirs = make_pool_customer(tenant_b)
    client = api(tenant_a.users["sales_rep"])
    ids = all_ids(client, "/api/v1/pool/")
    assert set(ids) == {c.pk for c in ours}
    assert owned.pk not in ids and theirs.pk not in ids
    body = client.get("/api/v1/pool/", {"search": "公海1"}).json()
    assert [r["id"] for r in body["results"]] == [ours[1].pk]
    assert body["results"][0]["owner"] is None and body["results"][0]["pool_reason"] == "测试：放入公海"
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/pool/").status_code == 200
    assert len(queries) <= 6  # rows (with the last move as subqueries) and their tags: no N+1
    assert_error(client.get("/api/v1/pool/", {"ordering": "phone"}), 400, "validation_failed")
    assert client.get(f"{URL}{ours[0].pk}/").json()["owner"] is None  # a rep opens a pool customer


def test_claim_and_release_through_the_api(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_pool_customer(tenant_a)
    client = api(rep)
    response = client.post(f"{URL}{customer.pk}/claim/", {}, format="json")
    assert response.status_code == 200 and response.json()["owner"]["id"] == rep.pk
    assert_error(client.post(f"{URL}{customer.pk}/claim/", {}, format="json"), 404, "not_found")  # no longer pool

    error = assert_error(
        client.post(f"{URL}{customer.pk}/release/", {"reason": ""}, format="json"), 400, "validation_failed"
    )
    assert "reason" in error["fields"]
    assert owner_of(customer) == rep.pk
    response = client.post(f"{URL}{customer.pk}/release/", {"reason": "没有预算"}, format="json")
    assert response.status_code == 200 and response.json()["owner"] is None

    error = assert_error(client.post(f"{URL}{customer.pk}/claim/", {}, format="json"), 400, "pool_cooldown")
    assert error["fields"]["ids"]


def test_rules_and_permissions_answer_in_the_one_error_shape(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    pool.pool_settings_update(actor=tenant_a.admin, data={"max_customers_per_rep": 1})
    make_customer(tenant_a, owner=rep)
    customer = make_pool_customer(tenant_a)
    error = assert_error(api(rep).post(f"{URL}{customer.pk}/claim/", {}, format="json"), 400, "pool_limit_reached")
    assert "1" in error["message"]
    assert_error(api(tenant_a.users["read_only"]).post(f"{URL}{customer.pk}/claim/", {}), 403, "permission_denied")
    rep2 = tenant_a.users["sales_rep_2"]
    response = api(rep).post(f"{URL}{customer.pk}/claim/", {"owner": rep2.pk}, format="json")
    assert_error(response, 403, "permission_denied")  # claiming for a colleague needs assign
    response = api(tenant_a.users["sales_manager"]).post(
        f"{URL}{customer.pk}/claim/", {"owner": rep2.pk}, format="json"
    )
    assert response.status_code == 200 and owner_of(customer) == rep2.pk


def test_bulk_claim_and_release_are_all_or_nothing(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    first, second = make_pool_customer(tenant_a), make_pool_customer(tenant_a)
    theirs = make_pool_customer(tenant_b)
    client = api(rep)
    error = assert_error(
        client.post(f"{URL}claim/", {"ids": [first.pk, theirs.pk]}, format="json"), 400, "validation_failed"
    )
    assert str(theirs.pk) in error["message"]
    assert owner_of(first) is None
    response = client.post(f"{URL}claim/", {"ids": [first.pk, second.pk]}, format="json")
    assert response.status_code == 200 and sorted(response.json()["ids"]) == sorted([first.pk, second.pk])
    assert_error(client.post(f"{URL}release/", {"ids": [first.pk]}, format="json"), 400, "validation_failed")
    response = client.post(f"{URL}release/", {"ids": [first.pk, second.pk], "reason": "换人跟进"}, format="json")
    assert response.status_code == 200 and owner_of(first) is None and owner_of(second) is None


def test_duplicates_and_merge_through_the_api(api, tenant_a):
    admin = tenant_a.admin
    a = make_customer(tenant_a, name="甲公司", phone="13800138000")
    b = make_customer(tenant_a, name="甲公司（重复）", phone="13800138000", email="b@jia.cn")
    contact = make_contact(tenant_a, b)
    body = api(admin).get(f"{URL}duplicates/").json()
    assert body["results"] == [
        {
            "first": {"id": a.pk, "name": "甲公司"},
            "second": {"id": b.pk, "name": "甲公司（重复）"},
            "reasons": ["phone"],
        }
    ]
    response = api(admin).post(
        f"{URL}merge/", {"survivor": a.pk, "others": [b.pk], "choices": {"email": b.pk}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "b@jia.cn" and response.json()["name"] == "甲公司"
    assert Customer._base_manager.get(pk=b.pk).merged_into_id == a.pk
    assert api(admin).get(f"/api/v1/contacts/{contact.pk}/").json()["customer"]["id"] == a.pk
    error = assert_error(
        api(admin).post(f"{URL}merge/", {"survivor": a.pk, "others": [], "choices": {}}, format="json"),
        400,
        "validation_failed",
    )
    assert "others" in error["fields"]


def test_merge_of_records_outside_the_scope_is_not_found_and_needs_delete(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    mine, mine2 = make_customer(tenant_a, owner=rep), make_customer(tenant_a, owner=rep)
    colleagues = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    theirs = make_customer(tenant_b)
    payload = {"survivor": mine.pk, "others": [colleagues.pk]}
    assert_error(api(rep).post(f"{URL}merge/", payload, format="json"), 404, "not_found")
    payload = {"survivor": mine.pk, "others": [theirs.pk]}
    assert_error(api(tenant_a.admin).post(f"{URL}merge/", payload, format="json"), 404, "not_found")
    payload = {"survivor": mine.pk, "others": [mine2.pk]}
    assert_error(api(rep).post(f"{URL}merge/", payload, format="json"), 403, "permission_denied")
    assert Customer.objects.filter(pk=mine2.pk).exists()


def test_purge_through_the_api(api, tenant_a):
    deleted = make_deleted_customer(tenant_a)
    live = make_customer(tenant_a)
    assert_error(api(tenant_a.users["sales_manager"]).post(f"{URL}{deleted.pk}/purge/"), 403, "permission_denied")
    assert_error(api(tenant_a.admin).post(f"{URL}{live.pk}/purge/"), 404, "not_found")  # not in the bin
    assert api(tenant_a.admin).post(f"{URL}{deleted.pk}/purge/").status_code == 204
    assert not Customer._base_manager.filter(pk=deleted.pk).exists()
