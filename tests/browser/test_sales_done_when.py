"""Issue #4 "Done when", end to end in the browser: a web-form lead reaches the rep of its region by the
administrator's rule; she qualifies it and converts it into the existing customer with the same phone (no
duplicate), with an opportunity; on the board the gated stage refuses it until she fills in the amount; she
quotes from the opportunity, e-mails the quote (a real SMTP server receives it), records the acceptance, turns
it into an order, confirms it and records two payments; the customer's timeline shows it all; her manager sees
her row on the forecast."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.sales import opportunity_services
from kehu.sales.commerce_models import Order, Payment, Quote
from kehu.sales.lead_models import Lead
from kehu.sales.models import Opportunity
from tests.browser.test_sales_kanban import card, column, drag
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_customer
from tests.sales.commerce_factories import make_product
from tests.sales.lead_factories import make_rule, make_webform

pytestmark = pytest.mark.browser


def test_issue_4_done_when(new_page, tenant_a, smtp_server):
    org = tenant_a.org
    rep = tenant_a.users["sales_rep"]
    stages = list(opportunity_services.ensure_default_pipeline(org).stages.order_by("position"))
    proposal = stages[2]
    assert proposal.required_fields == ["amount"]
    # The administrator's setup: a region rule, the public web form, a product; the customer exists already.
    make_rule(
        tenant_a,
        name="广东区域",
        action="user",
        user=rep,
        conditions=[{"field": "province", "op": "in", "value": ["广东"]}],
    )
    form = make_webform(
        tenant_a,
        name="官网咨询",
        thank_you="感谢您的咨询！",
        fields=[
            {"field": "name", "label": "您的姓名", "required": True},
            {"field": "company", "label": "公司名称"},
            {"field": "phone", "label": "手机号码", "required": True},
            {"field": "province", "label": "所在省份"},
        ],
    )
    existing = make_customer(tenant_a, rep, name="鹏程电子", phone="13823456781")
    product = make_product(tenant_a, sku="KH-E2E", name="客户管理系统", price=D("10000.00"), tax_rate=D("0"))
    customers_before = Customer.objects.filter(organization=org).count()

    # A visitor submits the public web form.
    visitor = new_page()
    visitor.goto(reverse("lead_forms:public", args=[form.token]))
    visitor.get_by_label("您的姓名").fill("黄志强")
    visitor.get_by_label("公司名称").fill("深圳鹏程电子有限公司")
    visitor.get_by_label("手机号码").fill("138 2345 6781")
    visitor.get_by_label("所在省份").fill("广东省")
    visitor.get_by_test_id("submit").click()
    visitor.get_by_test_id("thanks").wait_for()
    lead = Lead.objects.get(organization=org, name="黄志强")
    assert lead.owner == rep and lead.assigned_rule_name == "广东区域"

    # The rep signs in and finds the lead the rule gave her.
    page = new_page(locale="en-US")
    sign_in(page, rep)
    page.goto(reverse("sales:lead_list"))
    row = page.locator(f"[data-lead='{lead.pk}']")
    assert "广东区域" in row.get_by_test_id("owner").inner_text()
    row.get_by_role("link", name="黄志强").click()
    page.get_by_test_id("assigned-rule").wait_for()
    page.get_by_test_id("activity-panel").wait_for()  # activities of the lead on its page

    # She qualifies it and converts it into the existing customer (same phone), with an opportunity.
    page.get_by_test_id("status-qualified").click()
    page.get_by_test_id("convert").click()
    choice = page.locator(f"[data-testid=customer-choices] input[value='{existing.pk}']")
    choice.check()
    page.check("#id_create_opportunity")
    page.fill("#id_opportunity_name", "鹏程电子 CRM 项目")
    page.fill("#id_expected_close_date", timezone.localdate().isoformat())
    page.get_by_test_id("convert-submit").click()
    page.get_by_test_id("customer-name").wait_for()
    assert page.get_by_test_id("customer-name").inner_text().startswith("鹏程电子")
    assert Customer.objects.filter(organization=org).count() == customers_before  # no duplicate
    lead.refresh_from_db()
    opportunity = Opportunity.objects.get(pk=lead.converted_opportunity_id)
    assert lead.converted_customer_id == existing.pk and opportunity.customer_id == existing.pk
    assert opportunity.amount is None or opportunity.amount == 0

    # On the board the gated stage refuses the card until the amount is filled in the quick edit.
    page.goto(reverse("sales:opportunity_board"))
    drag(page, card(page, opportunity), column(page, proposal).get_by_test_id("cards"))
    error = page.get_by_test_id("board-error")
    error.wait_for()
    assert "Fill in these fields to enter the stage" in error.inner_text() and "Amount" in error.inner_text()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == stages[0]
    quick = page.get_by_test_id("quick-edit-form")
    quick.wait_for()
    quick.locator("input[name=amount]").fill("20000")
    quick.get_by_test_id("quick-save").click()
    page.get_by_test_id("board-success").wait_for()
    assert column(page, proposal).locator(f"[data-opportunity='{opportunity.pk}']").count() == 1
    assert Opportunity.objects.get(pk=opportunity.pk).stage == proposal

    # A quote from the opportunity page.
    page.goto(reverse("sales:opportunity_detail", args=[opportunity.pk]))
    page.get_by_test_id("activity-panel").wait_for()
    page.get_by_test_id("new-quote").click()
    page.get_by_test_id("save").click()
    page.wait_for_selector("[data-testid=add-line]")
    quote = Quote.objects.get(opportunity=opportunity)
    assert quote.customer_id == existing.pk
    page.select_option("[data-testid=add-line] select[name=product]", str(product.pk))
    page.fill("[data-testid=add-line] input[name=quantity]", "2")
    page.get_by_test_id("save-line").click()
    page.wait_for_selector("[data-testid=lines] tbody tr[data-line]")
    assert page.get_by_test_id("total").inner_text() == "¥20,000.00"

    # She e-mails it: the SMTP server receives it.
    page.get_by_test_id("send-menu").click()
    page.fill("[data-testid=send-form] input[name=to]", "buyer@pengcheng.example")
    page.get_by_test_id("send").click()
    page.get_by_test_id("accept").wait_for()
    # (The rule's assignment e-mailed the rep first: the quote is the mail to the buyer.)
    mails = [m for m in smtp_server.wait_for(2) if m["To"] == "buyer@pengcheng.example"]
    assert len(mails) == 1
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT

    # Accepted, an order, confirmed, two payments, the outstanding balance.
    page.get_by_test_id("accept").click()
    page.get_by_test_id("create-order").click()
    page.wait_for_selector("[data-testid=order-number]")
    order = Order.objects.get(quote=quote)
    page.get_by_test_id("confirm").click()
    for amount, count in (("8000", 1), ("5000", 2)):
        page.wait_for_selector("[data-testid=add-payment]")
        page.fill("[data-testid=add-payment] input[name=amount]", amount)
        page.get_by_test_id("save-payment").click()
        page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=payments] tr[data-payment]').length >= n", arg=count
        )
    assert Payment.objects.filter(order=order).count() == 2
    assert page.get_by_test_id("balance-outstanding").inner_text() == "¥7,000.00"

    # The customer's timeline shows the conversion, the stage change, the quote, the order and the payments.
    page.goto(reverse("customers:detail", args=[existing.pk]))
    timeline = page.get_by_test_id("timeline")
    timeline.wait_for()  # loaded by htmx right after the page
    for kind in (
        "lead.convert",
        "opportunity.stage_change",
        "quote.sent",
        "quote.accepted",
        "order.created",
        "payment.received",
    ):
        assert timeline.locator(f"[data-kind='{kind}']").count() >= 1, kind
    assert timeline.locator("[data-kind='payment.received']").count() == 2
    assert page.get_by_test_id("customer-new-quote").is_visible()

    # Her manager sees her row on the forecast.
    manager_page = new_page()
    sign_in(manager_page, tenant_a.users["sales_manager"])
    manager_page.goto(reverse("sales:forecast"))
    manager_page.locator(f"tr[data-owner='{rep.pk}']").wait_for()
