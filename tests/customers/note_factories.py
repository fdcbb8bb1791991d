"""Notes and attachments made through the services, as a real user would make them."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.customers import note_services
from kehu.customers.note_models import Attachment, Note
from tests.customers.factories import make_customer

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"This program cannot be run in DOS mode"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def upload(name: str = "报价单.pdf", content: bytes = PDF, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def make_note(
    tenant: Any, customer: Any = None, *, author: Any = None, body: str = "首次拜访，客户对报价有兴趣。"
) -> Note:
    customer = customer or make_customer(tenant)
    return note_services.note_create(actor=author or tenant.admin, customer=customer, body=body).note


def make_attachment(tenant: Any, customer: Any = None, *, actor: Any = None, name: str = "报价单.pdf") -> Attachment:
    customer = customer or make_customer(tenant)
    return note_services.attachment_create(actor=actor or tenant.admin, customer=customer, file=upload(name))


def make_deleted_note(tenant: Any, customer: Any = None, **kwargs: Any) -> Note:
    """A note of `tenant` in the recycle bin (its customer stays live)."""
    note = make_note(tenant, customer, **kwargs)
    return note_services.note_delete(actor=tenant.admin, note=note)


def make_deleted_attachment(tenant: Any, customer: Any = None, **kwargs: Any) -> Attachment:
    """A file of `tenant` in the recycle bin (deleted on its own, not with a note)."""
    attachment = make_attachment(tenant, customer, **kwargs)
    return note_services.attachment_delete(actor=tenant.admin, attachment=attachment)
