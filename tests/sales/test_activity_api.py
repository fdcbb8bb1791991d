"""/api/v1/activities/ and /api/v1/my-day/: create and log, filters, cursor pages, actions with their 409s,
400 naming the field, 404 outside the scope, bounded queries, and the OpenAPI schema."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kehu.accounts.models import User
from kehu.sales.activity_models import Activity
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer
from tests.sales.activity_factories import make_activity
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db
URL = "/api/v1/activities/"


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


def test_plan_and_log_through_the_api(api, rep, tenant_a):
    client = api(rep)
    customer = make_customer(tenant_a, rep)
    contact = make_contact(tenant_a, customer)
    starts = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    response = client.post(
        URL,
        {
            "kind": "meeting",
            "subject": "方案讨论会",
            "contact": contact.pk,
            "starts_at": starts.isoformat(),
            "duration_minutes": 60,
            "remind_minutes_before": 30,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"] == {"id": customer.pk, "name": customer.name}
    assert body["contact"]["id"] == contact.pk and body["status"] == "planned" and body["version"] == 1
    assert body["owner"]["id"] == rep.pk and body["is_overdue"] is False
    assert body["remind_at"] is not None and body["remind_minutes_before"] == 30

    logged = client.post(
        URL,
        {"kind": "call", "subject": "回访", "customer": customer.pk, "status": "done", "outcome": "满意"},
        format="json",
    )
    assert logged.status_code == 201 and logged.json()["status"] == "done" and logged.json()["done_at"]
    customer.refresh_from_db()
    assert customer.last_contacted_at is not None


def test_naive_times_are_the_organisations_local_times(api, rep, tenant_a):
    response = api(rep).post(
        URL,
        {"subject": "九点电话", "customer": make_customer(tenant_a, rep).pk, "starts_at": "2026-12-01T09:00:00"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["starts_at"] == "2026-12-01T09:00:00+08:00"
    assert Activity.objects.get(subject="九点电话").starts_at.isoformat() == "2026-12-01T01:00:00+00:00"


def test_bad_input_is_a_400_naming_the_field(api, rep, tenant_a, tenant_b):
    client = api(rep)
    customer = make_customer(tenant_a, rep)
    cases = [
        ({"subject": "x", "starts_at": timezone.now().isoformat()}, "customer"),
        ({"subject": "x", "customer": make_customer(tenant_b).pk, "starts_at": timezone.now().isoformat()}, "customer"),
        ({"subject": "x", "customer": make_customer(tenant_a, tenant_a.users["sales_rep_2"]).pk}, "customer"),
        ({"subject": "x", "customer": customer.pk}, "starts_at"),
        ({"subject": "x", "customer": customer.pk, "starts_at": "yesterday"}, "starts_at"),
        ({"subject": "x", "customer": customer.pk, "kind": "fax", "starts_at": timezone.now().isoformat()}, "kind"),
        ({"subject": "", "customer": customer.pk, "starts_at": timezone.now().isoformat()}, "subject"),
        (
            {
                "subject": "x",
                "customer": customer.pk,
                "contact": make_contact(tenant_a).pk,
                "starts_at": timezone.now().isoformat(),
            },
            "contact",
        ),
        (
            {"subject": "x", "customer": customer.pk, "status": "cancelled", "starts_at": timezone.now().isoformat()},
            "status",
        ),
        ({"subject": "x", "customer": customer.pk, "status": "done", "done_at": "2099-01-01T00:00:00Z"}, "done_at"),
        (
            {"subject": "x", "customer": customer.pk, "starts_at": timezone.now().isoformat(), "duration_minutes": -5},
            "duration_minutes",
        ),
        (
            {
                "subject": "x",
                "customer": customer.pk,
                "starts_at": timezone.now().isoformat(),
                "owner": tenant_a.users["sales_rep_2"].pk,
            },
            None,
        ),
    ]
    for data, field in cases:
        response = client.post(URL, data, format="json")
        if field is None:  # giving it to a colleague needs the assign right
            assert_error(response, 403, "permission_denied")
            continue
        error = assert_error(response, 400, "validation_failed")
        assert field in error["fields"], (data, error)
    assert not Activity.objects.exists()


def test_filters_and_cursor_pages(api, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    other = make_customer(tenant_a, rep)
    opportunity = make_opportunity(tenant_a, rep, customer=customer)
    base = timezone.now()
    for i in range(7):
        make_activity(tenant_a, rep, customer=customer, subject=f"c{i}", starts_at=base + timedelta(days=i, hours=1))
    on_opp = make_activity(tenant_a, rep, customer=None, opportunity=opportunity, starts_at=base - timedelta(days=2))
    make_activity(tenant_a, rep, customer=other, kind="visit", starts_at=base + timedelta(days=30))
    client = api(rep)

    ids = all_ids(client, f"{URL}?customer={customer.pk}")
    assert len(ids) == 8
    pages = []
    url = f"{URL}?customer={customer.pk}&limit=3&ordering=scheduled_at"
    while url:
        body = client.get(url).json()
        pages.append([item["subject"] for item in body["results"]])
        url = body["next"]
    assert [s for page in pages for s in page][1:] == [f"c{i}" for i in range(7)] and len(pages) == 3
    assert all_ids(client, f"{URL}?opportunity={opportunity.pk}") == [on_opp.pk]
    assert len(all_ids(client, f"{URL}?kind=visit")) == 1
    assert all_ids(client, f"{URL}?overdue=true") == [on_opp.pk]
    day = timezone.localtime(base + timedelta(days=3, hours=1)).date().isoformat()
    assert [item["subject"] for item in client.get(f"{URL}?date_from={day}&date_to={day}").json()["results"]] == ["c3"]
    assert len(all_ids(client, f"{URL}?owner={rep.pk}&status=planned")) == 9
    assert_error(client.get(f"{URL}?date_from=soon"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?status=maybe"), 400, "validation_failed")
    assert client.get(f"{URL}?ordering=password").status_code == 200  # off the whitelist: ignored


def test_the_list_needs_a_bounded_number_of_queries(api, tenant_a, django_assert_max_num_queries):
    manager = tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a)
    contact = make_contact(tenant_a, customer)
    opportunity = make_opportunity(tenant_a, customer=customer)
    for i in range(25):
        make_activity(
            tenant_a,
            customer=customer,
            contact=contact,
            opportunity=opportunity,
            starts_at=timezone.now() + timedelta(hours=i),
        )
    client = api(manager)
    with django_assert_max_num_queries(6):
        response = client.get(f"{URL}?limit=100")
    assert response.status_code == 200 and len(response.json()["results"]) == 25
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/my-day/").status_code == 200


def test_complete_cancel_reopen_and_their_conflicts(api, rep, tenant_a):
    client = api(rep)
    call = make_activity(tenant_a, rep)
    done = client.post(f"{URL}{call.pk}/complete/", {"version": 1, "outcome": "谈妥了"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["outcome"] == "谈妥了"
    assert_error(client.post(f"{URL}{call.pk}/complete/", {}, format="json"), 409, "activity_not_open")
    assert_error(client.post(f"{URL}{call.pk}/cancel/", {}, format="json"), 409, "activity_not_open")
    assert_error(client.post(f"{URL}{call.pk}/reopen/", {"version": 1}, format="json"), 409, "version_conflict")
    reopened = client.post(f"{URL}{call.pk}/reopen/", {"version": 2}, format="json")
    assert reopened.status_code == 200 and reopened.json()["status"] == "planned"
    assert_error(client.post(f"{URL}{call.pk}/reopen/", {}, format="json"), 409, "activity_already_open")
    cancelled = client.post(f"{URL}{call.pk}/cancel/", {"outcome": "客户改期"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    future = client.post(
        f"{URL}{make_activity(tenant_a, rep).pk}/complete/", {"done_at": "2099-01-01T00:00:00Z"}, format="json"
    )
    assert "done_at" in assert_error(future, 400, "validation_failed")["fields"]


def test_patch_needs_the_version_and_answers_409_when_stale(api, rep, tenant_a):
    client = api(rep)
    call = make_activity(tenant_a, rep)
    assert (
        "version"
        in assert_error(client.patch(f"{URL}{call.pk}/", {"subject": "x"}, format="json"), 400, "validation_failed")[
            "fields"
        ]
    )
    ok = client.patch(f"{URL}{call.pk}/", {"subject": "改了", "version": 1}, format="json")
    assert ok.status_code == 200 and ok.json()["subject"] == "改了" and ok.json()["version"] == 2
    assert_error(
        client.patch(f"{URL}{call.pk}/", {"subject": "again", "version": 1}, format="json"), 409, "version_conflict"
    )
    owner = client.patch(f"{URL}{call.pk}/", {"owner": tenant_a.users["sales_rep_2"].pk, "version": 2}, format="json")
    assert owner.status_code in (400, 403)


def test_delete_and_restore(api, tenant_a):
    manager = tenant_a.users["sales_manager"]
    client = api(manager)
    call = make_activity(tenant_a)
    assert client.delete(f"{URL}{call.pk}/").status_code == 204
    assert_error(client.get(f"{URL}{call.pk}/"), 404, "not_found")
    restored = client.post(f"{URL}{call.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["id"] == call.pk
    assert_error(client.post(f"{URL}{call.pk}/restore/"), 404, "not_found")  # not in the bin any more
    assert_error(api(tenant_a.users["sales_rep"]).delete(f"{URL}{call.pk}/"), 403, "permission_denied")


def test_outside_the_scope_is_404_and_a_managers_visit_on_my_customer_is_readable(api, rep, tenant_a):
    client = api(rep)
    theirs = make_activity(tenant_a, tenant_a.users["sales_rep_2"])
    assert_error(client.get(f"{URL}{theirs.pk}/"), 404, "not_found")
    assert_error(client.post(f"{URL}{theirs.pk}/complete/", {}, format="json"), 404, "not_found")
    visit = make_activity(tenant_a, tenant_a.users["sales_manager"], customer=make_customer(tenant_a, rep))
    assert client.get(f"{URL}{visit.pk}/").status_code == 200
    assert_error(client.post(f"{URL}{visit.pk}/complete/", {}, format="json"), 403, "permission_denied")


def test_my_day_lists_my_own_with_their_buckets(api, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    now = timezone.now()
    make_activity(tenant_a, rep, customer=customer, subject="late", starts_at=now - timedelta(days=1))
    make_activity(tenant_a, rep, customer=customer, subject="far", starts_at=now + timedelta(days=30))
    make_activity(tenant_a, rep, customer=customer, subject="soon", starts_at=now + timedelta(days=2))
    make_activity(tenant_a, tenant_a.users["sales_manager"], customer=customer, subject="manager's", starts_at=now)
    body = api(rep).get("/api/v1/my-day/").json()
    assert [(i["subject"], i["bucket"]) for i in body["results"]] == [("late", "overdue"), ("soon", "upcoming")]
    first = api(rep).get("/api/v1/my-day/", {"limit": 1}).json()
    assert [i["subject"] for i in first["results"]] == ["late"] and first["next"]
    rest = api(rep).get(first["next"]).json()
    assert [i["subject"] for i in rest["results"]] == ["soon"] and rest["next"] is None
    only = api(rep).get("/api/v1/my-day/", {"bucket": "upcoming"}).json()
    assert [i["subject"] for i in only["results"]] == ["soon"]
    assert_error(api(rep).get("/api/v1/my-day/", {"bucket": "someday"}), 400, "validation_failed")
    assert_error(api(rep).get("/api/v1/my-day/", {"cursor": "forged"}), 400, "validation_failed")


def test_sales_not_enabled_is_403(api, tenant_a):
    org = tenant_a.org
    org.enabled_modules = [m for m in org.enabled_modules if m != "sales"]
    org.save(update_fields=["enabled_modules"])
    admin = User.objects.get(pk=tenant_a.admin.pk)
    assert_error(api(admin).get(URL), 403, "module_not_enabled")
    assert_error(api(admin).get("/api/v1/my-day/"), 403, "module_not_enabled")


def test_the_schema_documents_the_routes(api, tenant_a):
    schema = api(tenant_a.admin).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/activities/", "/api/v1/activities/{id}/complete/", "/api/v1/my-day/"):
        assert path in text
