"""Exporting leads through kehu.core.exporting (the customers' mechanism): the filtered list or a selection, CSV
or XLSX, streamed, only what the user may see, audited — API and pages."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from kehu.core.models import AuditEntry
from kehu.sales import lead_exporting
from tests.api.support import assert_error
from tests.customers.test_exports import read_csv
from tests.sales.lead_factories import make_lead

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/export/"
NAME_HEADERS = ("Name", "姓名", "名称")


@pytest.fixture
def leads(tenant_a, tenant_b):
    rep, rep_2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    return {
        "mine": make_lead(tenant_a, rep, name="王芳", company="华为", phone="13800138000", status="contacted"),
        "evil": make_lead(tenant_a, rep, name="=cmd|' /C calc'!A0", notes="+SUM(1)"),
        "theirs": make_lead(tenant_a, rep_2, name="同事的线索", company="华为"),
        "foreign": make_lead(tenant_b, name="别家的线索", company="华为"),
    }


def let_export(user):
    """The sales rep's role (scope "own") with the export right added; a fresh user object (grants are cached)."""
    role = user.role
    role.permissions["sales"]["actions"].append("export")
    role.save()
    return type(user).objects.get(pk=user.pk)


def test_the_filtered_list_as_csv_is_streamed_safe_and_audited(tenant_a, leads, api):
    response = api(tenant_a.admin).get(URL, {"format": "csv", "search": "华为"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and "leads-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][0] in NAME_HEADERS
    assert sorted(r[0] for r in rows[1:]) == ["同事的线索", "王芳"]  # never another organisation's
    mine = next(r for r in rows if r[0] == "王芳")
    assert mine[1] == "华为" and mine[3] == "13800138000" and mine[12] == tenant_a.users["sales_rep"].email
    assert mine[6] in ("Contacted", "已联系")  # the status's label, as the import reads it back
    entry = AuditEntry.objects.filter(organization=tenant_a.org, action="leads.export").get()
    assert entry.changes["rows"] == 2 and entry.changes["filters"] == {"search": "华为"}
    assert entry.actor == tenant_a.admin


def test_formula_cells_are_neutralised_and_xlsx_exports_a_selection(tenant_a, leads, api):
    ids = f"{leads['mine'].pk},{leads['evil'].pk},{leads['foreign'].pk}"
    response = api(tenant_a.admin).get(URL, {"format": "xlsx", "ids": ids})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0] in NAME_HEADERS
    assert sorted(v[0] for v in values[1:]) == ["'=cmd|' /C calc'!A0", "王芳"]  # not the other organisation's
    evil = next(v for v in values if v[0].startswith("'="))
    assert evil[11] == "'+SUM(1)"


def test_a_rep_with_scope_own_exports_only_her_leads(tenant_a, leads, api):
    rep = tenant_a.users["sales_rep"]
    assert_error(api(rep).get(URL, {"format": "csv"}), 403, "permission_denied")  # no export right by default

    rep = let_export(rep)
    rows = read_csv(api(rep).get(URL, {"format": "csv"}))
    assert sorted(r[0] for r in rows[1:]) == sorted(["王芳", "'=cmd|' /C calc'!A0"])
    rows = read_csv(api(rep).get(URL, {"format": "csv", "ids": leads["theirs"].pk}))
    assert rows[1:] == []  # a colleague's lead asked for by id: nothing
    rows = read_csv(api(rep).get(URL, {"format": "csv", "owner": tenant_a.users["sales_rep_2"].pk}))
    assert rows[1:] == []  # nor by filtering on the colleague


def test_bad_input_is_a_400(tenant_a, api):
    assert_error(api(tenant_a.admin).get(URL, {"format": "pdf"}), 400, "validation_failed")
    assert_error(api(tenant_a.admin).get(URL, {"ids": "1,x"}), 400, "validation_failed")
    assert_error(api(tenant_a.admin).get(URL, {"created_from": "yesterday"}), 400, "validation_failed")


def test_rows_are_read_in_keyset_chunks(tenant_a, monkeypatch, django_assert_max_num_queries):
    from kehu.core import exporting

    monkeypatch.setattr(exporting, "CHUNK_SIZE", 2)
    for i in range(5):
        make_lead(tenant_a, name=f"分块{i}")
    export = lead_exporting.lead_export(actor=tenant_a.admin, filters={}, fmt="csv")
    # the source labels, 3 chunks and the empty last read: never one query per row
    with django_assert_max_num_queries(5):
        rows = list(export.rows)
    assert sorted(r[0] for r in rows) == [f"分块{i}" for i in range(5)]


def test_the_export_menu_and_downloads_on_the_page(tenant_a, leads, client):
    client.force_login(tenant_a.admin)
    listing = client.get(reverse("sales:lead_list"), {"status": "contacted"}).content.decode()
    assert 'data-testid="export-csv"' in listing and "status=contacted" in listing
    assert 'data-testid="bulk-export"' in listing

    rows = read_csv(client.get(reverse("sales:lead_export"), {"format": "csv", "status": "contacted"}))
    assert [r[0] for r in rows[1:]] == ["王芳"]
    response = client.post(reverse("sales:lead_export"), {"ids": [leads["mine"].pk], "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    assert [r[0] for r in sheet.iter_rows(values_only=True)][1:] == ["王芳"]
    response = client.post(reverse("sales:lead_export"), {"format": "csv"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("sales:lead_list")  # nothing ticked: back with a message

    rep = tenant_a.users["sales_rep"]
    client.force_login(rep)
    assert 'data-testid="export-csv"' not in client.get(reverse("sales:lead_list")).content.decode()
    assert client.get(reverse("sales:lead_export"), {"format": "csv"}).status_code == 403
    client.force_login(let_export(rep))
    rows = read_csv(client.get(reverse("sales:lead_export"), {"format": "csv"}))
    assert "同事的线索" not in [r[0] for r in rows]
