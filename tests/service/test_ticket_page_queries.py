"""What the service pages cost in round trips (benchmarks/RESULTS.md, "Service pages" of session 4): the
ticket page, its customer timeline box, the list and the API read a fixed number of queries however long
the conversation or the page is, and the cheaper rendering keeps every part of the page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework import serializers

from kehu.service import sla_panels, sla_services, ticket_visibility
from kehu.service.sla_models import TicketSla
from tests.customers.factories import make_contact, make_customer, make_tag
from tests.service.sla_factories import make_policy
from tests.service.ticket_factories import make_attachment, make_canned, make_message, make_queue, make_ticket

pytestmark = pytest.mark.django_db

# Session, user, the actor's queues (one query), the ticket with its tags, custom fields, conversation with
# files, history, follow-ups, canned replies, ticket types and the SLA panel: the side panels (suggested
# articles, the customer's contacts, other tickets and orders) and the customer timeline come in their own
# requests, after the page.
TICKET_PAGE_QUERIES = 12
# Session, user, the actor's queues, the ticket with its customer, the knowledge panel (the first message,
# the articles, the help centre), contacts, other tickets.
SIDE_PANELS_QUERIES = 9
LIST_PAGE_QUERIES = 13
API_LIST_QUERIES = 6
API_TICKET_QUERIES = 6
API_CONVERSATION_QUERIES = 7


@pytest.fixture
def agent_client(client, tenant_a):
    client.force_login(tenant_a.users["service_agent"])
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _count(client, path: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(ctx.captured_queries), response.content.decode()


def test_the_ticket_page_reads_the_same_queries_however_long_the_conversation(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    customer = make_customer(tenant_a, name="南京金陵医药连锁有限公司")
    make_contact(tenant_a, customer, name="周婷", email="zhou@jinling.cn")
    earlier = make_ticket(tenant_a, agent, customer=customer, subject="上个月的问题")
    ticket = make_ticket(tenant_a, agent, customer=customer, subject="这次的问题", requester_email="zhou@jinling.cn")
    make_canned(tenant_a, title="收到")
    path = reverse("service:ticket_detail", args=[ticket.pk])
    agent_client.get(path)  # caches (ticket types, translations) warm
    short, html = _count(agent_client, path)
    assert short == TICKET_PAGE_QUERIES

    for i in range(5):
        make_message(tenant_a, ticket, body=f"第{i}条备注")
        make_attachment(tenant_a, ticket)
    make_contact(tenant_a, customer, name="李雷", email="li@jinling.cn")
    make_ticket(tenant_a, agent, customer=customer, subject="再早一些的问题")
    long, html = _count(agent_client, path)
    assert long == short
    # What the agent reads and answers with is on the page: conversation, files, the SLA panel, the canned
    # replies; the side panels and the timeline box load themselves from their addresses.
    assert html.count('data-testid="message"') == 1 + 5 + 5 and html.count("报告.txt") == 5
    assert 'data-panel="sla_panel"' in html and 'data-testid="canned-picker"' in html
    assert 'data-panel="suggestions_panel"' not in html and "周婷" not in html
    assert f"#{earlier.number} 上个月的问题" not in html  # the other tickets: in the side panels
    panels_url = reverse("service:ticket_side_panels", args=[ticket.pk])
    box = re.search(r'<div[^>]*data-testid="side-panels"[^>]*>', html).group(0)
    assert f'hx-get="{panels_url}"' in box and 'hx-trigger="load"' in box and 'hx-swap="outerHTML"' in box
    assert f'href="{panels_url}"' in html  # without scripts: the side panels as a page
    assert "service/knowledge.js" in html  # "Insert link" works on what htmx puts in
    timeline_url = reverse("service:ticket_customer_timeline", args=[ticket.pk])
    box = re.search(r'<section[^>]*data-testid="customer-timeline"[^>]*>', html).group(0)
    assert f'hx-get="{timeline_url}"' in box and 'hx-trigger="load"' in box
    assert reverse("customers:detail", args=[customer.pk]) in html  # without scripts: the customer's timeline


def test_the_side_panels_read_the_same_queries_for_more_contacts_and_tickets(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    customer = make_customer(tenant_a, name="南京金陵医药连锁有限公司")
    make_contact(tenant_a, customer, name="周婷", email="zhou@jinling.cn")
    earlier = make_ticket(tenant_a, agent, customer=customer, subject="上个月的问题")
    ticket = make_ticket(tenant_a, agent, customer=customer, subject="这次的问题", requester_email="zhou@jinling.cn")
    make_message(tenant_a, ticket, body="打印机连不上网络")
    path = reverse("service:ticket_side_panels", args=[ticket.pk])
    htmx = {"HTTP_HX_REQUEST": "true"}
    agent_client.get(path, **htmx)
    with CaptureQueriesContext(connection) as ctx:
        response = agent_client.get(path, **htmx)
    few, html = len(ctx.captured_queries), response.content.decode()
    assert response.status_code == 200 and few == SIDE_PANELS_QUERIES
    assert html.lstrip().startswith("<div") and "<html" not in html  # the fragment alone, no layout
    for _i in range(3):
        make_contact(tenant_a, customer, name="李雷", email="li@jinling.cn")
        make_ticket(tenant_a, agent, customer=customer, subject="再早一些的问题")
    with CaptureQueriesContext(connection) as ctx:
        html = agent_client.get(path, **htmx).content.decode()
    assert len(ctx.captured_queries) == few
    assert 'data-panel="suggestions_panel"' in html and 'data-testid="kb-suggestions"' in html
    assert "周婷" in html and "李雷" in html and 'data-testid="contacts"' in html
    assert f"#{earlier.number} 上个月的问题" in html and "再早一些的问题" in html
    assert 'data-panel="sla_panel"' not in html  # the clock stays on the page

    # Without htmx (the page's link, no scripts): the same panels in the layout, with a way back.
    page = agent_client.get(path).content.decode()
    assert "<html" in page and "周婷" in page and 'data-testid="past-tickets"' in page
    assert f'href="{reverse("service:ticket_detail", args=[ticket.pk])}"' in page

    # Another agent's ticket is not there; only GET.
    someone_elses = make_ticket(tenant_a, tenant_a.admin)
    assert agent_client.get(reverse("service:ticket_side_panels", args=[someone_elses.pk])).status_code == 404
    assert agent_client.post(path).status_code == 405
    # A ticket without a customer: other tickets by the requester's address, no contacts box.
    make_ticket(tenant_a, agent, subject="散客的上一张", requester_email="guest@mail.cn")
    alone = make_ticket(tenant_a, agent, subject="没有客户", requester_email="guest@mail.cn")
    assert alone.customer_id is None
    html = agent_client.get(reverse("service:ticket_side_panels", args=[alone.pk]), **htmx).content.decode()
    assert 'data-testid="contacts"' not in html and "散客的上一张" in html


def test_the_customer_timeline_box(tenant_a, agent_client, client):
    agent = tenant_a.users["service_agent"]
    customer = make_customer(tenant_a, name="杭州西湖茶业有限公司")
    make_contact(tenant_a, customer, name="陈静")
    ticket = make_ticket(tenant_a, agent, customer=customer, subject="茶叶受潮")
    path = reverse("service:ticket_customer_timeline", args=[ticket.pk])
    queries, html = _count(agent_client, path)
    assert f"#{ticket.number}" in html and "茶叶受潮" in html and "陈静" in html
    assert 'data-testid="customer-timeline"' in html
    # More items do not cost more queries: each module's provider reads its newest ten at once.
    for i in range(4):
        make_ticket(tenant_a, agent, customer=customer, subject=f"茶叶问题 {i}")
    assert _count(agent_client, path)[0] == queries

    # A ticket the actor does not see has no box either; a ticket without a customer shows none.
    other_agent_ticket = make_ticket(tenant_a, tenant_a.admin, customer=customer)
    assert (
        agent_client.get(reverse("service:ticket_customer_timeline", args=[other_agent_ticket.pk])).status_code == 404
    )
    assert agent_client.post(path).status_code == 405
    alone = make_ticket(tenant_a, agent, subject="没有客户")
    page = agent_client.get(reverse("service:ticket_detail", args=[alone.pk])).content.decode()
    assert 'data-testid="customer-timeline"' not in page
    alone_box = agent_client.get(reverse("service:ticket_customer_timeline", args=[alone.pk]))
    assert alone_box.status_code == 200 and alone_box.content == b""


def test_the_sla_panel_reads_the_calendar_from_the_organisation_cache(
    tenant_a, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """The clock's working periods and calendar days are the intake's cached lookups: one query (the
    ticket's SLA state) per page, and the same calendar value as reading it from the database."""
    agent = tenant_a.users["service_agent"]
    with django_capture_on_commit_callbacks(execute=True):  # the configuration's change as if committed
        make_policy(tenant_a, is_default=True)
        ticket = make_ticket(tenant_a, agent, subject="打印机卡纸", priority="urgent")
    state = TicketSla.objects.select_related("calendar").get(ticket_id=ticket.pk)
    assert state.calendar_id
    first = sla_panels.sla_panel(actor=agent, ticket=ticket)
    with django_assert_num_queries(1):
        again = sla_panels.sla_panel(actor=agent, ticket=ticket)
    assert again == first and 'data-sla="first_response"' in again[1]
    cached = sla_services.organization_lookups(tenant_a.org.pk)[1].get(state.calendar)
    assert cached == sla_services.load_calendar(state.calendar)


def test_the_list_page_reads_the_same_queries_for_more_rows_and_keeps_its_filters(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    queue = make_queue(tenant_a, name="售后队列")
    tag = make_tag(tenant_a, "加急")
    make_ticket(tenant_a, agent, subject="第一张", queue=queue)
    path = reverse("service:ticket_list") + "?status=active&ordering=resolution_due_at"
    agent_client.get(path)
    few, _html = _count(agent_client, path)
    assert few <= LIST_PAGE_QUERIES
    for i in range(8):
        make_ticket(tenant_a, agent, subject=f"更多工单 {i}", queue=queue, tags=[tag])
    more, html = _count(agent_client, path)
    assert more == few and html.count('data-testid="ticket-link"') == 9

    # The filter bar, written in Python: the same controls, the chosen values selected.
    html = agent_client.get(reverse("service:ticket_list"), {"assignee": "me", "queue": queue.pk, "tag": tag.pk})
    html = html.content.decode()
    assert re.search(r'<select name="assignee" class="form-select form-select-sm" aria-label="Assignee"', html)
    assert '<option value="me" selected>Me</option>' in html
    assert f'<option value="{queue.pk}" selected>售后队列</option>' in html
    assert f'<option value="{tag.pk}" selected>加急</option>' in html
    assert re.search(r'<input type="search" name="search"[^>]*placeholder="Number, subject, email…"', html)


def test_the_manager_list_offers_the_assignees_once(tenant_a, client):
    manager = tenant_a.users["service_manager"]
    client.force_login(manager)
    make_ticket(tenant_a, tenant_a.users["service_agent"], subject="待分配")
    html = client.get(reverse("service:ticket_list")).content.decode()
    agent_name = str(tenant_a.users["service_agent"])
    # The filter's assignee choices and the bulk form's come from one read of the colleagues.
    assert html.count(f">{agent_name}</option>") == 2
    assert str(tenant_a.users["sales_rep"]) + "</option>" not in html  # cannot work on tickets


def test_the_api_reads_the_same_queries_for_more_rows(tenant_a, agent_client):
    agent = tenant_a.users["service_agent"]
    tag = make_tag(tenant_a, "投诉")
    ticket = make_ticket(tenant_a, agent, subject="接口工单")
    paths = {
        "/api/v1/tickets/?status=active&ordering=resolution_due_at": API_LIST_QUERIES,
        f"/api/v1/tickets/{ticket.pk}/": API_TICKET_QUERIES,
        f"/api/v1/tickets/{ticket.pk}/messages/": API_CONVERSATION_QUERIES,
    }
    before = {}
    for path, pin in paths.items():
        agent_client.get(path)
        before[path] = _count(agent_client, path)[0]
        assert before[path] <= pin, path
    for i in range(4):
        make_ticket(tenant_a, agent, subject=f"接口工单 {i}", tags=[tag])
        make_attachment(tenant_a, ticket)
    for path in paths:
        assert _count(agent_client, path)[0] == before[path], path
    # The one shared timestamp field writes what a fresh DRF field writes.
    data = agent_client.get(f"/api/v1/tickets/{ticket.pk}/").json()
    ticket.refresh_from_db()
    assert data["created_at"] == serializers.DateTimeField().to_representation(ticket.created_at)
    assert data["resolution_due_at"] == (
        serializers.DateTimeField().to_representation(ticket.resolution_due_at) if ticket.resolution_due_at else None
    )


def test_the_queues_an_agent_belongs_to_and_manages_are_read_in_one_query(tenant_a, django_assert_num_queries):
    agent = tenant_a.users["service_agent"]
    member_queue = make_queue(tenant_a, name="成员队列", members=[agent])
    managed_queue = make_queue(tenant_a, name="管理队列", members=[tenant_a.users["service_manager"]], manager=agent)
    both = make_queue(tenant_a, name="两者都是", members=[agent], manager=agent)
    make_queue(tenant_a, name="无关队列", members=[tenant_a.users["service_manager"]])
    ticket_visibility.forget_queues(agent)
    with django_assert_num_queries(1):
        member, managed = ticket_visibility.queue_ids_for(agent)
    assert member == {member_queue.pk, both.pk}
    assert managed == {managed_queue.pk, both.pk}
    with django_assert_num_queries(0):
        ticket_visibility.queue_ids_for(agent)
