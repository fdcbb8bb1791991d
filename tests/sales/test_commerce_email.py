"""Sending a quote: the contact gets an e-mail with the quote over real SMTP (aiosmtpd); without an address
the quote is only marked sent; a mail server that refuses leaves the quote a draft."""

from __future__ import annotations

from decimal import Decimal as D
from email.header import decode_header, make_header

import pytest

from kehu.core.models import AuditEntry
from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Quote
from tests.api.support import assert_error
from tests.conftest import _free_port
from tests.customers.factories import make_contact, make_customer
from tests.sales.commerce_factories import make_quote

pytestmark = pytest.mark.django_db


def _quote_with_contact(tenant, email="buyer@example.com"):
    customer = make_customer(tenant, name="上海云帆贸易有限公司")
    contact = make_contact(tenant, customer, name="王经理", email=email)
    return make_quote(
        tenant,
        customer=customer,
        contact=contact,
        title="年度维保报价",
        lines=[{"name": "维保服务", "quantity": D("12"), "unit_price": D("1000.00"), "tax_rate": D("6")}],
    )


def test_sending_e_mails_the_contact_over_smtp(tenant_a, smtp_server, api):
    quote = _quote_with_contact(tenant_a)
    response = api(tenant_a.admin).post(f"/api/v1/quotes/{quote.pk}/send/", {"version": quote.version}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["emailed_to"], body["sent_to"]) == ("sent", "buyer@example.com", "buyer@example.com")

    (message,) = smtp_server.wait_for(1)
    assert message["X-RcptTo"] == "buyer@example.com"
    subject = str(make_header(decode_header(message["Subject"])))
    assert quote.number in subject and tenant_a.org.name in subject
    assert message["Reply-To"] == tenant_a.admin.email
    text = smtp_server.body(message)
    assert "维保服务" in text and "¥12,720.00" in text and "壹万贰仟柒佰贰拾元整" in text
    assert any(part.get_content_type() == "text/html" for part in message.walk())
    entry = AuditEntry.objects.get(action="quote.send", target_id=str(quote.pk))
    assert entry.changes["sent_to"] == "buyer@example.com"


def test_sending_to_another_address(tenant_a, smtp_server):
    quote = _quote_with_contact(tenant_a)
    assert services.quote_send(actor=tenant_a.admin, quote=quote, to="boss@example.com") == "boss@example.com"
    (message,) = smtp_server.wait_for(1)
    assert message["X-RcptTo"] == "boss@example.com"


def test_without_a_contact_email_the_quote_is_only_marked_sent(tenant_a, smtp_server, client):
    quote = make_quote(tenant_a)  # no contact
    client.force_login(tenant_a.admin)
    response = client.post(
        f"/sales/quotes/{quote.pk}/send/",
        {"mode": "email", "version": quote.version},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.status_code == 200
    assert "marked sent but not e-mailed" in response.content.decode()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT and quote.sent_to == ""
    assert smtp_server.messages == []


def test_a_refused_e_mail_leaves_the_quote_a_draft(tenant_a, settings, api):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2  # nobody listens
    quote = _quote_with_contact(tenant_a)
    response = api(tenant_a.admin).post(f"/api/v1/quotes/{quote.pk}/send/", {}, format="json")
    assert_error(response, 502, "email_failed")
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DRAFT and quote.sent_at is None
    assert not AuditEntry.objects.filter(action="quote.send", target_id=str(quote.pk)).exists()


def test_a_bad_address_is_a_field_error(tenant_a, api):
    quote = _quote_with_contact(tenant_a)
    response = api(tenant_a.admin).post(f"/api/v1/quotes/{quote.pk}/send/", {"to": "not-an-address"}, format="json")
    error = assert_error(response, 400, "validation_failed")
    assert "to" in error["fields"]
