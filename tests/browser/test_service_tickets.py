"""A customer e-mails support; the agent picks the ticket up, answers with a canned reply, the answer
reaches the customer by e-mail, and the customer's reply (In-Reply-To the answer) lands on the same ticket.

Mail in goes through the SMTP daemon's handler on a real aiosmtpd server (as `kehu mail_smtpd` runs it);
mail out reaches the `smtp_server` fixture."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from kehu.service import mail_intake
from kehu.service.ticket_models import Queue, Ticket, TicketMessage
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_contact, make_customer
from tests.service.ticket_factories import make_canned, make_queue

pytestmark = pytest.mark.browser


def test_an_agent_answers_an_emailed_ticket_and_the_reply_threads_back(page, tenant_a, smtp_server, support_inbox):
    agent = tenant_a.users["service_agent"]
    make_queue(tenant_a, email="support@a.test", members=[agent], assignment=Queue.Assignment.MANUAL)
    customer = make_customer(tenant_a, name="苏州恒通精密机械有限公司")
    make_contact(tenant_a, customer, name="王强", email="wang@hengtong.cn")
    make_canned(tenant_a, title="已收到", body="{{contact_name}} 您好，工单 #{{ticket_number}} 我们正在处理。")

    support_inbox(
        mail_intake.build_message(
            From="王强 <wang@hengtong.cn>",
            To="support@a.test",
            Subject="三号机异响",
            Message_ID="<first@hengtong.cn>",
            body="您好，三号机运行时有异响，请安排工程师。",
        )
    )
    ticket = Ticket.objects.get(organization=tenant_a.org)
    assert ticket.owner is None and ticket.customer == customer

    sign_in(page, agent)
    page.goto(reverse("service:ticket_list"))
    page.get_by_test_id("view-unassigned").click()
    page.locator(f"tr[data-ticket='{ticket.pk}'] [data-testid=ticket-link]").click()
    page.wait_for_selector("[data-testid=ticket-subject]")
    assert "三号机异响" in page.get_by_test_id("ticket-subject").inner_text()
    assert "王强" in page.get_by_test_id("conversation").inner_text()
    # The customer's timeline beside the ticket arrives right after the page (its own request, htmx).
    expect(page.get_by_test_id("customer-timeline-items")).to_contain_text(f"#{ticket.number}")
    # So do the side panels (contacts, other tickets, suggested articles): htmx swaps the placeholder's link.
    expect(page.get_by_test_id("contacts")).to_contain_text("王强")
    expect(page.get_by_test_id("side-panels-link")).to_have_count(0)
    page.get_by_test_id("take").click()
    page.wait_for_selector("[data-testid=assignment-reason]")
    assert str(agent) in page.get_by_test_id("assignee").inner_text()

    page.get_by_test_id("canned-picker").select_option(label="已收到")
    body = page.locator("#reply-form textarea[name=body]")
    expect(body).to_have_value(f"王强 您好，工单 #{ticket.number} 我们正在处理。")
    body.press("End")
    body.press_sequentially(" 工程师明天上午到。")
    page.get_by_test_id("send-reply").click()
    page.wait_for_selector("[data-testid=message][data-kind=reply]")

    (mail,) = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == "wang@hengtong.cn"
    assert "工程师明天上午到" in smtp_server.body(mail)
    reply = TicketMessage.objects.get(ticket=ticket, kind="reply")
    assert mail["Message-ID"] == reply.message_id

    support_inbox(
        mail_intake.build_message(
            From="王强 <wang@hengtong.cn>",
            To="support@a.test",
            Subject=f"回复：[#{ticket.number}] 三号机异响",
            Message_ID="<second@hengtong.cn>",
            In_Reply_To=mail["Message-ID"],
            References=f"<first@hengtong.cn> {mail['Message-ID']}",
            body="好的，明天上午有人在。\n\n-----原始邮件-----\n发件人: support@a.test",
        )
    )
    page.reload()
    messages = page.locator("[data-testid=message]")
    assert messages.count() == 3
    last = messages.nth(2)
    assert last.get_attribute("data-kind") == "customer"
    assert last.get_by_test_id("message-body").inner_text().strip() == "好的，明天上午有人在。"
    assert Ticket.objects.filter(organization=tenant_a.org).count() == 1
