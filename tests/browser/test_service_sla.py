"""The service report's chart under the strict CSP, the public help centre, and a survey link, in a real
browser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.service import knowledge_services, survey_services
from tests.browser.test_shell import sign_in
from tests.service.sla_factories import make_article, make_policy, make_survey, make_ticket

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/kehu-service-report.png"


def test_the_report_draws_its_chart_without_csp_errors(page, tenant_a):
    make_policy(tenant_a, is_default=True)
    agent = tenant_a.users["service_agent"]
    make_ticket(tenant_a, agent, priority="urgent", created_at=timezone.now() - timedelta(hours=2))
    make_survey(tenant_a, agent, score=5)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, tenant_a.admin)
    page.goto(reverse("service:report") + "?period=last_30_days")
    page.wait_for_selector("#service-chart canvas")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_customer_reads_the_help_centre_and_rates_by_one_click(page, tenant_a, live_server):
    centre = knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "acme"})
    make_article(tenant_a, title="如何申请退款", body="## 步骤\n- 打开订单\n- 点击申请退款")
    page.goto(f"/help/{centre.slug}/")
    page.fill("input[name=q]", "退")
    page.keyboard.press("Enter")
    page.click("text=如何申请退款")
    assert page.locator("[data-testid=help-article] li").count() == 2

    survey = make_survey(tenant_a, tenant_a.users["service_agent"])
    page.goto(survey_services.survey_url(survey, base_url=live_server.url, score=5))
    page.wait_for_selector("[data-testid=survey-recorded]")
    page.fill("textarea[name=comment]", "很快就解决了")
    page.click("[data-testid=survey-comment] button")
    page.wait_for_selector("[data-testid=survey-thanks]")
    assert survey.response.comment == "很快就解决了"
