"""Importing leads through the generic import engine: mapping guessed from Chinese headers, bad rows with
reasons, duplicates by phone/email, and every new lead without an owner column assigned by the rules
(caps and round-robin count the file's own leads)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile

from kehu.accounts import services as account_services
from kehu.core import imports
from kehu.core.errors import PermissionDenied
from kehu.core.import_models import ImportJob
from kehu.core.models import AuditEntry
from kehu.sales.lead_models import Lead
from tests.conftest import PASSWORD
from tests.sales.lead_factories import make_lead, make_rule

pytestmark = pytest.mark.django_db
HEADER = ["姓名", "公司", "手机", "邮箱", "省份", "来源", "状态", "评分", "负责人"]


def upload(actor, rows: list[list[str]]) -> ImportJob:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    content = ContentFile(buffer.getvalue().encode("utf-8"), name="线索.csv")
    return imports.import_job_create(actor=actor, record_type="sales.lead", upload=content)


def run(actor, job: ImportJob, capture, policy: str = "skip") -> ImportJob:
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    with capture(execute=True):
        imports.import_job_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


def test_the_mapping_is_guessed_from_chinese_headers(tenant_a):
    job = upload(tenant_a.users["sales_rep"], [["张三", "", "13800000000", "", "", "", "", "", ""]])
    assert job.mapping == {
        str(i): name
        for i, name in enumerate(
            ["name", "company", "phone", "email", "province", "source", "status", "score", "owner"]
        )
    }


def test_imported_leads_go_through_the_rules_counting_the_files_own_leads(tenant_a, django_capture_on_commit_callbacks):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    rep3 = account_services.user_create(
        actor=tenant_a.admin,
        organization=tenant_a.org,
        email="rep3@a.test",
        password=PASSWORD,
        role=tenant_a.role("sales_rep"),
        name="a rep three",
        team=tenant_a.teams["east"],
    )
    make_rule(
        tenant_a,
        name="广东封顶",
        team=tenant_a.teams["east"],
        cap=1,
        conditions=[{"field": "province", "op": "equals", "value": "广东"}],
    )
    make_rule(tenant_a, name="经理兜底", action="user", user=tenant_a.users["sales_manager"])
    rows = [[f"线索{i}", "", f"1380000{i:04d}", "", "广东省", "", "", "", ""] for i in range(5)]
    rows.append(["自带负责人", "", "13900000000", "", "广东省", "", "", "", rep.email])
    job = run(rep, upload(rep, rows), django_capture_on_commit_callbacks)
    assert job.status == "done" and job.created_count == 6 and job.error_count == 0
    owners = [Lead.objects.get(name=f"线索{i}").owner for i in range(5)]
    assert owners[:3] == [rep, rep2, rep3]  # round-robin, one each up to the cap of 1
    assert owners[3:] == [tenant_a.users["sales_manager"]] * 2  # the cap passes the rest on
    # The explicit owner keeps the lead (rep already held one when the cap was counted).
    assert (
        Lead.objects.get(name="自带负责人").owner == rep and Lead.objects.get(name="自带负责人").assigned_rule is None
    )
    assert Lead.objects.get(name="线索0").assigned_rule_name == "广东封顶"
    summary = AuditEntry.objects.get(action="sales.lead.import_assign")
    assert summary.changes["rules"] == {"广东封顶": 3, "经理兜底": 2}


def test_bad_rows_duplicates_and_words(tenant_a, django_capture_on_commit_callbacks):
    rep = tenant_a.users["sales_rep"]
    existing = make_lead(tenant_a, rep, name="老线索", phone="13811112222", score=1)
    rows = [
        ["", "", "13800000001", "", "", "", "", "", ""],  # no name
        ["坏电话", "", "12", "", "", "", "", "", ""],
        ["坏来源", "", "", "", "", "电视购物", "", "", ""],
        ["坏状态", "", "", "", "", "", "已成交", "", ""],
        ["坏评分", "", "", "", "", "", "", "很高", ""],
        ["越权", "", "", "", "", "", "", "", tenant_a.users["sales_manager"].email],
        ["老线索", "", "138 1111 2222", "", "", "展会", "有效", "88", ""],
        ["新线索", "", "", "new@example.cn", "", "转介绍", "跟进中", "30", ""],
    ]
    job = run(rep, upload(rep, rows), django_capture_on_commit_callbacks, policy="update")
    assert (job.created_count, job.updated_count, job.error_count) == (1, 1, 6)
    bad = {row.row_number: row.message for row in imports.import_job_bad_rows(job=job)}
    assert set(bad) == {2, 3, 4, 5, 6, 7}
    assert "name" in bad[2] and "phone" in bad[3] and "source" in bad[4] and "status" in bad[5]
    assert "score" in bad[6] and "owner" in bad[7]
    existing.refresh_from_db()
    assert (existing.source, existing.status, existing.score, existing.version) == ("exhibition", "qualified", 88, 2)
    new = Lead.objects.get(name="新线索")
    assert (new.source, new.status, new.owner) == ("referral", "contacted", rep)


def test_a_dry_run_assigns_nothing_and_a_role_without_create_may_not_import(
    tenant_a, django_capture_on_commit_callbacks
):
    rep = tenant_a.users["sales_rep"]
    job = upload(rep, [["试跑", "", "13800000000", "", "", "", "", "", ""]])
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_dry_run(actor=rep, job=job)
    job.refresh_from_db()
    assert job.status == "ready" and job.dry_run["created"] == 1 and not Lead.objects.exists()
    with pytest.raises(PermissionDenied):
        upload(tenant_a.users["read_only"], [["只读", "", "", "", "", "", "", "", ""]])
