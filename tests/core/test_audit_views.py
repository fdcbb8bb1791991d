"""The audit log pages: filters, keyset pagination, and the streamed, audited CSV export."""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.accounts import services
from kehu.core import audit, audit_views
from kehu.core.models import AuditEntry

LIST = "/audit/"
EXPORT = "/audit/export.csv"


@pytest.fixture
def admin_web(tenant_a) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(tenant_a.admin)
    return client


def _entry_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-entry-id="(\d+)"', html)]


def _export(client: Client, params: dict | None = None) -> tuple[str, list[list[str]]]:
    response = client.get(EXPORT, params or {})
    assert response.status_code == 200
    assert response.streaming
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    return response["Content-Type"], list(csv.reader(io.StringIO(raw[1:])))


def test_the_urls_are_named_as_the_shell_expects():
    assert reverse("audit:list") == LIST and reverse("audit:export") == EXPORT


def test_only_administrators_read_the_audit_log(tenant_a):
    for key in ("sales_rep", "sales_manager", "analyst"):
        client = Client()
        client.force_login(tenant_a.users[key])
        assert client.get(LIST).status_code == 403
        assert client.get(EXPORT).status_code == 403
    assert not AuditEntry.objects.filter(action="audit.export").exists()


def test_the_list_shows_the_organisations_entries_newest_first(admin_web, tenant_a, tenant_b):
    services.team_update(actor=tenant_a.admin, team=tenant_a.teams["east"], data={"name": "华东"})

    response = admin_web.get(LIST)

    html = response.content.decode()
    assert response.status_code == 200
    ids = _entry_ids(html)
    expected = list(
        AuditEntry.objects.filter(organization=tenant_a.org).order_by("-created_at", "-id").values_list("id", flat=True)
    )
    assert ids == expected[: audit_views.PAGE_SIZE]
    assert not set(ids) & set(AuditEntry.objects.filter(organization=tenant_b.org).values_list("id", flat=True))
    # Changes render as field: before -> after.
    assert re.search(r"name:</span> <del[^>]*>Sales East</del> → <ins[^>]*>华东</ins>", html)


def test_times_are_shown_in_the_organisations_time_zone(admin_web, tenant_a):
    entry = AuditEntry.objects.filter(organization=tenant_a.org).order_by("-created_at").first()
    local = timezone.localtime(entry.created_at, timezone=zoneinfo.ZoneInfo("Asia/Shanghai"))

    html = admin_web.get(LIST).content.decode()

    assert local.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "Times in Asia/Shanghai" in html


def test_filters_by_action_prefix_actor_target_type_and_text(admin_web, tenant_a):
    admin, rep = tenant_a.admin, tenant_a.users["sales_rep"]
    services.user_update(actor=admin, user=rep, data={"phone": "13900000000"})
    services.user_update(actor=rep, user=rep, data={"name": "王小明"})
    services.role_create(actor=admin, name="Temp", permissions={})

    def actions(params: dict) -> set[str]:
        html = admin_web.get(LIST, params).content.decode()
        return set(re.findall(r'data-action="([^"]+)"', html))

    assert actions({"action": "role."}) == {"role.create"}
    assert actions({"action": "user.update"}) == {"user.update"}
    by_rep = admin_web.get(LIST, {"actor": rep.pk}).content.decode()
    assert set(re.findall(r'data-action="([^"]+)"', by_rep)) == {"user.update"}
    assert len(_entry_ids(by_rep)) == 1
    assert actions({"target_type": "accounts.role"}) == {"role.create"}
    assert actions({"target_type": "accounts.team"}) == {"team.create"}
    assert actions({"q": "王小明"}) == {"user.update"}
    empty = admin_web.get(LIST, {"q": "nothing-like-this"})
    assert b'data-testid="empty"' in empty.content and b"No entries match these filters." in empty.content


def test_filters_by_date_in_the_organisations_time_zone(admin_web, tenant_a):
    today = timezone.localtime(timezone.now(), timezone=zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    tomorrow = today + timedelta(days=1)

    assert _entry_ids(admin_web.get(LIST, {"date_from": today.isoformat()}).content.decode())
    assert _entry_ids(admin_web.get(LIST, {"date_to": today.isoformat()}).content.decode())
    assert not _entry_ids(admin_web.get(LIST, {"date_from": tomorrow.isoformat()}).content.decode())
    bad = admin_web.get(LIST, {"date_from": "not-a-date", "action": "team."})
    assert bad.status_code == 200  # a bad filter value is shown, not a 500; the other filters still apply
    assert set(re.findall(r'data-action="([^"]+)"', bad.content.decode())) == {"team.create"}


def test_keyset_pagination_walks_every_entry_once(admin_web, tenant_a, monkeypatch):
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 4)
    total = AuditEntry.objects.filter(organization=tenant_a.org).count()
    seen: list[int] = []
    response = admin_web.get(LIST)
    for _ in range(total):
        html = response.content.decode()
        seen += _entry_ids(html)
        match = re.search(r'data-testid="older" href="\?([^"]+)"', html)
        if not match:
            break
        response = admin_web.get(LIST + "?" + match.group(1).replace("&amp;", "&"))
    # Page views of the list are not audited, so the walk sees a stable log.
    assert len(seen) == total == len(set(seen))
    expected = AuditEntry.objects.filter(organization=tenant_a.org).order_by("-created_at", "-id")
    assert seen == list(expected.values_list("id", flat=True))


def test_the_list_does_not_count_rows(admin_web):
    with CaptureQueriesContext(connection) as queries:
        admin_web.get(LIST)
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


@pytest.mark.parametrize("cursor", ["garbage", "1.2.3", "99999999999999999999999.1", "-5.x", ""])
def test_a_bad_cursor_shows_the_newest_page(admin_web, cursor):
    response = admin_web.get(LIST, {"before": cursor})

    assert response.status_code == 200
    assert _entry_ids(response.content.decode())


def test_the_csv_export_streams_the_filtered_entries_and_is_audited(admin_web, tenant_a, tenant_b):
    services.team_create(actor=tenant_a.admin, name="华南大区")

    content_type, rows = _export(admin_web, {"action": "team."})

    assert content_type.startswith("text/csv")
    header, *body = rows
    assert header == ["Time", "Actor", "IP address", "Action", "Record type", "Record ID", "Record", "Changes"]
    assert {row[3] for row in body} == {"team.create"}
    assert len(body) == 3  # Sales, Sales East, 华南大区
    assert any(row[6] == "华南大区" and "name: 华南大区" in row[7] for row in body)
    assert all("@b.test" not in cell for row in body for cell in row)

    entry = AuditEntry.objects.get(action="audit.export")
    assert entry.organization == tenant_a.org and entry.actor == tenant_a.admin
    assert entry.changes == {"filters": {"action": "team."}}


def test_the_export_has_a_download_name_and_no_cache(admin_web):
    response = admin_web.get(EXPORT)

    assert response["Content-Disposition"].startswith('attachment; filename="kehu-audit-')
    assert response["Cache-Control"] == "no-store"


def test_the_export_neutralises_spreadsheet_formulas(admin_web, tenant_a):
    services.team_create(actor=tenant_a.admin, name='=HYPERLINK("http://evil")')

    _type, rows = _export(admin_web, {"action": "team.create"})

    labels = {row[6] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil")' in labels


def test_the_export_renders_before_and_after(admin_web, tenant_a):
    services.team_update(actor=tenant_a.admin, team=tenant_a.teams["east"], data={"name": "华东"})

    _type, rows = _export(admin_web, {"action": "team.update"})

    assert rows[1][7] == "name: Sales East → 华东"
    assert rows[1][1] == tenant_a.admin.email


def test_the_export_of_a_previous_export_is_listed(admin_web, tenant_a):
    admin_web.get(EXPORT)

    html = admin_web.get(LIST, {"action": "audit."}).content.decode()

    assert set(re.findall(r'data-action="([^"]+)"', html)) == {"audit.export"}
    assert audit.verify() == []


def test_the_list_does_not_query_per_entry(admin_web, tenant_a):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            admin_web.get(LIST)
        return len(ctx.captured_queries)

    before = queries()
    for n in range(10):
        services.team_create(actor=tenant_a.users["administrator"], name=f"Team {n}")

    assert queries() == before <= 12
