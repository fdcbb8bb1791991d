"""A rep writes a note on a customer's page, mentions a colleague through the @ picker, and the colleague
gets the email; the note shows on the timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.models import Notification
from kehu.customers.note_models import Note
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_customer

pytestmark = pytest.mark.browser


def test_a_rep_mentions_a_colleague_with_the_picker(page, tenant_a, smtp_server):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep, name="浏览器测试有限公司")
    sign_in(page, rep)
    page.goto(reverse("customers:detail", args=[customer.pk]))

    box = page.locator("[data-testid=note-form] textarea[data-mention-input]")
    box.click()
    box.press_sequentially("请 @sales_man", delay=20)
    candidate = page.locator("[data-testid=mention-candidate]").first
    candidate.wait_for(state="visible")
    assert candidate.get_attribute("data-user") == str(manager.pk)
    box.press("Enter")
    assert box.input_value() == f"请 @[{manager}](user:{manager.pk}) "
    box.press_sequentially("看一下报价")
    page.get_by_test_id("save-note").click()

    page.wait_for_selector("[data-testid=timeline] [data-kind=note]")
    assert f"请 @{manager} 看一下报价" in page.locator("[data-testid=timeline] [data-kind=note]").first.inner_text()
    note = Note.objects.get(customer=customer)
    assert note.mentions == [manager.pk]
    assert Notification.objects.filter(recipient=manager).exists()
    (mail,) = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == manager.email
    assert f"{page.url.split('/customers/')[0]}/customers/{customer.pk}/" in smtp_server.body(mail)
