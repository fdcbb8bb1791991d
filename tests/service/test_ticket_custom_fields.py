"""Custom fields of tickets (kehu.core.custom_fields, record type "service.ticket"): defined by a service
administrator, in the agent's form, on the help-centre form where marked public, on the detail page, as list
columns and filters, and in the API, with a field error for an invalid value."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core import custom_fields
from kehu.service import ticket_public
from kehu.service.ticket_models import Ticket
from tests.service.ticket_factories import make_queue, make_ticket

pytestmark = pytest.mark.django_db
TICKET = "service.ticket"


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def fields(tenant_a):
    manager = tenant_a.users["service_manager"]
    model = custom_fields.definition_create(
        actor=manager, record_type=TICKET, key="device_model", label="设备型号", field_type="text", public=True
    )
    severity = custom_fields.definition_create(
        actor=manager,
        record_type=TICKET,
        key="severity",
        label="严重程度",
        field_type="single_select",
        options=["一般", "严重"],
    )
    return model, severity


def test_a_service_administrator_manages_ticket_fields_in_the_ui(tenant_a, client):
    manager = tenant_a.users["service_manager"]  # administers service, not customers
    client.force_login(manager)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    url = reverse("customers:custom_fields")
    html = _html(client.get(url, {"record_type": TICKET}))
    assert "Ticket" in html
    response = client.post(
        reverse("customers:custom_field_create"),
        {
            "record_type": TICKET,
            "label": "保修单号",
            "key": "warranty_no",
            "field_type": "text",
            "public": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    (definition,) = custom_fields.definitions_for(tenant_a.org, TICKET)
    assert definition.key == "warranty_no" and definition.public
    # Customers' fields are not theirs to change.
    customer_field = custom_fields.definition_create(
        actor=tenant_a.admin, record_type="customers.customer", key="grade", label="等级"
    )
    assert client.get(reverse("customers:custom_field_edit", args=[customer_field.pk])).status_code == 403
    # The settings page links here.
    assert "ticket-fields-link" in _html(client.get(reverse("service:service_settings")))


def test_only_ticket_fields_can_be_public(tenant_a):
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        custom_fields.definition_create(
            actor=tenant_a.admin, record_type="customers.customer", key="x", label="X", public=True
        )
    assert "public" in exc.value.fields


def test_agent_form_detail_list_columns_and_filters(tenant_a, fields, client):
    agent = tenant_a.users["service_agent"]
    client.force_login(agent)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert 'name="custom.severity"' in _html(client.get(reverse("service:ticket_create")))
    serious = make_ticket(tenant_a, agent, subject="严重的问题", custom={"severity": "严重", "device_model": "HP-1"})
    make_ticket(tenant_a, agent, subject="一般的问题", custom={"severity": "一般"})
    detail = _html(client.get(reverse("service:ticket_detail", args=[serious.pk])))
    assert "严重程度" in detail and "HP-1" in detail
    html = _html(client.get(reverse("service:ticket_list")))
    assert html.count('data-testid="custom-column"') == 2 and "HP-1" in html
    html = _html(client.get(reverse("service:ticket_list"), {"custom.severity": "严重"}))
    assert "严重的问题" in html and "一般的问题" not in html
    html = _html(client.get(reverse("service:ticket_list"), {"custom.device_model": "hp"}))
    assert "严重的问题" in html and "一般的问题" not in html


def test_an_invalid_value_is_refused_with_a_field_error(tenant_a, fields, client):
    agent = tenant_a.users["service_agent"]
    client.force_login(agent)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    ticket = make_ticket(tenant_a, agent)
    data = {
        "subject": ticket.subject,
        "kind": ticket.kind,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "requester_email": ticket.requester_email,
        "requester_name": ticket.requester_name,
        "version": ticket.version,
        "custom.severity": "不存在",
    }
    response = client.post(reverse("service:ticket_edit", args=[ticket.pk]), data)
    assert response.status_code in (200, 400)
    assert "custom.severity" in response.context["form"].errors


def test_the_api_reads_writes_filters_and_refuses(tenant_a, fields, api):
    agent = tenant_a.users["service_agent"]
    client = api(agent)
    response = client.post(
        "/api/v1/tickets/",
        {
            "subject": "接口创建",
            "body": "正文",
            "requester_email": "api@example.com",
            "custom": {"severity": "严重"},
            "owner": agent.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["custom"] == {"severity": "严重"}
    make_ticket(tenant_a, agent, subject="其他", custom={"severity": "一般"})
    listed = client.get("/api/v1/tickets/", {"custom.severity": "严重"}).json()["results"]
    assert [t["subject"] for t in listed] == ["接口创建"]
    bad = client.post(
        "/api/v1/tickets/",
        {"subject": "坏值", "body": "x", "requester_email": "b@example.com", "custom": {"severity": "坏"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "custom.severity" in bad.json()["error"]["fields"]
    definition = client.get("/api/v1/custom-fields/", {"record_type": TICKET}).json()["results"][0]
    assert definition["record_type"] == TICKET and "public" in definition


def test_the_help_centre_form_offers_the_public_fields_only(tenant_a, fields, client):
    queue = make_queue(tenant_a, web_form_enabled=True)
    url = reverse("ticket_public:form", args=[queue.web_token])
    html = _html(client.get(url))
    assert 'name="custom.device_model"' in html and 'name="custom.severity"' not in html
    response = client.post(
        url,
        {
            "name": "李女士",
            "email": "li@example.com",
            "subject": "网页提交",
            "body": "打印机坏了",
            "kind": "inquiry",
            "custom.device_model": "Canon-9",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(organization=tenant_a.org, subject="网页提交")
    assert ticket.custom == {"device_model": "Canon-9"}
    # A key that is not public is refused by the service, whatever a crafted request sends.
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        ticket_public.web_form_submit(
            queue=queue,
            data={"subject": "s", "body": "b", "email": "x@example.com", "custom": {"severity": "严重"}},
            ip=None,
        )
    assert "custom.severity" in exc.value.fields
