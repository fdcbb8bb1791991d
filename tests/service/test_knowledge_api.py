"""/api/v1/kb-categories/ and /api/v1/kb-articles/."""

from __future__ import annotations

from kehu.service import knowledge_services
from tests.api.support import all_ids, assert_error
from tests.service.sla_factories import make_article, make_category, make_ticket

CATS = "/api/v1/kb-categories/"
ARTS = "/api/v1/kb-articles/"


def test_categories_crud_and_errors(api, tenant_a):
    client = api(tenant_a.admin)
    response = client.post(CATS, {"name": "账户"}, format="json")
    assert response.status_code == 201
    category = response.json()
    error = assert_error(client.post(CATS, {"name": "账户"}, format="json"), 400, "validation_failed")
    assert "name" in error["fields"]
    url = f"{CATS}{category['id']}/"
    assert client.patch(url, {"description": "登录问题", "version": 1}, format="json").json()["version"] == 2
    assert_error(client.patch(url, {"description": "x", "version": 1}, format="json"), 409, "version_conflict")
    assert_error(
        api(tenant_a.users["service_agent"]).post(CATS, {"name": "x"}, format="json"), 403, "permission_denied"
    )
    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404, "not_found")


def test_articles_crud_search_publish_and_conflicts(api, tenant_a, django_assert_max_num_queries):
    knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "acme"})
    category = make_category(tenant_a)
    agent = api(tenant_a.users["service_agent"])
    response = agent.post(
        ARTS, {"title": "如何申请退款", "body": "订单页面点击申请退款。", "category": category.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    article = response.json()
    assert article["status"] == "draft" and article["public_url"] is None
    assert article["author"]["id"] == tenant_a.users["service_agent"].pk
    url = f"{ARTS}{article['id']}/"
    published = agent.post(f"{url}publish/").json()
    assert published["status"] == "published" and published["public_url"].endswith(f"/help/acme/{article['id']}/")
    assert_error(agent.patch(url, {"title": "旧", "version": 1}, format="json"), 409, "version_conflict")
    assert agent.patch(url, {"title": "退款流程", "version": published["version"]}, format="json").status_code == 200
    for n in range(5):
        make_article(tenant_a, title=f"其他 {n}", body="密码与登录")
    with django_assert_max_num_queries(8):
        results = agent.get(f"{ARTS}?search=退").json()["results"]
    assert [a["id"] for a in results] == [article["id"]]
    assert all_ids(agent, f"{ARTS}?search=退款 流程") == [article["id"]]
    assert all_ids(agent, f"{ARTS}?category={category.pk}") == [article["id"]]
    assert len(all_ids(agent, f"{ARTS}?status=published")) == 6
    assert_error(agent.get(f"{ARTS}?status=archived"), 400, "validation_failed")
    assert agent.post(f"{url}unpublish/").json()["status"] == "draft"
    # Agents may not delete; administrators move to the recycle bin.
    assert_error(agent.delete(url), 403, "permission_denied")
    assert api(tenant_a.admin).delete(url).status_code == 204
    assert_error(agent.get(url), 404, "not_found")


def test_article_input_errors(api, tenant_a, tenant_b):
    client = api(tenant_a.admin)
    error = assert_error(client.post(ARTS, {"title": "", "body": ""}, format="json"), 400, "validation_failed")
    assert {"title", "body"} <= set(error["fields"])
    theirs = make_category(tenant_b)
    error = assert_error(
        client.post(ARTS, {"title": "x", "body": "y", "category": theirs.pk}, format="json"), 400, "validation_failed"
    )
    assert "category" in error["fields"]
    error = assert_error(
        client.post(ARTS, {"title": "x", "body": "y", "status": "gone"}, format="json"), 400, "validation_failed"
    )
    assert "status" in error["fields"]


def test_suggest_by_text_or_ticket(api, tenant_a, tenant_b):
    article = make_article(tenant_a, title="如何申请退款", body="订单签收后七天内可以申请退款。")
    make_article(tenant_a, title="开具发票", body="订单详情页申请发票。")
    client = api(tenant_a.users["service_agent"])
    response = client.get(f"{ARTS}suggest/", {"text": "我要申请退款"})
    assert response.status_code == 200
    body = response.json()
    assert body[0]["article"]["id"] == article.pk and "退款" in body[0]["shared"]
    ticket = make_ticket(tenant_a, subject="申请退款怎么操作")
    assert client.get(f"{ARTS}suggest/", {"ticket": ticket.pk}).json()[0]["article"]["id"] == article.pk
    assert_error(client.get(f"{ARTS}suggest/"), 400, "validation_failed")
    theirs = make_ticket(tenant_b)
    assert_error(client.get(f"{ARTS}suggest/", {"ticket": theirs.pk}), 404, "not_found")
