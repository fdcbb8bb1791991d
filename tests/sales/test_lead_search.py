"""The lead search walks the newest leads before asking the trigram indexes (a fragment most leads hold was
slow through the indexes alone): whatever the walk's budget, the same leads, pages and scope."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from kehu.core import search_backends
from kehu.core.search import global_search
from kehu.sales import lead_selectors
from kehu.sales.lead_models import Lead
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def leads(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    now = timezone.now()
    made = []
    for n in range(9):
        owner = rep if n % 2 else rep2
        company = "星辰有限公司" if n % 3 else "月亮工作室"
        lead = make_lead(tenant_a, owner, name=f"联系人{n}", company=company, phone=f"1380013{n:04d}")
        Lead.objects.filter(pk=lead.pk).update(updated_at=now - timedelta(minutes=n))
        made.append(lead)
    return made  # made[0] is the newest


def paged(client, url: str) -> list[int]:
    """The ids of every page of a list, following its next links."""
    ids, next_url = [], url
    while next_url:
        body = client.get(next_url).json()
        ids += [item["id"] for item in body["results"]]
        next_url = body["next"]
    return ids


def expected(leads, actor, fragment):
    return [lead.pk for lead in leads if fragment in lead.company and (actor is None or lead.owner_id == actor.pk)]


@pytest.mark.parametrize("budget", [None, (1, 8, 8000), (2, 1, 4), (3, 1, 100)])
def test_every_walk_budget_pages_through_the_same_leads(tenant_a, api, leads, monkeypatch, budget):
    if budget:
        real = search_backends.walk_then_index

        def tight(*args, **kwargs):
            kwargs.update(walk_rows=budget[0], min_sample=budget[1], max_walk_rows=budget[2])
            return real(*args, **kwargs)

        monkeypatch.setattr(search_backends, "walk_then_index", tight)
    admin, rep = tenant_a.admin, tenant_a.users["sales_rep"]
    assert paged(api(admin), f"{API}/leads/?search={quote('有限公司')}&limit=2") == expected(leads, None, "有限公司")
    assert paged(api(rep), f"{API}/leads/?search={quote('有限公司')}&limit=2") == expected(leads, rep, "有限公司")
    assert paged(api(rep), f"{API}/leads/?search={quote('月亮')}&limit=1") == expected(leads, rep, "月亮")
    page = lead_selectors.lead_list_for(actor=admin, filters={"search": "星辰"}, limit=3)
    assert [lead.pk for lead in page.items] == expected(leads, None, "星辰")[:3]
    back = lead_selectors.lead_list_for(actor=admin, filters={"search": "星辰"}, limit=3, cursor=page.next_cursor)
    previous = lead_selectors.lead_list_for(
        actor=admin, filters={"search": "星辰"}, limit=3, cursor=back.previous_cursor
    )
    assert [lead.pk for lead in previous.items] == [lead.pk for lead in page.items]
    box = {str(label): [hit.url for hit in hits] for label, hits in global_search(actor=rep, query="有限公司")}
    mine = [lead.get_absolute_url() for lead in leads if lead.pk in expected(leads, rep, "有限公司")]
    assert [url for url in box.get("Leads", box.get("线索", [])) if "/leads/" in url] == mine


def test_the_box_shows_a_leads_company_phone_and_status(tenant_a, leads):
    hits = lead_selectors.search_provider(actor=tenant_a.admin, query="0013 0004")
    assert [(hit.title, hit.url) for hit in hits] == [("联系人4", leads[4].get_absolute_url())]
    assert hits[0].subtitle.startswith("星辰有限公司 · 138")
