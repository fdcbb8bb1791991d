"""Custom fields of customers and contacts end to end: API create/patch and errors in the one shape, the
definitions API and admin pages, forms that show and validate them, the detail page, and list filters."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.custom_field_models import CustomFieldDefinition
from kehu.customers.models import Customer
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer
from tests.customers.field_factories import make_field

CUSTOMERS = "/api/v1/customers/"
CONTACTS = "/api/v1/contacts/"
FIELDS = "/api/v1/custom-fields/"


@pytest.fixture
def fields(tenant_a):
    return {
        "grade": make_field(tenant_a, "single_select", key="grade", label="客户等级", required=True, default="银"),
        "seats": make_field(tenant_a, "integer", key="seats", label="Seats"),
        "signed_on": make_field(tenant_a, "date", key="signed_on", label="Signed on"),
        "vip": make_field(tenant_a, "boolean", key="vip", label="VIP"),
        "wechat_group": make_field(
            tenant_a, "text", key="wechat_group", label="WeChat group", record_type="customers.contact"
        ),
    }


# API -------------------------------------------------------------------------------------------------


def test_api_create_and_patch_with_custom_values(api, tenant_a, fields):
    client = api(tenant_a.users["sales_rep"])
    response = client.post(CUSTOMERS, {"name": "自定义字段公司", "custom": {"seats": "12", "vip": True}}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["custom"] == {"grade": "银", "seats": 12, "vip": True}  # the default filled in, "12" normalised
    response = client.patch(
        f"{CUSTOMERS}{body['id']}/",
        {"version": body["version"], "custom": {"seats": None, "signed_on": "2026-05-01"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["custom"] == {"grade": "银", "vip": True, "signed_on": "2026-05-01"}
    assert Customer.objects.get(pk=body["id"]).custom["signed_on"] == "2026-05-01"


def test_api_custom_errors_come_in_the_one_shape_naming_each_field(api, tenant_a, fields):
    client = api(tenant_a.users["sales_rep"])
    response = client.post(
        CUSTOMERS,
        {"name": "X", "custom": {"grade": "钻石", "seats": "many", "signed_on": "yesterday", "nope": 1}},
        format="json",
    )
    error = assert_error(response, 400, "validation_failed")
    assert set(error["fields"]) == {"custom.grade", "custom.seats", "custom.signed_on", "custom.nope"}
    assert "客户等级" in error["message"]
    customer = make_customer(tenant_a)
    response = client.patch(
        f"{CUSTOMERS}{customer.pk}/", {"version": customer.version, "custom": {"grade": ""}}, format="json"
    )
    assert set(assert_error(response, 400, "validation_failed")["fields"]) == {"custom.grade"}
    response = client.post(CUSTOMERS, {"name": "X", "custom": "not an object"}, format="json")
    assert "custom" in assert_error(response, 400, "validation_failed")["fields"]


def test_api_contacts_take_their_own_custom_fields(api, tenant_a, fields):
    customer = make_customer(tenant_a)
    client = api(tenant_a.admin)
    response = client.post(
        CONTACTS, {"customer": customer.pk, "name": "李四", "custom": {"wechat_group": " 华东群 "}}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["custom"] == {"wechat_group": "华东群"}
    # A customer field is not a contact field.
    response = client.post(CONTACTS, {"customer": customer.pk, "name": "王五", "custom": {"seats": 1}}, format="json")
    assert set(assert_error(response, 400, "validation_failed")["fields"]) == {"custom.seats"}
    contact = client.get(CONTACTS).json()["results"][0]
    response = client.patch(
        f"{CONTACTS}{contact['id']}/", {"version": contact["version"], "custom": {"wechat_group": None}}, format="json"
    )
    assert response.status_code == 200 and response.json()["custom"] == {}


def test_api_list_filters_by_custom_values(api, tenant_a, fields):
    gold = make_customer(tenant_a, custom={"grade": "金", "seats": 50, "vip": True})
    silver = make_customer(tenant_a, custom={"grade": "银", "seats": 5})
    client = api(tenant_a.admin)
    assert all_ids(client, f"{CUSTOMERS}?custom.grade=金") == [gold.pk]
    assert all_ids(client, f"{CUSTOMERS}?custom.seats.max=10") == [silver.pk]
    assert all_ids(client, f"{CUSTOMERS}?custom.vip=true") == [gold.pk]
    response = client.get(f"{CUSTOMERS}?custom.seats.min=lots")
    assert "custom.seats.min" in assert_error(response, 400, "validation_failed")["fields"]


def test_definitions_api_crud_filter_and_rules(api, tenant_a, tenant_b, fields):
    admin = api(tenant_a.admin)
    response = admin.post(
        FIELDS,
        {"record_type": "customers.customer", "key": "region_code", "label": "Region code", "field_type": "text"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["key"] == "region_code" and created["position"] == 4
    keys = [d["key"] for d in admin.get(f"{FIELDS}?record_type=customers.contact").json()["results"]]
    assert keys == ["wechat_group"]
    # A rep reads the definitions (forms need them) but cannot add one.
    rep = api(tenant_a.users["sales_rep"])
    assert len(rep.get(FIELDS).json()["results"]) == 6
    response = rep.post(FIELDS, {"record_type": "customers.customer", "key": "x", "label": "X", "field_type": "text"})
    assert_error(response, 403, "permission_denied")
    # The type of a field with values cannot change; its label can; a used field is not deleted.
    make_customer(tenant_a, custom={"seats": 3})
    seats = fields["seats"]
    response = admin.patch(f"{FIELDS}{seats.pk}/", {"field_type": "text"}, format="json")
    assert "field_type" in assert_error(response, 400, "validation_failed")["fields"]
    response = admin.patch(f"{FIELDS}{seats.pk}/", {"label": "座席数", "version": seats.version}, format="json")
    assert response.status_code == 200 and response.json()["label"] == "座席数"
    response = admin.patch(f"{FIELDS}{seats.pk}/", {"label": "stale", "version": seats.version}, format="json")
    assert_error(response, 409, "version_conflict")
    assert_error(admin.delete(f"{FIELDS}{seats.pk}/"), 400, "validation_failed")
    assert admin.delete(f"{FIELDS}{created['id']}/").status_code == 204
    # Another organisation sees none of it.
    assert api(tenant_b.admin).get(FIELDS).json()["results"] == []
    assert_error(api(tenant_b.admin).get(f"{FIELDS}{seats.pk}/"), 404, "not_found")


def test_deactivated_fields_leave_forms_and_input_but_values_stay(api, tenant_a, fields):
    customer = make_customer(tenant_a, custom={"seats": 7})
    api(tenant_a.admin).patch(f"{FIELDS}{fields['seats'].pk}/", {"is_active": False}, format="json")
    response = api(tenant_a.admin).patch(
        f"{CUSTOMERS}{customer.pk}/", {"version": customer.version, "custom": {"seats": 8}}, format="json"
    )
    assert "custom.seats" in assert_error(response, 400, "validation_failed")["fields"]
    customer.refresh_from_db()
    assert customer.custom["seats"] == 7


# Pages -----------------------------------------------------------------------------------------------


def html(response):
    return response.content.decode()


def test_the_create_form_shows_custom_fields_validates_inline_and_keeps_input(client, tenant_a, fields):
    client.force_login(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("customers:create")))
    assert 'data-testid="custom-fields"' in page
    assert 'name="custom.grade"' in page and 'name="custom.signed_on"' in page and 'type="date"' in page
    assert '<option value="银" selected>' in page  # the default, preselected
    assert 'name="custom.wechat_group"' not in page  # a contact field
    response = client.post(
        reverse("customers:create"),
        {
            "name": "表单公司",
            "kind": "company",
            "stage": "lead_in",
            "custom.grade": "",
            "custom.seats": "abc",
            "custom.vip": "true",
        },
    )
    assert response.status_code == 200
    page = html(response)
    assert 'data-testid="error-custom.grade"' in page and 'data-testid="error-custom.seats"' in page
    assert 'value="abc"' in page and 'value="表单公司"' in page  # what was typed is kept
    response = client.post(
        reverse("customers:create"),
        {
            "name": "表单公司",
            "kind": "company",
            "stage": "lead_in",
            "custom.grade": "金",
            "custom.seats": "20",
            "custom.signed_on": "2026-02-03",
            "custom.vip": "false",
        },
    )
    assert response.status_code == 302
    customer = Customer.objects.get(name="表单公司")
    assert customer.custom == {"grade": "金", "seats": 20, "signed_on": "2026-02-03", "vip": False}
    detail = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert "客户等级" in detail and "2026-02-03" in detail and 'data-custom-field="seats"' in detail


def test_the_edit_form_shows_stored_values_and_service_errors_inline(client, tenant_a, fields):
    customer = make_customer(tenant_a, custom={"grade": "铜", "seats": 3})
    client.force_login(tenant_a.admin)
    page = html(client.get(reverse("customers:edit", args=[customer.pk])))
    assert '<option value="铜" selected>' in page and 'name="custom.seats" value="3"' in page
    data = {
        "name": customer.name,
        "kind": "company",
        "stage": "lead_in",
        "version": customer.version,
        "custom.grade": "铜",
        "custom.seats": "99999999999999999999",  # beyond the JSON-safe integer range: the service refuses
    }
    response = client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 200 and 'data-testid="error-custom.seats"' in html(response)
    data["custom.seats"] = "4"
    assert client.post(reverse("customers:edit", args=[customer.pk]), data).status_code == 302
    customer.refresh_from_db()
    assert customer.custom == {"grade": "铜", "seats": 4}


def test_the_contact_form_takes_contact_fields(client, tenant_a, fields):
    customer = make_customer(tenant_a)
    client.force_login(tenant_a.admin)
    assert 'name="custom.wechat_group"' in html(client.get(reverse("customers:contact_create", args=[customer.pk])))
    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]), {"name": "赵六", "custom.wechat_group": "VIP群"}
    )
    assert response.status_code == 302
    contact = customer.contacts.get()
    assert contact.custom == {"wechat_group": "VIP群"}
    assert "VIP群" in html(client.get(reverse("customers:detail", args=[customer.pk])))
    make_contact(tenant_a, customer, custom={"wechat_group": "二群"})


def test_the_list_filters_by_custom_fields(client, tenant_a, fields):
    gold = make_customer(tenant_a, name="金牌客户", custom={"grade": "金", "signed_on": "2026-01-10"})
    make_customer(tenant_a, name="银牌客户", custom={"grade": "银", "signed_on": "2026-04-10"})
    client.force_login(tenant_a.admin)
    page = html(client.get(reverse("customers:list")))
    assert 'name="custom.grade"' in page and 'name="custom.signed_on.min"' in page
    page = html(client.get(reverse("customers:list"), {"custom.grade": "金"}))
    assert "金牌客户" in page and "银牌客户" not in page
    page = html(client.get(reverse("customers:list"), {"custom.signed_on.min": "2026-03-01"}))
    assert "银牌客户" in page and "金牌客户" not in page
    assert gold.pk


def test_administrators_manage_fields_in_the_ui(client, tenant_a, fields):
    client.force_login(tenant_a.users["sales_rep"])
    assert client.get(reverse("customers:custom_fields")).status_code == 403
    client.force_login(tenant_a.admin)
    page = html(client.get(reverse("customers:custom_fields")))
    assert "客户等级" in page and "wechat_group" not in page
    assert "wechat_group" in html(client.get(reverse("customers:custom_fields"), {"record_type": "customers.contact"}))
    response = client.post(
        reverse("customers:custom_field_create") + "?record_type=customers.customer",
        {
            "label": "合同类型",
            "key": "contract_kind",
            "field_type": "multi_select",
            "options": "年度\n项目\n",
            "default": "年度, 项目",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, html(response)
    created = CustomFieldDefinition.objects.get(organization=tenant_a.org, key="contract_kind")
    assert created.options == ["年度", "项目"] and created.default == ["年度", "项目"]
    # Bad input is shown inline, with what was typed.
    response = client.post(
        reverse("customers:custom_field_create"),
        {"label": "坏", "key": "Bad Key", "field_type": "single_select", "options": ""},
    )
    assert (
        response.status_code == 200
        and 'data-testid="error-key"' in html(response)
        and 'value="Bad Key"' in html(response)
    )
    # Reorder, deactivate, and a type change refused once values exist.
    client.post(reverse("customers:custom_field_move", args=[created.pk]), {"direction": "up"})
    order = list(
        CustomFieldDefinition.objects.filter(organization=tenant_a.org, record_type="customers.customer")
        .order_by("position")
        .values_list("key", flat=True)
    )
    assert order.index("contract_kind") == order.index("vip") - 1
    client.post(reverse("customers:custom_field_toggle", args=[created.pk]))
    created.refresh_from_db()
    assert created.is_active is False
    make_customer(tenant_a, custom={"seats": 1})
    seats = fields["seats"]
    response = client.post(
        reverse("customers:custom_field_edit", args=[seats.pk]),
        {"version": seats.version, "label": "Seats", "field_type": "text", "is_active": "on"},
    )
    assert response.status_code == 200 and 'data-testid="error-field_type"' in html(response)


def test_the_audit_entry_names_each_custom_field_that_changed(tenant_a, fields):
    from kehu.core.models import AuditEntry
    from kehu.customers import services

    customer = make_customer(tenant_a, custom={"seats": 1})
    services.customer_update(
        actor=tenant_a.admin, customer=customer, expected_version=customer.version, data={"custom": {"seats": 2}}
    )
    entry = AuditEntry.objects.filter(action="customer.update", target_id=str(customer.pk)).get()
    assert entry.changes == {"custom.seats": {"before": 1, "after": 2}}


def test_postgresql_has_a_gin_index_on_custom_values(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("GIN indexes are PostgreSQL's; the migration is a no-op on SQLite")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname IN ('cust_custom_gin', 'contact_custom_gin')")
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 2 and all("gin" in d and "jsonb_path_ops" in d for d in definitions)
