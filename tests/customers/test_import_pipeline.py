"""The import engine reads, maps and checks chunk N+1 in a worker thread while chunk N is written
(kehu.core.imports._prepared_chunks, the customers adapter's prepare()): the outcomes must be exactly those
of checking each chunk in the writing thread, duplicates across chunk boundaries included."""

from __future__ import annotations

import csv
import io
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.utils import translation

from kehu.core import imports
from kehu.core.import_models import ImportJob, ImportRow
from kehu.core.models import AuditEntry
from kehu.customers.importing import ADAPTER
from kehu.customers.models import Contact, Customer
from tests.customers.factories import make_customer

HEADER = ["客户名称", "电话", "邮箱", "省份", "城市", "等级", "来源", "标签", "联系人", "负责人"]
# With chunks of 3 rows: row numbers 2-4, 5-7, 8-10, 11-12.
ROWS = [
    ["甲公司", "13800000001", "a@x.cn", "广东", "深圳", "A", "官网", "重点", "张三", ""],
    ["乙公司", "13800000002", "", "", "", "", "", "", "", ""],
    ["坏电话", "12345", "", "", "", "", "", "", "", ""],
    ["甲公司分部", "+86 138 0000 0001", "", "浙江", "", "B", "", "华南", "李四", ""],  # row 2's phone
    ["乙公司", "13800000002", "", "", "", "", "", "", "", ""],  # the same as row 3
    ["老客户", "13800000099", "", "北京", "", "", "", "", "王五", ""],  # an existing customer
    ["", "", "", "", "", "", "", "", "", ""],  # empty
    ["丙公司", "", "c@x.cn", "", "", "Z", "", "", "", ""],  # bad tier
    ["丁公司", "", "d@x.cn", "", "", "", "展会", "", "赵六", ""],
    ["戊公司", "", "D@X.CN", "", "", "", "", "", "", ""],  # row 10's email
    ["己公司", "13800000006", "", "", "", "", "", "", "", "nobody@nowhere.test"],  # unknown owner
]


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("gb18030")


def import_file(actor, rows, policy, capture) -> ImportJob:
    job = imports.import_job_create(actor=actor, record_type="customers", upload=ContentFile(csv_bytes(rows), "c.csv"))
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    with capture(execute=True):
        imports.import_job_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


def outcome_of(tenant, job: ImportJob) -> dict:
    """What an import did, without ids (two tenants are compared)."""
    names = dict(Customer.objects.filter(organization=tenant.org).values_list("pk", "name"))
    customers = {
        c.name: (
            c.phone_normalized,
            c.email_normalized,
            c.province,
            c.tier,
            c.version,
            sorted(c.tags.values_list("name", flat=True)),
            sorted(Contact.objects.filter(customer=c).values_list("name", "is_primary")),
        )
        for c in Customer.objects.filter(organization=tenant.org)
    }
    rows = [
        (r.row_number, r.outcome, r.message, names.get(r.record_id), r.data)
        for r in ImportRow.objects.filter(job=job).order_by("row_number")
    ]
    audit = [
        e.changes for e in AuditEntry.objects.filter(organization=tenant.org, action="customers.import").order_by("pk")
    ]
    counts = (job.status, job.created_count, job.updated_count, job.skipped_count, job.error_count)
    return {"counts": counts, "rows": rows, "customers": customers, "audit": audit}


@pytest.mark.parametrize("policy", ["skip", "update", "create"])
def test_checking_ahead_in_a_thread_gives_the_same_outcomes(
    tenant_a, tenant_b, policy, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    results = []
    with translation.override("en"):  # the worker thread must check in the task's language, not the default
        for tenant, ahead in ((tenant_a, False), (tenant_b, True)):
            monkeypatch.setattr(imports, "PREPARE_AHEAD", ahead)
            rep = tenant.users["sales_rep"]
            make_customer(tenant, owner=rep, name="老客户", phone="13800000099")
            job = import_file(rep, ROWS, policy, django_capture_on_commit_callbacks)
            results.append(outcome_of(tenant, job))
    unprepared, prepared = results

    assert prepared == unprepared
    rows = {number: (outcome, message) for number, outcome, message, _name, _data in prepared["rows"]}
    assert rows[6] == ("skipped", "Already imported.")  # the same as row 3, of the chunk before
    assert rows[8] == ("skipped", "Empty row.")
    assert "phone:" in rows[4][1] and "tier:" in rows[9][1]  # bad rows, with their reasons in English
    if policy == "skip":  # the phone of a customer the chunk before created: matched, not created twice
        assert rows[5] == ("skipped", "Matches an existing customer.")
        assert rows[11] == ("skipped", "Matches an existing customer.")  # row 10's email, in the same chunk
    assert len(prepared["audit"]) == 4  # one entry per chunk


def test_a_prepare_that_reads_the_database_leaves_the_chunk_to_the_writing_thread(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    """prepare() runs outside the chunk's transaction: a query there is refused and the chunk is checked
    by process_chunk as if nothing had been prepared."""
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    calls = []

    def reads_the_database(*, actor, job, rows, state):
        for row in rows:
            row.prepared = "not what process_chunk expects"
        calls.append(threading.current_thread().name)
        Customer.objects.count()

    monkeypatch.setattr(ADAPTER, "prepare", reads_the_database)
    rep = tenant_a.users["sales_rep"]
    job = import_file(rep, ROWS, "skip", django_capture_on_commit_callbacks)

    assert calls and all(name.startswith("import-") for name in calls)  # in the worker thread
    assert (job.status, job.created_count, job.error_count) == (ImportJob.Status.DONE, 4, 3)


def test_an_error_reading_ahead_fails_the_job_after_the_chunks_before_it_and_resume_finishes(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    original = imports.pending_rows
    made = []

    def third_chunk_unreadable(job, chunk):
        made.append(chunk[0][0])
        if len(made) == 3:
            raise RuntimeError("disk gone")
        return original(job, chunk)

    monkeypatch.setattr(imports, "pending_rows", third_chunk_unreadable)
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(RuntimeError):
        import_file(rep, ROWS, "skip", django_capture_on_commit_callbacks)
    job = ImportJob.objects.get(organization=tenant_a.org)
    # The two chunks read before the error were written and checkpointed; nothing of the third.
    assert (job.status, job.processed_rows, job.message) == (ImportJob.Status.FAILED, 6, "disk gone")
    assert ImportRow.objects.filter(job=job).count() == 6
    assert not [t for t in threading.enumerate() if t.name.startswith("import-")]  # the worker has ended

    monkeypatch.setattr(imports, "pending_rows", original)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_resume(actor=rep, job=job)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count, job.error_count) == (ImportJob.Status.DONE, 11, 4, 3)
    assert Customer.objects.filter(organization=tenant_a.org).count() == 4
    assert ImportRow.objects.filter(job=job).count() == 11


def test_a_failing_chunk_stops_the_worker_and_writes_nothing_of_that_chunk(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    original = ADAPTER.process_chunk
    seen = []

    def crash_in_the_second(**kwargs):
        seen.append(len(kwargs["rows"]))
        if len(seen) == 2:
            original(**kwargs)  # written, then the transaction fails: rolled back
            raise RuntimeError("worker killed")
        return original(**kwargs)

    monkeypatch.setattr(ADAPTER, "process_chunk", crash_in_the_second)
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(RuntimeError):
        import_file(rep, ROWS, "skip", django_capture_on_commit_callbacks)
    job = ImportJob.objects.get(organization=tenant_a.org)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.FAILED, 3, 2)
    assert set(Customer.objects.filter(organization=tenant_a.org).values_list("name", flat=True)) == {
        "甲公司",
        "乙公司",
    }
    assert not [t for t in threading.enumerate() if t.name.startswith("import-")]


def test_insert_rows_keeps_shared_timestamps_exactly(tenant_a):
    """insert_rows sends a chunk's shared timestamps as text made once (COPY on PostgreSQL): the stored
    instant, microseconds and time zone included, is the one given."""
    rep = tenant_a.users["sales_rep"]
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=ZoneInfo("Asia/Shanghai"))
    shared = {"organization_id": tenant_a.org.pk, "created_at": at, "updated_at": at, "owner_id": rep.pk}
    ids = imports.insert_rows(Customer, [{"name": "时间公司"}, {"name": "时间公司二"}], returning=True, defaults=shared)
    stored = list(Customer.objects.filter(pk__in=ids).values_list("created_at", "updated_at"))
    assert stored == [(at, at), (at, at)]


def import_transactionally(actor, rows, policy):
    job = imports.import_job_create(actor=actor, record_type="customers", upload=ContentFile(csv_bytes(rows), "c.csv"))
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    # The task body as the worker runs it (not through on_commit): each chunk is its own transaction.
    imports.import_job_start(actor=actor, job=job)
    imports.process_import(job.pk, "run")
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_each_chunk_is_its_own_transaction_committed_without_waiting_for_the_disk(monkeypatch):
    """With real transactions (not the test's savepoints): on PostgreSQL each chunk's transaction commits
    asynchronously (SET LOCAL synchronous_commit = off: a server crash may lose the last chunks, whole, and
    resume writes them again) and the setting ends with it. A crash mid-chunk leaves nothing of that chunk;
    resume finishes the file from the checkpoint, and importing the file again creates nothing."""
    from django.db import connection

    from tests.conftest import make_tenant

    tenant = make_tenant("事务测试有限公司", "tx")
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    original = ADAPTER.process_chunk
    calls = []
    settings_seen = []

    def second_chunk_crashes(**kwargs):
        calls.append(1)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('synchronous_commit')")
                settings_seen.append(cursor.fetchone()[0])
        results = original(**kwargs)
        if len(calls) == 2:  # written, then the transaction fails: all of it rolled back
            raise RuntimeError("worker killed")
        return results

    monkeypatch.setattr(ADAPTER, "process_chunk", second_chunk_crashes)
    rep = tenant.users["sales_rep"]
    with pytest.raises(RuntimeError):
        import_transactionally(rep, ROWS, "skip")
    job = ImportJob.objects.get(organization=tenant.org)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.FAILED, 3, 2)
    assert Customer.objects.filter(organization=tenant.org).count() == 2
    assert ImportRow.objects.filter(job=job).count() == 3
    assert AuditEntry.objects.filter(organization=tenant.org, action="customers.import").count() == 1
    if connection.vendor == "postgresql":
        assert settings_seen == ["off", "off"]
        with connection.cursor() as cursor:  # local to the chunks' transactions
            cursor.execute("SELECT current_setting('synchronous_commit')")
            assert cursor.fetchone()[0] == "on"

    monkeypatch.setattr(ADAPTER, "process_chunk", original)
    imports.import_job_resume(actor=rep, job=job, background=False)
    imports.process_import(job.pk, "run")
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count, job.error_count) == (ImportJob.Status.DONE, 11, 4, 3)
    assert Customer.objects.filter(organization=tenant.org).count() == 4
    assert AuditEntry.objects.filter(organization=tenant.org, action="customers.import").count() == 4

    again = import_transactionally(rep, ROWS, "skip")  # the same file again: nothing new
    assert (again.status, again.created_count) == (ImportJob.Status.DONE, 0)
    assert Customer.objects.filter(organization=tenant.org).count() == 4
