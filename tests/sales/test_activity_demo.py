"""The demo activities: about twenty follow-ups of the demo sales people, some overdue, some today, made
once."""

import pytest
from django.utils import timezone

from kehu.core import audit, demo
from kehu.sales import activity_selectors as selectors
from kehu.sales.activity_models import Activity

pytestmark = pytest.mark.django_db


def test_the_demo_has_activities_for_the_reps_and_is_idempotent():
    ctx = demo.build()
    org = ctx.organization
    activities = Activity.objects.filter(organization=org)
    assert 18 <= activities.count() <= 24
    assert any("activities" in change for change in ctx.changes)
    rep = ctx.users["sales_rep"]
    day = selectors.my_day_for(actor=rep)
    assert day.overdue and (day.due_today or day.overdue) and day.upcoming
    assert activities.filter(status=Activity.Status.DONE).exists()
    assert activities.filter(remind_at__gt=timezone.now()).exists()
    assert {a.owner.email.split("@")[0] for a in activities.select_related("owner")} >= {
        "sales_rep",
        "sales_rep_2",
        "sales_manager",
    }
    # Logged calls moved their customers' last contact.
    done = activities.filter(status=Activity.Status.DONE).select_related("customer").first()
    assert done.customer.last_contacted_at >= done.done_at.replace(microsecond=0) - timezone.timedelta(hours=2)

    count = activities.count()
    again = demo.build()
    assert not [c for c in again.changes if "activities" in c]
    assert Activity.objects.filter(organization=org).count() == count
    assert audit.verify() == []
