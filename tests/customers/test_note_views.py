"""The pages: the note box and the files panel of the customer page, the mention picker, the note page
(read, edit, delete), uploads with errors naming the file."""

import re

import pytest
from django.urls import reverse

from kehu.core.models import Notification
from kehu.customers import mentions
from kehu.customers.note_models import Attachment, Note
from tests.customers.factories import make_customer
from tests.customers.note_factories import EXE, make_attachment, make_note, upload
from tests.customers.pages import customer_page


@pytest.fixture
def rep(tenant_a):
    user = tenant_a.users["sales_rep"]
    user.language = "en"  # the messages asserted below are the English source strings
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def html(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_customer_page_has_the_note_box_the_files_panel_and_notes_on_the_timeline(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, owner=rep)
    make_note(tenant_a, customer, author=rep, body="电话沟通 <b>重要</b>")
    attachment = make_attachment(tenant_a, customer, actor=rep, name="报价单.pdf")

    body = customer_page(rep_client, customer)

    assert 'data-testid="note-form"' in body and "data-mention-input" in body
    assert f'data-mention-url="{reverse("customers:mention_suggestions", args=[customer.pk])}"' in body
    assert 'enctype="multipart/form-data"' in body and "customers/notes.js" in body
    panel = body.split('data-testid="attachments"', 1)[1]
    assert "报价单.pdf" in panel and reverse("customers:attachment_download", args=[attachment.pk]) in panel
    assert 'data-kind="note"' in body and 'data-kind="attachment"' in body
    assert "电话沟通 &lt;b&gt;重要&lt;/b&gt;" in body  # the body is text, never markup


def test_a_read_only_user_sees_no_note_box_or_upload(client, tenant_a):
    customer = make_customer(tenant_a)
    client.force_login(tenant_a.users["read_only"])
    body = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert 'data-testid="attachments"' in body
    assert 'data-testid="note-form"' not in body and 'data-testid="upload-form"' not in body


def test_writing_a_note_with_mentions_tells_who_cannot_see_the_customer(rep_client, rep, tenant_a):
    manager, teammate = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    customer = make_customer(tenant_a, owner=rep)
    text = f"{mentions.token(str(manager), manager.pk)} {mentions.token(str(teammate), teammate.pk)} 请看"

    response = rep_client.post(
        reverse("customers:note_create", args=[customer.pk]),
        {"body": text, "files": [upload("纪要.pdf")]},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("customers:detail", args=[customer.pk])
    said = " ".join(messages_of(response))
    assert f"{teammate} cannot see this customer and was not notified" in said
    assert f"Notified: {manager}" in said
    note = Note.objects.get(customer=customer)
    assert note.body == text and Attachment.objects.get(note=note).original_name == "纪要.pdf"
    assert Notification.objects.filter(recipient=manager).exists()
    assert not Notification.objects.filter(recipient=teammate).exists()
    assert f"@{manager} @{teammate} 请看" in customer_page(rep_client, customer, response=response)  # on the timeline


def test_a_refused_note_keeps_what_was_typed_and_names_the_problem(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, owner=rep)
    response = rep_client.post(
        reverse("customers:note_create", args=[customer.pk]), {"body": "附件有问题", "files": [upload("x.pdf", EXE)]}
    )
    assert response.status_code == 400
    body = html(response)
    assert "附件有问题" in body
    assert 'data-testid="error-files"' in body and "x.pdf" in body
    assert not Note.objects.exists() and not Attachment.objects.exists()


def test_the_mention_picker_suggests_colleagues_by_name_or_email(rep_client, rep, tenant_a):
    manager, teammate = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    customer = make_customer(tenant_a, owner=rep)
    url = reverse("customers:mention_suggestions", args=[customer.pk])

    body = html(rep_client.get(url, {"q": "sales_manager@"}))
    assert re.findall(r'data-user="(\d+)"', body) == [str(manager.pk)]
    assert f'data-mention-token="@[{manager}](user:{manager.pk})"' in body
    assert 'data-testid="cannot-see"' not in body

    body = html(rep_client.get(url, {"q": "rep two"}))
    assert re.findall(r'data-user="(\d+)"', body) == [str(teammate.pk)]
    assert 'data-testid="cannot-see"' in body
    assert 'data-user="' not in html(rep_client.get(url, {"q": "nobody-like-this"}))


def test_the_note_page_edits_for_the_author_and_only_shows_for_others(client, rep, tenant_a):
    manager = tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep, body="原来的内容")
    url = reverse("customers:note_edit", args=[note.pk])

    client.force_login(manager)
    body = html(client.get(url))
    assert 'data-testid="note-body"' in body and "原来的内容" in body
    assert 'data-testid="note-form"' not in body and 'data-testid="delete-note"' not in body
    assert client.post(url, {"body": "经理改写", "version": 1}).status_code == 403
    assert client.post(reverse("customers:note_delete", args=[note.pk])).status_code == 403

    client.force_login(rep)
    assert 'data-testid="note-form"' in html(client.get(url))
    response = client.post(url, {"body": "作者修改", "version": 1})
    assert response.status_code == 302
    assert Note.objects.get(pk=note.pk).body == "作者修改"
    conflict = client.post(url, {"body": "我的新文字", "version": 1})
    assert conflict.status_code == 400
    assert "我的新文字" in html(conflict) and 'data-testid="form-error"' in html(conflict)
    assert Note.objects.get(pk=note.pk).body == "作者修改"

    response = client.post(reverse("customers:note_delete", args=[note.pk]))
    assert response.status_code == 302
    assert Note.objects.get(pk=note.pk).deleted_at is not None
    assert client.get(url).status_code == 404


def test_uploading_files_from_the_panel(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, owner=rep)
    url = reverse("customers:attachment_upload", args=[customer.pk])

    response = rep_client.post(url, {"files": [upload("一.pdf"), upload("二.pdf")]}, follow=True)
    assert "2 files attached." in messages_of(response)
    assert Attachment.objects.filter(customer=customer).count() == 2

    response = rep_client.post(url, {"files": [upload("病毒.pdf", EXE)]}, follow=True)
    (message,) = messages_of(response)
    assert "病毒.pdf" in message and "PDF" in message
    assert Attachment.objects.filter(customer=customer).count() == 2
    assert rep_client.post(url, {}, follow=True).status_code == 200  # no file: a message, not a crash


def test_deleting_a_file_from_the_panel(rep_client, rep, tenant_a):
    customer = make_customer(tenant_a, owner=rep)
    attachment = make_attachment(tenant_a, customer, actor=rep)
    detail = html(rep_client.get(reverse("customers:detail", args=[customer.pk])))
    assert reverse("customers:attachment_delete", args=[attachment.pk]) in detail
    response = rep_client.post(reverse("customers:attachment_delete", args=[attachment.pk]))
    assert response.status_code == 302
    assert Attachment.objects.get(pk=attachment.pk).deleted_at is not None


def test_pages_of_a_customer_outside_the_scope_are_404(client, tenant_a):
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep"])
    note = make_note(tenant_a, customer)
    client.force_login(tenant_a.users["sales_rep_2"])
    assert client.get(reverse("customers:mention_suggestions", args=[customer.pk])).status_code == 404
    assert client.post(reverse("customers:note_create", args=[customer.pk]), {"body": "x"}).status_code == 404
    assert client.get(reverse("customers:note_edit", args=[note.pk])).status_code == 404
    assert not Note.objects.filter(body="x").exists()
