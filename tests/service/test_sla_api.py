"""/api/v1/business-calendars/, /holidays/, /sla-policies/ and /satisfaction/."""

from __future__ import annotations

import pytest

from kehu.core.models import AuditEntry
from tests.api.support import all_ids, assert_error
from tests.service.sla_factories import make_calendar, make_policy, make_survey

CAL = "/api/v1/business-calendars/"
DAYS = "/api/v1/holidays/"
POL = "/api/v1/sla-policies/"
SAT = "/api/v1/satisfaction/"


def test_calendar_crud_with_working_hours(api, tenant_a):
    client = api(tenant_a.admin)
    response = client.post(
        CAL,
        {
            "name": "客服中心",
            "working_hours": [
                {"weekday": 0, "start": "09:00", "end": "12:00"},
                {"weekday": 0, "start": "13:00", "end": "18:00"},
                {"weekday": 6, "start": "00:00", "end": "24:00"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_default"] is True and body["time_zone"] == "Asia/Shanghai"
    assert body["working_hours"][-1] == {"weekday": 6, "start": "00:00", "end": "24:00"}
    url = f"{CAL}{body['id']}/"
    response = client.patch(url, {"name": "客服中心（夜班）", "version": body["version"]}, format="json")
    assert response.status_code == 200 and response.json()["version"] == body["version"] + 1
    assert_error(
        client.patch(url, {"name": "stale", "version": body["version"]}, format="json"), 409, "version_conflict"
    )
    assert AuditEntry.objects.filter(action="calendar.update", target_id=str(body["id"])).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "working_hours": [{"weekday": 7, "start": "09:00", "end": "18:00"}]}, "working_hours.0.weekday"),
        ({"name": "x", "working_hours": [{"weekday": 0, "start": "9am", "end": "18:00"}]}, "working_hours.0.start"),
        ({"name": "x", "working_hours": [{"weekday": 0, "start": "18:00", "end": "09:00"}]}, "working_hours"),
        ({"name": "x", "working_hours": []}, "working_hours"),
        ({"name": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": ""}, "name"),
    ],
)
def test_calendar_input_errors_name_the_field(api, tenant_a, payload, field):
    error = assert_error(api(tenant_a.admin).post(CAL, payload, format="json"), 400, "validation_failed")
    assert field in error["fields"], error


def test_apply_holidays_and_list_them_by_year(api, tenant_a, django_assert_max_num_queries):
    client = api(tenant_a.admin)
    calendar = make_calendar(tenant_a, name="主日历")
    response = client.post(f"{CAL}{calendar.pk}/apply-holidays/", {"year": 2026}, format="json")
    assert response.status_code == 200
    assert response.json() == {"year": 2026, "added": 39, "updated": 0, "kept": 0, "removed": 0, "provisional": False}
    assert_error(
        client.post(f"{CAL}{calendar.pk}/apply-holidays/", {"year": 1999}, format="json"), 400, "validation_failed"
    )
    client.post(f"{CAL}{calendar.pk}/apply-holidays/", {"year": 2027}, format="json")
    with django_assert_max_num_queries(8):
        response = client.get(f"{DAYS}?calendar={calendar.pk}&year=2026&limit=100")
    days = response.json()["results"]
    assert len(days) == 39
    assert {"date": "2026-02-14", "kind": "workday"}.items() <= next(
        d for d in days if d["date"] == "2026-02-14"
    ).items()
    assert len(all_ids(client, f"{DAYS}?year=2027")) > 0
    assert_error(client.get(f"{DAYS}?year=abc"), 400, "validation_failed")


def test_holiday_create_duplicate_patch_and_conflict(api, tenant_a):
    client = api(tenant_a.admin)
    calendar = make_calendar(tenant_a)
    response = client.post(DAYS, {"calendar": calendar.pk, "date": "2026-12-24", "name": "平安夜"}, format="json")
    assert response.status_code == 201
    day = response.json()
    assert day["kind"] == "holiday" and day["source"] == "manual"
    error = assert_error(
        client.post(DAYS, {"calendar": calendar.pk, "date": "2026-12-24"}, format="json"), 400, "validation_failed"
    )
    assert "date" in error["fields"]
    response = client.patch(f"{DAYS}{day['id']}/", {"kind": "workday", "version": 1}, format="json")
    assert response.json()["kind"] == "workday"
    assert_error(
        client.patch(f"{DAYS}{day['id']}/", {"kind": "holiday", "version": 1}, format="json"), 409, "version_conflict"
    )
    assert client.delete(f"{DAYS}{day['id']}/").status_code == 204


def test_another_organisations_calendar_cannot_be_named(api, tenant_a, tenant_b):
    theirs = make_calendar(tenant_b)
    error = assert_error(
        api(tenant_a.admin).post(DAYS, {"calendar": theirs.pk, "date": "2026-12-24"}, format="json"),
        400,
        "validation_failed",
    )
    assert "calendar" in error["fields"]
    error = assert_error(
        api(tenant_a.admin).post(POL, {"name": "x", "calendar": theirs.pk}, format="json"), 400, "validation_failed"
    )
    assert "calendar" in error["fields"]


def test_policy_api_round_trip(api, tenant_a, django_assert_max_num_queries):
    client = api(tenant_a.admin)
    payload = {
        "name": "VIP",
        "tiers": ["A", "B"],
        "priorities": ["urgent", "high"],
        "warning_percent": 75,
        "reassign": "user",
        "reassign_to": tenant_a.users["service_manager"].pk,
        "raise_priority": True,
        "targets": [
            {"priority": "urgent", "first_response_minutes": 15, "resolution_minutes": 120},
            {"priority": "high", "first_response_minutes": 30},
        ],
    }
    response = client.post(POL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["targets"] == [  # low to urgent
        {"priority": "high", "first_response_minutes": 30, "resolution_minutes": None},
        {"priority": "urgent", "first_response_minutes": 15, "resolution_minutes": 120},
    ]
    assert body["reassign_to"] == tenant_a.users["service_manager"].pk
    make_policy(tenant_a, name="Fallback", is_default=True)
    make_policy(tenant_a, name="Second")
    with django_assert_max_num_queries(8):
        names = [p["name"] for p in client.get(POL).json()["results"]]
    assert names == ["VIP", "Second", "Fallback"]
    response = client.post(f"{POL}{body['id']}/move/", {"direction": "down"}, format="json")
    assert response.status_code == 200
    assert [p["name"] for p in client.get(POL).json()["results"]] == ["Second", "VIP", "Fallback"]
    url = f"{POL}{body['id']}/"
    version = client.get(url).json()["version"]
    assert client.patch(url, {"is_active": False, "version": version}, format="json").json()["is_active"] is False
    assert_error(client.patch(url, {"is_active": True, "version": version}, format="json"), 409, "version_conflict")
    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "priorities": ["critical"]}, "priorities.0"),
        ({"name": "x", "tiers": ["Z"]}, "tiers"),  # checked by the service against the organisation's tiers
        ({"name": "x", "warning_percent": 120}, "warning_percent"),
        (
            {"name": "x", "targets": [{"priority": "low", "first_response_minutes": 0}]},
            "targets.0.first_response_minutes",
        ),
        (
            {"name": "x", "targets": [{"priority": "low", "first_response_minutes": 60, "resolution_minutes": 30}]},
            "targets.low.resolution_minutes",
        ),
        ({"name": "x", "reassign": "user"}, "reassign_to"),
        ({"name": "x", "reassign": "user", "reassign_to": 999999}, "reassign_to"),
    ],
)
def test_policy_input_errors_name_the_field(api, tenant_a, payload, field):
    error = assert_error(api(tenant_a.admin).post(POL, payload, format="json"), 400, "validation_failed")
    assert field in error["fields"], error


def test_duplicate_policy_names_are_refused(api, tenant_a):
    make_policy(tenant_a, name="Same")
    error = assert_error(api(tenant_a.admin).post(POL, {"name": "Same"}, format="json"), 400, "validation_failed")
    assert "name" in error["fields"]


def test_agents_read_configuration_but_cannot_change_it(api, tenant_a):
    policy = make_policy(tenant_a)
    agent = api(tenant_a.users["service_agent"])
    assert agent.get(f"{POL}{policy.pk}/").status_code == 200
    assert_error(
        agent.patch(f"{POL}{policy.pk}/", {"name": "x", "version": 1}, format="json"), 403, "permission_denied"
    )
    assert_error(agent.post(CAL, {"name": "x"}, format="json"), 403, "permission_denied")
    assert api(tenant_a.users["sales_rep"]).get(POL).json()["results"] == []  # no service role: nothing


def test_satisfaction_lists_within_the_agents_scope_and_summarises(api, tenant_a, django_assert_max_num_queries):
    agent = tenant_a.users["service_agent"]
    mine = [make_survey(tenant_a, agent, score=s) for s in (5, 4, 2)]
    make_survey(tenant_a, agent)  # not answered yet
    other = make_survey(tenant_a, tenant_a.users["service_manager"], score=1)
    client = api(agent)
    ids = all_ids(client, SAT)
    assert set(ids) == {s.pk for s in mine} | {mine[0].pk + 3}
    assert other.pk not in ids
    assert_error(client.get(f"{SAT}{other.pk}/"), 404, "not_found")
    body = client.get(f"{SAT}{mine[0].pk}/").json()
    assert body["score"] == 5 and body["agent"]["id"] == agent.pk and body["ticket_number"] > 0
    answered = all_ids(client, f"{SAT}?answered=true")
    assert set(answered) == {s.pk for s in mine}

    manager = api(tenant_a.admin)
    with django_assert_max_num_queries(8):
        response = manager.get(f"{SAT}?limit=50")
    assert len(response.json()["results"]) == 5
    summary = manager.get(f"{SAT}summary/?period=last_30_days&group=agent").json()
    by_agent = {row["id"]: row for row in summary["rows"]}
    assert by_agent[agent.pk]["sent"] == 4 and by_agent[agent.pk]["answered"] == 3
    assert by_agent[agent.pk]["csat_percent"] == 66.7
    assert by_agent[agent.pk]["distribution"] == [0, 1, 0, 1, 1]
    assert summary["total"]["answered"] == 4
    assert_error(manager.get(f"{SAT}summary/?period=custom"), 400, "validation_failed")
    assert_error(manager.get(f"{SAT}?since=2026-05-01&until=2026-04-01"), 400, "validation_failed")
    assert_error(manager.post(SAT, {}, format="json"), 405, "method_not_allowed")
