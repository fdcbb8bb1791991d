"""/api/v1/leads/ and the lead configuration routes: lists with filters and cursors (and bounded query
counts), create through the rules, 400/404/409, assign, convert, web forms, rules, settings, sources."""

from __future__ import annotations

import pytest

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.sales.lead_models import AssignmentRule, Lead
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_customer
from tests.sales.lead_factories import make_lead, make_qualified_lead, make_rule, make_webform

pytestmark = pytest.mark.django_db
API = "/api/v1"


# Leads ----------------------------------------------------------------------------------------------------


def test_list_filters_sorts_and_pages(tenant_a, api):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    a = make_lead(tenant_a, rep, name="甲", company="华为技术", source="referral", status="contacted", score=10)
    b = make_lead(tenant_a, rep2, name="乙", phone="13812345678", province="广东省", score=90)
    c = make_lead(tenant_a, rep2, name="丙", email="Bing@Example.com", source="exhibition", score=50)
    client = api(tenant_a.admin)

    def ids(query: str) -> list[int]:
        response = client.get(f"{API}/leads/?{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids("") == [c.pk, b.pk, a.pk]
    assert ids("status=contacted") == [a.pk]
    assert ids("source=exhibition") == [c.pk]
    assert ids(f"owner={rep2.pk}") == [c.pk, b.pk]
    assert ids("search=华为") == [a.pk]
    assert ids("search=1234 5678") == [b.pk]
    assert ids("search=bing@") == [c.pk]
    assert ids("province=广东省") == [b.pk]
    assert ids("ordering=-score") == [b.pk, c.pk, a.pk]
    assert ids("ordering=name") == sorted([a.pk, b.pk, c.pk], key=lambda pk: Lead.objects.get(pk=pk).name)
    assert ids("created_from=2000-01-01&created_to=2999-12-31") == [c.pk, b.pk, a.pk]
    assert ids("created_to=2000-01-01") == []
    first = client.get(f"{API}/leads/?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    assert [i["id"] for i in client.get(first["next"]).json()["results"]] == [a.pk]
    item = client.get(f"{API}/leads/?search=甲").json()["results"][0]
    assert item["source_label"] and item["owner"]["id"] == rep.pk and item["version"] == 1


def test_list_of_a_rep_holds_only_her_leads_and_unassigned_is_a_filter(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    mine = make_lead(tenant_a, rep)
    make_lead(tenant_a, tenant_a.users["sales_rep_2"])
    nobody = Lead.objects.create(organization=tenant_a.org, name="无人认领")
    assert all_ids(api(rep), f"{API}/leads/") == [mine.pk]
    assert all_ids(api(tenant_a.admin), f"{API}/leads/?owner=none") == [nobody.pk]


def test_list_errors_are_400_with_field_names(tenant_a, api):
    client = api(tenant_a.admin)
    assert "ordering" in assert_error(client.get(f"{API}/leads/?ordering=password"), 400, "validation_failed")["fields"]
    assert "cursor" in assert_error(client.get(f"{API}/leads/?cursor=bogus"), 400, "validation_failed")["fields"]
    assert (
        "created_from"
        in assert_error(client.get(f"{API}/leads/?created_from=yesterday"), 400, "validation_failed")["fields"]
    )
    assert "status" in assert_error(client.get(f"{API}/leads/?status=won"), 400, "validation_failed")["fields"]
    assert "owner" in assert_error(client.get(f"{API}/leads/?owner=abc"), 400, "validation_failed")["fields"]


def test_the_list_query_count_does_not_grow_with_the_page(tenant_a, api, django_assert_max_num_queries):
    for n in range(30):
        make_lead(tenant_a, tenant_a.users["sales_rep" if n % 2 else "sales_rep_2"], name=f"线索{n}")
    client = api(tenant_a.admin)
    client.get(f"{API}/leads/")  # warm the session-independent caches (content types)
    with django_assert_max_num_queries(6):
        response = client.get(f"{API}/leads/?limit=30")
    assert len(response.json()["results"]) == 30


def test_create_goes_through_the_rules_and_defaults_to_the_api_source(tenant_a, api):
    rep2 = tenant_a.users["sales_rep_2"]
    rule = make_rule(
        tenant_a,
        name="广东",
        action="user",
        user=rep2,
        conditions=[{"field": "province", "op": "in", "value": ["广东", "广西"]}],
    )
    response = api(tenant_a.users["sales_rep"]).post(
        f"{API}/leads/", {"name": "接口线索", "phone": "13800001234", "province": "广东省"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "api" and body["owner"]["id"] == rep2.pk
    assert body["assigned_rule"] == rule.pk and body["assigned_rule_name"] == "广东"


def test_create_errors(tenant_a, tenant_b, api):
    client = api(tenant_a.users["sales_rep"])
    error = assert_error(
        client.post(f"{API}/leads/", {"name": "", "email": "not-an-email"}, format="json"), 400, "validation_failed"
    )
    assert "name" in error["fields"]
    error = assert_error(
        client.post(f"{API}/leads/", {"name": "x", "email": "bad@"}, format="json"), 400, "validation_failed"
    )
    assert "email" in error["fields"]
    error = assert_error(
        client.post(f"{API}/leads/", {"name": "x", "owner": tenant_b.users["sales_rep"].pk}, format="json"),
        400,
        "validation_failed",
    )
    assert "owner" in error["fields"]
    assert_error(
        client.post(f"{API}/leads/", {"name": "x", "owner": tenant_a.users["sales_manager"].pk}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(
        api(tenant_a.users["marketer"]).post(f"{API}/leads/", {"name": "x"}, format="json"), 403, "permission_denied"
    )


def test_patch_needs_the_version_and_answers_409_when_stale(tenant_a, api):
    lead = make_lead(tenant_a)
    client = api(tenant_a.users["sales_rep"])
    url = f"{API}/leads/{lead.pk}/"
    assert "version" in assert_error(client.patch(url, {"score": 3}, format="json"), 400, "validation_failed")["fields"]
    response = client.patch(url, {"score": 3, "status": "contacted", "version": 1}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    assert_error(client.patch(url, {"score": 4, "version": 1}, format="json"), 409, "version_conflict")
    error = assert_error(client.patch(url, {"status": "won", "version": 2}, format="json"), 400, "validation_failed")
    assert "status" in error["fields"]
    assert (
        "owner"
        in assert_error(client.patch(url, {"owner": 1, "version": 2}, format="json"), 400, "validation_failed")[
            "fields"
        ]
    )
    assert_error(client.get(f"{API}/leads/999999/"), 404, "not_found")
    assert_error(api(tenant_a.users["sales_rep_2"]).get(url), 404, "not_found")  # a colleague's: not hers


def test_delete_and_restore(tenant_a, api):
    lead = make_lead(tenant_a)
    client = api(tenant_a.users["sales_manager"])
    assert client.delete(f"{API}/leads/{lead.pk}/").status_code == 204
    assert_error(client.get(f"{API}/leads/{lead.pk}/"), 404, "not_found")
    response = client.post(f"{API}/leads/{lead.pk}/restore/")
    assert response.status_code == 200 and response.json()["id"] == lead.pk
    assert_error(api(tenant_a.users["sales_rep"]).delete(f"{API}/leads/{lead.pk}/"), 403, "permission_denied")


def test_assign_to_a_user_or_by_the_rules(tenant_a, api):
    lead = make_lead(tenant_a, province="广东")
    manager, rep2 = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    client = api(manager)
    url = f"{API}/leads/{lead.pk}/assign/"
    response = client.post(url, {"owner": rep2.pk}, format="json")
    assert response.status_code == 200 and response.json()["owner"]["id"] == rep2.pk and response.json()["changed"]
    rule = make_rule(tenant_a, name="经理兜底", action="user", user=manager)
    response = client.post(url, {"rules": True}, format="json")
    body = response.json()
    assert body["owner"]["id"] == manager.pk and body["assigned_rule"] == rule.pk and body["changed"]
    assert AuditEntry.objects.filter(action="lead.assign", target_id=str(lead.pk)).count() == 2
    assert "owner" in assert_error(client.post(url, {}, format="json"), 400, "validation_failed")["fields"]
    assert (
        "owner" in assert_error(client.post(url, {"owner": 999999}, format="json"), 400, "validation_failed")["fields"]
    )
    rep_lead = make_lead(tenant_a)
    assert_error(
        api(tenant_a.users["sales_rep"]).post(f"{API}/leads/{rep_lead.pk}/assign/", {"rules": True}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(client.post(f"{API}/leads/999999/assign/", {"rules": True}, format="json"), 404, "not_found")


def test_convert_creates_and_answers_409_for_duplicates_and_repeats(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)
    lead = make_lead(tenant_a, rep, name="陈经理", company="宁波海天贸易", phone="13586001122")
    url = f"{API}/leads/{lead.pk}/convert/"
    assert "status" in assert_error(client.post(url, {}, format="json"), 400, "validation_failed")["fields"]
    client.patch(f"{API}/leads/{lead.pk}/", {"status": "qualified", "version": 1}, format="json")
    assert_error(client.post(url, {"version": 1}, format="json"), 409, "version_conflict")
    response = client.post(
        url,
        {"version": 2, "create_opportunity": True, "opportunity_name": "海天首单", "amount": "8000.00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created_customer"] and body["customer"]["name"] == "宁波海天贸易"
    assert body["opportunity"]["name"] == "海天首单" and body["lead"]["status"] == "converted"
    assert body["lead"]["converted_customer"] == body["customer"]["id"]
    assert_error(client.post(url, {}, format="json"), 409, "already_converted")

    twin = make_qualified_lead(tenant_a, rep, name="陈经理", phone="135 8600 1122")
    twin_url = f"{API}/leads/{twin.pk}/convert/"
    matches = client.get(f"{API}/leads/{twin.pk}/matches/").json()
    assert matches == [
        {
            "customer": {"id": body["customer"]["id"], "name": "宁波海天贸易"},
            "owner": str(rep),
            "reasons": ["contact_phone"],
            "strong": True,
        }
    ]
    error = assert_error(client.post(twin_url, {}, format="json"), 409, "duplicate_customer")
    assert "customer" in error["fields"] and "宁波海天贸易" in error["message"]
    response = client.post(twin_url, {"customer": body["customer"]["id"]}, format="json")
    assert response.status_code == 201 and not response.json()["created_customer"]
    assert not response.json()["created_contact"]  # the same person: the contact is kept
    assert Customer.objects.filter(organization=tenant_a.org, name="宁波海天贸易").count() == 1


def test_convert_refuses_a_customer_outside_the_scope_like_a_missing_one(tenant_a, tenant_b, api):
    rep = tenant_a.users["sales_rep"]
    lead = make_qualified_lead(tenant_a, rep)
    for other in (make_customer(tenant_a, tenant_a.users["sales_rep_2"]), make_customer(tenant_b)):
        error = assert_error(
            api(rep).post(f"{API}/leads/{lead.pk}/convert/", {"customer": other.pk}, format="json"),
            400,
            "validation_failed",
        )
        assert "customer" in error["fields"]
    assert Lead.objects.get(pk=lead.pk).status == "qualified"


# Web forms, rules, settings, sources ---------------------------------------------------------------------


def test_web_forms_api(tenant_a, api):
    client = api(tenant_a.admin)
    response = client.post(
        f"{API}/web-forms/",
        {"name": "官网", "fields": [{"field": "name", "required": True}, {"field": "email", "label": "邮箱"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["public_url"].startswith("http://testserver/forms/") and "<iframe" in body["embed_snippet"]
    assert body["fields"][1] == {"field": "email", "label": "邮箱", "required": False}
    url = f"{API}/web-forms/{body['id']}/"
    error = assert_error(
        client.patch(url, {"fields": [{"field": "company"}], "version": 1}, format="json"), 400, "validation_failed"
    )
    assert "fields" in error["fields"]
    assert client.patch(url, {"is_active": False, "version": 1}, format="json").json()["is_active"] is False
    assert_error(client.patch(url, {"title": "x", "version": 1}, format="json"), 409, "version_conflict")
    new = client.post(f"{url}new-address/").json()
    assert new["public_url"] != body["public_url"]
    assert_error(
        api(tenant_a.users["sales_rep"]).post(f"{API}/web-forms/", {"name": "x"}, format="json"),
        403,
        "permission_denied",
    )
    assert api(tenant_a.users["sales_rep"]).get(url).status_code == 200  # configuration is readable
    assert client.delete(url).status_code == 204


def test_assignment_rules_api(tenant_a, api):
    client = api(tenant_a.admin)
    team = tenant_a.teams["east"]
    response = client.post(
        f"{API}/assignment-rules/",
        {
            "name": "广东",
            "action": "round_robin",
            "team": team.pk,
            "cap": 20,
            "conditions": [{"field": "province", "op": "in", "value": ["广东"]}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    first = response.json()
    assert first["team"] == {"id": team.pk, "name": team.name} and first["position"] == 0
    second = client.post(
        f"{API}/assignment-rules/",
        {"name": "兜底", "action": "user", "user": tenant_a.users["sales_manager"].pk},
        format="json",
    ).json()
    error = assert_error(
        client.post(
            f"{API}/assignment-rules/",
            {
                "name": "x",
                "action": "round_robin",
                "conditions": [{"field": "nope", "op": "equals", "value": "1"}],
                "team": team.pk,
            },
            format="json",
        ),
        400,
        "validation_failed",
    )
    assert "conditions" in error["fields"]
    moved = client.post(f"{API}/assignment-rules/{second['id']}/move/", {"position": 0}, format="json").json()
    assert moved["position"] == 0
    assert [r["name"] for r in client.get(f"{API}/assignment-rules/").json()["results"]] == ["兜底", "广东"]
    url = f"{API}/assignment-rules/{first['id']}/"
    assert client.patch(url, {"is_active": False, "version": 1}, format="json").json()["is_active"] is False
    assert_error(client.patch(url, {"cap": 1, "version": 1}, format="json"), 409, "version_conflict")
    assert_error(
        api(tenant_a.users["sales_manager"]).patch(url, {"cap": 1, "version": 2}, format="json"),
        403,
        "permission_denied",
    )
    assert client.delete(url).status_code == 204
    assert not AssignmentRule.objects.filter(pk=first["id"]).exists()


def test_settings_and_reapply_api(tenant_a, api):
    from datetime import timedelta

    from django.utils import timezone

    client = api(tenant_a.admin)
    manager = tenant_a.users["sales_manager"]
    assert client.get(f"{API}/assignment-rules/settings/").json() == {
        "default_owner": None,
        "reassign_after_days": 0,
        "version": 1,
    }
    body = client.patch(
        f"{API}/assignment-rules/settings/", {"default_owner": manager.pk, "reassign_after_days": 5}, format="json"
    ).json()
    assert body["default_owner"]["id"] == manager.pk and body["reassign_after_days"] == 5 and body["version"] == 2
    assert_error(
        client.patch(f"{API}/assignment-rules/settings/", {"reassign_after_days": 1, "version": 1}, format="json"),
        409,
        "version_conflict",
    )
    assert_error(
        api(tenant_a.users["sales_rep"]).patch(
            f"{API}/assignment-rules/settings/", {"reassign_after_days": 1}, format="json"
        ),
        403,
        "permission_denied",
    )
    lead = make_lead(tenant_a)
    Lead.objects.filter(pk=lead.pk).update(updated_at=timezone.now() - timedelta(days=9))
    assert client.post(f"{API}/assignment-rules/reapply/", {"days": 7}, format="json").json() == {"reassigned": 1}
    lead.refresh_from_db()
    assert lead.owner == manager  # no rule: the fallback owner, someone other than the rep
    assert (
        "days"
        in assert_error(
            client.post(f"{API}/assignment-rules/reapply/", {"days": 0}, format="json"), 400, "validation_failed"
        )["fields"]
    )
    assert_error(
        api(manager).post(f"{API}/assignment-rules/reapply/", {"days": 7}, format="json"), 403, "permission_denied"
    )


def test_lead_sources_api(tenant_a, api):
    client = api(tenant_a.admin)
    response = client.post(f"{API}/lead-sources/", {"label": "抖音", "key": "douyin"}, format="json")
    assert response.status_code == 201 and response.json()["key"] == "douyin"
    lead = (
        api(tenant_a.users["sales_rep"])
        .post(f"{API}/leads/", {"name": "抖音客户", "source": "douyin"}, format="json")
        .json()
    )
    assert lead["source_label"] == "抖音"
    assert (
        "key"
        in assert_error(
            client.post(f"{API}/lead-sources/", {"label": "再来", "key": "douyin"}, format="json"),
            400,
            "validation_failed",
        )["fields"]
    )
    source_id = response.json()["id"]
    assert "key" in assert_error(client.delete(f"{API}/lead-sources/{source_id}/"), 400, "validation_failed")["fields"]
    assert (
        client.patch(f"{API}/lead-sources/{source_id}/", {"is_active": False}, format="json").json()["is_active"]
        is False
    )


def test_a_web_form_factory_round_trip(tenant_a):
    form = make_webform(tenant_a)
    assert len(form.token) >= 40 and form.fields[0]["field"] == "name"
