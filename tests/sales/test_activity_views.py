"""The pages: my day (quick complete with htmx, quick log), the calendar, the list with filters and
sorting, the form (errors keep the input; a conflict keeps it too), the activity page, the recycle bin,
and the customer page's panel, button and timeline."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.sales import activity_services as services
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_contact, make_customer
from tests.customers.pages import customer_page
from tests.sales.activity_factories import make_activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(tenant_a):
    user = tenant_a.users["sales_rep"]
    user.language = "en"  # the texts asserted below are the English source strings
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def html(response) -> str:
    return response.content.decode()


def local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


# My day ----------------------------------------------------------------------------------------------------


def test_my_day_shows_the_buckets_and_is_in_the_navigation(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep, name="青禾软件")
    make_activity(
        tenant_a, rep, customer=customer, subject="overdue call", starts_at=timezone.now() - timedelta(days=1)
    )
    make_activity(
        tenant_a, rep, customer=customer, subject="next week visit", starts_at=timezone.now() + timedelta(days=3)
    )
    body = html(rep_client.get(reverse("sales:my_day")))
    assert f'href="{reverse("sales:my_day")}"' in body and "My day" in body
    overdue = body.split('data-testid="bucket-overdue"', 1)[1].split("</section>", 1)[0]
    assert "overdue call" in overdue and "青禾软件" in overdue
    upcoming = body.split('data-testid="bucket-upcoming"', 1)[1].split("</section>", 1)[0]
    assert "next week visit" in upcoming
    assert 'data-testid="quick-log"' in body


def test_a_full_bucket_shows_its_first_rows_and_links_to_the_whole_list(rep_client, rep, tenant_a, monkeypatch):
    from kehu.sales import activity_selectors

    monkeypatch.setattr(activity_selectors, "MY_DAY_BUCKET_LIMIT", 3)
    customer = make_customer(tenant_a, rep, name="青禾软件")
    for day in range(1, 5):
        make_activity(
            tenant_a, rep, customer=customer, subject=f"visit {day}", starts_at=timezone.now() + timedelta(days=day)
        )
    body = html(rep_client.get(reverse("sales:my_day")))
    upcoming = body.split('data-testid="bucket-upcoming"', 1)[1].split("</section>", 1)[0]
    assert [f"visit {day}" in upcoming for day in range(1, 5)] == [True, True, True, False]  # soonest first
    assert "3+" in upcoming
    link = re.search(r'href="([^"]+)" data-testid="see-all-upcoming"', upcoming).group(1).replace("&amp;", "&")
    listed = html(rep_client.get(link))
    assert all(f"visit {day}" in listed for day in range(1, 5))
    assert 'data-testid="see-all-today"' not in body  # a bucket under its limit has no link


def test_my_day_rows_cost_no_query_whatever_they_link_to(rep_client, rep, tenant_a, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.sales.factories import make_opportunity
    from tests.sales.lead_factories import make_lead

    customer = make_customer(tenant_a, rep, name="青禾软件")
    make_activity(tenant_a, rep, customer=customer, subject="plain call")
    rep_client.get(reverse("sales:my_day"))
    with CaptureQueriesContext(connection) as one:
        rep_client.get(reverse("sales:my_day"))
    contact = make_contact(tenant_a, customer, name="李强")
    opportunity = make_opportunity(tenant_a, rep, customer=customer, name="青禾二期")
    make_activity(tenant_a, rep, customer=customer, contact=contact, subject="with contact")
    make_activity(tenant_a, rep, opportunity=opportunity, subject="on the deal")
    make_activity(tenant_a, rep, lead=make_lead(tenant_a, rep, name="周建华", company="博远"), subject="lead call")
    make_activity(tenant_a, rep, customer=customer, subject="done", status="done")
    with django_assert_num_queries(len(one.captured_queries)):
        body = html(rep_client.get(reverse("sales:my_day")))
    for text in ("李强", "青禾二期", "周建华 (博远)", "with contact", "done"):
        assert text in body


def test_my_day_empty_state(rep_client):
    body = html(rep_client.get(reverse("sales:my_day")))
    assert 'data-testid="empty"' in body and "Nothing is due" in body


def test_quick_complete_with_htmx_returns_the_done_row(rep_client, rep, tenant_a):
    call = make_activity(tenant_a, rep, subject="call back", starts_at=timezone.now() - timedelta(hours=1))
    response = rep_client.post(
        reverse("sales:activity_complete", args=[call.pk]), {"next": "/sales/my-day/"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = html(response)
    assert body.lstrip().startswith("<li") and 'data-status="done"' in body and "call back" in body
    call.refresh_from_db()
    assert call.status == Activity.Status.DONE
    # Completing again (another tab): the row comes back with the reason, nothing changes.
    again = rep_client.post(reverse("sales:activity_complete", args=[call.pk]), HTTP_HX_REQUEST="true")
    assert 'data-testid="row-note"' in html(again) and "already done" in html(again)
    assert AuditEntry.objects.filter(action="activity.complete", target_id=str(call.pk)).count() == 1


def test_quick_log_of_a_call_from_my_day(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    response = rep_client.post(
        reverse("sales:activity_log"),
        {
            "customer": customer.pk,
            "kind": "call",
            "subject": "询价电话",
            "outcome": "下周报价",
            "next": "/sales/my-day/",
        },
    )
    assert response.status_code == 302 and response.url == "/sales/my-day/"
    activity = Activity.objects.get(subject="询价电话")
    assert activity.status == Activity.Status.DONE and activity.owner == rep and activity.outcome == "下周报价"
    customer.refresh_from_db()
    assert customer.last_contacted_at is not None


def test_quick_log_errors_keep_the_input(rep_client, rep, tenant_a):
    response = rep_client.post(reverse("sales:activity_log"), {"kind": "call", "subject": "", "outcome": "记下了"})
    assert response.status_code == 400
    body = html(response)
    assert 'data-testid="error-subject"' in body and "记下了" in body
    assert "Link the activity to a customer" not in body or 'data-testid="form-error"' in body


# Calendar --------------------------------------------------------------------------------------------------


def test_the_calendar_views_and_navigation(rep_client, rep, tenant_a):
    when = timezone.localtime(timezone.now()).replace(hour=10, minute=0, second=0, microsecond=0)
    call = make_activity(tenant_a, rep, subject="calendar call", starts_at=when)
    day = when.date().isoformat()
    for view in ("month", "week", "day"):
        response = rep_client.get(reverse("sales:activity_calendar"), {"view": view, "date": day})
        body = html(response)
        assert response.status_code == 200 and f'data-testid="calendar-{view}"' in body
        assert "calendar call" in body and reverse("sales:activity_detail", args=[call.pk]) in body
        assert 'rel="prev"' in body and 'rel="next"' in body
    day_body = html(rep_client.get(reverse("sales:activity_calendar"), {"view": "day", "date": day}))
    assert 'data-hour="10"' in day_body.split("calendar call")[0].rsplit("<td", 1)[1]
    # A bad date is today, not an error.
    assert rep_client.get(reverse("sales:activity_calendar"), {"date": "2026-02-31", "view": "x"}).status_code == 200


def test_a_manager_picks_a_colleagues_calendar_a_rep_cannot(rep_client, rep, tenant_a):
    colleague = tenant_a.users["sales_rep_2"]
    make_activity(tenant_a, colleague, subject="colleague meeting", starts_at=timezone.now() + timedelta(minutes=30))
    client = Client()
    client.force_login(tenant_a.users["sales_manager"])
    body = html(client.get(reverse("sales:activity_calendar"), {"view": "week", "user": colleague.pk}))
    assert "colleague meeting" in body and 'data-testid="calendar-user"' in body
    assert "colleague meeting" in html(client.get(reverse("sales:activity_calendar"), {"view": "week", "user": "all"}))
    rep_body = html(rep_client.get(reverse("sales:activity_calendar"), {"view": "week", "user": colleague.pk}))
    assert "colleague meeting" not in rep_body and 'data-testid="calendar-user"' not in rep_body


# List ------------------------------------------------------------------------------------------------------


def test_the_list_filters_and_sorts(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep, name="恒通精密")
    make_activity(
        tenant_a,
        rep,
        customer=customer,
        subject="visit one",
        kind="visit",
        starts_at=timezone.now() + timedelta(days=2),
    )
    make_activity(tenant_a, rep, subject="a call", starts_at=timezone.now() + timedelta(days=1))
    services.activity_log(actor=rep, subject="done email", kind="email", customer=customer)
    url = reverse("sales:activity_list")

    body = html(rep_client.get(url))
    assert body.index("visit one") < body.index("a call") < body.index("done email")  # latest first
    ascending = html(rep_client.get(url, {"ordering": "scheduled_at"}))
    assert ascending.index("done email") < ascending.index("a call") < ascending.index("visit one")
    visits = html(rep_client.get(url, {"kind": "visit"}))
    assert "visit one" in visits and "a call" not in visits
    done = html(rep_client.get(url, {"status": "done"}))
    assert "done email" in done and "visit one" not in done
    of_customer = html(rep_client.get(url, {"customer": customer.pk}))
    assert "visit one" in of_customer and "a call" not in of_customer and 'data-testid="linked-filter"' in of_customer
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    ranged = html(rep_client.get(url, {"date_from": tomorrow, "date_to": tomorrow}))
    assert "a call" in ranged and "visit one" not in ranged
    searched = html(rep_client.get(url, {"search": "恒通"}))
    assert "visit one" in searched and "a call" not in searched
    bad = rep_client.get(url, {"date_from": tomorrow, "date_to": "2000-01-01", "ordering": "password"})
    assert bad.status_code == 200 and 'data-testid="filter-errors"' in html(bad)
    empty = html(rep_client.get(url, {"kind": "meeting"}))
    assert 'data-testid="empty"' in empty and "No activities match these filters." in empty


def test_the_list_pages_with_a_cursor(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    for i in range(55):
        make_activity(
            tenant_a, rep, customer=customer, subject=f"item {i:02d}", starts_at=timezone.now() + timedelta(hours=i)
        )
    first = html(rep_client.get(reverse("sales:activity_list")))
    assert "item 54" in first and "item 04" not in first
    cursor = re.search(r'href="\?[^"]*cursor=([^"&]+)[^"]*" rel="next"', first).group(1)
    second = html(rep_client.get(reverse("sales:activity_list"), {"cursor": cursor}))
    assert "item 04" in second and "item 54" not in second


def test_the_list_needs_a_bounded_number_of_queries(rep_client, rep, tenant_a, django_assert_max_num_queries):
    customer = make_customer(tenant_a, rep)
    contact = make_contact(tenant_a, customer)
    for i in range(20):
        make_activity(tenant_a, rep, customer=customer, contact=contact, starts_at=timezone.now() + timedelta(hours=i))
    with django_assert_max_num_queries(12):
        response = rep_client.get(reverse("sales:activity_list"))
    assert response.status_code == 200


# Form ------------------------------------------------------------------------------------------------------


def test_plan_from_a_customer_page_link_and_come_back(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep, name="云帆贸易")
    contact = make_contact(tenant_a, customer, name="李强")
    back = reverse("customers:detail", args=[customer.pk])
    form = html(rep_client.get(reverse("sales:activity_create"), {"customer": customer.pk, "next": back}))
    assert f'<option value="{customer.pk}" selected>云帆贸易</option>' in form
    assert f'<option value="{contact.pk}">李强</option>' in form
    starts = timezone.localtime(timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = rep_client.post(
        reverse("sales:activity_create"),
        {
            "kind": "visit",
            "subject": "上门拜访",
            "status": "planned",
            "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "90",
            "remind": "30",
            "customer": customer.pk,
            "contact": contact.pk,
            "next": back,
        },
    )
    assert response.status_code == 302 and response.url == back
    visit = Activity.objects.get(subject="上门拜访")
    assert visit.starts_at == starts and visit.remind_at == starts - timedelta(minutes=30)
    assert visit.contact == contact and visit.duration_minutes == 90


def test_form_errors_keep_the_input_and_name_the_field(rep_client, rep, tenant_a, tenant_b):
    theirs = make_customer(tenant_b)
    response = rep_client.post(
        reverse("sales:activity_create"),
        {"kind": "call", "subject": "保留我", "status": "planned", "customer": theirs.pk, "notes": "备注也保留"},
    )
    assert response.status_code == 400
    body = html(response)
    assert 'data-testid="error-customer"' in body and "not visible to you" in body
    assert 'value="保留我"' in body and "备注也保留" in body
    no_time = rep_client.post(
        reverse("sales:activity_create"),
        {"kind": "call", "subject": "x", "status": "planned", "customer": make_customer(tenant_a, rep).pk},
    )
    assert no_time.status_code == 400 and 'data-testid="error-starts_at"' in html(no_time)
    assert not Activity.objects.exists()


def test_an_edit_over_someone_elses_change_is_a_conflict_that_keeps_the_input(rep_client, rep, tenant_a):
    call = make_activity(tenant_a, rep, subject="original")
    services.activity_update(actor=tenant_a.admin, activity=call, expected_version=1, data={"subject": "admin's"})
    data = {
        "version": 1,
        "kind": "call",
        "subject": "mine",
        "starts_at": local(call.starts_at),
        "customer": call.customer_id,
    }
    response = rep_client.post(reverse("sales:activity_edit", args=[call.pk]), data)
    assert response.status_code == 409
    body = html(response)
    assert 'value="mine"' in body and 'name="version" value="2"' in body and "Someone else changed" in body
    saved = rep_client.post(reverse("sales:activity_edit", args=[call.pk]), {**data, "version": 2})
    assert saved.status_code == 302
    call.refresh_from_db()
    assert call.subject == "mine" and call.version == 3


# The activity page -----------------------------------------------------------------------------------------


def test_complete_with_an_outcome_then_reopen(rep_client, rep, tenant_a):
    call = make_activity(tenant_a, rep)
    page = html(rep_client.get(reverse("sales:activity_detail", args=[call.pk])))
    assert 'data-testid="complete-form"' in page and 'data-testid="delete-activity"' not in page  # reps: no delete
    rep_client.post(reverse("sales:activity_complete", args=[call.pk]), {"version": 1, "outcome": "客户同意签约"})
    page = html(rep_client.get(reverse("sales:activity_detail", args=[call.pk])))
    assert "客户同意签约" in page and 'data-testid="reopen-activity"' in page
    rep_client.post(reverse("sales:activity_reopen", args=[call.pk]), {"version": 2})
    call.refresh_from_db()
    assert call.status == Activity.Status.PLANNED


def test_delete_asks_first_and_the_recycle_bin_restores(client, tenant_a):
    manager = tenant_a.users["sales_manager"]
    client.force_login(manager)
    call = make_activity(tenant_a, tenant_a.users["sales_rep"], subject="to delete")
    page = html(client.get(reverse("sales:activity_detail", args=[call.pk])))
    assert "data-confirm=" in page.split('data-testid="delete-activity"')[0].rsplit("<form", 1)[1]
    client.post(reverse("sales:activity_delete", args=[call.pk]))
    assert client.get(reverse("sales:activity_detail", args=[call.pk])).status_code == 404
    bin_page = html(client.get(reverse("sales:activity_recycle_bin")))
    assert "to delete" in bin_page
    response = client.post(reverse("sales:activity_restore", args=[call.pk]))
    assert response.status_code == 302
    assert client.get(reverse("sales:activity_detail", args=[call.pk])).status_code == 200


def test_another_reps_activity_is_not_found(rep_client, tenant_a):
    theirs = make_activity(tenant_a, tenant_a.users["sales_rep_2"])
    assert rep_client.get(reverse("sales:activity_detail", args=[theirs.pk])).status_code == 404
    assert rep_client.post(reverse("sales:activity_complete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Activity.Status.PLANNED


def test_contact_options_for_the_chosen_customer(rep_client, rep, tenant_a, tenant_b):
    customer = make_customer(tenant_a, rep)
    make_contact(tenant_a, customer, name="王磊")
    body = html(rep_client.get(reverse("sales:activity_contact_options"), {"customer": customer.pk}))
    assert "王磊" in body
    other = make_customer(tenant_b)
    make_contact(tenant_b, other, name="外人")
    assert "外人" not in html(rep_client.get(reverse("sales:activity_contact_options"), {"customer": other.pk}))


# The customer page -----------------------------------------------------------------------------------------


def test_the_customer_page_has_the_panel_the_button_and_activities_on_the_timeline(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    make_activity(
        tenant_a, rep, customer=customer, subject="planned follow-up", starts_at=timezone.now() + timedelta(days=1)
    )
    services.activity_log(actor=rep, subject="first call", customer=customer, outcome="interested")
    body = customer_page(rep_client, customer)
    assert 'data-testid="log-activity-link"' in body and 'data-testid="activity-panel"' in body
    panel = body.split('data-testid="activity-panel"', 1)[1].split("</section>", 1)[0]
    assert "planned follow-up" in panel and "first call" in panel
    timeline = body.split('data-testid="timeline"', 1)[1]
    assert 'data-kind="activity.call"' in timeline and "Call: first call" in timeline and "interested" in timeline
    assert "Planned Call for" in timeline


def test_the_panels_quick_log_with_htmx_returns_the_panel(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, rep)
    url = reverse("customers:detail", args=[customer.pk])
    response = rep_client.post(
        reverse("sales:activity_log"),
        {"panel_customer": customer.pk, "customer": customer.pk, "kind": "visit", "subject": "visited", "next": url},
        HTTP_HX_REQUEST="true",
    )
    body = html(response)
    assert response.status_code == 200 and body.lstrip().startswith("<section") and "Logged “visited”" in body
    assert Activity.objects.get(subject="visited").customer == customer


def test_no_panel_when_sales_is_not_enabled(client, tenant_a):
    org = tenant_a.org
    org.enabled_modules = [m for m in org.enabled_modules if m != "sales"]
    org.save(update_fields=["enabled_modules"])
    client.force_login(tenant_a.admin)
    customer = Customer.objects.get(pk=make_customer(tenant_a).pk)
    body = customer_page(client, customer)
    assert 'data-testid="activity-panel"' not in body and 'data-testid="log-activity-link"' not in body


def test_pages_are_chinese_by_default(client, tenant_a):
    client.force_login(tenant_a.users["sales_rep"])
    body = html(client.get(reverse("sales:my_day")))
    assert "我的一天" in body and "记录一次电话" in body


def test_an_absolute_reminder_shows_in_the_edit_form_and_survives_a_save(rep_client, rep, tenant_a):
    at = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)
    call = make_activity(tenant_a, rep, starts_at=at, remind_at=at - timedelta(minutes=45))
    assert call.remind_minutes_before is None
    body = html(rep_client.get(reverse("sales:activity_edit", args=[call.pk])))
    assert '<option value="45" selected>45 minutes before</option>' in body
    data = {
        "version": 1,
        "kind": "call",
        "subject": "renamed",
        "starts_at": local(at),
        "remind": "45",
        "customer": call.customer_id,
    }
    assert rep_client.post(reverse("sales:activity_edit", args=[call.pk]), data).status_code == 302
    call.refresh_from_db()
    assert call.remind_at == at - timedelta(minutes=45) and call.subject == "renamed"


def test_quick_complete_in_a_panel_keeps_the_compact_row(rep_client, rep, tenant_a):
    call = make_activity(tenant_a, rep)
    response = rep_client.post(
        reverse("sales:activity_complete", args=[call.pk]),
        {"compact": "1", "next": "/customers/1/"},
        HTTP_HX_REQUEST="true",
    )
    body = html(response)
    assert 'data-status="done"' in body and " px-0" in body
