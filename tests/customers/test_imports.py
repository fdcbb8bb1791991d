"""Importing customers: encodings, XLSX, mapping guesses, dry run, run, re-run, resume after a crash."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from kehu.core import imports
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.import_models import ImportJob, ImportRow
from kehu.core.models import AuditEntry
from kehu.customers.importing import ADAPTER
from kehu.customers.models import Contact, Customer, CustomerTag
from tests.customers.factories import make_customer

HEADER = ["客户名称", "电话", "邮箱", "省份", "城市", "等级", "来源", "标签", "联系人", "负责人"]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]], header: list[str] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(actor, content: bytes, name: str = "客户.csv") -> ImportJob:
    return imports.import_job_create(actor=actor, record_type="customers", upload=ContentFile(content, name=name))


def good_rows(n: int, start: int = 0) -> list[list[str]]:
    return [
        [f"导入公司{i}", f"138{i:08d}", f"c{i}@example.cn", "广东", "深圳", "A", "官网", "重点,华南", f"联系人{i}", ""]
        for i in range(start, start + n)
    ]


def run(actor, job: ImportJob, policy: str = "skip", capture=None) -> ImportJob:
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    with capture(execute=True):
        imports.import_job_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


# Reading files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "expected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")])
def test_it_detects_the_encoding_and_reads_chinese(rep, encoding, expected):
    job = upload(rep, csv_bytes(good_rows(2), encoding=encoding))

    assert job.encoding == expected
    assert job.headers == HEADER
    rows = list(imports.iter_data_rows(job))
    assert rows[0][0] == 2 and rows[0][1][0] == "导入公司0"
    assert rows[1][1][5] == "A"


def test_it_reads_xlsx_and_keeps_numbers_as_typed(rep):
    job = upload(rep, xlsx_bytes([["华为技术", 13800138000, "", "广东", "深圳", "B", "", "", "", ""]]), "c.xlsx")

    assert job.file_format == "xlsx"
    (row_number, cells), *_ = list(imports.iter_data_rows(job))
    assert row_number == 2
    assert cells[:2] == ["华为技术", "13800138000"]  # not 13800138000.0


def test_it_refuses_other_files_and_sizes(rep, settings, monkeypatch):
    with pytest.raises(ValidationFailed) as exc:
        upload(rep, b"hello", "notes.txt")
    assert "file" in exc.value.fields
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(ValidationFailed) as exc:
        upload(rep, csv_bytes(good_rows(3)))
    assert "MB" in exc.value.fields["file"][0]


def test_a_role_without_create_cannot_import(tenant_a):
    with pytest.raises(PermissionDenied):
        upload(tenant_a.users["read_only"], csv_bytes(good_rows(1)))


# Mapping ------------------------------------------------------------------------------------------------


def test_it_guesses_the_mapping_from_chinese_headers(rep):
    job = upload(rep, csv_bytes(good_rows(1)))

    assert job.mapping == {
        "0": "name",
        "1": "phone",
        "2": "email",
        "3": "province",
        "4": "city",
        "5": "tier",
        "6": "source",
        "7": "tags",
        "8": "contact_name",
        "9": "owner",
    }
    assert job.preset == ""


def test_it_guesses_the_mapping_from_english_headers():
    headers = ["Company", "Mobile", "E-mail", "Province", "City", "Address", "Tier", "Lead Source", "Notes", "Owner"]
    mapping = imports.guess_mapping(ADAPTER, headers)
    assert [mapping[str(i)] for i in range(len(headers))] == [
        "name",
        "phone",
        "email",
        "province",
        "city",
        "address",
        "tier",
        "source",
        "notes",
        "owner",
    ]


def test_it_detects_salesforce_and_hubspot_exports():
    salesforce = ["Account ID", "Account Name", "Phone", "Website", "Billing State/Province", "Billing City",
                  "Industry", "Type", "Description", "Account Owner"]  # fmt: skip
    preset = imports.guess_preset(ADAPTER, salesforce)
    assert preset is not None and preset.key == "salesforce"
    mapping = imports.guess_mapping(ADAPTER, salesforce, preset)
    assert "0" not in mapping  # Account ID means nothing to Kehu
    assert [mapping[str(i)] for i in range(1, 10)] == [
        "name", "phone", "website", "province", "city", "industry", "stage", "notes", "owner",
    ]  # fmt: skip

    hubspot = ["Record ID", "Company name", "Phone Number", "Company Domain Name", "State/Region", "City",
               "Industry", "Lifecycle Stage", "Company owner"]  # fmt: skip
    preset = imports.guess_preset(ADAPTER, hubspot)
    assert preset is not None and preset.key == "hubspot"
    mapping = imports.guess_mapping(ADAPTER, hubspot, preset)
    assert [mapping[str(i)] for i in range(1, 9)] == [
        "name", "phone", "website", "province", "city", "industry", "stage", "owner",
    ]  # fmt: skip


def test_a_salesforce_file_is_detected_on_upload_and_imports(rep, tenant_a, django_capture_on_commit_callbacks):
    header = ["Account Name", "Phone", "Website", "Billing State/Province", "Billing City", "Industry", "Type",
              "Description", "Account Owner"]  # fmt: skip
    rows = [["Acme Ltd", "+86 21 5555 1234", "acme.example", "Shanghai", "Shanghai", "Manufacturing",
             "Customer - Direct", "From SF", tenant_a.users["sales_rep"].email]]  # fmt: skip
    job = upload(rep, csv_bytes(rows, header=header), "accounts.csv")
    assert job.preset == "salesforce"

    job = run(rep, job, capture=django_capture_on_commit_callbacks)

    customer = Customer.objects.get(organization=tenant_a.org, name="Acme Ltd")
    assert (customer.phone_normalized, customer.website, customer.stage) == (
        "02155551234",
        "https://acme.example",
        "customer",
    )
    assert customer.owner == rep


def test_mapping_is_editable_and_checked(rep):
    job = upload(rep, csv_bytes(good_rows(1)))
    job = imports.import_job_update(actor=rep, job=job, mapping={"0": "name", "1": "phone"}, policy="update")
    assert (job.mapping, job.policy, job.status) == ({"0": "name", "1": "phone"}, "update", ImportJob.Status.MAPPED)

    with pytest.raises(ValidationFailed) as exc:
        imports.import_job_update(actor=rep, job=job, mapping={"0": "name", "1": "name"})
    assert "mapping" in exc.value.fields
    with pytest.raises(ValidationFailed):
        imports.import_job_update(actor=rep, job=job, mapping={"0": "salary"})
    job = imports.import_job_update(actor=rep, job=job, mapping={"1": "phone"})
    with pytest.raises(ValidationFailed) as exc:
        imports.import_job_dry_run(actor=rep, job=job)  # no column for the name
    assert "mapping" in exc.value.fields


# Dry run, run, re-run -------------------------------------------------------------------------------------

BAD_ROWS = [
    ["", "13900000001", "", "", "", "", "", "", "", ""],  # no name
    ["坏电话公司", "12345", "", "", "", "", "", "", "", ""],  # bad phone
    ["坏邮箱公司", "", "not-an-email", "", "", "Z", "", "", "", ""],  # bad email and tier
    ["坏负责人公司", "", "", "", "", "", "", "", "", "nobody@nowhere.test"],  # unknown owner
]


def test_dry_run_counts_and_lists_every_bad_row_with_its_reason(rep, tenant_a, django_capture_on_commit_callbacks):
    make_customer(tenant_a, owner=rep, name="导入公司0")
    content = csv_bytes(good_rows(3) + BAD_ROWS)
    job = upload(rep, content)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_dry_run(actor=rep, job=job)
    job.refresh_from_db()

    assert job.status == ImportJob.Status.READY
    assert {k: job.dry_run[k] for k in ("created", "updated", "skipped", "error")} == {
        "created": 2,
        "updated": 0,
        "skipped": 1,
        "error": 4,
    }
    bad = {row["row"]: row["fields"] for row in job.dry_run["bad_rows"]}
    assert set(bad) == {5, 6, 7, 8}  # the header is row 1, the good rows 2-4
    assert "name" in bad[5]
    assert "phone" in bad[6]
    assert set(bad[7]) == {"email", "tier"}
    assert "owner" in bad[8]
    assert Customer.objects.filter(organization_id=rep.organization_id).count() == 1  # nothing written


def test_run_imports_good_rows_reports_bad_ones_and_rerun_creates_no_duplicates(
    rep, tenant_a, django_capture_on_commit_callbacks
):
    content = csv_bytes(good_rows(5) + BAD_ROWS, encoding="gbk")
    job = run(rep, upload(rep, content), capture=django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.error_count, job.processed_rows, job.progress) == (5, 4, 9, 100)
    customers = Customer.objects.filter(organization=tenant_a.org)
    assert customers.count() == 5
    first = customers.get(name="导入公司0")
    assert (first.phone_normalized, first.email_normalized, first.tier, first.source, first.owner) == (
        "13800000000",
        "c0@example.cn",
        "A",
        "website",
        rep,
    )
    assert sorted(first.tags.values_list("name", flat=True)) == ["华南", "重点"]
    assert Contact.objects.get(customer=first).is_primary
    # One audit entry for the chunk, summarising it, not one per customer.
    entries = AuditEntry.objects.filter(organization=tenant_a.org, action="customers.import")
    assert entries.count() == 1
    assert entries.get().changes["created"] == 5 and entries.get().changes["errors"] == 4

    # The error report: the bad rows as they came, with an "error" column, in the upload's format.
    handle, name = imports.import_job_error_report(actor=rep, job=job)
    text = handle.read().decode("utf-8-sig")
    report = list(csv.reader(io.StringIO(text)))
    assert name.endswith("-errors.csv")
    assert report[0][:-1] == HEADER and len(report[0]) == len(HEADER) + 1  # plus the "error" column
    assert [r[0] for r in report[1:]] == ["", "坏电话公司", "坏邮箱公司", "坏负责人公司"]
    assert report[2][-1].startswith("phone:")

    # Fix the bad rows in the report and import it: only those are added.
    fixed = [r[:-1] for r in report[1:]]
    fixed[0][0], fixed[1][1], fixed[2][2], fixed[2][5], fixed[3][9] = "补名公司", "13911112222", "ok@x.cn", "B", ""
    job2 = run(rep, upload(rep, csv_bytes(fixed)), capture=django_capture_on_commit_callbacks)
    assert (job2.created_count, job2.error_count) == (4, 0)

    # The same file again, whatever the policy: no duplicates.
    for policy in ("skip", "create", "update"):
        again = run(rep, upload(rep, content), policy=policy, capture=django_capture_on_commit_callbacks)
        assert again.created_count == 0, policy
        assert customers.count() == 9


def test_update_policy_fills_in_matching_customers(rep, tenant_a, django_capture_on_commit_callbacks):
    existing = make_customer(tenant_a, owner=rep, name="老客户", phone="+86 138 0000 0007")
    rows = [["老客户新名", "13800000007", "new@old.cn", "浙江", "杭州", "B", "", "", "", ""]]
    job = run(rep, upload(rep, csv_bytes(rows)), policy="update", capture=django_capture_on_commit_callbacks)

    existing.refresh_from_db()
    assert (job.updated_count, job.created_count) == (1, 0)
    assert (existing.name, existing.email_normalized, existing.province, existing.tier) == (
        "老客户新名",
        "new@old.cn",
        "浙江",
        "B",
    )
    assert existing.version == 2


def test_a_rep_does_not_match_or_change_colleagues_customers(rep, tenant_a, django_capture_on_commit_callbacks):
    """Matching uses what the importer may see: a colleague's customer is neither revealed nor changed."""
    theirs = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="同事的客户", phone="13800000099")
    rows = [["同事的客户", "13800000099", "", "", "", "", "", "", "", ""]]
    job = run(rep, upload(rep, csv_bytes(rows)), policy="update", capture=django_capture_on_commit_callbacks)

    theirs.refresh_from_db()
    assert job.created_count == 1
    assert theirs.version == 1 and theirs.owner == tenant_a.users["sales_rep_2"]


def test_xlsx_import_and_xlsx_error_report(rep, tenant_a, django_capture_on_commit_callbacks):
    rows = [
        ["表格公司", 13700000001, "", "江苏", "南京", "C", "", "", "", ""],
        ["", "x", "", "", "", "", "", "", "", ""],
    ]
    job = run(rep, upload(rep, xlsx_bytes(rows), "c.xlsx"), capture=django_capture_on_commit_callbacks)

    assert (job.created_count, job.error_count) == (1, 1)
    assert Customer.objects.get(organization=tenant_a.org, name="表格公司").phone_normalized == "13700000001"
    handle, name = imports.import_job_error_report(actor=rep, job=job)
    assert name == "c-errors.xlsx"
    sheet = load_workbook(handle, read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values[0]) == len(HEADER) + 1 and "name" in values[1][-1]


# Resume ------------------------------------------------------------------------------------------------


def test_a_job_that_crashes_after_two_chunks_resumes_without_duplicates(
    rep, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 10)
    job = upload(rep, csv_bytes(good_rows(45)))
    job = imports.import_job_update(actor=rep, job=job, policy="create")
    original = ADAPTER.process_chunk
    calls = {"n": 0}

    def crash_after_two(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return original(**kwargs)

    monkeypatch.setattr(ADAPTER, "process_chunk", crash_after_two)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        imports.import_job_start(actor=rep, job=job)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.FAILED, 20, 20)
    assert "worker killed" in job.message
    assert Customer.objects.filter(organization=tenant_a.org).count() == 20  # chunk 3 rolled back entirely

    monkeypatch.setattr(ADAPTER, "process_chunk", original)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_resume(actor=rep, job=job)
    job.refresh_from_db()

    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, 45, 45)
    names = list(Customer.objects.filter(organization=tenant_a.org).values_list("name", flat=True))
    assert sorted(names) == sorted(f"导入公司{i}" for i in range(45))
    assert ImportRow.objects.filter(job=job).count() == 45
    assert CustomerTag.objects.filter(organization=tenant_a.org).count() == 90


def test_a_killed_worker_leaves_running_and_the_command_resumes(rep, tenant_a, monkeypatch):
    """A worker that died (status still "running") is resumed from the command line, in the foreground."""
    from django.core.management import call_command

    monkeypatch.setattr(imports, "CHUNK_SIZE", 10)
    job = upload(rep, csv_bytes(good_rows(25)))
    job = imports.import_job_update(actor=rep, job=job, policy="skip")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, total_rows=25)
    job.refresh_from_db()
    imports._run_chunk(
        rep,
        ADAPTER,
        job,
        list(imports.iter_data_rows(job))[:10],
        0,
        ADAPTER.begin(actor=rep, job=job, dry_run=False),
        {},
    )

    out = io.StringIO()
    call_command("import_resume", str(job.pk), stdout=out)
    job.refresh_from_db()

    assert job.status == ImportJob.Status.DONE and job.created_count == 25
    assert Customer.objects.filter(organization=tenant_a.org).count() == 25
    assert "25/25" in out.getvalue()


def test_cancel_stops_and_only_the_uploader_or_an_administrator_sees_a_job(rep, tenant_a):
    job = upload(rep, csv_bytes(good_rows(1)))
    colleague = tenant_a.users["sales_rep_2"]

    assert list(imports.import_job_list_for(actor=colleague)) == []
    assert list(imports.import_job_list_for(actor=tenant_a.admin)) == [job]
    imports.import_job_cancel(actor=rep, job=job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert default_storage.exists(job.file)


def test_stopping_a_check_returns_to_the_mapping_without_a_checkpoint(rep):
    job = upload(rep, csv_bytes(good_rows(3)))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING, processed_rows=2)
    job.refresh_from_db()

    imports.import_job_cancel(actor=rep, job=job)
    job.refresh_from_db()

    assert (job.status, job.processed_rows) == (ImportJob.Status.MAPPED, 0)
    with pytest.raises(ValidationFailed):
        imports.import_job_resume(actor=rep, job=job)  # nothing was imported: run, not resume


def test_the_customers_timeline_shows_the_import_that_created_and_the_one_that_updated_it(
    rep, tenant_a, client, django_capture_on_commit_callbacks
):
    from kehu.customers.selectors import customer_timeline

    run(rep, upload(rep, csv_bytes(good_rows(2)), name="第一批.csv"), capture=django_capture_on_commit_callbacks)
    rows = good_rows(1)
    rows[0][3] = "浙江"  # a changed province: the second file updates the first customer
    run(rep, upload(rep, csv_bytes(rows), name="第二批.csv"), "update", capture=django_capture_on_commit_callbacks)
    by_hand = make_customer(tenant_a, rep)
    customer = Customer.objects.get(name="导入公司0")

    with translation.override("en"):  # the titles are in the active language; an earlier test may leave zh
        items = [i for i in customer_timeline(actor=rep, customer=customer) if i.kind == "customers.import"]
    assert [i.title for i in items] == [
        "Updated by the import of 第二批.csv, row 2",
        "Imported from 第一批.csv, row 2",
    ]
    assert items[0].url and items[0].actor == str(rep)
    # The administrator sees them too; a customer entered by hand has none.
    admin_items = [
        i for i in customer_timeline(actor=tenant_a.admin, customer=customer) if i.kind == "customers.import"
    ]
    assert len(admin_items) == 2
    assert not [i for i in customer_timeline(actor=rep, customer=by_hand) if i.kind == "customers.import"]
    # On the customer's page too, where the customer is read with its timeline providers' EXISTS (the import
    # rows' record id is a BigIntegerField: PostgreSQL's driver wraps its value, the probe must see through it).
    client.force_login(rep)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert page.count('data-kind="customers.import"') == 2
    page = client.get(reverse("customers:detail", args=[by_hand.pk])).content.decode()
    assert 'data-kind="customers.import"' not in page
