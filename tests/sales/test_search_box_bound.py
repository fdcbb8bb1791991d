"""The search box's bounded walk: record types that no index serves for the fragment (any fragment of a
quote or order) are searched among their newest records only, and when that walk did not see them all the
box links to the list, which searches every record. Opportunities and leads have their index for every
fragment (kehu/sales/search.py): the box finds all of theirs, without a link."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from kehu.core import search_backends
from kehu.core.search import global_search
from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Quote
from kehu.sales.lead_models import Lead
from kehu.sales.opportunity_models import Opportunity
from tests.sales.factories import make_opportunity
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def records(tenant_a):
    """Per type, one old record holding 饕大 (and 饕大科技 for 3+ characters) and four newer without it."""
    admin = tenant_a.admin
    now = timezone.now()
    old = now - timedelta(days=30)
    opportunity = make_opportunity(tenant_a, name="饕大科技项目")
    old_quote = services.quote_create(actor=admin, opportunity=opportunity, title="饕大科技 报价")
    lead = make_lead(tenant_a, name="饕大科技 王经理")
    for n in range(4):
        other = make_opportunity(tenant_a, name=f"普通项目{n}")
        services.quote_create(actor=admin, opportunity=other, title=f"普通报价{n}")
        make_lead(tenant_a, name=f"普通线索{n}")
    Opportunity.objects.filter(pk=opportunity.pk).update(updated_at=old)
    Quote.objects.filter(pk=old_quote.pk).update(updated_at=old)
    Lead.objects.filter(pk=lead.pk).update(updated_at=old)
    return {"Opportunities": opportunity, "Quotes": old_quote, "Leads": lead}


def box(actor, query):
    with translation.override("en"):
        return {str(label): hits for label, hits in global_search(actor=actor, query=query)}


def test_a_walk_that_sees_every_record_finds_the_old_ones_without_a_link(tenant_a, records):
    groups = box(tenant_a.admin, "饕大")
    for label, record in records.items():
        assert [hit.url for hit in groups[label]] == [record.get_absolute_url()]
        assert not groups[label].more_url


def test_a_budget_smaller_than_the_data_leaves_old_matches_to_the_list(tenant_a, records, monkeypatch):
    monkeypatch.setattr(search_backends, "BOX_WALK_ROWS", 3)
    for fragment in ("饕大", "饕大科技"):
        groups = box(tenant_a.admin, fragment)
        assert list(groups["Quotes"]) == []  # the old match is beyond the walk: not searched in the box
        assert groups["Quotes"].more_url == reverse("sales:quote_list") + "?search=" + quote(fragment)
        for label in ("Opportunities", "Leads"):  # indexed: searched in full whatever the budget
            assert [hit.url for hit in groups[label]] == [records[label].get_absolute_url()]
            assert not groups[label].more_url


def test_the_list_behind_the_link_finds_what_the_box_did_not(tenant_a, records, monkeypatch, client):
    monkeypatch.setattr(search_backends, "BOX_WALK_ROWS", 3)
    client.force_login(tenant_a.admin)
    page = client.get("/search/?q=" + quote("饕大"), **EN).content.decode()
    assert page.count('data-testid="search-more"') == 1  # quotes (no orders at all; the rest indexed)
    assert "More results in the Quotes list" in page
    url = box(tenant_a.admin, "饕大")["Quotes"].more_url
    listed = client.get(url, **EN).content.decode()
    assert records["Quotes"].number in listed


def test_a_walk_that_finds_enough_matches_has_no_link(tenant_a, records, monkeypatch):
    monkeypatch.setattr(search_backends, "BOX_WALK_ROWS", 3)
    with translation.override("en"):
        groups = {str(label): hits for label, hits in global_search(actor=tenant_a.admin, query="普通", limit=2)}
    assert len(groups["Quotes"]) == 2 and not groups["Quotes"].more_url
    assert len(box(tenant_a.admin, "普通")["Quotes"]) == 3  # limit 10: the walk's 3 rows
    assert box(tenant_a.admin, "普通")["Quotes"].more_url
    assert (
        len(box(tenant_a.admin, "普通")["Opportunities"]) == 4
        and not box(tenant_a.admin, "普通")["Opportunities"].more_url
    )
