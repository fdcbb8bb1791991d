"""/api/v1/customers/, /contacts/, /tags/: CRUD, filters, ordering whitelist, cursor pages, versions,
scope and organisation isolation, the module gate, and a bounded number of queries per list."""

from kehu.accounts.models import User
from kehu.core.models import AuditEntry
from kehu.customers import services
from kehu.customers.models import Contact, Customer, Tag
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer, make_tag

URL = "/api/v1/customers/"


def test_create_and_read_a_customer(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    tag = make_tag(tenant_a, "重点客户")
    existing = make_customer(tenant_a, owner=rep, name="已有公司", phone="13800138000")
    response = api(rep).post(
        URL,
        {"name": "新公司", "phone": "+86 138 0013 8000", "email": "A@B.CN", "tier": "A", "tags": [tag.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"]["id"] == rep.pk and body["version"] == 1
    assert body["phone_normalized"] == "13800138000" and body["email_normalized"] == "a@b.cn"
    assert body["tags"] == [{"id": tag.pk, "name": "重点客户", "colour": tag.colour}]
    assert [d["id"] for d in body["duplicates"]] == [existing.pk]
    detail = api(rep).get(f"{URL}{body['id']}/").json()
    assert detail["name"] == "新公司" and "duplicates" not in detail
    body.pop("duplicates")
    assert body == detail  # the created body (from the saved instance) is what a read returns
    assert AuditEntry.objects.filter(action="customer.create", target_id=str(body["id"])).exists()


def test_validation_errors_name_the_fields(api, tenant_a):
    response = api(tenant_a.users["sales_rep"]).post(
        URL, {"name": "X", "phone": "123456", "email": "bad", "tier": "Z", "tags": [999999]}, format="json"
    )
    error = assert_error(response, 400, "validation_failed")
    assert "tier" in error["fields"]  # the tier (against the organisation's list) is checked first
    response = api(tenant_a.users["sales_rep"]).post(URL, {"name": "X", "phone": "123456", "email": "bad"})
    error = assert_error(response, 400, "validation_failed")
    assert set(error["fields"]) == {"phone", "email"}
    response = api(tenant_a.users["sales_rep"]).post(URL, {"name": "X", "tags": [999999]}, format="json")
    assert "tags" in assert_error(response, 400, "validation_failed")["fields"]


def test_a_tag_of_another_organisation_fails_like_a_missing_one(api, tenant_a, tenant_b):
    foreign = make_tag(tenant_b)
    response = api(tenant_a.admin).post(URL, {"name": "X", "tags": [foreign.pk]}, format="json")
    assert "tags" in assert_error(response, 400, "validation_failed")["fields"]


def test_patch_needs_the_version_and_a_stale_one_is_409(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="原名")
    client = api(rep)
    error = assert_error(
        client.patch(f"{URL}{customer.pk}/", {"name": "新名"}, format="json"), 400, "validation_failed"
    )
    assert "version" in error["fields"]
    response = client.patch(f"{URL}{customer.pk}/", {"name": "新名", "version": 1}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    response = client.patch(f"{URL}{customer.pk}/", {"name": "更新", "version": 1}, format="json")
    assert_error(response, 409, "version_conflict")
    customer.refresh_from_db()
    assert customer.name == "新名"
    response = client.patch(f"{URL}{customer.pk}/", {"owner": rep.pk, "version": 2}, format="json")
    assert "owner" in assert_error(response, 400, "validation_failed")["fields"]


def test_delete_and_restore(api, tenant_a):
    customer = make_customer(tenant_a)
    client = api(tenant_a.users["sales_manager"])
    assert client.delete(f"{URL}{customer.pk}/").status_code == 204
    assert_error(client.get(f"{URL}{customer.pk}/"), 404, "not_found")
    response = client.post(f"{URL}{customer.pk}/restore/")
    assert response.status_code == 200 and response.json()["deleted_at"] is None
    assert_error(client.post(f"{URL}{customer.pk}/restore/"), 404, "not_found")  # not in the bin any more
    assert_error(api(tenant_a.users["sales_rep"]).delete(f"{URL}{customer.pk}/"), 403, "permission_denied")


def test_assign(api, tenant_a, tenant_b):
    a, b = make_customer(tenant_a), make_customer(tenant_a)
    foreign = make_customer(tenant_b)
    rep2 = tenant_a.users["sales_rep_2"]
    client = api(tenant_a.users["sales_manager"])
    response = client.post(f"{URL}assign/", {"ids": [a.pk, b.pk], "owner": rep2.pk}, format="json")
    assert response.status_code == 200 and response.json() == {"assigned": [a.pk, b.pk]}
    assert set(Customer.objects.filter(owner=rep2).values_list("pk", flat=True)) == {a.pk, b.pk}
    response = client.post(f"{URL}assign/", {"ids": [a.pk, foreign.pk], "owner": rep2.pk}, format="json")
    assert "ids" in assert_error(response, 400, "validation_failed")["fields"]
    response = client.post(f"{URL}assign/", {"ids": [a.pk], "owner": tenant_b.admin.pk}, format="json")
    assert "owner" in assert_error(response, 400, "validation_failed")["fields"]
    foreign.refresh_from_db()
    assert foreign.owner == tenant_b.users["sales_rep"]


def test_scope_own_sees_only_own_customers_in_list_search_and_detail(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    mine = make_customer(tenant_a, owner=rep, name="华为技术")
    colleague = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="华润集团")
    foreign = make_customer(tenant_b, name="华夏 B")
    client = api(rep)
    assert all_ids(client, URL) == [mine.pk]
    assert all_ids(client, f"{URL}?search=华") == [mine.pk]
    for other in (colleague, foreign):
        assert_error(client.get(f"{URL}{other.pk}/"), 404, "not_found")
        assert_error(client.patch(f"{URL}{other.pk}/", {"name": "x", "version": 1}, format="json"), 404, "not_found")
        assert_error(client.delete(f"{URL}{other.pk}/"), 404, "not_found")
    manager_ids = all_ids(api(tenant_a.users["sales_manager"]), URL)
    assert set(manager_ids) == {mine.pk, colleague.pk}
    assert all_ids(api(tenant_b.admin), URL) == [foreign.pk]


def test_filters_ordering_and_cursor_pages(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    tag = make_tag(tenant_a)
    made = [make_customer(tenant_a, owner=rep, name=f"客户{i:02d}", tier="AB"[i % 2]) for i in range(7)]
    services.customers_tag_add(actor=rep, customers=made[:2], tags=[tag])
    client = api(rep)
    first = client.get(f"{URL}?ordering=name&limit=3").json()
    assert [c["name"] for c in first["results"]] == ["客户00", "客户01", "客户02"]
    assert first["previous"] is None and "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert [c["name"] for c in second["results"]] == ["客户03", "客户04", "客户05"]
    back = client.get(second["previous"]).json()
    assert [c["name"] for c in back["results"]] == ["客户00", "客户01", "客户02"]
    assert all_ids(client, f"{URL}?ordering=-name") == [c.pk for c in reversed(made)]
    assert set(all_ids(client, f"{URL}?tier=A")) == {c.pk for c in made[::2]}
    assert set(all_ids(client, f"{URL}?tag={tag.pk}")) == {made[0].pk, made[1].pk}
    assert_error(client.get(f"{URL}?ordering=owner__password"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?ordering=email"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?cursor=abc"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?tier=Z"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?limit=ten"), 400, "validation_failed")


def test_the_list_needs_a_bounded_number_of_queries(api, tenant_a, django_assert_max_num_queries):
    rep = tenant_a.users["sales_rep"]
    tags = [make_tag(tenant_a) for _ in range(3)]
    for _ in range(30):
        customer = make_customer(tenant_a, owner=rep, tags=tags)
        make_contact(tenant_a, customer)
    # A fresh user object per request, as with session auth: its organisation and role load once each,
    # then one query for the page of customers (with owners) and one for their tags.
    client = api(User.objects.get(pk=rep.pk))
    with django_assert_max_num_queries(4):
        response = client.get(f"{URL}?limit=30")
    assert len(response.json()["results"]) == 30
    client = api(User.objects.get(pk=rep.pk))
    # A search adds one query (the bounded walk of customers/search.py; no index step for 30 rows).
    with django_assert_max_num_queries(5):
        response = client.get(f"{URL}?limit=30&search=测试&tag={tags[0].pk}")
    assert len(response.json()["results"]) == 30


def test_the_module_disabled_is_403_module_not_enabled(api, tenant_a):
    customer = make_customer(tenant_a)
    tenant_a.org.enabled_modules = [m for m in tenant_a.org.enabled_modules if m != "customers"]
    tenant_a.org.save()
    admin = User.objects.get(pk=tenant_a.admin.pk)
    for url in (URL, f"{URL}{customer.pk}/", "/api/v1/contacts/", "/api/v1/tags/"):
        assert_error(api(admin).get(url), 403, "module_not_enabled")
    assert_error(api(admin).post(URL, {"name": "X"}), 403, "module_not_enabled")


def test_anonymous_is_401(api):
    assert_error(api().get(URL), 401, "not_authenticated")


# Contacts --------------------------------------------------------------------------------------------


def test_contacts_crud_within_the_customers_scope(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    mine = make_customer(tenant_a, owner=rep)
    colleague = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    hidden = make_contact(tenant_a, colleague, name="看不见")
    foreign = make_contact(tenant_b, name="外国人")
    client = api(rep)
    response = client.post(
        "/api/v1/contacts/", {"customer": mine.pk, "name": "张三", "phone": "139 1000 2000", "is_primary": True}
    )
    assert response.status_code == 201, response.content
    contact = response.json()
    assert contact["customer"] == {"id": mine.pk, "name": mine.name} and contact["phone_normalized"] == "13910002000"
    response = client.post("/api/v1/contacts/", {"customer": colleague.pk, "name": "x"})
    assert "customer" in assert_error(response, 400, "validation_failed")["fields"]
    assert all_ids(client, "/api/v1/contacts/") == [contact["id"]]
    assert all_ids(client, f"/api/v1/contacts/?customer={mine.pk}&search=张") == [contact["id"]]
    for other in (hidden, foreign):
        assert_error(client.get(f"/api/v1/contacts/{other.pk}/"), 404, "not_found")
        assert_error(client.delete(f"/api/v1/contacts/{other.pk}/"), 404, "not_found")
    url = f"/api/v1/contacts/{contact['id']}/"
    assert client.patch(url, {"title": "总监", "version": 1}, format="json").json()["version"] == 2
    assert_error(client.patch(url, {"title": "经理", "version": 1}, format="json"), 409, "version_conflict")
    assert client.delete(url).status_code == 204
    assert Contact.objects.get(pk=contact["id"]).deleted_at is not None


# Tags ------------------------------------------------------------------------------------------------


def test_tags_are_shared_by_the_organisation(api, tenant_a, tenant_b):
    make_tag(tenant_b, "外部")
    rep = api(tenant_a.users["sales_rep"])
    response = rep.post("/api/v1/tags/", {"name": "重点", "colour": "#ff0000"})
    assert response.status_code == 201
    tag_id = response.json()["id"]
    assert [t["name"] for t in api(tenant_a.users["sales_rep_2"]).get("/api/v1/tags/").json()["results"]] == ["重点"]
    assert_error(rep.patch(f"/api/v1/tags/{tag_id}/", {"name": "改"}), 403, "permission_denied")
    assert_error(rep.post("/api/v1/tags/", {"name": "重点"}), 400, "validation_failed")
    admin = api(tenant_a.admin)
    assert admin.patch(f"/api/v1/tags/{tag_id}/", {"name": "改"}).json()["name"] == "改"
    assert_error(api(tenant_b.admin).delete(f"/api/v1/tags/{tag_id}/"), 404, "not_found")
    assert admin.delete(f"/api/v1/tags/{tag_id}/").status_code == 204
    assert not Tag.objects.filter(pk=tag_id).exists()


def test_a_forged_cursor_with_a_nul_byte_is_a_400_not_a_500(tenant_a, api):
    import base64
    import json

    payload = json.dumps({"d": "n", "v": "a\x00", "i": 1, "o": "name"}).encode()
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    response = api(tenant_a.admin).get("/api/v1/customers/", {"ordering": "name", "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["cursor"]


def test_customer_data_renders_exactly_what_the_documented_serializer_does(tenant_a):
    """The API builds customer bodies without the serializer (speed); the serializer stays the schema."""
    from datetime import timedelta

    from django.utils import timezone

    from kehu.customers import selectors
    from kehu.customers.api import CustomerOutputSerializer, customer_data

    tag = make_tag(tenant_a)
    customer = make_customer(
        tenant_a,
        tags=[tag],
        phone="13800138000",
        email="Info@Example.cn",
        province="上海市",
        next_follow_up_at=timezone.now() + timedelta(days=2),
        notes="备注",
    )
    rows = selectors.customers_with_relations_for(actor=tenant_a.admin).filter(pk=customer.pk)
    loaded = rows.get()
    assert customer_data(loaded) == dict(CustomerOutputSerializer(loaded).data)
