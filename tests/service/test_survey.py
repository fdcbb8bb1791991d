"""Satisfaction surveys: the e-mail on resolve (real SMTP server), the one-click signed link, single use,
expiry and tampering (a clear page, never a 500), the comment."""

from __future__ import annotations

import re
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.service import survey_services, ticket_hooks
from kehu.service.models import Survey, SurveyResponse, Ticket
from tests.service.sla_factories import make_ticket


def resolve(ticket: Ticket) -> None:
    ticket.status = Ticket.Status.RESOLVED
    ticket.resolved_at = timezone.now()
    ticket.save(update_fields=["status", "resolved_at"])
    ticket_hooks.ticket_changed(ticket, "status_changed", before="open", after="resolved", at=ticket.resolved_at)


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://crm.example.com/"


@pytest.fixture
def emailed(tenant_a, smtp_server, django_capture_on_commit_callbacks):
    """A resolved ticket whose survey e-mail reached the SMTP server; returns (survey, links by score)."""
    ticket = make_ticket(tenant_a, subject="打印机无法连接", requester_email="li.lei@customer.example")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(ticket)
    (message,) = smtp_server.wait_for(1)
    assert message["X-RcptTo"] == "li.lei@customer.example"
    subject = str(make_header(decode_header(message["Subject"])))
    assert f"#{ticket.number}" in subject and "打印机无法连接" in subject
    text = smtp_server.body(message).replace("\r\n", "\n")
    links = dict(re.findall(r"^(\d)[^:]*: (https://crm\.example\.com/survey/\S+)$", text, flags=re.M))
    assert sorted(links) == ["1", "2", "3", "4", "5"]
    survey = Survey.objects.get(ticket=ticket)
    assert survey.owner == ticket.owner and survey.sent_at is not None
    return survey, {int(k): v.replace("https://crm.example.com", "") for k, v in links.items()}


def test_one_click_records_the_score_and_the_link_is_single_use(client, emailed):
    survey, links = emailed
    response = client.get(links[4], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Thank you for your rating" in response.content.decode()
    assert SurveyResponse.objects.get(survey=survey).score == 4
    response = client.get(links[1], HTTP_ACCEPT_LANGUAGE="en")  # the same e-mail, another score
    assert "already rated" in response.content.decode()
    assert SurveyResponse.objects.get(survey=survey).score == 4
    assert AuditEntry.objects.filter(action="survey.answer", target_id=str(survey.pk)).count() == 1


def test_the_comment_is_added_once(client, emailed):
    survey, links = emailed
    client.get(links[2])
    comment_url = links[2].split("?")[0] + "comment/"
    response = client.post(comment_url, {"comment": "等了太久"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and 'data-testid="survey-thanks"' in response.content.decode()
    assert SurveyResponse.objects.get(survey=survey).comment == "等了太久"
    response = client.post(comment_url, {"comment": "改主意了"}, HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-reason="commented"' in response.content.decode()
    assert SurveyResponse.objects.get(survey=survey).comment == "等了太久"


def test_a_too_long_comment_is_refused_with_the_text_kept(client, emailed):
    _survey, links = emailed
    client.get(links[5])
    response = client.post(links[5].split("?")[0] + "comment/", {"comment": "好" * 2001})
    assert response.status_code == 400 and 'data-testid="error-comment"' in response.content.decode()


def test_a_comment_before_a_score_is_refused_clearly(client, emailed):
    _survey, links = emailed
    response = client.post(links[3].split("?")[0] + "comment/", {"comment": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and 'data-reason="unanswered"' in response.content.decode()


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x" + t, lambda t: "abc"]
)
def test_a_tampered_link_gets_a_clear_page(client, emailed, mangle):
    survey, links = emailed
    token = links[5].split("/")[2]
    response = client.get(f"/survey/{mangle(token)}/?score=5", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert not SurveyResponse.objects.filter(survey=survey).exists()


def test_a_link_signed_for_another_survey_nonce_is_refused(client, emailed):
    survey, links = emailed
    Survey.objects.filter(pk=survey.pk).update(nonce="rotated")
    assert client.get(links[5]).status_code == 404


def test_an_expired_link_gets_a_clear_page(client, emailed, monkeypatch):
    survey, links = emailed
    monkeypatch.setattr(survey_services, "SURVEY_VALID_DAYS", 0)
    response = client.get(links[5], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410 and "expired" in response.content.decode()
    monkeypatch.undo()
    Survey.objects.filter(pk=survey.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(links[5]).status_code == 410
    assert not SurveyResponse.objects.filter(survey=survey).exists()


def test_bad_scores_and_link_checkers_never_vote(client, emailed):
    survey, links = emailed
    base = links[5].split("?")[0]
    for bad in ("9", "0", "abc", ""):
        response = client.get(base, {"score": bad}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400, bad
    assert client.head(links[5]).status_code == 200
    page = client.get(base, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="survey-scores"' in page
    assert not SurveyResponse.objects.filter(survey=survey).exists()
    assert client.post(base, {"score": "5"}).status_code == 405


def test_an_organisation_without_the_service_module_has_no_survey(client, emailed, tenant_a):
    _survey, links = emailed
    tenant_a.org.enabled_modules = ["customers"]
    tenant_a.org.save(update_fields=["enabled_modules"])
    response = client.get(links[5], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and "no longer available" in response.content.decode()


def test_one_survey_per_ticket_and_none_without_an_address(tenant_a, smtp_server, django_capture_on_commit_callbacks):
    ticket = make_ticket(tenant_a, requester_email="a@customer.example")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(ticket)
        ticket.status = Ticket.Status.OPEN
        ticket_hooks.ticket_changed(ticket, "status_changed", before="resolved", after="open")
        resolve(ticket)
    assert Survey.objects.filter(ticket=ticket).count() == 1
    assert len(smtp_server.wait_for(1)) == 1
    silent = make_ticket(tenant_a, requester_email="")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(silent)
    assert not Survey.objects.filter(ticket=silent).exists()


def test_the_email_is_in_the_organisations_language(tenant_a, smtp_server, django_capture_on_commit_callbacks):
    tenant_a.org.language = "en"
    tenant_a.org.save(update_fields=["language"])
    ticket = make_ticket(tenant_a, subject="Printer offline")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(ticket)
    (message,) = smtp_server.wait_for(1)
    assert str(make_header(decode_header(message["Subject"]))).startswith("How did we do?")
    assert message.is_multipart()  # a text and an HTML version
