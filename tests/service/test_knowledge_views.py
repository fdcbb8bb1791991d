"""Knowledge base pages, the ticket panels, and the public help centre (/help/<address>/)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.service import knowledge_panels, knowledge_services, sla_panels, sla_services, ticket_panels
from kehu.service.models import KbArticle
from tests.service.sla_factories import make_article, make_category, make_policy, make_ticket


@pytest.fixture
def en(client, tenant_a):
    tenant_a.admin.language = "en"
    tenant_a.admin.save(update_fields=["language"])
    client.force_login(tenant_a.admin)
    return client


def test_list_empty_state_then_search_sort_and_filter(en, tenant_a):
    page = en.get(reverse("service:kb_list")).content.decode()
    assert 'data-testid="empty"' in page and "No articles yet" in page
    billing = make_category(tenant_a, "发票")
    make_article(tenant_a, title="如何申请退款", category=billing)
    make_article(tenant_a, title="忘记密码", body="重置密码")
    make_article(tenant_a, title="退款草稿", publish=False)
    page = en.get(reverse("service:kb_list"), {"q": "退"}).content.decode()
    assert "如何申请退款" in page and "退款草稿" in page and "忘记密码" not in page
    page = en.get(reverse("service:kb_list"), {"status": "draft"}).content.decode()
    assert "退款草稿" in page and "如何申请退款" not in page
    page = en.get(reverse("service:kb_list"), {"category": billing.pk}).content.decode()
    assert "如何申请退款" in page and "忘记密码" not in page
    page = en.get(reverse("service:kb_list"), {"ordering": "title"}).content.decode()
    assert page.index("如何申请退款") < page.index("忘记密码")
    page = en.get(reverse("service:kb_list"), {"q": "没有这个"}).content.decode()
    assert "No articles match" in page
    response = en.get(reverse("service:kb_list"), {"cursor": "forged!!"})  # a bad cursor starts over
    assert response.status_code == 200


def test_list_pages_with_a_cursor_and_few_queries(en, tenant_a, django_assert_max_num_queries):
    for n in range(55):
        make_article(tenant_a, title=f"文章 {n:02d}")
    with django_assert_max_num_queries(14):
        response = en.get(reverse("service:kb_list"))
    page = response.content.decode()
    assert 'data-testid="next-page"' in page
    cursor = response.context["page"].next_cursor
    second = en.get(reverse("service:kb_list"), {"cursor": cursor}).context["page"].items
    assert len(second) == 5


def test_write_publish_edit_delete_and_restore_through_the_pages(en, tenant_a):
    response = en.post(reverse("service:kb_create"), {"title": "", "body": "内容", "action": "draft"})
    assert 'data-testid="error-title"' in response.content.decode() and "内容" in response.content.decode()
    response = en.post(
        reverse("service:kb_create"), {"title": "新文章", "body": "第一段\n\n- 一\n- 二", "action": "draft"}
    )
    article = KbArticle.objects.get(title="新文章")
    assert response.status_code == 302 and article.status == "draft"
    page = en.get(reverse("service:kb_detail", args=[article.pk])).content.decode()
    assert "<li>一</li>" in page and 'data-testid="publish"' in page
    en.post(reverse("service:kb_publish", args=[article.pk]), {"action": "publish"})
    article.refresh_from_db()
    assert article.is_published
    page = en.get(reverse("service:kb_detail", args=[article.pk])).content.decode()
    assert 'data-testid="public-link"' in page
    response = en.post(
        reverse("service:kb_edit", args=[article.pk]),
        {"version": 1, "title": "Mine", "body": "x", "action": "save"},
    )
    assert "Someone else changed this record" in response.content.decode()  # version 1 is stale
    response = en.post(
        reverse("service:kb_edit", args=[article.pk]),
        {"version": article.version, "title": "Mine", "body": "x", "action": "save"},
    )
    assert response.status_code == 302
    en.post(reverse("service:kb_delete", args=[article.pk]))
    assert en.get(reverse("service:kb_detail", args=[article.pk])).status_code == 404
    page = en.get(reverse("service:kb_recycle_bin")).content.decode()
    assert "Mine" in page
    en.post(reverse("service:kb_restore", args=[article.pk]))
    assert en.get(reverse("service:kb_detail", args=[article.pk])).status_code == 200


def test_categories_page_and_help_centre_settings(en, tenant_a):
    response = en.post(reverse("service:kb_categories"), {"name": "账户"})
    assert response.status_code == 302
    response = en.post(reverse("service:kb_categories"), {"name": "账户"})
    assert 'data-testid="error-name"' in response.content.decode()
    page = en.get(reverse("service:kb_categories")).content.decode()
    assert "/help/" in page
    centre = knowledge_services.help_centre_for(tenant_a.org)
    en.post(
        reverse("service:kb_help_centre"),
        {"version": centre.version, "slug": "acme", "title": "Acme", "is_public": "on"},
    )
    centre.refresh_from_db()
    assert centre.slug == "acme"


def test_an_article_body_cannot_inject_html(en, tenant_a):
    article = make_article(
        tenant_a, title="<b>bold</b>", body='<script>alert("x")</script> https://evil.example/"onmouseover=x'
    )
    page = en.get(reverse("service:kb_detail", args=[article.pk])).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<b>bold</b>" not in page


# The public help centre --------------------------------------------------------------------------------


def public(slug: str, *rest) -> str:
    return "/".join(["", "help", slug, *[str(r) for r in rest], ""])


def test_the_help_centre_lists_searches_and_shows_published_articles_only(client, tenant_a):
    centre = knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "acme"})
    billing = make_category(tenant_a, "发票与退款")
    refund = make_article(tenant_a, title="如何申请退款", category=billing)
    draft = make_article(tenant_a, title="内部草稿", publish=False)
    deleted = make_article(tenant_a, title="已删除")
    knowledge_services.kb_article_delete(actor=tenant_a.admin, article=deleted)

    response = client.get(public(centre.slug), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200
    assert "如何申请退款" in page and "发票与退款" in page
    assert "内部草稿" not in page and "已删除" not in page
    page = client.get(public(centre.slug), {"q": "退"}).content.decode()
    assert "如何申请退款" in page
    page = client.get(public(centre.slug), {"q": "密码"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No article matches" in page
    assert client.get(public(centre.slug, refund.pk)).status_code == 200
    assert client.get(public(centre.slug, draft.pk)).status_code == 404
    assert client.get(public(centre.slug, deleted.pk)).status_code == 404
    assert client.get(public(centre.slug, 2_000_000_000)).status_code == 404
    assert client.get(public(centre.slug), {"category": "abc"}).status_code == 200


def test_the_help_centre_never_shows_another_organisations_article(client, tenant_a, tenant_b):
    mine = knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "mine"})
    theirs = make_article(tenant_b, title="Other org secret")
    assert client.get(public(mine.slug, theirs.pk)).status_code == 404
    assert "Other org secret" not in client.get(public(mine.slug), {"q": "secret"}).content.decode()


def test_the_help_centre_refuses_when_service_is_off_or_it_is_private(client, tenant_a):
    centre = knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "acme"})
    article = make_article(tenant_a)
    knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"is_public": False})
    assert client.get(public(centre.slug)).status_code == 404
    knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"is_public": True})
    assert client.get(public(centre.slug, article.pk)).status_code == 200
    tenant_a.org.enabled_modules = ["customers"]
    tenant_a.org.save(update_fields=["enabled_modules"])
    response = client.get(public(centre.slug, article.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and "not available" in response.content.decode()
    assert client.get(public("no-such-centre")).status_code == 404


# Ticket panels ---------------------------------------------------------------------------------------


def test_the_ticket_panels_show_the_sla_clock_and_suggested_articles(tenant_a, settings):
    settings.SITE_URL = "https://crm.example.com/"
    make_policy(tenant_a, is_default=True)
    knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "acme"})
    article = make_article(tenant_a, title="如何申请退款", body="订单签收后七天内可以申请退款。")
    agent = tenant_a.users["service_agent"]
    ticket = make_ticket(tenant_a, agent, subject="订单申请退款多久到账", priority="urgent")
    panels = ticket_panels.panels_for(actor=agent, ticket=ticket)
    assert [p.key for p in panels] == ["sla_panel", "suggestions_panel"]
    sla, suggestions = (p.html for p in panels)
    assert 'data-testid="sla-panel"' in sla and 'data-sla="first_response"' in sla
    assert 'data-testid="sla-running"' in sla or 'data-testid="sla-warning"' in sla
    assert "如何申请退款" in suggestions
    assert f"https://crm.example.com/help/acme/{article.pk}/" in suggestions
    assert 'data-testid="insert-link"' in suggestions and "service/knowledge.js" in suggestions

    ticket.status = "pending"
    ticket.save(update_fields=["status"])
    sla_services.sla_sync(ticket=ticket)
    _title, html = sla_panels.sla_panel(actor=agent, ticket=ticket)
    assert 'data-testid="sla-paused"' in html and 'data-testid="sla-paused-badge"' in html


def test_panels_show_nothing_to_someone_who_cannot_see_the_ticket(tenant_a):
    ticket = make_ticket(tenant_a, tenant_a.users["service_manager"])
    rep = tenant_a.users["sales_rep"]
    assert sla_panels.sla_panel(actor=rep, ticket=ticket) is None
    assert knowledge_panels.suggestions_panel(actor=rep, ticket=ticket) is None
    assert ticket_panels.panels_for(actor=rep, ticket=ticket) == []
