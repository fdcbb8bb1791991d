"""Exporting customers (CSV with BOM, XLSX), the import/export API and the wizard pages."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from kehu.core.import_models import ImportJob
from kehu.core.models import AuditEntry
from kehu.customers import exporting
from kehu.customers.models import Customer
from tests.api.support import assert_error
from tests.customers.factories import make_customer, make_tag
from tests.customers.test_imports import HEADER, csv_bytes, good_rows

NAME_HEADERS = ("Name", "名称")


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel in China opens it right
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def customers(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    vip = make_tag(tenant_a, "VIP")
    return {
        "mine": make_customer(tenant_a, rep, name="我的客户", tier="A", phone="13800138000", tags=[vip]),
        "evil": make_customer(tenant_a, rep, name='=HYPERLINK("http://x")', tier="B", notes="@SUM(1)"),
        "theirs": make_customer(tenant_a, rep2, name="同事的客户", tier="A"),
    }


# Export -------------------------------------------------------------------------------------------------


def test_csv_export_of_the_filtered_list_is_streamed_safe_and_audited(tenant_a, customers, api):
    response = api(tenant_a.admin).get("/api/v1/customers/export/", {"format": "csv", "tier": "A"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][0] in ("Name", "名称")  # the import's field labels, in the user's language
    names = sorted(r[0] for r in rows[1:])
    assert names == ["同事的客户", "我的客户"]
    mine = next(r for r in rows if r[0] == "我的客户")
    assert mine[3] in ("A (key account)", "A（重点客户）") and mine[11] == "13800138000" and mine[14] == "VIP"
    assert mine[15] == tenant_a.users["sales_rep"].email
    entry = AuditEntry.objects.filter(organization=tenant_a.org, action="customers.export").get()
    assert entry.changes["rows"] == 2 and entry.changes["filters"] == {"tier": "A"} and entry.actor == tenant_a.admin


def test_csv_cells_that_look_like_formulas_are_neutralised(tenant_a, customers, api):
    rows = read_csv(api(tenant_a.admin).get("/api/v1/customers/export/", {"format": "csv", "tier": "B"}))
    evil = rows[1]
    assert evil[0] == '\'=HYPERLINK("http://x")'
    assert evil[16] == "'@SUM(1)"


def test_xlsx_export_and_selection(tenant_a, customers, api):
    ids = f"{customers['mine'].pk},{customers['evil'].pk}"
    response = api(tenant_a.admin).get("/api/v1/customers/export/", {"format": "xlsx", "ids": ids})

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0] in NAME_HEADERS
    assert sorted(v[0] for v in values[1:]) == ['\'=HYPERLINK("http://x")', "我的客户"]  # no live formula


def test_an_own_scope_manager_exports_only_what_they_see_and_a_rep_without_export_gets_403(tenant_a, customers, api):
    rep = tenant_a.users["sales_rep"]
    assert_error(api(rep).get("/api/v1/customers/export/", {"format": "csv"}), 403, "permission_denied")

    # A rep whose role may export, but whose scope is "own": only their own customers.
    role = rep.role
    role.permissions["customers"]["actions"].append("export")
    role.save()
    rep = type(rep).objects.get(pk=rep.pk)  # grants are cached per user object
    rows = read_csv(api(rep).get("/api/v1/customers/export/", {"format": "csv"}))
    assert sorted(r[0] for r in rows[1:]) == sorted([customers["mine"].name, "'" + customers["evil"].name])
    # Asking for a colleague's customer by id exports nothing of it.
    rows = read_csv(api(rep).get("/api/v1/customers/export/", {"format": "csv", "ids": customers["theirs"].pk}))
    assert rows[1:] == []


def test_export_refuses_unknown_formats(tenant_a, api):
    response = api(tenant_a.admin).get("/api/v1/customers/export/", {"format": "pdf"})
    assert_error(response, 400, "validation_failed")


def test_export_reads_in_keyset_chunks(tenant_a, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(exporting, "CHUNK_SIZE", 2)
    for i in range(5):
        make_customer(tenant_a, name=f"分块{i}")
    export = exporting.customer_export(actor=tenant_a.admin, filters={}, fmt="csv")
    # the lists (tiers, stages) + 3 chunks of rows + 3 of tags + the empty last read: never one per row.
    with django_assert_max_num_queries(8):
        rows = list(export.rows)
    assert sorted(r[0] for r in rows) == [f"分块{i}" for i in range(5)]


def test_an_exported_file_imports_back_without_duplicates(tenant_a, customers, api, django_capture_on_commit_callbacks):
    body = b"".join(api(tenant_a.admin).get("/api/v1/customers/export/", {"format": "csv"}).streaming_content)
    client = api(tenant_a.admin)
    job = client.post("/api/v1/imports/", {"file": SimpleUploadedFile("back.csv", body)}, format="multipart").json()
    assert job["mapping"]["0"] == "name" and job["mapping"]["15"] == "owner"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/imports/{job['id']}/run/")
    job = client.get(f"/api/v1/imports/{job['id']}/").json()
    assert (job["status"], job["created"], job["skipped"], job["errors"]) == ("done", 0, 3, 0)
    assert Customer.objects.filter(organization=tenant_a.org).count() == 3


# Import API -------------------------------------------------------------------------------------------------


def test_the_import_api_flow(tenant_a, api, django_capture_on_commit_callbacks):
    client = api(tenant_a.users["sales_rep"])
    content = csv_bytes([*good_rows(3), ["", "1", "", "", "", "", "", "", "", ""]], encoding="gbk")

    response = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("客户.csv", content), "record_type": "customers"},
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["status"], job["encoding"], job["headers"]) == ("uploaded", "gb18030", HEADER)
    url = f"/api/v1/imports/{job['id']}/"

    response = client.patch(url, {"policy": "update", "mapping": {**job["mapping"], "9": ""}}, format="json")
    assert response.status_code == 200 and response.json()["policy"] == "update"
    assert "9" not in response.json()["mapping"]
    assert_error(client.patch(url, {"mapping": {"0": "salary"}}, format="json"), 400, "validation_failed")

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{url}dry-run/").status_code == 200
    job = client.get(url).json()
    assert job["status"] == "ready"
    assert (job["dry_run"]["created"], job["dry_run"]["error"]) == (3, 1)
    assert job["dry_run"]["bad_rows"][0]["row"] == 5 and "name" in job["dry_run"]["bad_rows"][0]["fields"]

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{url}run/").status_code == 200
    job = client.get(url).json()
    assert (job["status"], job["progress"], job["created"], job["errors"]) == ("done", 100, 3, 1)
    errors = client.get(f"{url}errors/")
    assert errors.status_code == 200
    assert "name:" in b"".join(errors.streaming_content).decode("utf-8-sig")

    assert_error(client.post(f"{url}run/"), 400, "validation_failed")  # already ran: resume, not run
    assert_error(client.post(f"{url}cancel/"), 400, "validation_failed")
    assert client.get("/api/v1/imports/").json()["results"][0]["id"] == job["id"]


def test_import_api_refuses_bad_uploads_and_roles_without_create(tenant_a, api):
    client = api(tenant_a.users["sales_rep"])
    response = client.post("/api/v1/imports/", {"file": SimpleUploadedFile("x.pdf", b"%PDF")}, format="multipart")
    assert_error(response, 400, "validation_failed")
    assert "file" in response.json()["error"]["fields"]
    response = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "record_type": "x"}, format="multipart"
    )
    assert "record_type" in response.json()["error"]["fields"]
    reader = api(tenant_a.users["read_only"])
    response = reader.post("/api/v1/imports/", {"file": SimpleUploadedFile("x.csv", b"a\n1\n")}, format="multipart")
    assert_error(response, 403, "permission_denied")


# UI -----------------------------------------------------------------------------------------------------


def test_the_import_wizard_pages(tenant_a, client, django_capture_on_commit_callbacks):
    rep = tenant_a.users["sales_rep"]
    client.force_login(rep)
    listing = client.get(reverse("customers:list")).content.decode()
    assert reverse("customers:imports") in listing  # the Import button
    assert reverse("customers:export") not in listing  # a rep may not export

    response = client.post(reverse("customers:imports"), {"file": SimpleUploadedFile("x.txt", b"hi")})
    assert response.status_code == 400 and "CSV" in response.content.decode()

    content = csv_bytes([*good_rows(2), ["坏电话", "12", "", "", "", "", "", "", "", ""]], encoding="utf-8-sig")
    response = client.post(reverse("customers:imports"), {"file": SimpleUploadedFile("c.csv", content)})
    job = ImportJob.objects.get(organization=tenant_a.org)
    assert response.status_code == 302 and response["Location"] == reverse("customers:import_detail", args=[job.pk])

    page = client.get(response["Location"]).content.decode()
    assert 'name="col_1"' in page and '<option value="phone" selected>' in page

    mapping = {f"col_{i}": v for i, v in job.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("customers:import_mapping", args=[job.pk]), {**mapping, "policy": "skip", "next_step": "dry_run"}
        )
    page = client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert 'data-testid="dry-run-result"' in page and "phone:" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("customers:import_mapping", args=[job.pk]), {**mapping, "policy": "skip", "next_step": "run"}
        )
    progress = client.get(reverse("customers:import_progress", args=[job.pk])).content.decode()
    assert 'data-status="done"' in progress and "hx-trigger" not in progress  # polling stops when done
    assert reverse("customers:import_errors", args=[job.pk]) in progress
    download = client.get(reverse("customers:import_errors", args=[job.pk]))
    assert "坏电话" in b"".join(download.streaming_content).decode("utf-8-sig")
    assert Customer.objects.filter(organization=tenant_a.org).count() == 2

    jobs = client.get(reverse("customers:imports")).content.decode()
    assert "c.csv" in jobs and "100%" in jobs


def test_the_export_buttons_and_downloads(tenant_a, customers, client):
    client.force_login(tenant_a.admin)
    listing = client.get(reverse("customers:list"), {"tier": "A"}).content.decode()
    assert 'data-testid="export-csv"' in listing and "tier=A" in listing

    rows = read_csv(client.get(reverse("customers:export"), {"format": "csv", "tier": "A"}))
    assert len(rows) == 3
    response = client.post(reverse("customers:export"), {"ids": [customers["mine"].pk], "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    column = [r[0] for r in sheet.iter_rows(values_only=True)]
    assert column[0] in NAME_HEADERS and column[1:] == ["我的客户"]

    client.force_login(tenant_a.users["sales_rep"])
    assert client.get(reverse("customers:export"), {"format": "csv"}).status_code == 403
