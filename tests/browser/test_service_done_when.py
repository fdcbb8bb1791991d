"""Issue #5's "Done when", end to end in a real browser with real mail on both sides:

a customer e-mails support; the ticket opens in the right queue, goes to the least-loaded agent and shows
its SLA clock; the agent answers with a canned reply and a suggested article's link and resolves; the
customer's e-mailed reply reopens the same ticket; an unanswered high-priority ticket escalates to the
queue's manager on breach; the customer rates the service by one click; the manager sees CSAT and SLA
compliance for the week.

Mail in goes through the SMTP daemon's handler on aiosmtpd (`support_inbox`), mail out to the
`smtp_server` fixture; the SLA sweep is the scheduled job's body, run at the breach time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from kehu.accounts import services as account_services
from kehu.service import knowledge_services, mail_intake, sla_services, ticket_services
from kehu.service.models import SurveyResponse
from kehu.service.sla_sweep import sla_sweep
from kehu.service.ticket_models import Queue, Ticket
from tests.browser.test_shell import sign_in
from tests.conftest import PASSWORD
from tests.customers.factories import make_contact, make_customer
from tests.service.sla_factories import make_article, make_policy
from tests.service.ticket_factories import make_canned, make_queue, make_ticket

pytestmark = pytest.mark.browser


def test_issue_5_done_when(new_page, tenant_a, smtp_server, support_inbox, live_server, settings):
    settings.SITE_URL = live_server.url
    admin = tenant_a.admin
    manager = tenant_a.users["service_manager"]
    agent = tenant_a.users["service_agent"]
    busy = account_services.user_create(
        actor=admin,
        organization=tenant_a.org,
        email="busy@a.test",
        password=PASSWORD,
        role=tenant_a.role("service_agent"),
        name="忙碌的客服",
    )
    support = make_queue(
        tenant_a,
        name="售后支持",
        email="support@a.test",
        members=[busy, agent],
        manager=manager,
        assignment=Queue.Assignment.LEAST_OPEN,
    )
    make_queue(tenant_a, name="销售咨询", email="sales@a.test", members=[busy])
    for n in range(2):  # the other agent already has two open tickets
        make_ticket(tenant_a, busy, queue=support, subject=f"旧工单 {n}")
    policy = make_policy(tenant_a, name="标准服务", is_default=True)
    sla_services.sla_policy_update(
        actor=admin, policy=policy, expected_version=None, data={"reassign": "queue_manager"}
    )
    customer = make_customer(tenant_a, name="苏州恒通精密机械有限公司")
    make_contact(tenant_a, customer, name="王强", email="wang@hengtong.cn")
    make_canned(tenant_a, title="已安排", body="{{contact_name}} 您好，工单 #{{ticket_number}} 已安排工程师处理。")
    knowledge_services.help_centre_update(actor=admin, expected_version=None, data={"slug": "hengtong"})
    make_article(tenant_a, title="设备异响排查指南", body="三号机等设备运行时有异响，先检查轴承润滑。")

    # A customer e-mails support: the ticket opens in the support queue (by the address it was sent to),
    # goes to the agent with fewer open tickets, and matches the sender to the contact.
    support_inbox(
        mail_intake.build_message(
            From="王强 <wang@hengtong.cn>",
            To="support@a.test",
            Subject="三号机异响",
            Message_ID="<first@hengtong.cn>",
            body="您好，三号机运行时有异响，请安排工程师。",
        )
    )
    support_inbox(
        mail_intake.build_message(
            From="赵敏 <zhao@buyer.cn>",
            To="sales@a.test",
            Subject="询价",
            Message_ID="<quote@buyer.cn>",
            body="请报价。",
        ),
        sender="zhao@buyer.cn",
        to="sales@a.test",
    )
    ticket = Ticket.objects.get(organization=tenant_a.org, subject="三号机异响")
    assert ticket.queue == support and ticket.owner == agent and ticket.customer == customer
    assert Ticket.objects.get(organization=tenant_a.org, subject="询价").queue.name == "销售咨询"

    page = new_page()
    sign_in(page, agent)
    page.goto(reverse("service:ticket_list"))
    page.get_by_test_id("view-mine").click()
    page.locator(f"tr[data-ticket='{ticket.pk}'] [data-testid=ticket-link]").click()
    page.wait_for_selector("[data-testid=ticket-subject]")
    expect(page.get_by_test_id("assignment-reason")).to_contain_text("最少")  # 为什么：未结工单最少
    clock = page.locator("[data-testid=sla-panel] [data-sla-state]").first
    assert clock.get_attribute("data-sla-state") in {"running", "warning"}
    expect(page.get_by_test_id("sla-panel")).to_contain_text("标准服务")

    # The answer: a canned reply, then the suggested article's public link, sent by e-mail; then resolved.
    page.get_by_test_id("canned-picker").select_option(label="已安排")
    body = page.locator("#reply-form textarea[name=body]")
    expect(body).to_have_value(f"王强 您好，工单 #{ticket.number} 已安排工程师处理。")
    suggestion = page.get_by_test_id("kb-suggestions")
    expect(suggestion).to_contain_text("设备异响排查指南")
    suggestion.get_by_test_id("insert-link").first.click()
    expect(body).to_have_value(re.compile(r"设备异响排查指南 http://\S+/help/hengtong/\d+/"))
    page.get_by_test_id("send-reply").click()
    page.wait_for_selector("[data-testid=message][data-kind=reply]")
    (answer,) = smtp_server.wait_for(1)
    assert answer["X-RcptTo"] == "wang@hengtong.cn"
    assert "/help/hengtong/" in smtp_server.body(answer)

    page.get_by_test_id("status-menu").click()
    page.get_by_test_id("status-resolved").click()
    page.wait_for_load_state()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    mails = smtp_server.wait_for(2)  # the satisfaction survey goes out on resolve
    survey_text = smtp_server.body(mails[1]).replace("\r\n", "\n")
    links = dict(re.findall(r"^(\d)[^:\n]*: (http://\S+/survey/\S+)$", survey_text, flags=re.M))
    assert sorted(links) == ["1", "2", "3", "4", "5"]

    # The customer answers the e-mail: the reply lands on the same ticket and reopens it.
    support_inbox(
        mail_intake.build_message(
            From="王强 <wang@hengtong.cn>",
            To="support@a.test",
            Subject=f"回复：[#{ticket.number}] 三号机异响",
            Message_ID="<second@hengtong.cn>",
            In_Reply_To=answer["Message-ID"],
            References=f"<first@hengtong.cn> {answer['Message-ID']}",
            body="还有一点异响，麻烦再看看。",
        )
    )
    page.reload()
    messages = page.locator("[data-testid=message]")
    expect(messages).to_have_count(3)
    assert messages.nth(2).get_attribute("data-kind") == "customer"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert Ticket.objects.filter(organization=tenant_a.org, customer=customer).count() == 1

    # An unanswered high-priority ticket breaches its first response: the scheduled sweep escalates it to
    # the queue's manager (notified and now the assignee).
    support_inbox(
        mail_intake.build_message(
            From="王强 <wang@hengtong.cn>",
            To="support@a.test",
            Subject="生产线停机",
            Message_ID="<third@hengtong.cn>",
            body="二号线停机了，急！",
        )
    )
    urgent = Ticket.objects.get(organization=tenant_a.org, subject="生产线停机")
    urgent = ticket_services.ticket_update(
        actor=urgent.owner, ticket=urgent, expected_version=urgent.version, data={"priority": "high"}
    )
    assert urgent.priority == "high" and urgent.first_response_due_at is not None
    result = sla_sweep(
        now=urgent.first_response_due_at + timedelta(minutes=1), organization_id=tenant_a.org.pk, time_budget=None
    )
    assert result.breached >= 1
    urgent.refresh_from_db()
    assert urgent.owner == manager

    # The customer rates the service with one click from the survey e-mail.
    rater = new_page()
    rater.goto(links["5"])
    rater.wait_for_selector("[data-testid=survey-recorded]")
    assert SurveyResponse.objects.get(survey__ticket=ticket).score == 5

    # The manager sees the breach in the notifications and CSAT and SLA compliance for the week.
    boss = new_page()
    sign_in(boss, manager)
    boss.get_by_test_id("notifications").click()
    expect(boss.get_by_test_id("notifications-list")).to_contain_text(f"#{urgent.number}")
    boss.goto(reverse("service:report") + "?period=this_week")
    expect(boss.get_by_test_id("total-csat")).to_contain_text("100")
    expect(boss.get_by_test_id("total-with-sla")).not_to_have_text("0")
    assert boss.get_by_test_id("total-fr").inner_text().strip() not in {"", "—"}
    expect(boss.get_by_test_id("csat-agents")).to_contain_text(str(agent))
