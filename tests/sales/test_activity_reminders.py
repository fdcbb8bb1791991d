"""Reminders: the every-minute task notifies the owner in the app and by email (a real SMTP server), once,
even when it runs twice or twice at once."""

import threading
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from kehu.core.models import Notification
from kehu.sales import activity_services, activity_tasks
from kehu.sales.activity_models import Activity
from tests.customers.factories import make_customer
from tests.sales.activity_factories import make_activity

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_runs_the_reminders_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["sales.activity_reminders"]
    assert entry["task"] == activity_tasks.activity_reminders.name
    assert entry["schedule"] == timedelta(minutes=1)


def test_a_due_reminder_notifies_in_the_app_and_by_email_once(
    tenant_a, smtp_server, django_capture_on_commit_callbacks
):
    rep = tenant_a.users["sales_rep"]
    rep.language = "en"
    rep.save(update_fields=["language"])
    customer = make_customer(tenant_a, rep, name="上海云帆贸易有限公司")
    at = timezone.now() + timedelta(minutes=10)
    due = make_activity(
        tenant_a, rep, customer=customer, subject="Call about the quote", starts_at=at, remind_minutes_before=15
    )
    later = make_activity(tenant_a, rep, customer=customer, starts_at=at + timedelta(hours=3), remind_minutes_before=15)
    no_reminder = make_activity(tenant_a, rep, customer=customer, starts_at=at)

    with django_capture_on_commit_callbacks(execute=True):
        sent = activity_tasks.activity_reminders.apply().get()
    assert sent == 1

    note = Notification.objects.get(recipient=rep)
    assert "Call about the quote" in note.title and note.url == f"/sales/activities/{due.pk}/"
    assert "上海云帆贸易有限公司" in note.body
    (mail,) = smtp_server.wait_for(1)
    assert mail["X-RcptTo"] == rep.email
    assert "Call about the quote" in str(make_header(decode_header(mail["Subject"])))
    body = smtp_server.body(mail)
    assert f"{settings.SITE_URL.rstrip('/')}/sales/activities/{due.pk}/" in body
    local = timezone.localtime(at, timezone.get_fixed_timezone(8 * 60)).strftime("%Y-%m-%d %H:%M")
    assert local in body  # the time in the organisation's zone (Asia/Shanghai)
    due.refresh_from_db()
    assert due.reminded_at is not None
    for other in (later, no_reminder):
        other.refresh_from_db()
        assert other.reminded_at is None

    # Again (a retried run, or the next minute): nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        assert activity_tasks.activity_reminders.apply().get() == 0
    assert Notification.objects.filter(recipient=rep).count() == 1
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


def test_two_workers_with_the_same_batch_notify_once(tenant_a):
    """What two concurrent runs do: both read the same due reminders, then each claims them; the claim is a
    conditional UPDATE, so the second finds nothing left to claim."""
    rep = tenant_a.users["sales_rep"]
    make_activity(tenant_a, rep, starts_at=timezone.now() + timedelta(minutes=5), remind_minutes_before=10)
    now = timezone.now()
    first = activity_services._claim_batch(now)
    second = activity_services._claim_batch(now)
    assert len(first) == 1 and second == []


def test_done_cancelled_deleted_and_stale_reminders_notify_nobody(tenant_a):
    rep = tenant_a.users["sales_rep"]
    soon = timezone.now() + timedelta(minutes=5)
    done = make_activity(tenant_a, rep, starts_at=soon, remind_minutes_before=10)
    activity_services.activity_complete(actor=rep, activity=done)
    cancelled = make_activity(tenant_a, rep, starts_at=soon, remind_minutes_before=10)
    activity_services.activity_cancel(actor=rep, activity=cancelled)
    deleted = make_activity(tenant_a, rep, starts_at=soon, remind_minutes_before=10)
    activity_services.activity_delete(actor=tenant_a.admin, activity=deleted)
    stale = make_activity(tenant_a, rep, starts_at=timezone.now() - timedelta(days=2), remind_minutes_before=10)
    assert activity_services.activity_reminders_send() == 0
    assert not Notification.objects.filter(recipient=rep).exists()
    stale.refresh_from_db()
    assert stale.reminded_at is not None  # handled, so it is not looked at every minute


def test_an_owner_who_lost_access_is_not_reminded(tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_activity(tenant_a, rep, starts_at=timezone.now() + timedelta(minutes=5), remind_minutes_before=10)
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert activity_services.activity_reminders_send() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_on_postgresql_notify_each_reminder_once(tenant_a):
    rep = tenant_a.users["sales_rep"]
    for i in range(30):
        make_activity(tenant_a, rep, starts_at=timezone.now() + timedelta(minutes=5 + i), remind_minutes_before=10 + i)
    now = timezone.now() + timedelta(hours=1)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(activity_services.activity_reminders_send(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 30
    assert Notification.objects.filter(recipient=rep).count() == 30
    assert not Activity.objects.filter(organization=tenant_a.org, reminded_at__isnull=True).exists()
