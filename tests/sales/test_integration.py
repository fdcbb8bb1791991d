"""How the sales topics work together: activities on lead and opportunity pages, a converted lead's
activities on the customer's timeline, "New quote" from an opportunity and from a customer page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.sales import activity_services, lead_services
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_customer
from tests.customers.pages import customer_page
from tests.sales.activity_factories import make_activity
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_qualified_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(tenant_a):
    user = tenant_a.users["sales_rep"]
    user.language = "en"  # the texts asserted below are the English source strings
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def test_the_lead_page_has_the_activity_panel_and_log_button(rep_client, rep, tenant_a):
    lead = make_qualified_lead(tenant_a, rep, phone="13800138111")
    make_activity(tenant_a, rep, lead=lead, subject="call the lead back")
    body = rep_client.get(reverse("sales:lead_detail", args=[lead.pk])).content.decode()
    assert 'data-testid="log-activity-link"' in body and f"lead={lead.pk}" in body
    panel = body.split('data-testid="activity-panel"', 1)[1].split("</section>", 1)[0]
    assert "call the lead back" in panel


def test_the_opportunity_page_has_the_activity_panel_log_button_and_new_quote(rep_client, rep, tenant_a):
    opportunity = make_opportunity(tenant_a, rep)
    make_activity(tenant_a, rep, customer=opportunity.customer, opportunity=opportunity, subject="demo visit")
    body = rep_client.get(reverse("sales:opportunity_detail", args=[opportunity.pk])).content.decode()
    assert 'data-testid="log-activity-link"' in body and f"opportunity={opportunity.pk}" in body
    panel = body.split('data-testid="activity-panel"', 1)[1].split("</section>", 1)[0]
    assert "demo visit" in panel
    new_quote = f'href="{reverse("sales:quote_create")}?opportunity={opportunity.pk}" data-testid="new-quote"'
    assert new_quote in body
    # The link leads to a quote form filled from the opportunity.
    form = rep_client.get(f"{reverse('sales:quote_create')}?opportunity={opportunity.pk}")
    assert form.status_code == 200 and opportunity.name in form.content.decode()


def test_the_customer_page_offers_a_new_quote_in_its_header(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    body = rep_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    header = body.split('data-testid="fields"', 1)[0]
    assert f'href="{reverse("sales:quote_create")}?customer={customer.pk}" data-testid="customer-new-quote"' in header


def test_no_sales_buttons_for_a_user_without_sales(client, tenant_a):
    marketer = tenant_a.users["marketer"]
    client.force_login(marketer)
    customer = make_customer(tenant_a, tenant_a.users["sales_rep"])
    body = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="customer-new-quote"' not in body and 'data-testid="log-activity-link"' not in body


def test_a_converted_leads_activities_show_on_the_customers_timeline(rep_client, rep, tenant_a):
    lead = make_qualified_lead(tenant_a, rep, company="鼎新科技", phone="13800138222")
    planned = make_activity(tenant_a, rep, lead=lead, subject="first contact call")
    activity_services.activity_log(actor=rep, subject="intro visit", lead=lead)
    conversion = lead_services.lead_convert(actor=rep, lead=lead, create_opportunity=True)
    planned.refresh_from_db()
    assert planned.customer == conversion.customer and planned.lead == lead
    assert planned.contact == conversion.contact and planned.opportunity == conversion.opportunity
    assert Activity.objects.filter(lead=lead, customer=conversion.customer).count() == 2
    body = customer_page(rep_client, conversion.customer)
    timeline = body.split('data-testid="timeline"', 1)[1]
    assert "intro visit" in timeline
