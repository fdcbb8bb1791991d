"""The demo's calendar, SLA policies and knowledge base: made through the services, only once."""

import pytest

from kehu.core import audit, demo
from kehu.service.models import BusinessCalendar, CalendarDay, HelpCentre, KbArticle, KbCategory, SlaPolicy

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_calendar_two_policies_and_six_articles_and_is_idempotent(client):
    ctx = demo.build()
    org = ctx.organization
    calendar = BusinessCalendar.objects.get(organization=org, is_default=True)
    assert CalendarDay.objects.filter(calendar=calendar, date__year=2026).count() == 39
    assert set(SlaPolicy.objects.filter(organization=org).values_list("name", flat=True)) == {
        "重点客户 SLA",
        "标准 SLA",
    }
    assert SlaPolicy.objects.get(organization=org, is_default=True).name == "标准 SLA"
    assert KbCategory.objects.filter(organization=org).count() == 2
    assert KbArticle.objects.filter(organization=org, status="published").count() == 6
    assert HelpCentre.objects.get(organization=org).slug == "demo"
    assert client.get("/help/demo/").status_code == 200

    again = demo.build()
    assert not [c for c in again.changes if "SLA" in c or "article" in c or "holiday" in c or "help" in c]
    assert KbArticle.objects.filter(organization=org).count() == 6
    assert audit.verify() == []
