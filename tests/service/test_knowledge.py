"""Knowledge base: writing, publishing, search (Chinese fragments of 1-2 characters included), suggestions
for a ticket, the recycle bin, visibility of drafts."""

from __future__ import annotations

import pytest

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.service import knowledge_selectors, knowledge_services, knowledge_text
from kehu.service.models import KbArticle
from tests.service.sla_factories import make_article, make_category


@pytest.fixture
def articles(tenant_a):
    billing = make_category(tenant_a, "发票与退款")
    return {
        "refund": make_article(
            tenant_a, title="如何申请退款", body="登录后在订单页面点击申请退款，三到五个工作日到账。", category=billing
        ),
        "invoice": make_article(
            tenant_a, title="开具增值税专用发票", body="在订单详情页申请发票，填写税号。", category=billing
        ),
        "password": make_article(
            tenant_a, title="忘记密码怎么办", body="点击忘记密码，输入邮箱 reset link sent by email."
        ),
        "draft": make_article(tenant_a, title="退款草稿", body="还没写完", publish=False),
    }


def titles(qs):
    return [a.title for a in qs]


def test_search_finds_one_and_two_chinese_characters_and_every_word(tenant_a, articles):
    actor = tenant_a.admin
    base = knowledge_selectors.article_list_for(actor=actor)
    assert set(titles(knowledge_selectors.matching(base, "退"))) == {"如何申请退款", "退款草稿"}
    assert set(titles(knowledge_selectors.matching(base, "发票"))) == {"开具增值税专用发票"}
    assert set(titles(knowledge_selectors.matching(base, "订单 发票"))) == {"开具增值税专用发票"}
    assert set(titles(knowledge_selectors.matching(base, "ＲＥＳＥＴ"))) == {"忘记密码怎么办"}  # full-width, any case
    assert titles(knowledge_selectors.matching(base, "不存在的词")) == []
    assert titles(knowledge_selectors.matching(base, "%")) == []  # LIKE wildcards are plain characters
    # Title matches rank first.
    ranked = titles(knowledge_selectors.ranked(base.filter(status="published"), "退款"))
    assert ranked[0] == "如何申请退款"


def test_suggestions_share_terms_and_say_which(tenant_a, articles):
    text = "您好，我上周的订单想申请退款，请问多久到账？"
    suggestions = knowledge_selectors.suggestions_for(actor=tenant_a.users["service_agent"], text=text)
    assert suggestions[0].article.title == "如何申请退款"
    assert "退款" in suggestions[0].shared and "您好" not in suggestions[0].shared
    assert all(s.article.status == "published" for s in suggestions)  # never the draft
    assert len(suggestions) <= 3
    assert knowledge_selectors.suggestions_for(actor=tenant_a.admin, text="您好，谢谢") == []
    assert knowledge_selectors.suggestions_for(actor=tenant_a.admin, text="") == []


def test_terms_are_chinese_bigrams_and_english_words():
    assert knowledge_text.terms("申请退款 refund the ORDER") >= {"申请", "请退", "退款", "refund", "order"}
    assert "the" not in knowledge_text.terms("the")


def test_body_renders_as_blocks_never_html():
    blocks = knowledge_text.blocks(
        "## 步骤\n- 第一步 <script>alert(1)</script>\n- 见 https://example.com/a\n\n第二段\n续行"
    )
    assert [b.kind for b in blocks] == ["h", "ul", "p"]
    assert blocks[1].lines[0][0].text == "第一步 <script>alert(1)</script>"  # text, escaped by the template
    assert blocks[1].lines[1][1].url == "https://example.com/a"
    assert len(blocks[2].lines) == 2


def test_drafts_follow_the_authors_scope_published_articles_are_shared(tenant_a):
    agent, other_agent = tenant_a.users["service_agent"], tenant_a.users["service_manager"]
    draft = make_article(tenant_a, agent, publish=False)
    published = make_article(tenant_a, agent)
    # The service agent's scope is "own": they see their draft; a read-only colleague sees only published ones.
    assert draft in knowledge_selectors.article_list_for(actor=agent)
    reader = tenant_a.users["read_only"]
    visible = set(knowledge_selectors.article_list_for(actor=reader))
    assert published in visible  # read_only has the whole organisation anyway
    assert knowledge_selectors.article_list_for(actor=tenant_a.users["sales_rep"]).count() == 0  # no service role
    mine = make_article(tenant_a, other_agent, publish=False)
    assert mine not in knowledge_selectors.article_list_for(actor=agent)
    with pytest.raises(NotFound):
        knowledge_services.kb_article_update(actor=agent, article=mine, expected_version=1, data={"title": "x"})


def test_publish_unpublish_edit_conflict_delete_restore_are_audited(tenant_a):
    agent = tenant_a.users["service_agent"]
    article = make_article(tenant_a, agent, publish=False)
    article = knowledge_services.kb_article_publish(actor=agent, article=article)
    assert article.is_published and article.published_at is not None
    article = knowledge_services.kb_article_update(
        actor=agent, article=article, expected_version=article.version, data={"body": "新的内容：退款规则"}
    )
    assert "退款规则" in article.search_text
    with pytest.raises(VersionConflict):
        knowledge_services.kb_article_update(actor=agent, article=article, expected_version=1, data={"title": "旧"})
    with pytest.raises(PermissionDenied):  # agents may not delete
        knowledge_services.kb_article_delete(actor=agent, article=article)
    knowledge_services.kb_article_delete(actor=tenant_a.admin, article=article)
    assert not knowledge_selectors.article_list_for(actor=tenant_a.admin).filter(pk=article.pk).exists()
    assert article in knowledge_selectors.article_recycle_bin_for(actor=tenant_a.admin)
    knowledge_services.kb_article_restore(actor=tenant_a.admin, article=article)
    assert knowledge_selectors.article_list_for(actor=tenant_a.admin).filter(pk=article.pk).exists()
    actions = set(
        AuditEntry.objects.filter(target_id=str(article.pk), target_type="service.kbarticle").values_list(
            "action", flat=True
        )
    )
    assert actions >= {"kb_article.create", "kb_article.update", "kb_article.delete", "kb_article.restore"}


def test_article_validation_names_fields(tenant_a):
    with pytest.raises(ValidationFailed) as exc:
        knowledge_services.kb_article_create(actor=tenant_a.admin, title="  ", body="x")
    assert "title" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        knowledge_services.kb_article_create(actor=tenant_a.admin, title="x", body="")
    assert "body" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        knowledge_services.kb_article_create(actor=tenant_a.admin, title="x", body="y", status="archived")
    assert "status" in exc.value.fields


def test_deleting_a_category_keeps_its_articles(tenant_a):
    category = make_category(tenant_a)
    article = make_article(tenant_a, category=category)
    assert knowledge_services.kb_category_delete(actor=tenant_a.admin, category=category) == 1
    article.refresh_from_db()
    assert article.category is None and article.deleted_at is None


def test_help_centre_address_rules(tenant_a, tenant_b):
    knowledge_services.help_centre_update(actor=tenant_b.admin, expected_version=None, data={"slug": "taken"})
    with pytest.raises(ValidationFailed) as exc:
        knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "taken"})
    assert "slug" in exc.value.fields
    with pytest.raises(ValidationFailed):
        knowledge_services.help_centre_update(actor=tenant_a.admin, expected_version=None, data={"slug": "-bad-"})
    with pytest.raises(PermissionDenied):
        knowledge_services.help_centre_update(
            actor=tenant_a.users["service_agent"], expected_version=None, data={"title": "x"}
        )
    centre = knowledge_services.help_centre_update(
        actor=tenant_a.admin, expected_version=None, data={"slug": "acme-help"}
    )
    assert centre.slug == "acme-help"
    assert KbArticle.objects.count() == 0
