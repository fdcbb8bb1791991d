"""A visitor fills in the public web form, embedded in an <iframe> on another site; the region rule gives the
lead to a rep, who signs in, finds it in her list with the rule's name, qualifies it and converts it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from kehu.customers.models import Customer
from kehu.sales.lead_models import Lead
from tests.browser.test_shell import sign_in
from tests.sales.lead_factories import make_rule, make_webform

pytestmark = pytest.mark.browser


@contextmanager
def company_site(body: str) -> Iterator[str]:
    """A web page on its own origin (a small HTTP server on 127.0.0.1): the organisation's website."""
    page = f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>官网</title><body>{body}</body></html>'

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/contact.html"
    finally:
        server.shutdown()
        server.server_close()


def fill_in_the_form(visitor) -> None:
    frame = visitor.frame_locator("#kehu")
    frame.get_by_label("您的姓名").fill("黄志强")
    frame.get_by_label("公司名称").fill("深圳鹏程电子有限公司")
    frame.get_by_label("手机号码").fill("138 2345 6781")
    frame.get_by_label("所在省份").fill("广东省")
    frame.get_by_test_id("submit").click()
    frame.get_by_test_id("thanks").wait_for()
    assert "感谢您的咨询！" in frame.get_by_test_id("thanks").inner_text()


def test_a_web_form_lead_reaches_the_rep_of_its_region(new_page, live_server, tenant_a):
    rep = tenant_a.users["sales_rep_2"]
    make_rule(
        tenant_a,
        name="华南区域",
        action="user",
        user=rep,
        conditions=[{"field": "province", "op": "in", "value": ["广东", "广西", "海南"]}],
    )
    make_rule(tenant_a, name="其他地区", action="user", user=tenant_a.users["sales_manager"])
    form = make_webform(
        tenant_a,
        name="官网咨询",
        title="联系我们",
        thank_you="感谢您的咨询！",
        fields=[
            {"field": "name", "label": "您的姓名", "required": True},
            {"field": "company", "label": "公司名称"},
            {"field": "phone", "label": "手机号码", "required": True},
            {"field": "province", "label": "所在省份"},
        ],
    )

    # The organisation's own website, another origin (its own little server on 127.0.0.1, where Kehu is on
    # localhost), embeds the form in an iframe.
    src = f"{live_server.url}{reverse('lead_forms:public', args=[form.token])}"
    visitor = new_page()
    with company_site(f'<h1>鹏程电子</h1><iframe id="kehu" src="{src}" width="600" height="700"></iframe>') as site:
        visitor.goto(site)
        fill_in_the_form(visitor)

    lead = Lead.objects.get(organization=tenant_a.org, name="黄志强")
    assert lead.owner == rep and lead.assigned_rule_name == "华南区域" and lead.source == "web_form"

    # The rep signs in and finds it in her list, with the rule that gave it to her.
    page = new_page()
    sign_in(page, rep)
    page.goto(reverse("sales:lead_list"))
    row = page.locator(f"[data-lead='{lead.pk}']")
    assert "华南区域" in row.get_by_test_id("owner").inner_text()
    row.get_by_role("link", name="黄志强").click()
    page.get_by_test_id("assigned-rule").wait_for()
    assert "华南区域" in page.get_by_test_id("assigned-rule").inner_text()

    # She qualifies it and converts it into a customer with a contact.
    page.get_by_test_id("status-qualified").click()
    page.get_by_test_id("convert").click()
    page.get_by_test_id("convert-submit").click()
    page.get_by_test_id("customer-name").wait_for()
    assert page.get_by_test_id("customer-name").inner_text().startswith("深圳鹏程电子有限公司")
    customer = Customer.objects.get(organization=tenant_a.org, name="深圳鹏程电子有限公司")
    assert customer.owner == rep and customer.contacts.get().phone_normalized == "13823456781"
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED and lead.converted_customer == customer
