"""Pipelined commits (kehu.core.imports._Pipeline, PostgreSQL): chunk N's COMMIT runs on one connection while
chunk N+1 is matched and written on another. The outcomes must be those of one connection, chunks must
commit in order, and a failure (chunk N's COMMIT, a crash in chunk N+1, a cancel meanwhile) must leave a
checkpoint from which resume imports every row exactly once. Real transactions (not the test's savepoints):
the pipeline only runs outside a caller's transaction. On SQLite the same tests run the one-connection path."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from kehu.core import imports
from kehu.core.import_models import ImportJob, ImportRow
from kehu.core.models import AuditEntry
from kehu.customers.importing import ADAPTER
from kehu.customers.models import Customer
from tests.conftest import make_tenant
from tests.customers.factories import make_customer
from tests.customers.test_import_pipeline import ROWS, import_transactionally, outcome_of

pytestmark = pytest.mark.django_db(transaction=True)

# With chunks of 3: ROWS (rows 2-12, chunk boundaries inside the file's duplicates), then chunks whose rows
# share nothing with the chunk before (they go ahead), one with a phone of the chunk before (it waits), one
# repeating a row of the chunk before (it waits), and new tags.
DISTINCT = [
    ["庚公司", "13900000001", "", "", "", "", "", "", "", ""],
    ["辛公司", "13900000002", "g@x.cn", "", "", "", "", "", "孙七", ""],
    ["壬公司", "", "", "", "", "", "", "", "", ""],
    ["癸公司", "13900000004", "", "", "", "", "", "新标签", "", ""],
    ["子公司", "13900000002", "", "", "", "", "", "", "周八", ""],  # row 15's phone: waits for that chunk
    ["丑公司", "", "", "", "", "", "", "另一个", "", ""],
    ["寅公司", "13900000007", "", "", "", "", "", "", "", ""],
    ["丑公司", "", "", "", "", "", "", "另一个", "", ""],  # row 19 again: waits
    ["卯公司", "13900000009", "", "", "", "", "", "", "", ""],
    ["辰公司", "13900000010", "", "", "", "", "", "", "", ""],
    ["巳公司", "13900000011", "", "", "", "", "", "", "", ""],
    ["午公司", "13900000012", "", "", "", "", "", "", "", ""],
]
TAGGED = [  # a new tag: the chunk waits (creating a tag writes an audit entry, only under the job's lock)
    ["申公司", "13900000013", "", "", "", "", "", "第三个", "", ""],
    ["酉公司", "13900000014", "", "", "", "", "", "", "", ""],
    ["戌公司", "13900000015", "", "", "", "", "", "", "", ""],
]
FILE = [*ROWS, ["未公司", "", "", "", "", "", "", "", "", ""], *DISTINCT, *TAGGED]  # 27 rows: 9 chunks


def _run(actor, rows, policy="skip") -> ImportJob:
    return import_transactionally(actor, rows, policy)


def _resume(actor, job) -> ImportJob:
    imports.import_job_resume(actor=actor, job=job, background=False)
    imports.process_import(job.pk, "run")
    job.refresh_from_db()
    return job


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)


@pytest.fixture
def went_ahead(monkeypatch):
    """The chunks that were written while the one before was committing, and the connections (backend
    pids on PostgreSQL) that chunks were written on."""
    ahead, backends = [], set()
    independent, process = ADAPTER.independent, ADAPTER.process_chunk

    def spy_independent(**kwargs):
        result = independent(**kwargs)
        if result:
            ahead.append(kwargs["rows"][0].row_number)
        return result

    def spy_process(**kwargs):
        if connection.vendor == "postgresql":
            backends.add(connection.connection.info.backend_pid)
        return process(**kwargs)

    monkeypatch.setattr(ADAPTER, "independent", spy_independent)
    monkeypatch.setattr(ADAPTER, "process_chunk", spy_process)
    return ahead, backends


def _no_threads_left():
    return not [t for t in threading.enumerate() if t.name.startswith("import-")]


@pytest.mark.parametrize("policy", ["skip", "update", "create"])
def test_pipelined_commits_give_the_outcomes_of_one_connection(policy, small_chunks, went_ahead, monkeypatch):
    results = []
    original = connections["default"]
    for slug, pipelined in (("one", False), ("two", True)):
        monkeypatch.setattr(imports, "PIPELINE_COMMITS", pipelined)
        tenant = make_tenant(f"{slug}公司", slug)
        rep = tenant.users["sales_rep"]
        make_customer(tenant, owner=rep, name="老客户", phone="13800000099")
        went_ahead[0].clear()
        job = _run(rep, FILE, policy)
        results.append(outcome_of(tenant, job))
    one, two = results

    assert two == one
    assert one["counts"][0] == ImportJob.Status.DONE and len(one["audit"]) == 9
    assert connections["default"] is original and _no_threads_left()
    if connection.vendor == "postgresql":
        ahead, backends = went_ahead
        assert len(backends) >= 2  # two connections were used
        # Row 17's chunk shares a phone with row 15's chunk and row 20's repeats a row of row 17's chunk:
        # those waited for the commit before them, as did row 26's (a new tag); row 23's chunk went ahead.
        # Row 14's did too, unless row 11 of the chunk before updated an existing customer (policy "update").
        assert 23 in ahead and 17 not in ahead and 20 not in ahead and 26 not in ahead
        assert (14 in ahead) == (policy != "update")


def test_a_chunk_whose_commit_fails_takes_the_next_one_with_it_and_resume_finishes(small_chunks, monkeypatch):
    """Chunk 2's COMMIT fails (a deferred foreign-key check) while chunk 3 is written on the other
    connection: chunk 3 does not commit, the job fails at chunk 2's start, and resume imports the rest
    once."""
    tenant = make_tenant("失败公司", "fails")
    rep = tenant.users["sales_rep"]
    rows = [r for r in DISTINCT if r[0] not in ("子公司", "丑公司")] + [["申公司", "", "", "", "", "", "", "", "", ""]]
    original = ADAPTER.process_chunk
    calls = []

    def second_commit_fails(**kwargs):
        calls.append(1)
        results = original(**kwargs)
        if len(calls) == 2:  # an owner that does not exist: checked at COMMIT
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Customer._meta.db_table} SET owner_id = 2147483000 WHERE id = %s",
                    [results[0].record_id],
                )
        return results

    monkeypatch.setattr(ADAPTER, "process_chunk", second_commit_fails)
    with pytest.raises(IntegrityError):
        _run(rep, rows)
    job = ImportJob.objects.get(organization=tenant.org)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.FAILED, 3, 3)
    assert Customer.objects.filter(organization=tenant.org).count() == 3  # chunk 1 only: not 2, not 3
    assert ImportRow.objects.filter(job=job).count() == 3
    assert connections["default"].in_atomic_block is False and _no_threads_left()

    monkeypatch.setattr(ADAPTER, "process_chunk", original)
    job = _resume(rep, job)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, len(rows), len(rows))
    names = list(Customer.objects.filter(organization=tenant.org).values_list("name", flat=True))
    assert sorted(names) == sorted(r[0] for r in rows)  # each once
    assert AuditEntry.objects.filter(organization=tenant.org, action="customers.import").count() == 4


def test_a_crash_while_the_chunk_before_commits_loses_only_the_crashing_chunk(small_chunks, monkeypatch):
    tenant = make_tenant("崩溃公司", "crash")
    rep = tenant.users["sales_rep"]
    rows = [r for r in DISTINCT if r[0] not in ("子公司", "丑公司")]
    original = ADAPTER.process_chunk
    calls = []

    def third_crashes(**kwargs):
        calls.append(1)
        results = original(**kwargs)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return results

    monkeypatch.setattr(ADAPTER, "process_chunk", third_crashes)
    with pytest.raises(RuntimeError):
        _run(rep, rows)
    job = ImportJob.objects.get(organization=tenant.org)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.FAILED, 6, 6)
    assert Customer.objects.filter(organization=tenant.org).count() == 6
    assert _no_threads_left()

    monkeypatch.setattr(ADAPTER, "process_chunk", original)
    job = _resume(rep, job)
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, 9, 9)
    names = list(Customer.objects.filter(organization=tenant.org).values_list("name", flat=True))
    assert sorted(names) == sorted(r[0] for r in rows)


def test_a_cancel_while_a_chunk_goes_ahead_rolls_that_chunk_back(small_chunks, monkeypatch):
    """The cancel waits for the committing chunk's lock; the chunk written meanwhile finds the job cancelled
    when it takes the lock, and rolls back."""
    if connection.vendor != "postgresql":
        pytest.skip("two connections writing at once: PostgreSQL only")
    tenant = make_tenant("取消公司", "cancel")
    rep = tenant.users["sales_rep"]
    rows = [r for r in DISTINCT if r[0] not in ("子公司", "丑公司")]
    original = ADAPTER.process_chunk
    calls = []

    def cancel_during_the_third(**kwargs):
        calls.append(1)
        results = original(**kwargs)
        if len(calls) == 3:

            def cancel():
                try:
                    with transaction.atomic():
                        job = ImportJob.objects.select_for_update().get(organization=tenant.org)
                        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.CANCELLED)
                finally:
                    connections.close_all()

            other = threading.Thread(target=cancel)  # another request, on its own connection
            other.start()
            other.join()  # waits for chunk 2's COMMIT (it holds the lock), not for this chunk
        return results

    monkeypatch.setattr(ADAPTER, "process_chunk", cancel_during_the_third)
    _run(rep, rows)
    job = ImportJob.objects.get(organization=tenant.org)
    assert (job.status, job.processed_rows) == (ImportJob.Status.CANCELLED, 6)
    assert Customer.objects.filter(organization=tenant.org).count() == 6
    assert ImportRow.objects.filter(job=job).count() == 6
    assert connections["default"].in_atomic_block is False and _no_threads_left()
