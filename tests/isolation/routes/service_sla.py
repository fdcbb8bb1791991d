"""Service topic "sla" in the isolation matrix: business calendars and their days, SLA policies, the
knowledge base and satisfaction surveys (API and record pages)."""

from __future__ import annotations

from kehu.service import sla_services
from kehu.service.models import KbArticle
from tests.isolation.registry import api_route, exempt_ui, ui_page
from tests.service.sla_factories import make_article, make_calendar, make_category, make_policy, make_survey


def make_day(tenant):
    calendar = sla_services.ensure_default_calendar(tenant.org)
    existing = calendar.days.count()
    return sla_services.calendar_day_create(
        actor=tenant.admin, calendar=calendar, date=f"2030-01-{existing % 28 + 1:02d}", name="假日"
    )


def make_owned_draft(tenant, owner) -> KbArticle:
    """A draft written by `owner` (drafts follow the author's data scope; published articles are shared)."""
    article = make_article(tenant, publish=False)
    KbArticle.objects.filter(pk=article.pk).update(owner=owner, created_by=owner)
    article.refresh_from_db()
    return article


VERSIONED = {"name": "changed by another organisation", "version": 1}

api_route(
    list_url="/api/v1/business-calendars/",
    detail_url="/api/v1/business-calendars/{id}/",
    factory=make_calendar,
    module="service",
    detail_actions=("apply-holidays",),
    patch_data=VERSIONED,
)
api_route(
    list_url="/api/v1/holidays/",
    detail_url="/api/v1/holidays/{id}/",
    factory=make_day,
    module="service",
    patch_data=VERSIONED,
)
api_route(
    list_url="/api/v1/sla-policies/",
    detail_url="/api/v1/sla-policies/{id}/",
    factory=make_policy,
    module="service",
    detail_actions=("move",),
    patch_data=VERSIONED,
)
api_route(
    list_url="/api/v1/kb-categories/",
    detail_url="/api/v1/kb-categories/{id}/",
    factory=make_category,
    module="service",
    patch_data=VERSIONED,
)
api_route(
    list_url="/api/v1/kb-articles/",
    detail_url="/api/v1/kb-articles/{id}/",
    factory=make_article,
    module="service",
    detail_actions=("publish", "unpublish"),
    patch_data={"title": "changed by another organisation", "version": 1},
    owned_factory=make_owned_draft,
)
api_route(
    list_url="/api/v1/satisfaction/",
    detail_url="/api/v1/satisfaction/{id}/",
    factory=make_survey,
    module="service",
    owned_factory=lambda tenant, owner: make_survey(tenant, owner),
)

ui_page(
    list_url_name="service:sla_policies",
    detail_url_name="service:sla_policy_edit",
    post_url_names=("service:sla_policy_edit", "service:sla_policy_delete", "service:sla_policy_move"),
    factory=make_policy,
    module="service",
    post_data={**VERSIONED, "direction": "up"},
)
ui_page(
    list_url_name="service:calendars",
    detail_url_name="service:calendar_detail",
    get_url_names=("service:calendar_edit", "service:calendar_day_create"),
    post_url_names=(
        "service:calendar_edit",
        "service:calendar_delete",
        "service:calendar_apply_holidays",
        "service:calendar_day_create",
    ),
    factory=make_calendar,
    module="service",
    post_data={**VERSIONED, "year": 2026, "date": "2030-01-01", "kind": "holiday", "time_zone": "Asia/Shanghai"},
)
ui_page(
    list_url_name=None,
    detail_url_name="service:calendar_day_edit",
    post_url_names=("service:calendar_day_edit", "service:calendar_day_delete"),
    factory=make_day,
    module="service",
    post_data={**VERSIONED, "date": "2030-02-01", "kind": "holiday"},
)
ui_page(
    list_url_name="service:kb_list",
    detail_url_name="service:kb_detail",
    get_url_names=("service:kb_edit",),
    post_url_names=("service:kb_edit", "service:kb_publish", "service:kb_delete", "service:kb_restore"),
    factory=make_article,
    module="service",
    post_data={"title": "changed by another organisation", "body": "x", "version": 1, "action": "unpublish"},
)
ui_page(
    list_url_name="service:kb_categories",
    detail_url_name=None,
    post_url_names=("service:kb_category_edit", "service:kb_category_delete"),
    factory=make_category,
    module="service",
    post_data=VERSIONED,
)

exempt_ui(
    "help:article",
    "the public help centre: only published articles of the organisation named by the address, without login "
    "(tests/service/test_knowledge_views.py checks drafts, deleted articles and other organisations' ids)",
)
