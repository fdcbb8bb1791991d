"""Accepting a quote marks its opportunity won, through the opportunity service (stage history, audit,
timeline); when the won stage refuses the opportunity the acceptance stands and says why — in the service,
on the page and in the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from kehu.core.models import AuditEntry
from kehu.sales import commerce_services as services
from kehu.sales import opportunity_services
from kehu.sales.commerce_models import Quote
from kehu.sales.models import Opportunity, Stage, StageChange
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def sent_quote(tenant, opportunity) -> Quote:
    quote = services.quote_create(actor=tenant.admin, opportunity=opportunity)
    services.line_add(actor=tenant.admin, document=quote, name="实施服务", quantity=2, unit_price=500)
    services.quote_send(actor=tenant.admin, quote=quote, email=False)
    return quote


def won_stage(tenant) -> Stage:
    pipeline = opportunity_services.ensure_default_pipeline(tenant.org)
    return pipeline.stages.get(kind=Stage.Kind.WON)


def test_accepting_marks_the_open_opportunity_won_with_history_and_audit(tenant_a):
    rep = tenant_a.users["sales_rep"]
    opportunity = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, opportunity)
    result = services.quote_accept(actor=rep, quote=quote)
    assert result.quote.status == Quote.Status.ACCEPTED
    assert result.opportunity_won and opportunity.name in result.opportunity_message
    opportunity.refresh_from_db()
    assert opportunity.status == Opportunity.Status.WON and opportunity.stage_id == won_stage(tenant_a).pk
    assert quote.number in opportunity.won_reason
    assert opportunity.amount == quote.total  # it had none: the accepted quote's total fills it
    assert StageChange.objects.filter(opportunity=opportunity, to_stage=opportunity.stage).exists()
    assert AuditEntry.objects.filter(action="opportunity.won", target_id=str(opportunity.pk)).exists()
    assert AuditEntry.objects.filter(action="quote.accept", target_id=str(quote.pk)).exists()


def test_missing_required_fields_leave_the_opportunity_open_but_the_quote_accepted(tenant_a):
    rep = tenant_a.users["sales_rep"]
    opportunity_services.update_stage(
        actor=tenant_a.admin, stage=won_stage(tenant_a), data={"required_fields": ["next_step"]}
    )
    opportunity = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, opportunity)
    result = services.quote_accept(actor=rep, quote=quote)
    quote.refresh_from_db()
    opportunity.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED and quote.accepted_at is not None
    assert not result.opportunity_won and opportunity.status == Opportunity.Status.OPEN
    assert "not marked won" in result.opportunity_message or "未" in result.opportunity_message
    assert not AuditEntry.objects.filter(action="opportunity.won", target_id=str(opportunity.pk)).exists()


def test_closed_or_absent_opportunities_are_left_alone(tenant_a):
    rep = tenant_a.users["sales_rep"]
    lost = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, lost)
    opportunity_services.mark_lost(actor=rep, opportunity=lost, reason="价格")
    result = services.quote_accept(actor=rep, quote=quote)
    lost.refresh_from_db()
    assert lost.status == Opportunity.Status.LOST and not result.opportunity_won and result.opportunity_message

    won = make_opportunity(tenant_a, rep)
    first, second = sent_quote(tenant_a, won), sent_quote(tenant_a, won)
    assert services.quote_accept(actor=rep, quote=first).opportunity_won
    with translation.override("en"):  # whatever language an earlier test left active
        again = services.quote_accept(actor=rep, quote=second)
    assert not again.opportunity_won and "already" in again.opportunity_message
    assert StageChange.objects.filter(opportunity=won, to_stage__kind=Stage.Kind.WON).count() == 1

    from tests.sales.commerce_factories import make_quote

    plain = make_quote(tenant_a, rep)
    services.quote_send(actor=tenant_a.admin, quote=plain, email=False)
    result = services.quote_accept(actor=rep, quote=plain)
    assert not result.opportunity_won and result.opportunity_message == ""


def test_the_page_says_whether_the_opportunity_moved(tenant_a, client):
    rep = tenant_a.users["sales_rep"]
    client.force_login(rep)
    opportunity = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, opportunity)
    response = client.post(reverse("sales:quote_accept", args=[quote.pk]), follow=True, **EN)
    html = response.content.decode()
    assert "The quote was accepted" in html and "was marked won" in html

    opportunity_services.update_stage(
        actor=tenant_a.admin, stage=won_stage(tenant_a), data={"required_fields": ["next_step"]}
    )
    other = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, other)
    response = client.post(reverse("sales:quote_accept", args=[quote.pk]), follow=True, **EN)
    html = response.content.decode()
    assert "The quote was accepted" in html and "was not marked won" in html and "Fill in these fields" in html
    other.refresh_from_db()
    assert other.status == Opportunity.Status.OPEN


def test_the_api_answers_with_the_opportunity_outcome(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)
    opportunity = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, opportunity)
    response = client.post(f"/api/v1/quotes/{quote.pk}/accept/", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "accepted" and body["opportunity_won"] is True and body["opportunity_message"]

    opportunity_services.update_stage(
        actor=tenant_a.admin, stage=won_stage(tenant_a), data={"required_fields": ["next_step"]}
    )
    other = make_opportunity(tenant_a, rep)
    quote = sent_quote(tenant_a, other)
    body = client.post(f"/api/v1/quotes/{quote.pk}/accept/", {}, format="json").json()
    assert body["status"] == "accepted" and body["opportunity_won"] is False
    assert "next" in body["opportunity_message"].lower() or "下一步" in body["opportunity_message"]
