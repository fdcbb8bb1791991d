"""/api/v1/opportunities/, /api/v1/pipelines/, /api/v1/stages/: the happy paths, and 400/403/404/409 in
the one error shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.accounts.models import Organization, User
from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity, Pipeline, Stage
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer
from tests.sales.factories import make_opportunity, make_pipeline

pytestmark = pytest.mark.django_db
URL = "/api/v1/opportunities/"


def stage_list(tenant) -> list[Stage]:
    return list(services.ensure_default_pipeline(tenant.org).stages.order_by("position"))


# Opportunities: reading --------------------------------------------------------------------------------


def test_list_filters_sorts_and_pages(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep, name="筛选测试公司")
    for amount in (500, 100, 300):
        make_opportunity(tenant_a, rep, customer=customer, amount=Decimal(amount), name=f"单 {amount}")
    make_opportunity(tenant_a, rep, name="无金额")
    client = api(rep)
    body = client.get(URL, {"ordering": "-amount", "limit": 2}).json()
    assert [o["amount"] for o in body["results"]] == ["500.00", "300.00"]
    second = client.get(body["next"]).json()
    assert [o["amount"] for o in second["results"]] == ["100.00", None]  # empty amounts sort last
    assert second["next"] is None
    assert [o["name"] for o in client.get(URL, {"amount_min": "200", "ordering": "amount"}).json()["results"]] == [
        "单 300",
        "单 500",
    ]
    assert len(client.get(URL, {"search": "筛选测试"}).json()["results"]) == 3
    assert len(client.get(URL, {"customer": customer.pk}).json()["results"]) == 3
    assert set(all_ids(client, URL)) == set(Opportunity.objects.filter(owner=rep).values_list("pk", flat=True))


def test_list_refuses_bad_parameters(tenant_a, api):
    client = api(tenant_a.admin)
    error = assert_error(client.get(URL, {"ordering": "owner__password"}), 400, "validation_failed")
    assert "ordering" in error["fields"]
    assert "cursor" in assert_error(client.get(URL, {"cursor": "bm9wZQ"}), 400, "validation_failed")["fields"]
    assert (
        "close_to"
        in assert_error(
            client.get(URL, {"close_from": "2030-02-01", "close_to": "2030-01-01"}), 400, "validation_failed"
        )["fields"]
    )
    assert "amount_min" in assert_error(client.get(URL, {"amount_min": "abc"}), 400, "validation_failed")["fields"]


def test_list_query_count_is_constant(tenant_a, api, django_assert_max_num_queries):
    rep = tenant_a.users["sales_rep"]
    for _ in range(15):
        make_opportunity(tenant_a, rep, amount=Decimal("1"))
    client = api(rep)
    with django_assert_max_num_queries(8):
        response = client.get(URL, {"limit": 50})
    assert len(response.json()["results"]) == 15


def test_detail_has_history_and_rotting(tenant_a, api):
    stages = stage_list(tenant_a)
    opportunity = make_opportunity(tenant_a)
    services.change_stage(actor=tenant_a.admin, opportunity=opportunity, stage=stages[1])
    body = api(tenant_a.users["sales_rep"]).get(f"{URL}{opportunity.pk}/").json()
    assert body["stage"] == {"id": stages[1].pk, "name": stages[1].name, "kind": "open"}
    assert [h["to_stage"] for h in body["history"]] == [stages[0].name, stages[1].name]
    assert body["history"][-1]["current"] is True and body["rotting_days"] == 0
    assert body["customer"]["id"] == opportunity.customer_id and body["version"] == 2
    history = api(tenant_a.admin).get(f"{URL}{opportunity.pk}/history/").json()
    assert [t["stage"] for t in history["time_in_stages"]] == [stages[0].name, stages[1].name]


def test_another_organisations_opportunity_is_not_found(tenant_a, tenant_b, api):
    theirs = make_opportunity(tenant_b)
    client = api(tenant_a.admin)
    assert_error(client.get(f"{URL}{theirs.pk}/"), 404, "not_found")
    assert_error(client.post(f"{URL}{theirs.pk}/change-stage/", {}, format="json"), 404, "not_found")
    assert_error(client.get(f"{URL}999999999/history/"), 404, "not_found")


# Opportunities: writing --------------------------------------------------------------------------------


def test_create_with_defaults_and_errors(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep)
    contact = make_contact(tenant_a, customer)
    client = api(rep)
    response = client.post(URL, {"name": "API 商机", "customer": customer.pk, "contact": contact.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"]["id"] == stage_list(tenant_a)[0].pk and body["owner"]["id"] == rep.pk
    assert body["contact"]["id"] == contact.pk and body["currency"] == "CNY"
    assert len(body["history"]) == 1

    proposal = stage_list(tenant_a)[2]
    error = assert_error(
        client.post(URL, {"name": "x", "customer": customer.pk, "stage": proposal.pk}, format="json"),
        400,
        "validation_failed",
    )
    assert error["fields"] == {"amount": ["Required in this stage."]} or "amount" in error["fields"]
    someone_elses = make_customer(tenant_a, tenant_a.users["sales_rep_2"])
    error = assert_error(
        client.post(URL, {"name": "x", "customer": someone_elses.pk}, format="json"), 400, "validation_failed"
    )
    assert "customer" in error["fields"]
    assert (
        "name"
        in assert_error(client.post(URL, {"customer": customer.pk}, format="json"), 400, "validation_failed")["fields"]
    )
    other = make_contact(tenant_a, make_customer(tenant_a, rep))
    error = assert_error(
        client.post(URL, {"name": "x", "customer": customer.pk, "contact": other.pk}, format="json"),
        400,
        "validation_failed",
    )
    assert "contact" in error["fields"]
    error = assert_error(
        client.post(
            URL, {"name": "x", "customer": customer.pk, "owner": tenant_a.users["sales_rep_2"].pk}, format="json"
        ),
        403,
        "permission_denied",
    )


def test_patch_needs_the_current_version(tenant_a, api):
    opportunity = make_opportunity(tenant_a)
    client = api(tenant_a.users["sales_rep"])
    response = client.patch(f"{URL}{opportunity.pk}/", {"version": 1, "next_step": "发报价"}, format="json")
    assert response.status_code == 200 and response.json()["next_step"] == "发报价"
    assert_error(
        client.patch(f"{URL}{opportunity.pk}/", {"version": 1, "name": "旧"}, format="json"), 409, "version_conflict"
    )
    error = assert_error(
        client.patch(f"{URL}{opportunity.pk}/", {"version": 2, "stage": 1}, format="json"), 400, "validation_failed"
    )
    assert "change-stage" in error["fields"]["stage"][0]
    assert (
        "version"
        in assert_error(client.patch(f"{URL}{opportunity.pk}/", {}, format="json"), 400, "validation_failed")["fields"]
    )


def test_change_stage_gate_and_fields_sent_along(tenant_a, api):
    stages = stage_list(tenant_a)
    opportunity = make_opportunity(tenant_a)
    client = api(tenant_a.users["sales_rep"])
    url = f"{URL}{opportunity.pk}/change-stage/"
    error = assert_error(client.post(url, {"stage": stages[3].pk}, format="json"), 400, "validation_failed")
    assert set(error["fields"]) == {"amount", "expected_close_date"}
    response = client.post(
        url, {"stage": stages[3].pk, "amount": "1000.50", "expected_close_date": "2030-06-30"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["stage"]["id"] == stages[3].pk and response.json()["probability"] == stages[3].probability
    assert_error(client.post(url, {"stage": stages[1].pk, "version": 1}, format="json"), 409, "version_conflict")
    theirs = stage_list(_other_tenant())[1]
    assert (
        "stage"
        in assert_error(client.post(url, {"stage": theirs.pk}, format="json"), 400, "validation_failed")["fields"]
    )


def _other_tenant():
    from tests.conftest import make_tenant

    return make_tenant("第三公司", "c")


def test_won_lost_and_reopen(tenant_a, api):
    stages = stage_list(tenant_a)
    opportunity = make_opportunity(tenant_a, amount=Decimal("9"))
    client = api(tenant_a.users["sales_rep"])
    error = assert_error(client.post(f"{URL}{opportunity.pk}/lost/", {}, format="json"), 400, "validation_failed")
    assert "reason" in error["fields"]
    body = client.post(f"{URL}{opportunity.pk}/lost/", {"reason": "预算冻结"}, format="json").json()
    assert body["status"] == "lost" and body["lost_reason"] == "预算冻结" and body["closed_at"]
    body = client.post(f"{URL}{opportunity.pk}/change-stage/", {"stage": stages[0].pk}, format="json").json()
    assert body["status"] == "open" and body["closed_at"] is None
    body = client.post(f"{URL}{opportunity.pk}/won/", {"reason": "服务好"}, format="json").json()
    assert body["status"] == "won" and body["stage"]["kind"] == "won" and body["won_reason"] == "服务好"


def test_delete_restore_and_rep_rights(tenant_a, api):
    opportunity = make_opportunity(tenant_a)
    assert_error(api(tenant_a.users["sales_rep"]).delete(f"{URL}{opportunity.pk}/"), 403, "permission_denied")
    manager = api(tenant_a.users["sales_manager"])
    assert manager.delete(f"{URL}{opportunity.pk}/").status_code == 204
    assert_error(manager.get(f"{URL}{opportunity.pk}/"), 404, "not_found")
    response = manager.post(f"{URL}{opportunity.pk}/restore/")
    assert response.status_code == 200 and response.json()["id"] == opportunity.pk
    assert_error(manager.post(f"{URL}{opportunity.pk}/restore/"), 404, "not_found")  # not in the bin any more


def test_assign_notifies_and_refuses_invisible_ids(tenant_a, tenant_b, api):
    mine = make_opportunity(tenant_a)
    theirs = make_opportunity(tenant_b)
    client = api(tenant_a.users["sales_manager"])
    owner = tenant_a.users["sales_rep_2"]
    error = assert_error(
        client.post(f"{URL}assign/", {"ids": [mine.pk, theirs.pk], "owner": owner.pk}, format="json"),
        400,
        "validation_failed",
    )
    assert str(theirs.pk) in error["message"]
    response = client.post(f"{URL}assign/", {"ids": [mine.pk], "owner": owner.pk}, format="json")
    assert response.json() == {"assigned": [mine.pk]}
    assert Opportunity.objects.get(pk=mine.pk).owner == owner


def test_a_disabled_sales_module_answers_module_not_enabled(tenant_a, api):
    opportunity = make_opportunity(tenant_a)
    Organization.objects.filter(pk=tenant_a.org.pk).update(enabled_modules=["customers"])
    admin = User.objects.select_related("organization").get(pk=tenant_a.admin.pk)
    client = api(admin)
    for url in (URL, f"{URL}{opportunity.pk}/", "/api/v1/pipelines/", "/api/v1/stages/"):
        assert_error(client.get(url), 403, "module_not_enabled")
    assert_error(client.post(f"{URL}{opportunity.pk}/won/", {}, format="json"), 403, "module_not_enabled")


# Pipelines and stages ----------------------------------------------------------------------------------


def test_pipelines_list_with_stages_for_everyone_in_sales(tenant_a, api):
    body = api(tenant_a.users["sales_rep"]).get("/api/v1/pipelines/").json()
    (pipeline,) = body["results"]
    assert pipeline["is_default"] and [s["kind"] for s in pipeline["stages"]][-2:] == ["won", "lost"]
    assert body["next"] is None


def test_administrators_build_pipelines_through_the_api(tenant_a, api):
    client = api(tenant_a.admin)
    response = client.post(
        "/api/v1/pipelines/",
        {
            "name": "渠道",
            "stages": [
                {"name": "报备", "probability": 20, "required_fields": ["contact"]},
                {"name": "成交", "kind": "won"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pipeline = response.json()
    assert [s["name"] for s in pipeline["stages"]] == ["报备", "成交"]
    assert pipeline["stages"][0]["required_fields"] == ["contact"]
    stage = client.post(
        "/api/v1/stages/", {"pipeline": pipeline["id"], "name": "谈判", "position": 1, "rot_days": 14}, format="json"
    ).json()
    ids = [s["id"] for s in client.get(f"/api/v1/pipelines/{pipeline['id']}/").json()["stages"]]
    assert ids[1] == stage["id"]
    body = client.post(
        f"/api/v1/pipelines/{pipeline['id']}/reorder/", {"stages": list(reversed(ids))}, format="json"
    ).json()
    assert [s["id"] for s in body["stages"]] == list(reversed(ids))
    assert (
        client.patch(f"/api/v1/stages/{stage['id']}/", {"name": "商务谈判"}, format="json").json()["name"] == "商务谈判"
    )
    error = assert_error(
        client.patch(f"/api/v1/stages/{stage['id']}/", {"required_fields": ["password"]}, format="json"),
        400,
        "validation_failed",
    )
    assert "required_fields" in error["fields"]
    assert (
        "name"
        in assert_error(client.post("/api/v1/pipelines/", {"name": "渠道"}, format="json"), 400, "validation_failed")[
            "fields"
        ]
    )
    body = client.patch(f"/api/v1/pipelines/{pipeline['id']}/", {"is_default": True}, format="json").json()
    assert body["is_default"] is True
    assert Pipeline.objects.filter(organization=tenant_a.org, is_default=True).count() == 1


def test_only_administrators_change_configuration(tenant_a, api):
    pipeline = services.ensure_default_pipeline(tenant_a.org)
    client = api(tenant_a.users["sales_manager"])
    assert_error(client.post("/api/v1/pipelines/", {"name": "x"}, format="json"), 403, "permission_denied")
    assert_error(
        client.patch(f"/api/v1/pipelines/{pipeline.pk}/", {"name": "x"}, format="json"), 403, "permission_denied"
    )
    assert_error(client.delete(f"/api/v1/stages/{pipeline.stages.first().pk}/"), 403, "permission_denied")


def test_deleting_a_stage_in_use_is_refused_clearly(tenant_a, api):
    first = stage_list(tenant_a)[0]
    make_opportunity(tenant_a)
    error = assert_error(api(tenant_a.admin).delete(f"/api/v1/stages/{first.pk}/"), 400, "stage_in_use")
    assert "1" in error["message"]
    other = make_pipeline(tenant_a)
    assert api(tenant_a.admin).delete(f"/api/v1/pipelines/{other.pk}/").status_code == 204
    default = services.ensure_default_pipeline(tenant_a.org)
    assert_error(api(tenant_a.admin).delete(f"/api/v1/pipelines/{default.pk}/"), 400, "validation_failed")


def test_summary_counts_and_sums_what_the_actor_may_see(tenant_a, api, django_assert_max_num_queries):
    stages = stage_list(tenant_a)
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_opportunity(tenant_a, rep, amount=Decimal("1000"))
    make_opportunity(tenant_a, rep, amount=Decimal("500"))
    make_opportunity(tenant_a, rep2, amount=Decimal("7000"))
    won = make_opportunity(tenant_a, rep, amount=Decimal("200"))
    services.mark_won(actor=tenant_a.admin, opportunity=won)
    pipeline = stages[0].pipeline
    client = api(rep)
    with django_assert_max_num_queries(8):
        body = client.get(f"/api/v1/pipelines/{pipeline.pk}/summary/").json()
    first = body["stages"][0]
    assert first["stage"]["id"] == stages[0].pk and first["count"] == 2 and first["amount"] == "1500.00"
    assert first["weighted_amount"] == "150.00"  # 10 %
    assert body["stages"][4]["count"] == 1 and body["count"] == 3
    manager = api(tenant_a.users["sales_manager"]).get(f"/api/v1/pipelines/{pipeline.pk}/summary/").json()
    assert manager["stages"][0]["amount"] == "8500.00"
    only_rep2 = (
        api(tenant_a.users["sales_manager"]).get(f"/api/v1/pipelines/{pipeline.pk}/summary/", {"owner": rep2.pk}).json()
    )
    assert only_rep2["stages"][0]["amount"] == "7000.00"
    assert (
        "closed_days"
        in assert_error(
            client.get(f"/api/v1/pipelines/{pipeline.pk}/summary/", {"closed_days": "-1"}), 400, "validation_failed"
        )["fields"]
    )


def test_the_schema_documents_the_routes(tenant_a, api):
    response = api(tenant_a.admin).get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/opportunities/{id}/change-stage/", "/api/v1/pipelines/{id}/summary/", "/api/v1/stages/"):
        assert path in text


def test_summary_sums_each_currency_apart(tenant_a, api):
    stages = stage_list(tenant_a)
    rep = tenant_a.users["sales_rep"]
    make_opportunity(tenant_a, rep, amount=Decimal("1000"))
    make_opportunity(tenant_a, rep, amount=Decimal("300"), currency="USD")
    make_opportunity(tenant_a, rep, amount=Decimal("100"), stage=stages[1])
    pipeline = stages[0].pipeline
    body = api(rep).get(f"/api/v1/pipelines/{pipeline.pk}/summary/").json()
    first, second = body["stages"][0], body["stages"][1]
    assert first["count"] == 2 and first["amount"] is None and first["currency"] is None
    assert first["amounts"] == [
        {"currency": "CNY", "amount": "1000.00", "weighted_amount": "100.00"},
        {"currency": "USD", "amount": "300.00", "weighted_amount": "30.00"},
    ]
    assert second["currency"] == "CNY" and second["amount"] == "100.00"
    assert body["amount"] is None and [a["currency"] for a in body["amounts"]] == ["CNY", "USD"]
    assert body["amounts"][0]["amount"] == "1100.00"
