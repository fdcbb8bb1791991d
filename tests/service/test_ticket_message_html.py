"""The ticket page's conversation, built in Python (service/ticket_message_html.py), is byte for byte what the
former template service/ticket/_message.html gave for each message: the template is kept here as the
reference (TEMPLATE below, rendered by Django's engine with autoescaping)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import engines
from django.utils import timezone, translation

from kehu.service import ticket_message_html, ticket_selectors, ticket_services
from kehu.service.ticket_models import TicketMessage
from tests.service.ticket_factories import make_ticket

pytestmark = pytest.mark.django_db

TEMPLATE = """{% load i18n %}{% comment %}One entry of the conversation: who said what, when, and its files.{% endcomment %}
<article class="kehu-ticket-message kehu-ticket-message-{{ message.kind }} border rounded p-3 mb-2" id="message-{{ message.pk }}" data-kind="{{ message.kind }}" data-testid="message">
  <header class="d-flex flex-wrap gap-2 align-items-baseline small mb-2">
    {% if message.kind == "customer" %}
      <i class="bi bi-person-circle text-primary"></i>
      <strong>{{ message.author_name|default:message.author_email }}</strong>{% if message.author_name and message.author_email %} <span class="text-body-secondary">&lt;{{ message.author_email }}&gt;</span>{% endif %}
      <span class="badge text-bg-light border">{% translate "Customer" %}</span>
    {% elif message.kind == "note" %}
      <i class="bi bi-lock text-warning"></i>
      <strong>{{ message.author|default:message.author_name }}</strong>
      <span class="badge text-bg-warning">{% translate "Internal note" %}</span>
    {% else %}
      <i class="bi bi-reply text-success"></i>
      <strong>{{ message.author|default:message.author_name }}</strong>
      <span class="badge text-bg-success">{% translate "Public reply" %}</span>
      {% if message.sent_at %}<span class="text-body-secondary" title="{{ message.sent_at|date:'Y-m-d H:i:s' }}"><i class="bi bi-envelope-check"></i> {% translate "sent" %}</span>
      {% elif message.send_error %}<span class="text-danger" data-testid="send-error"><i class="bi bi-envelope-exclamation"></i> {% blocktranslate with error=message.send_error %}not sent: {{ error }}{% endblocktranslate %}</span>
      {% else %}<span class="text-body-secondary"><i class="bi bi-hourglass"></i> {% translate "sending…" %}</span>{% endif %}
    {% endif %}
    <time class="ms-auto text-body-secondary" datetime="{{ message.created_at|date:'c' }}">{{ message.created_at|date:"Y-m-d H:i" }}</time>
  </header>
  <div class="kehu-ticket-body" data-testid="message-body">{{ message.body|linebreaksbr }}</div>
  {% if message.attachments.all %}
  <ul class="list-inline small mt-2 mb-0">
    {% for file in message.attachments.all %}<li class="list-inline-item"><a href="{% url 'service:ticket_attachment' file.pk %}"><i class="bi bi-paperclip"></i> {{ file.original_name }}</a> <span class="text-body-secondary">({{ file.size|filesizeformat }})</span></li>{% endfor %}
  </ul>
  {% endif %}
</article>
"""

TRICKY = "<script>alert('x')</script> & \"引号\" O'Brien {} %(name)s"


def _conversation(tenant):
    agent = tenant.users["service_agent"]
    ticket = make_ticket(tenant, agent, subject="发票开错了")
    files = [
        SimpleUploadedFile("<b>报告</b>&.txt", b"x" * 3000, content_type="text/plain"),
        SimpleUploadedFile("日志.csv", b"y" * 12, content_type="text/plain"),
    ]
    ticket_services.ticket_note(actor=agent, ticket=ticket, body=f"第一行\n第二行 {TRICKY}\r\n第三行", files=files)
    now = timezone.now()
    common = {"organization_id": tenant.org.pk, "ticket": ticket}
    rows = [
        {"kind": "customer", "author_name": TRICKY, "author_email": "a<b>@example.com", "body": TRICKY},
        {"kind": "customer", "author_name": "", "author_email": "only@example.com", "body": "只有邮箱"},
        {"kind": "customer", "author_name": "只有名字", "author_email": "", "body": ""},
        {"kind": "note", "author": None, "author_name": TRICKY, "body": "无作者的备注"},
        {"kind": "reply", "author": agent, "body": "已发送", "sent_at": now - timedelta(minutes=5)},
        {"kind": "reply", "author": None, "author_name": "前同事", "body": "发送失败", "send_error": TRICKY},
        {"kind": "reply", "author": agent, "body": "发送中\n\n两行"},
    ]
    for i, row in enumerate(rows):
        TicketMessage.objects.create(**common, created_at=now - timedelta(days=400 - i, seconds=i), **row)
    return ticket


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_conversation_is_byte_identical_to_the_template(tenant_a, language, settings):
    ticket = _conversation(tenant_a)
    agent = tenant_a.users["service_agent"]
    template = engines["django"].from_string(TEMPLATE)
    with translation.override(language), timezone.override("Asia/Shanghai"):
        messages = ticket_selectors.ticket_messages_for(actor=agent, ticket=ticket)
        assert len(messages) == 9 and any(m.attachments.all() for m in messages)
        expected = "".join(template.render({"message": m}) for m in messages)
        got = ticket_message_html.conversation_html(messages)
        assert str(got) == expected
        assert "<script>" not in got and "&lt;script&gt;" in got and "<br>" in got


def test_the_api_writes_what_the_documented_message_serializer_writes(tenant_a, rf):
    """GET /api/v1/tickets/<id>/messages/ and /api/v1/ticket-messages/ write message_data: the same JSON as
    TicketMessageOutputSerializer (authors or none, sent times, errors, files with their download address)."""
    from rest_framework.request import Request

    from kehu.service.ticket_api import TicketMessageOutputSerializer, message_data

    ticket = _conversation(tenant_a)
    agent = tenant_a.users["service_agent"]
    request = Request(rf.get("/api/v1/ticket-messages/"))
    messages = ticket_selectors.ticket_messages_for(actor=agent, ticket=ticket)
    assert any(m.attachments.all() for m in messages) and any(m.author_id is None for m in messages)
    for message in messages:
        for context in ({"request": request}, {}):
            expected = TicketMessageOutputSerializer(message, context=context).data
            assert message_data(message, request=context.get("request")) == expected
            assert list(message_data(message)) == list(expected)


def test_the_conversation_api_reads_its_queries_and_writes_every_message(tenant_a, client):
    ticket = _conversation(tenant_a)
    client.force_login(tenant_a.users["service_agent"])
    data = client.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()
    assert len(data) == 9 and [m["kind"] for m in data].count("customer") == 4
    files = [f for m in data for f in m["attachments"]]
    assert len(files) == 2 and all(f["download_url"].startswith("http://testserver/api/v1/") for f in files)
    listed = client.get(f"/api/v1/ticket-messages/?ticket={ticket.pk}").json()
    assert [m["id"] for m in listed["results"]] == [m["id"] for m in data]
    one = client.get(f"/api/v1/ticket-messages/{data[0]['id']}/").json()
    assert one == data[0]
