"""The recycle bin of notes and files: listed on the recycle bin's second tab (and through the API),
restored by whoever may delete them (the author or uploader, or an administrator)."""

from __future__ import annotations

import pytest
from django.test import Client

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.permissions import can
from kehu.customers import note_selectors, note_services, services
from kehu.customers.note_models import Attachment, Note
from tests.api.support import all_ids, assert_error
from tests.customers.factories import make_customer
from tests.customers.note_factories import (
    make_attachment,
    make_deleted_attachment,
    make_deleted_note,
    make_note,
    upload,
)
from tests.customers.pages import customer_page

BIN = "/customers/recycle-bin/notes/"
NOTES = "/api/v1/notes/"
FILES = "/api/v1/attachments/"


def web(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def live(model, pk) -> bool:
    return model._base_manager.get(pk=pk).deleted_at is None


def note_with_file(tenant, customer=None, author=None):
    customer = customer or make_customer(tenant)
    author = author or tenant.admin
    saved = note_services.note_create(actor=author, customer=customer, body="带附件的备注", files=[upload("合同.pdf")])
    return saved.note, Attachment.objects.get(note=saved.note)


# The page --------------------------------------------------------------------------------------------


def test_the_second_tab_lists_deleted_notes_and_files_and_restores_a_note_with_its_files(tenant_a):
    customer = make_customer(tenant_a, name="回收客户")
    note, attached = note_with_file(tenant_a, customer)
    alone = make_deleted_attachment(tenant_a, customer, name="单独删除.pdf")
    note_services.note_delete(actor=tenant_a.admin, note=note)
    client = web(tenant_a.admin)

    html = client.get(BIN).content.decode()

    assert 'data-testid="recycle-bin-tabs"' in html and "带附件的备注" in html and "回收客户" in html
    assert f'data-attachment="{attached.pk}"' in html and f'data-attachment="{alone.pk}"' in html
    assert "Deleted with its note: restore the note" in html  # the note's file: no button of its own
    assert f"/customers/attachments/{attached.pk}/restore/" not in html
    assert f"/customers/attachments/{alone.pk}/restore/" in html
    assert 'data-testid="recycle-bin-notes-tab"' in client.get("/customers/recycle-bin/").content.decode()

    response = client.post(f"/customers/notes/{note.pk}/restore/")

    assert response.status_code == 302 and response.url == f"/customers/{customer.pk}/"
    assert live(Note, note.pk) and live(Attachment, attached.pk) and not live(Attachment, alone.pk)
    entry = AuditEntry.objects.get(action="note.restore", target_id=str(note.pk))
    assert entry.actor == tenant_a.admin and entry.changes["attachments"] == [attached.pk]
    detail = customer_page(client, customer)
    assert "带附件的备注" in detail and "合同.pdf" in detail

    response = client.post(f"/customers/attachments/{alone.pk}/restore/", {"next": "bin"})
    assert response.url == f"{BIN}?customer={customer.pk}"
    assert live(Attachment, alone.pk)
    assert AuditEntry.objects.filter(action="attachment.restore", target_id=str(alone.pk)).exists()
    empty = client.get(BIN).content.decode()
    assert 'data-testid="empty-notes"' in empty and 'data-testid="empty-files"' in empty


def test_a_file_deleted_on_its_own_before_its_note_stays_in_the_bin_when_the_note_returns(tenant_a):
    note, attached = note_with_file(tenant_a)
    note_services.attachment_delete(actor=tenant_a.admin, attachment=attached)
    note_services.note_delete(actor=tenant_a.admin, note=note_selectors.note_get_for(actor=tenant_a.admin, pk=note.pk))

    note_services.note_restore(
        actor=tenant_a.admin, note=note_selectors.note_deleted_get_for(actor=tenant_a.admin, pk=note.pk)
    )

    assert live(Note, note.pk) and not live(Attachment, attached.pk)
    # Now that its note is back, the file can be restored on its own.
    deleted = note_selectors.attachment_deleted_get_for(actor=tenant_a.admin, pk=attached.pk)
    note_services.attachment_restore(actor=tenant_a.admin, attachment=deleted)
    assert live(Attachment, attached.pk)


def test_a_file_of_a_deleted_note_is_restored_through_its_note(tenant_a, api):
    note, attached = note_with_file(tenant_a)
    note_services.note_delete(actor=tenant_a.admin, note=note)

    with pytest.raises(ValidationFailed):
        note_services.attachment_restore(
            actor=tenant_a.admin,
            attachment=note_selectors.attachment_deleted_get_for(actor=tenant_a.admin, pk=attached.pk),
        )
    client = api(tenant_a.admin)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    error = assert_error(client.post(f"{FILES}{attached.pk}/restore/"), 400, "note_deleted")
    assert "Restore the note" in error["message"] and "note" in error["fields"]
    response = web(tenant_a.admin).post(f"/customers/attachments/{attached.pk}/restore/", follow=True)
    assert b"Restore the note" in response.content
    assert not live(Attachment, attached.pk)


def test_the_tab_filters_by_customer_and_hides_what_belongs_to_deleted_customers(tenant_a):
    first, second, gone = (make_customer(tenant_a, name=n) for n in ("甲公司", "乙公司", "丙公司"))
    a = make_deleted_note(tenant_a, first, body="甲的备注")
    b = make_deleted_note(tenant_a, second, body="乙的备注")
    c = make_deleted_note(tenant_a, gone, body="丙的备注")
    services.customer_delete(actor=tenant_a.admin, customer=gone)
    client = web(tenant_a.admin)

    html = client.get(BIN).content.decode()
    assert f'data-note="{a.pk}"' in html and f'data-note="{b.pk}"' in html
    assert f'data-note="{c.pk}"' not in html  # comes back with its customer, from the customers tab

    one = client.get(f"{BIN}?customer={first.pk}").content.decode()
    assert f'data-note="{a.pk}"' in one and f'data-note="{b.pk}"' not in one
    assert client.get(f"{BIN}?customer={gone.pk}").status_code == 404
    assert client.get(f"{BIN}?customer=abc").status_code == 404
    assert f"recycle-bin/notes/?customer={first.pk}" in client.get(f"/customers/{first.pk}/").content.decode()


def test_the_page_reads_a_fixed_number_of_queries(tenant_a, django_assert_max_num_queries):
    client = web(tenant_a.admin)
    client.get(BIN)
    for i in range(6):
        make_deleted_note(tenant_a, body=f"备注 {i}")
        make_deleted_attachment(tenant_a)
    with django_assert_max_num_queries(16):
        response = client.get(BIN)
    assert response.content.decode().count("data-note=") == 6


# Who may restore ---------------------------------------------------------------------------------------


def test_the_author_restores_their_own_note_but_not_a_colleagues(tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a, owner=rep)
    mine = make_deleted_note(tenant_a, customer, author=rep)
    theirs = note_services.note_delete(actor=tenant_a.admin, note=make_note(tenant_a, customer, author=manager))
    client = web(rep)

    html = client.get(BIN).content.decode()
    assert f"/customers/notes/{mine.pk}/restore/" in html
    assert f'data-note="{theirs.pk}"' in html and f"/customers/notes/{theirs.pk}/restore/" not in html

    assert client.post(f"/customers/notes/{theirs.pk}/restore/").status_code == 403
    assert not live(Note, theirs.pk)
    assert client.post(f"/customers/notes/{mine.pk}/restore/").status_code == 302
    assert live(Note, mine.pk)


def test_read_only_roles_see_the_bin_but_restore_nothing(tenant_a, api):
    note = make_deleted_note(tenant_a)
    attachment = make_deleted_attachment(tenant_a)
    reader = tenant_a.users["marketer"]  # view on the whole organisation's customers, nothing else

    html = web(reader).get(BIN).content.decode()
    assert f'data-note="{note.pk}"' in html and f'data-attachment="{attachment.pk}"' in html
    assert "/restore/" not in html
    assert not can(reader, "restore", note) and not can(reader, "restore", attachment)
    with pytest.raises(PermissionDenied):
        note_services.note_restore(actor=reader, note=note)
    assert_error(api(reader).post(f"{NOTES}{note.pk}/restore/"), 403, "permission_denied")
    assert_error(api(reader).post(f"{FILES}{attachment.pk}/restore/"), 403, "permission_denied")
    assert not live(Note, note.pk) and not live(Attachment, attachment.pk)


def test_a_rep_never_sees_deleted_notes_outside_their_scope(tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    others = make_deleted_note(tenant_a, make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"]))
    foreign = make_deleted_note(tenant_b)
    client = web(rep)

    html = client.get(BIN).content.decode()

    assert f'data-note="{others.pk}"' not in html and f'data-note="{foreign.pk}"' not in html
    assert client.post(f"/customers/notes/{others.pk}/restore/").status_code == 404
    assert client.post(f"/customers/notes/{foreign.pk}/restore/").status_code == 404
    assert not live(Note, others.pk) and not live(Note, foreign.pk)


# API -------------------------------------------------------------------------------------------------


def test_the_api_lists_and_restores_deleted_notes_and_files(tenant_a, tenant_b, api, django_assert_max_num_queries):
    customer = make_customer(tenant_a)
    note = make_deleted_note(tenant_a, customer)
    attachment = make_deleted_attachment(tenant_a, customer)
    live_note = make_note(tenant_a, customer)
    foreign_note, foreign_file = make_deleted_note(tenant_b), make_deleted_attachment(tenant_b)
    client = api(tenant_a.admin)

    with django_assert_max_num_queries(6):
        listed = client.get(f"{NOTES}recycle-bin/")
    assert listed.status_code == 200
    item = listed.json()["results"][0]
    assert item["id"] == note.pk and item["deleted_at"] and item["deleted_by"]["id"] == tenant_a.admin.pk
    assert all_ids(client, f"{NOTES}recycle-bin/") == [note.pk]
    assert all_ids(client, f"{NOTES}recycle-bin/?customer={customer.pk}") == [note.pk]
    files = client.get(f"{FILES}recycle-bin/").json()["results"]
    assert [f["id"] for f in files] == [attachment.pk] and files[0]["with_note"] is False
    assert foreign_note.pk not in all_ids(client, f"{NOTES}recycle-bin/")
    assert foreign_file.pk not in all_ids(client, f"{FILES}recycle-bin/")

    restored = client.post(f"{NOTES}{note.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["id"] == note.pk
    assert client.get(f"{NOTES}{note.pk}/").status_code == 200
    restored = client.post(f"{FILES}{attachment.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["download_url"].endswith(f"/{attachment.pk}/download/")

    # Not in the bin (live, already restored, or another organisation's): 404.
    for url in (
        f"{NOTES}{live_note.pk}/restore/",
        f"{NOTES}{note.pk}/restore/",
        f"{NOTES}{foreign_note.pk}/restore/",
        f"{FILES}{foreign_file.pk}/restore/",
    ):
        assert_error(client.post(url), 404, "not_found")
    assert not live(Note, foreign_note.pk) and not live(Attachment, foreign_file.pk)


def test_a_deleted_note_restored_meanwhile_is_a_version_conflict(tenant_a):
    note = make_deleted_note(tenant_a)
    stale = note_selectors.note_deleted_get_for(actor=tenant_a.admin, pk=note.pk)
    Note._base_manager.filter(pk=note.pk).update(version=stale.version + 1)

    from kehu.core.errors import VersionConflict

    with pytest.raises(VersionConflict):
        note_services.note_restore(actor=tenant_a.admin, note=stale)


def test_attachment_restore_keeps_its_file(tenant_a, api):
    attachment = make_attachment(tenant_a)
    note_services.attachment_delete(actor=tenant_a.admin, attachment=attachment)
    client = api(tenant_a.admin)

    client.post(f"{FILES}{attachment.pk}/restore/")

    download = client.get(f"{FILES}{attachment.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


# Retention: the scheduled purge ----------------------------------------------------------------------


def _age(model, pks, days=31):
    from datetime import timedelta

    from django.utils import timezone

    model._base_manager.filter(pk__in=pks).update(deleted_at=timezone.now() - timedelta(days=days))


def test_the_retention_job_purges_old_deleted_notes_and_files_with_their_stored_files(tenant_a, tenant_b):
    from django.core.files.storage import default_storage

    from kehu.customers import pool, tasks

    customer = make_customer(tenant_a)
    note, attached = note_with_file(tenant_a, customer)
    note_services.note_delete(actor=tenant_a.admin, note=note)
    alone = make_deleted_attachment(tenant_a, customer, name="单独删除.pdf")
    recent = make_deleted_note(tenant_a, customer)
    kept_file = make_attachment(tenant_a, customer)
    theirs = make_deleted_note(tenant_b, make_customer(tenant_b))
    _age(Note, [note.pk, theirs.pk])
    _age(Attachment, [attached.pk, alone.pk])
    Attachment._base_manager.filter(pk=attached.pk).update(deleted_at=Note._base_manager.get(pk=note.pk).deleted_at)
    names = [attached.file.name, alone.file.name]
    assert all(default_storage.exists(n) for n in names)
    from kehu.customers.models import PoolSettings

    PoolSettings.objects.update_or_create(organization=tenant_b.org, defaults={"recycle_bin_retention_days": 0})

    assert tasks.recycle_bin_purge.delay().get() == 3  # two files and one note of tenant_a

    assert not Note._base_manager.filter(pk=note.pk).exists()
    assert not Attachment._base_manager.filter(pk__in=[attached.pk, alone.pk]).exists()
    assert not any(default_storage.exists(n) for n in names)
    assert Note._base_manager.filter(pk__in=[recent.pk, theirs.pk]).count() == 2  # too recent; bin kept forever
    assert default_storage.exists(kept_file.file.name)
    entry = AuditEntry.objects.get(action="note.purge", target_id=str(note.pk))
    assert entry.actor_label == "system" and entry.changes["purged_by"] == "retention 30 days"
    assert (
        AuditEntry.objects.filter(action="attachment.purge", target_id__in=[str(attached.pk), str(alone.pk)]).count()
        == 2
    )
    assert pool.recycle_bin_purge_expired() == 0  # idempotent


def test_a_stored_file_already_missing_is_not_an_error(tenant_a):
    from django.core.files.storage import default_storage

    from kehu.customers import pool

    customer = make_customer(tenant_a)
    gone = make_deleted_attachment(tenant_a, customer, name="已丢失.pdf")
    default_storage.delete(gone.file.name)
    _age(Attachment, [gone.pk])

    assert pool.recycle_bin_purge_expired() == 1
    assert not Attachment._base_manager.filter(pk=gone.pk).exists()


def test_purging_a_customer_removes_the_stored_files_of_its_attachments(tenant_a, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from kehu.customers import pool

    customer = make_customer(tenant_a)
    _note, attached = note_with_file(tenant_a, customer)
    services.customer_delete(actor=tenant_a.admin, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pool.customer_purge(actor=tenant_a.admin, customer=type(customer)._base_manager.get(pk=customer.pk))
    assert not Attachment._base_manager.filter(pk=attached.pk).exists()
    assert not default_storage.exists(attached.file.name)
