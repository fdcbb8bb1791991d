"""Ticket pages: the list with filters and sorting, create (a phone call) keeping input on errors, the
ticket page with its conversation and the customer beside it, replies, edit with conflicts, the recycle
bin, bulk actions, queues, canned replies; and the public web form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.service.ticket_models import CannedReply, Queue, Ticket, TicketMessage
from tests.customers.factories import make_contact, make_customer
from tests.service.ticket_factories import make_canned, make_queue, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, tenant_a):
    client.force_login(tenant_a.users["service_agent"])
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_list_filters_and_sorts_by_time_left(tenant_a, agent_client, django_assert_max_num_queries):
    agent = tenant_a.users["service_agent"]
    now = timezone.now()
    soon = make_ticket(tenant_a, agent, subject="很快到期")
    later = make_ticket(tenant_a, agent, subject="还早", priority="urgent")
    Ticket.objects.filter(pk=soon.pk).update(resolution_due_at=now + timedelta(hours=1))
    Ticket.objects.filter(pk=later.pk).update(resolution_due_at=now + timedelta(days=2))
    url = reverse("service:ticket_list")
    with django_assert_max_num_queries(25):
        html = _html(agent_client.get(url, {"ordering": "resolution_due_at"}))
    assert html.index("很快到期") < html.index("还早")
    assert "left" in html  # "time left" column
    html = _html(agent_client.get(url, {"priority": "urgent"}))
    assert "还早" in html and "很快到期" not in html
    html = _html(agent_client.get(url, {"search": "nothing like this"}))
    assert 'data-testid="empty"' in html and "No tickets match these filters." in html
    html = _html(agent_client.get(url, {"cursor": "broken"}))  # a stale link: the first page and a warning
    assert "很快到期" in html


def test_an_agent_logs_a_phone_call(tenant_a, agent_client):
    customer = make_customer(tenant_a, name="宁波海曙服饰有限公司")
    make_contact(tenant_a, customer, name="陈静", email="chen@haishu.cn")
    url = reverse("service:ticket_create")
    assert "ticket-form" in _html(agent_client.get(url))
    response = agent_client.post(
        url,
        {
            "subject": "",
            "body": "电话内容",
            "requester_email": "bad",
            "kind": "inquiry",
            "priority": "normal",
            "channel": "phone",
            "assignee": "me",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="error-subject"' in html and "电话内容" in html
    response = agent_client.post(
        url,
        {
            "subject": "退货咨询",
            "body": "客户来电问退货流程",
            "requester_email": "chen@haishu.cn",
            "kind": "inquiry",
            "priority": "normal",
            "channel": "phone",
            "assignee": "me",
        },
    )
    ticket = Ticket.objects.get(subject="退货咨询")
    assert response.status_code == 302 and response.url == reverse("service:ticket_detail", args=[ticket.pk])
    assert ticket.customer == customer and ticket.owner == tenant_a.users["service_agent"]


def test_the_ticket_page_shows_the_conversation_and_the_customer(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    customer = make_customer(tenant_a, name="南京金陵医药连锁有限公司")
    make_contact(tenant_a, customer, name="周婷", email="zhou@jinling.cn")
    earlier = make_ticket(tenant_a, agent, customer=customer, subject="上个月的问题")
    ticket = make_ticket(tenant_a, agent, customer=customer, subject="这次的问题", requester_email="zhou@jinling.cn")
    make_canned(tenant_a, title="收到")
    html = _html(agent_client.get(reverse("service:ticket_detail", args=[ticket.pk])))
    assert "这次的问题" in html and "客户来电：打印机连不上网络。" in html
    side = agent_client.get(reverse("service:ticket_side_panels", args=[ticket.pk]), HTTP_HX_REQUEST="true")
    side = side.content.decode()
    assert "周婷" in side  # contacts beside the ticket, loaded after the page
    assert f"#{earlier.number} 上个月的问题" in side  # past tickets
    assert 'data-testid="customer-timeline"' in html
    assert 'data-testid="canned-picker"' in html
    assert "Why: Assigned by hand" in html


def test_replying_noting_and_changing_status_from_the_page(
    tenant_a, agent_client, smtp_server, django_capture_on_commit_callbacks
):
    agent = tenant_a.users["service_agent"]
    ticket = make_ticket(tenant_a, agent, requester_email="wang@example.com")
    url = reverse("service:ticket_reply", args=[ticket.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, {"kind": "reply", "body": "已为您处理", "status": "pending"})
    assert response.status_code == 302
    smtp_server.wait_for(1)
    response = agent_client.post(url, {"kind": "note", "body": ""})
    assert response.status_code == 400 and 'data-testid="error-body"' in response.content.decode()
    agent_client.post(url, {"kind": "note", "body": "客户是 VIP"})
    assert list(ticket.messages.values_list("kind", flat=True)) == ["customer", "reply", "note"]
    agent_client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "resolved"})
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
    html = _html(agent_client.get(reverse("service:ticket_detail", args=[ticket.pk])))
    assert "已为您处理" in html and "Internal note" in html and "sent" in html


def test_canned_reply_picker_renders_the_text(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    ticket = make_ticket(tenant_a, agent, requester_name="王先生")
    reply = make_canned(tenant_a, body="{{requester_name}} 您好（#{{ticket_number}}）")
    response = agent_client.get(reverse("service:ticket_canned", args=[ticket.pk]), {"reply": reply.pk})
    assert response.json()["body"] == f"王先生 您好（#{ticket.number}）"
    assert agent_client.get(reverse("service:ticket_canned", args=[ticket.pk]), {"reply": "x"}).status_code == 404


def test_edit_keeps_input_on_a_conflict(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    ticket = make_ticket(tenant_a, agent, subject="原标题")
    url = reverse("service:ticket_edit", args=[ticket.pk])
    assert "原标题" in _html(agent_client.get(url))
    data = {"subject": "我的标题", "kind": "inquiry", "priority": "high", "channel": "phone", "version": ticket.version}
    Ticket.objects.filter(pk=ticket.pk).update(subject="同事的标题", version=ticket.version + 1)
    html = _html(agent_client.post(url, data))
    assert 'data-testid="version-conflict"' in html and "我的标题" in html and "同事的标题" in html
    data["version"] = ticket.version + 1
    assert agent_client.post(url, data).status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).subject == "我的标题"


def test_delete_restore_and_bulk(tenant_a, client):
    manager = tenant_a.users["service_manager"]
    client.force_login(manager)
    tickets = [make_ticket(tenant_a, manager) for _ in range(3)]
    client.post(reverse("service:ticket_delete", args=[tickets[0].pk]))
    assert Ticket.objects.get(pk=tickets[0].pk).deleted_at is not None
    assert f"#{tickets[0].number}" in _html(client.get(reverse("service:ticket_recycle_bin")))
    client.post(reverse("service:ticket_restore", args=[tickets[0].pk]))
    assert Ticket.objects.get(pk=tickets[0].pk).deleted_at is None
    agent = tenant_a.users["service_agent"]
    client.post(reverse("service:ticket_bulk"), {"action": "assign", "owner": agent.pk, "ids": [t.pk for t in tickets]})
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("owner", flat=True)) == {agent.pk}
    client.post(reverse("service:ticket_bulk"), {"action": "close", "ids": [t.pk for t in tickets[:2]]})
    assert Ticket.objects.filter(status="closed").count() == 2


def test_queue_pages(tenant_a, client):
    client.force_login(tenant_a.admin)
    agent = tenant_a.users["service_agent"]
    response = client.post(
        reverse("service:queue_create"),
        {
            "name": "技术支持",
            "email": "tech@a.test",
            "members": [agent.pk],
            "assignment": "round_robin",
            "is_active": "on",
            "web_form_enabled": "on",
            "imap_port": 993,
            "imap_password": "pw-1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    queue = Queue.objects.get(name="技术支持")
    assert queue.has_imap_password and "pw-1" not in queue.imap_password_encrypted
    html = _html(client.get(reverse("service:queue_list")))
    assert f"/help/{queue.web_token}/ticket/" in html and "技术支持" in html
    edit = _html(client.get(reverse("service:queue_edit", args=[queue.pk])))
    assert "pw-1" not in edit and 'data-testid="password-stored"' in edit
    response = client.post(
        reverse("service:queue_edit", args=[queue.pk]),
        {"name": "", "assignment": "manual", "imap_port": 993, "version": queue.version},
    )
    assert 'data-testid="error-name"' in response.content.decode()
    client.force_login(agent)
    assert client.get(reverse("service:queue_create")).status_code == 403


def test_canned_reply_pages(tenant_a, client):
    client.force_login(tenant_a.admin)
    response = client.post(reverse("service:canned_create"), {"title": "致歉", "body": "{{nope}}"})
    assert response.status_code == 200 and 'data-testid="error-body"' in response.content.decode()
    client.post(reverse("service:canned_create"), {"title": "致歉", "body": "{{customer_name}} 您好，抱歉。"})
    reply = CannedReply.objects.get(title="致歉")
    client.post(reverse("service:canned_edit", args=[reply.pk]), {"title": "致歉信", "body": reply.body, "version": 1})
    assert CannedReply.objects.get(pk=reply.pk).title == "致歉信"
    assert "致歉信" in _html(client.get(reverse("service:canned_list")))


def test_away_switch(tenant_a, agent_client):
    agent_client.post(reverse("service:agent_away"), {"away": "1"})
    assert 'data-testid="away-toggle"' in _html(agent_client.get(reverse("service:ticket_list")))
    from kehu.service.ticket_models import AgentStatus

    assert AgentStatus.objects.get(user=tenant_a.users["service_agent"]).away


# The public web form -----------------------------------------------------------------------------------


@pytest.fixture
def web_queue(tenant_a):
    cache.clear()
    return make_queue(tenant_a, web_form_enabled=True, assignment=Queue.Assignment.LEAST_OPEN)


def _form_data(**extra):
    return {
        "name": "刘洋",
        "email": "liu@example.com",
        "subject": "想咨询价格",
        "body": "请报价",
        "kind": "inquiry",
        **extra,
    }


def test_the_public_form_opens_a_ticket_and_acknowledges_it(
    tenant_a, web_queue, smtp_server, django_capture_on_commit_callbacks
):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    url = reverse("ticket_public:form", args=[web_queue.web_token])
    page = client.get(url)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post(url, _form_data()).status_code == 403  # no CSRF token: refused
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _form_data(csrfmiddlewaretoken=token))
    assert response.status_code == 302
    ticket = Ticket.objects.get(organization=tenant_a.org)
    assert (ticket.channel, ticket.queue, ticket.requester_email) == ("web", web_queue, "liu@example.com")
    assert ticket.owner == tenant_a.users["service_agent"]
    assert TicketMessage.objects.get(ticket=ticket).body == "请报价"
    thanks = client.get(response.url)
    assert f"#{ticket.number}" in thanks.content.decode()
    (mail,) = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == "liu@example.com" and mail["Auto-Submitted"] == "auto-replied"


def test_the_public_form_refuses_bots_floods_and_bad_addresses(tenant_a, web_queue, settings, client):
    url = reverse("ticket_public:form", args=[web_queue.web_token])
    assert client.post(url, _form_data(website="http://spam")).status_code == 302
    assert not Ticket.objects.exists()  # the honeypot was filled: nothing saved
    response = client.post(url, _form_data(email="not-an-email"))
    assert response.status_code == 400 and 'data-testid="error-email"' in response.content.decode()
    settings.KEHU_TICKET_FORM_RATE = "2/600"
    cache.clear()
    statuses = [client.post(url, _form_data()).status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    assert client.get(reverse("ticket_public:form", args=["wrong-token"])).status_code == 404
    Queue.objects.filter(pk=web_queue.pk).update(web_form_enabled=False)
    assert client.get(url).status_code == 404
