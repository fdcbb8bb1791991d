"""Attachments: stored through the storage API per organisation, size limit, allowed types checked by
extension and by content, downloads only for who may see the customer, Chinese file names, soft delete."""

import hashlib
from urllib.parse import quote

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import translation

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import note_selectors, note_services, uploads
from kehu.customers.note_models import Attachment
from tests.customers.factories import make_customer
from tests.customers.note_factories import EXE, PDF, PNG, docx_bytes, make_attachment, upload


def refused(actor, customer, file) -> str:
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        note_services.attachment_create(actor=actor, customer=customer, file=file)
    assert list(exc.value.fields) == ["file"]
    return exc.value.fields["file"][0]


def test_a_good_upload_is_stored_per_organisation_with_its_facts(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    attachment = note_services.attachment_create(actor=rep, customer=customer, file=upload("报价单 v2.pdf"))

    assert attachment.original_name == "报价单 v2.pdf"
    assert attachment.size == len(PDF) and attachment.content_type == "application/pdf"
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert attachment.file.name.startswith(f"attachments/{tenant_a.org.pk}/") and attachment.file.name.endswith(".pdf")
    assert "报价单" not in attachment.file.name  # the typed name never becomes a path
    with default_storage.open(attachment.file.name) as stored:
        assert stored.read() == PDF
    (entry,) = AuditEntry.objects.filter(action="attachment.create", target_id=str(attachment.pk))
    assert entry.changes["name"] == "报价单 v2.pdf" and entry.changes["sha256"] == attachment.sha256


@pytest.mark.parametrize(
    ("name", "content"),
    [("照片.png", PNG), ("合同.docx", docx_bytes()), ("名单.csv", "姓名,电话\n张三,13800138000\n".encode("gbk"))],
)
def test_allowed_types_with_matching_content_are_accepted(tenant_a, name, content):
    customer = make_customer(tenant_a)
    attachment = note_services.attachment_create(actor=tenant_a.admin, customer=customer, file=upload(name, content))
    assert attachment.original_name == name and attachment.size == len(content)


def test_a_file_over_the_limit_is_refused_naming_the_file_and_the_limit(tenant_a, settings):
    settings.KEHU_ATTACHMENT_MAX_MB = 1
    customer = make_customer(tenant_a)
    big = PDF + b"0" * (1024 * 1024)
    message = refused(tenant_a.admin, customer, upload("大文件.pdf", big))
    assert "大文件.pdf" in message and "1.0 MB" in message and "1 MB" in message
    assert not Attachment.objects.exists()


def test_a_type_outside_the_list_is_refused(tenant_a, settings):
    customer = make_customer(tenant_a)
    message = refused(tenant_a.admin, customer, upload("setup.exe", EXE))
    assert "setup.exe" in message and ".exe" in message and "pdf" in message
    assert "no file extension" in refused(tenant_a.admin, customer, upload("说明书", PDF))
    settings.KEHU_ATTACHMENT_TYPES = ["pdf"]
    assert "照片.png" in refused(tenant_a.admin, customer, upload("照片.png", PNG))


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("报价.pdf", EXE, "PDF"),  # a program renamed to .pdf
        ("照片.jpg", PDF, "JPEG"),
        ("合同.docx", b"PK\x03\x04 not really a zip", "Word"),
        ("表格.xlsx", docx_bytes(), "Excel"),  # a zip, but a Word document's
        ("说明.txt", b"\x00\x01\x02binary", "plain text"),
    ],
)
def test_a_spoofed_extension_is_refused_by_its_content(tenant_a, name, content, kind):
    message = refused(tenant_a.admin, make_customer(tenant_a), upload(name, content))
    assert name in message and kind in message
    assert not Attachment.objects.exists()


def test_an_empty_file_is_refused(tenant_a):
    assert "空.pdf" in refused(tenant_a.admin, make_customer(tenant_a), upload("空.pdf", b""))


def test_file_names_lose_folders_and_control_characters():
    assert uploads.clean_filename("C:\\Users\\张三\\报价.pdf") == "报价.pdf"
    assert uploads.clean_filename("../../etc/pa\x00ss\n.txt") == "pass.txt"
    assert uploads.clean_filename("") == "file"
    assert uploads.extension(".bashrc") == "" and uploads.extension("a.PDF") == "pdf"


def test_several_files_are_all_or_nothing(tenant_a):
    customer = make_customer(tenant_a)
    with pytest.raises(ValidationFailed) as exc:
        note_services.attachments_create(
            actor=tenant_a.admin, customer=customer, files=[upload("好.pdf"), upload("坏.pdf", EXE)]
        )
    assert "坏.pdf" in exc.value.message
    assert not Attachment.objects.exists()


def test_who_cannot_see_the_customer_can_neither_upload_nor_read(tenant_a, tenant_b):
    rep, teammate = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    customer = make_customer(tenant_a, owner=rep)
    attachment = make_attachment(tenant_a, customer)
    for outsider in (teammate, tenant_b.admin):
        with pytest.raises(NotFound):
            note_services.attachment_create(actor=outsider, customer=customer, file=upload())
        with pytest.raises(NotFound):
            note_selectors.attachment_get_for(actor=outsider, pk=attachment.pk)
    assert note_selectors.attachment_get_for(actor=tenant_a.users["sales_manager"], pk=attachment.pk) == attachment


def test_delete_is_soft_for_the_uploader_or_an_administrator(tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep)
    attachment = make_attachment(tenant_a, customer, actor=rep)
    with pytest.raises(PermissionDenied):
        note_services.attachment_delete(actor=manager, attachment=attachment)
    note_services.attachment_delete(actor=rep, attachment=attachment)
    row = Attachment.objects.get(pk=attachment.pk)
    assert row.deleted_at is not None and default_storage.exists(row.file.name)  # kept for the recycle bin
    with pytest.raises(NotFound):
        note_selectors.attachment_get_for(actor=rep, pk=attachment.pk)
    assert AuditEntry.objects.filter(action="attachment.delete", target_id=str(attachment.pk)).exists()
    other = make_attachment(tenant_a, customer, actor=rep)
    note_services.attachment_delete(actor=tenant_a.admin, attachment=other)
    assert Attachment.objects.get(pk=other.pk).deleted_at is not None


def test_attachments_are_timeline_items_linking_to_the_download(tenant_a):
    from kehu.customers import selectors

    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    attachment = make_attachment(tenant_a, customer, actor=rep, name="方案.pdf")
    item = selectors.customer_timeline(actor=rep, customer=customer)[0]
    assert item.kind == "attachment" and "方案.pdf" in item.title and item.actor == str(rep)
    assert item.url == reverse("customers:attachment_download", args=[attachment.pk])


# Downloads (UI) -----------------------------------------------------------------------------------------


def test_the_owner_downloads_the_file_under_its_chinese_name(client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    attachment = make_attachment(tenant_a, make_customer(tenant_a, owner=rep), actor=rep, name="报价单 2026.pdf")
    client.force_login(rep)
    response = client.get(reverse("customers:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=utf-8''{quote('报价单 2026.pdf')}" in disposition
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("who", ["teammate", "other organisation"])
def test_a_download_outside_ones_scope_or_organisation_is_404(client, tenant_a, tenant_b, who):
    attachment = make_attachment(tenant_a, make_customer(tenant_a, owner=tenant_a.users["sales_rep"]))
    client.force_login(tenant_a.users["sales_rep_2"] if who == "teammate" else tenant_b.admin)
    response = client.get(reverse("customers:attachment_download", args=[attachment.pk]))
    assert response.status_code == 404
    assert PDF not in response.content
