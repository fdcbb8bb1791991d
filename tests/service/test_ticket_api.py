"""/api/v1/tickets/ and its actions, /api/v1/ticket-messages/, /api/v1/queues/, /api/v1/canned-replies/,
/api/v1/agent-statuses/: the same services as the pages, one error shape, cursor pages, 409 on stale edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.service.ticket_api import TicketOutputSerializer, ticket_data
from kehu.service.ticket_models import Queue, Ticket
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer, make_tag
from tests.service.ticket_factories import make_canned, make_queue, make_ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets/"


def test_create_read_update_and_conflict(tenant_a, api):
    agent = tenant_a.users["service_agent"]
    client = api(agent)
    customer = make_customer(tenant_a)
    contact = make_contact(tenant_a, customer, email="c@example.com")
    tag = make_tag(tenant_a)
    response = client.post(
        URL,
        {"subject": "无法打印", "body": "客户来电", "contact": contact.pk, "tags": [tag.pk], "assign_to_me": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and body["key"] == "[#1]" and body["channel"] == "api"
    assert body["customer"]["id"] == customer.pk and body["owner"]["id"] == agent.pk
    assert body["tags"] == [{"id": tag.pk, "name": tag.name, "colour": tag.colour}]
    pk, version = body["id"], body["version"]

    response = client.patch(f"{URL}{pk}/", {"priority": "high", "version": version}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == "high"
    assert_error(
        client.patch(f"{URL}{pk}/", {"priority": "low", "version": version}, format="json"), 409, "version_conflict"
    )
    error = assert_error(
        client.patch(f"{URL}{pk}/", {"status": "closed", "version": 9}, format="json"), 400, "validation_failed"
    )
    assert "status" in error["fields"]
    error = assert_error(
        client.post(URL, {"subject": "", "requester_email": "nope"}, format="json"), 400, "validation_failed"
    )
    assert "subject" in error["fields"]
    error = assert_error(
        client.post(URL, {"subject": "x", "requester_email": "nope"}, format="json"), 400, "validation_failed"
    )
    assert "requester_email" in error["fields"]
    detail = client.get(f"{URL}{pk}/").json()
    assert detail.pop("follow_ups") == []  # the detail adds the ticket's follow-up tickets
    assert detail == response.json()


def test_output_matches_the_documented_serializer(tenant_a):
    ticket = make_ticket(tenant_a, queue=make_queue(tenant_a), customer=make_customer(tenant_a))
    ticket = Ticket.objects.select_related("owner", "queue", "customer", "contact").get(pk=ticket.pk)
    assert ticket_data(ticket) == dict(TicketOutputSerializer(ticket).data) | {"key": ticket.key}


def test_list_filters_sorting_and_pages(tenant_a, api, django_assert_max_num_queries):
    agent, admin = tenant_a.users["service_agent"], tenant_a.admin
    queue = make_queue(tenant_a)
    now = timezone.now()
    due = []
    for i in range(5):
        ticket = make_ticket(tenant_a, agent, queue=queue, priority="urgent" if i == 2 else "normal")
        Ticket.objects.filter(pk=ticket.pk).update(resolution_due_at=now + timedelta(hours=5 - i))
        due.append(ticket.pk)
    no_due = make_ticket(tenant_a, admin, subject="没有时限")
    client = api(admin)

    with django_assert_max_num_queries(8):
        response = client.get(f"{URL}?ordering=resolution_due_at&limit=2")
    body = response.json()
    assert [t["id"] for t in body["results"]] == [due[4], due[3]]  # least time left first
    ids = all_ids(client, f"{URL}?ordering=resolution_due_at")
    assert ids == [*reversed(due), no_due.pk]  # no due date last
    assert [t["id"] for t in client.get(f"{URL}?priority=urgent").json()["results"]] == [due[2]]
    assert {t["id"] for t in client.get(f"{URL}?assignee=me").json()["results"]} == {no_due.pk}
    assert {t["id"] for t in client.get(f"{URL}?queue={queue.pk}").json()["results"]} == set(due)
    assert [t["id"] for t in client.get(f"{URL}?search=没有时限").json()["results"]] == [no_due.pk]
    assert [t["id"] for t in client.get(f"{URL}?search=%23{no_due.number}").json()["results"]] == [no_due.pk]
    assert_error(client.get(f"{URL}?ordering=owner__password"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?cursor=garbage"), 400, "validation_failed")
    assert_error(client.get(f"{URL}?status=bogus"), 400, "validation_failed")


def test_conversation_actions(tenant_a, api, smtp_server, django_capture_on_commit_callbacks):
    agent = tenant_a.users["service_agent"]
    client = api(agent)
    ticket = make_ticket(tenant_a, agent, requester_email="wang@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{ticket.pk}/reply/", {"body": "您好", "status": "pending"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "reply" and response.json()["message_id"].startswith("<")
    smtp_server.wait_for(1)
    upload = SimpleUploadedFile("日志.txt", "内容".encode(), content_type="text/plain")
    response = client.post(f"{URL}{ticket.pk}/note/", {"body": "内部", "files": [upload]}, format="multipart")
    assert response.status_code == 201, response.content
    (attachment,) = response.json()["attachments"]
    download = client.get(attachment["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content).decode() == "内容"
    messages = client.get(f"{URL}{ticket.pk}/messages/").json()
    assert [m["kind"] for m in messages] == ["customer", "reply", "note"]
    assert [m["id"] for m in client.get(f"/api/v1/ticket-messages/?ticket={ticket.pk}").json()["results"]] == [
        m["id"] for m in messages
    ]
    assert client.get(f"{URL}{ticket.pk}/").json()["status"] == "pending"
    assert client.post(f"{URL}{ticket.pk}/resolve/").json()["status"] == "resolved"
    assert client.post(f"{URL}{ticket.pk}/reopen/").json()["status"] == "open"
    assert client.post(f"{URL}{ticket.pk}/close/").json()["status"] == "closed"
    error = assert_error(client.post(f"{URL}{ticket.pk}/reply/", {"body": ""}, format="json"), 400, "validation_failed")
    assert "body" in error["fields"]


def test_assign_take_delete_restore(tenant_a, api):
    manager, agent = tenant_a.users["service_manager"], tenant_a.users["service_agent"]
    queue = make_queue(tenant_a, members=[agent])
    ticket = make_ticket(tenant_a, manager, queue=queue)
    response = api(manager).post(f"{URL}{ticket.pk}/assign/", {"owner": None}, format="json")
    assert response.json()["owner"] is None
    response = api(agent).post(f"{URL}{ticket.pk}/take/")
    assert response.status_code == 200, response.content
    assert response.json()["owner"]["id"] == agent.pk and response.json()["assignment_reason"] == "taken"
    assert_error(
        api(agent).post(f"{URL}{ticket.pk}/assign/", {"owner": manager.pk}, format="json"), 403, "permission_denied"
    )
    error = assert_error(
        api(manager).post(f"{URL}{ticket.pk}/assign/", {"owner": tenant_a.users["sales_rep"].pk}, format="json"),
        400,
        "validation_failed",
    )
    assert "owner" in error["fields"]
    assert api(manager).delete(f"{URL}{ticket.pk}/").status_code == 204
    assert_error(api(manager).get(f"{URL}{ticket.pk}/"), 404, "not_found")
    assert api(manager).post(f"{URL}{ticket.pk}/restore/").status_code == 200


def test_queues_keep_the_password_write_only(tenant_a, api):
    admin, agent = tenant_a.admin, tenant_a.users["service_agent"]
    client = api(admin)
    response = client.post(
        "/api/v1/queues/",
        {
            "name": "售后",
            "email": "Support@A.test",
            "members": [agent.pk],
            "assignment": "round_robin",
            "skills": {"complaint": [agent.pk]},
            "web_form_enabled": True,
            "imap_enabled": True,
            "imap_host": "imap.example.com",
            "imap_user": "support",
            "imap_password": "s3cret",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "imap_password" not in body and body["has_imap_password"] is True
    assert "s3cret" not in response.content.decode()
    assert body["email"] == "support@a.test" and body["members"][0]["id"] == agent.pk
    assert body["web_form_url"].endswith(f"/help/{Queue.objects.get(pk=body['id']).web_token}/ticket/")
    assert Queue.objects.get(pk=body["id"]).imap_password_encrypted not in ("", "s3cret")
    assert api(agent).get(f"/api/v1/queues/{body['id']}/").json()["web_form_url"] is None
    assert_error(api(agent).post("/api/v1/queues/", {"name": "x"}, format="json"), 403, "permission_denied")
    pk = body["id"]
    error = assert_error(client.post("/api/v1/queues/", {"name": "售后"}, format="json"), 400, "validation_failed")
    assert "name" in error["fields"]
    error = assert_error(
        client.post("/api/v1/queues/", {"name": "二", "email": "support@a.test"}, format="json"),
        400,
        "validation_failed",
    )
    assert "email" in error["fields"]
    response = client.patch(f"/api/v1/queues/{pk}/", {"assignment": "least_open", "version": 1}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    assert_error(
        client.patch(f"/api/v1/queues/{pk}/", {"name": "y", "version": 1}, format="json"), 409, "version_conflict"
    )
    old = Queue.objects.get(pk=pk).web_token
    client.post(f"/api/v1/queues/{pk}/new-web-address/")
    assert Queue.objects.get(pk=pk).web_token != old


def test_canned_replies_render_for_a_ticket(tenant_a, api):
    agent = tenant_a.users["service_agent"]
    reply = make_canned(tenant_a, body="{{requester_name}} 您好，工单 #{{ticket_number}}")
    ticket = make_ticket(tenant_a, agent, requester_name="王先生")
    response = api(agent).post(f"/api/v1/canned-replies/{reply.pk}/render/", {"ticket": ticket.pk}, format="json")
    assert response.json() == {"title": reply.title, "body": f"王先生 您好，工单 #{ticket.number}"}
    other = make_ticket(tenant_a, tenant_a.users["service_manager"])
    error = assert_error(
        api(agent).post(f"/api/v1/canned-replies/{reply.pk}/render/", {"ticket": other.pk}, format="json"),
        400,
        "validation_failed",
    )
    assert "ticket" in error["fields"]
    assert_error(
        api(agent).post("/api/v1/canned-replies/", {"title": "x", "body": "y"}, format="json"), 403, "permission_denied"
    )
    admin = api(tenant_a.admin)
    error = assert_error(
        admin.post("/api/v1/canned-replies/", {"title": "x", "body": "{{secret}}"}, format="json"),
        400,
        "validation_failed",
    )
    assert "body" in error["fields"]


def test_agents_mark_themselves_away(tenant_a, api):
    agent = tenant_a.users["service_agent"]
    client = api(agent)
    assert client.get("/api/v1/agent-statuses/me/").json()["away"] is False
    response = client.post("/api/v1/agent-statuses/me/", {"away": True, "note": "下午请假"}, format="json")
    assert response.json()["away"] is True and response.json()["note"] == "下午请假"
    listed = api(tenant_a.admin).get("/api/v1/agent-statuses/").json()["results"]
    assert [(row["user"]["id"], row["away"]) for row in listed] == [(agent.pk, True)]
    assert_error(api(tenant_a.users["sales_rep"]).get("/api/v1/agent-statuses/me/"), 403, "permission_denied")


def test_custom_fields_of_tickets(tenant_a, api):
    admin = api(tenant_a.admin)
    response = admin.post(
        "/api/v1/custom-fields/",
        {
            "record_type": "service.ticket",
            "key": "device_sn",
            "label": "设备序列号",
            "field_type": "text",
            "required": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    agent = api(tenant_a.users["service_agent"])
    error = assert_error(agent.post(URL, {"subject": "异响"}, format="json"), 400, "validation_failed")
    assert "custom.device_sn" in error["fields"]
    response = agent.post(
        URL, {"subject": "异响", "custom": {"device_sn": "SN-001"}, "assign_to_me": True}, format="json"
    )
    assert response.status_code == 201 and response.json()["custom"] == {"device_sn": "SN-001"}
