"""/api/v1/notes/ and /api/v1/attachments/: CRUD, filters, mentions in the response, versions, multipart
uploads and downloads, and every error in the one shape."""

from urllib.parse import quote

from kehu.core.models import Notification
from kehu.customers import mentions
from kehu.customers.note_models import Attachment, Note
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_contact, make_customer
from tests.customers.note_factories import EXE, PDF, make_attachment, make_note, upload

NOTES = "/api/v1/notes/"
FILES = "/api/v1/attachments/"


def test_note_crud(api, tenant_a):
    rep, manager, teammate = (tenant_a.users[k] for k in ("sales_rep", "sales_manager", "sales_rep_2"))
    customer = make_customer(tenant_a, owner=rep, name="接口客户")
    contact = make_contact(tenant_a, customer, name="钱七")
    client = api(rep)
    body = f"{mentions.token(str(manager), manager.pk)} 和 {mentions.token(str(teammate), teammate.pk)} 请跟进"

    response = client.post(NOTES, {"customer": customer.pk, "contact": contact.pk, "body": body}, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["customer"] == {"id": customer.pk, "name": "接口客户"}
    assert created["contact"] == {"id": contact.pk, "name": "钱七"}
    assert created["body"] == body and created["text"] == f"@{manager} 和 @{teammate} 请跟进"
    assert created["mentions"] == [manager.pk, teammate.pk]
    assert created["author"]["id"] == rep.pk and created["version"] == 1
    assert [u["id"] for u in created["notified"]] == [manager.pk]
    assert [u["id"] for u in created["not_notified"]] == [teammate.pk]
    assert Notification.objects.filter(recipient=manager).count() == 1
    assert not Notification.objects.filter(recipient=teammate).exists()
    note_id = created["id"]

    other = make_note(tenant_a, make_customer(tenant_a, owner=rep), author=rep)
    assert all_ids(client, f"{NOTES}?customer={customer.pk}") == [note_id]
    assert set(all_ids(client, NOTES)) == {note_id, other.pk}
    assert client.get(f"{NOTES}{note_id}/").json()["text"].endswith("请跟进")

    response = client.patch(f"{NOTES}{note_id}/", {"body": "改过了", "contact": None, "version": 1}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["body"], response.json()["contact"], response.json()["version"]) == ("改过了", None, 2)
    stale = client.patch(f"{NOTES}{note_id}/", {"body": "旧的", "version": 1}, format="json")
    assert_error(stale, 409, "version_conflict")

    assert client.delete(f"{NOTES}{note_id}/").status_code == 204
    assert_error(client.get(f"{NOTES}{note_id}/"), 404, "not_found")
    assert Note.objects.get(pk=note_id).deleted_at is not None


def test_note_errors_in_the_one_shape(api, tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    client = api(rep)
    error = assert_error(
        client.post(NOTES, {"customer": customer.pk, "body": ""}, format="json"), 400, "validation_failed"
    )
    assert "body" in error["fields"]
    foreign = make_customer(tenant_b)
    error = assert_error(
        client.post(NOTES, {"customer": foreign.pk, "body": "x"}, format="json"), 400, "validation_failed"
    )
    assert "customer" in error["fields"]
    bad_mention = {"customer": customer.pk, "body": "@[外人](user:999999)"}
    assert "body" in assert_error(client.post(NOTES, bad_mention, format="json"), 400, "validation_failed")["fields"]
    note = make_note(tenant_a, customer, author=rep)
    error = assert_error(client.patch(f"{NOTES}{note.pk}/", {"body": "x"}, format="json"), 400, "validation_failed")
    assert "version" in error["fields"]
    assert_error(client.get(f"{NOTES}?customer=abc"), 400, "validation_failed")
    assert_error(api(tenant_b.admin).get(f"{NOTES}{note.pk}/"), 404, "not_found")


def test_only_the_author_or_an_administrator_changes_a_note(api, tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    note = make_note(tenant_a, make_customer(tenant_a, owner=rep), author=rep, body="作者的话")
    url = f"{NOTES}{note.pk}/"
    assert api(manager).get(url).status_code == 200  # may read it
    assert_error(api(manager).patch(url, {"body": "经理改写", "version": 1}, format="json"), 403, "permission_denied")
    assert_error(api(manager).delete(url), 403, "permission_denied")
    assert_error(api(tenant_a.users["sales_rep_2"]).delete(url), 404, "not_found")  # cannot even see it
    assert api(tenant_a.admin).patch(url, {"body": "管理员改写", "version": 1}, format="json").status_code == 200
    assert Note.objects.get(pk=note.pk).body == "管理员改写"


def test_attachment_upload_list_download_delete(api, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep)
    client = api(rep)

    response = client.post(
        FILES, {"customer": customer.pk, "note": note.pk, "file": upload("会议纪要.pdf")}, format="multipart"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "会议纪要.pdf" and body["size"] == len(PDF) and body["note"] == note.pk
    assert body["content_type"] == "application/pdf" and body["uploaded_by"]["id"] == rep.pk
    assert body["download_url"].endswith(f"{FILES}{body['id']}/download/")
    make_attachment(tenant_a, make_customer(tenant_a, owner=rep), actor=rep)
    assert all_ids(client, f"{FILES}?customer={customer.pk}") == [body["id"]]
    assert all_ids(client, f"{FILES}?note={note.pk}") == [body["id"]]

    download = client.get(f"{FILES}{body['id']}/download/", HTTP_ACCEPT="application/pdf")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert f"filename*=utf-8''{quote('会议纪要.pdf')}" in download["Content-Disposition"]

    assert client.delete(f"{FILES}{body['id']}/").status_code == 204
    assert Attachment.objects.get(pk=body["id"]).deleted_at is not None
    assert_error(client.get(f"{FILES}{body['id']}/download/"), 404, "not_found")


def test_attachment_errors_in_the_one_shape(api, tenant_a, tenant_b, settings):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    client = api(rep)
    spoofed = client.post(FILES, {"customer": customer.pk, "file": upload("报价.pdf", EXE)}, format="multipart")
    error = assert_error(spoofed, 400, "validation_failed")
    assert "报价.pdf" in error["fields"]["file"][0]
    settings.KEHU_ATTACHMENT_MAX_MB = 1
    big = upload("大.pdf", PDF + b"0" * (1024 * 1024))
    error = assert_error(
        client.post(FILES, {"customer": customer.pk, "file": big}, format="multipart"), 400, "validation_failed"
    )
    assert "大.pdf" in error["fields"]["file"][0]
    missing = assert_error(client.post(FILES, {"customer": customer.pk}, format="multipart"), 400, "validation_failed")
    assert "file" in missing["fields"]
    foreign = make_customer(tenant_b)
    error = assert_error(
        client.post(FILES, {"customer": foreign.pk, "file": upload()}, format="multipart"), 400, "validation_failed"
    )
    assert "customer" in error["fields"]
    assert not Attachment.objects.exists()
    theirs = make_attachment(tenant_b)
    assert_error(client.get(f"{FILES}{theirs.pk}/download/"), 404, "not_found")
    assert_error(
        api(tenant_a.users["sales_rep_2"]).get(f"{FILES}{make_attachment(tenant_a, customer).pk}/download/"),
        404,
        "not_found",
    )
