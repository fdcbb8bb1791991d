"""Notes: writing with @mentions (notified in the app and by real email, never someone who cannot see the
customer), the timeline, editing by the author or an administrator only (versioned), soft delete."""

import pytest

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry, Notification
from kehu.customers import mentions, note_selectors, note_services, selectors
from kehu.customers.note_models import Attachment, Note
from tests.customers.factories import make_contact, make_customer
from tests.customers.note_factories import make_note, upload


def tag(user) -> str:
    return mentions.token(str(user), user.pk)


@pytest.fixture
def people(tenant_a):
    """The rep owns the customer; the manager (team and sub-teams) and the marketer (whole organisation)
    can see it; the rep's teammate (scope "own") cannot."""
    users = tenant_a.users
    return users["sales_rep"], users["sales_manager"], users["marketer"], users["sales_rep_2"]


def test_mentioned_colleagues_who_can_see_the_customer_are_notified_in_the_app_and_by_email(
    tenant_a, people, smtp_server, django_capture_on_commit_callbacks
):
    rep, manager, marketer, teammate = people
    customer = make_customer(tenant_a, owner=rep, name="提及测试有限公司")
    body = f"{tag(manager)} 请帮忙看看报价，{tag(teammate)} 也看一下。抄送 @{marketer.email}."

    with django_capture_on_commit_callbacks(execute=True):
        result = note_services.note_create(actor=rep, customer=customer, body=body, base_url="https://crm.example.com/")

    note = result.note
    assert note.mentions == [manager.pk, teammate.pk, marketer.pk]
    assert {u.pk for u in result.notified} == {manager.pk, marketer.pk}
    assert [u.pk for u in result.not_notified] == [teammate.pk]
    inbox = Notification.objects.get(recipient=manager)
    assert str(rep) in inbox.title and "提及测试有限公司" in inbox.title
    assert inbox.url == f"/customers/{customer.pk}/"
    assert "请帮忙看看报价" in inbox.body and f"@{manager}" in inbox.body and "(user:" not in inbox.body
    assert not Notification.objects.filter(recipient=teammate).exists()
    assert Notification.objects.filter(recipient=marketer).count() == 1

    messages = smtp_server.wait_for(2)
    assert sorted(m["X-RcptTo"] for m in messages) == sorted([manager.email, marketer.email])
    mail = next(m for m in messages if m["X-RcptTo"] == manager.email)
    text = smtp_server.body(mail)
    assert f"https://crm.example.com/customers/{customer.pk}/" in text
    assert "请帮忙看看报价" in text
    (entry,) = AuditEntry.objects.filter(action="note.create", target_id=str(note.pk))
    assert entry.changes["mentions"] == [manager.pk, teammate.pk, marketer.pk]


def test_no_email_before_commit_and_none_to_oneself(tenant_a, people, smtp_server):
    rep, manager, _marketer, _teammate = people
    customer = make_customer(tenant_a, owner=rep)
    result = note_services.note_create(actor=rep, customer=customer, body=f"{tag(rep)} {tag(manager)}")
    assert [u.pk for u in result.notified] == [manager.pk]  # not the author
    assert not Notification.objects.filter(recipient=rep).exists()
    assert smtp_server.wait_for(1, timeout=0.3) == []  # the test's transaction never commits


def test_a_mention_of_someone_outside_the_organisation_fails_on_the_body(tenant_a, tenant_b, people):
    rep = people[0]
    customer = make_customer(tenant_a, owner=rep)
    outsider = tenant_b.users["sales_rep"]
    for body in (f"hi {tag(outsider)}", "hi @[Nobody](user:999999)"):
        with pytest.raises(ValidationFailed) as exc:
            note_services.note_create(actor=rep, customer=customer, body=body)
        assert "body" in exc.value.fields
    assert not Note.objects.filter(customer=customer).exists()
    assert not Notification.objects.filter(recipient=outsider).exists()


def test_plain_words_after_at_mention_nobody_unless_they_name_exactly_one_colleague(tenant_a, people):
    rep, manager, _marketer, _teammate = people
    manager.name = "王经理"
    manager.save(update_fields=["name"])
    customer = make_customer(tenant_a, owner=rep)
    body = "在 @home 办公，联系 @王经理，邮件 someone@example.com"
    result = note_services.note_create(actor=rep, customer=customer, body=body)
    assert result.note.mentions == [manager.pk]


def test_an_empty_or_overlong_note_names_the_field(tenant_a, people):
    rep = people[0]
    customer = make_customer(tenant_a, owner=rep)
    for body in ("   ", "长" * (note_services.BODY_MAX_LENGTH + 1)):
        with pytest.raises(ValidationFailed) as exc:
            note_services.note_create(actor=rep, customer=customer, body=body)
        assert list(exc.value.fields) == ["body"]


def test_a_contact_must_belong_to_the_customer(tenant_a, people):
    rep = people[0]
    customer = make_customer(tenant_a, owner=rep)
    other_contact = make_contact(tenant_a, make_customer(tenant_a, owner=rep))
    with pytest.raises(ValidationFailed) as exc:
        note_services.note_create(actor=rep, customer=customer, body="x", contact=other_contact)
    assert list(exc.value.fields) == ["contact"]
    own = make_contact(tenant_a, customer, name="赵六")
    note = note_services.note_create(actor=rep, customer=customer, body="电话沟通", contact=own).note
    assert note.contact == own


def test_who_cannot_see_the_customer_cannot_write_on_it(tenant_a, tenant_b, people):
    rep, _manager, marketer, teammate = people
    customer = make_customer(tenant_a, owner=rep)
    with pytest.raises(NotFound):
        note_services.note_create(actor=teammate, customer=customer, body="越权")
    with pytest.raises(NotFound):
        note_services.note_create(actor=tenant_b.admin, customer=customer, body="越权")
    with pytest.raises(PermissionDenied):  # sees every customer, may create none
        note_services.note_create(actor=marketer, customer=customer, body="只读")


def test_the_timeline_shows_the_note_rendered_with_author_and_time(tenant_a, people):
    rep, manager, _marketer, teammate = people
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep, body=f"第一次拜访\n{tag(manager)} 下周跟进")

    items = selectors.customer_timeline(actor=manager, customer=customer)
    kinds = [i.kind for i in items]
    assert kinds[0] == "note" and "note.create" not in kinds  # the note itself, not its audit entry
    item = items[0]
    assert item.body == f"第一次拜访\n@{manager} 下周跟进"
    assert item.actor == str(rep) and item.at == note.created_at
    assert item.url == f"/customers/notes/{note.pk}/"
    with pytest.raises(NotFound):
        selectors.customer_timeline(actor=teammate, customer=customer)


def test_only_the_author_or_an_administrator_edits_a_note_and_edits_are_versioned(tenant_a, people):
    rep, manager, marketer, _teammate = people
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep, body="原文")
    for someone in (manager, marketer):
        fresh = note_selectors.note_get_for(actor=someone, pk=note.pk)
        with pytest.raises(PermissionDenied):
            note_services.note_update(actor=someone, note=fresh, expected_version=1, data={"body": "改写"})

    note = note_selectors.note_get_for(actor=rep, pk=note.pk)
    note_services.note_update(actor=rep, note=note, expected_version=1, data={"body": "作者修改"})
    assert Note.objects.get(pk=note.pk).version == 2
    stale = note_selectors.note_get_for(actor=tenant_a.admin, pk=note.pk)
    stale.version = 1
    with pytest.raises(VersionConflict):
        note_services.note_update(actor=tenant_a.admin, note=stale, expected_version=1, data={"body": "旧版本"})
    current = note_selectors.note_get_for(actor=tenant_a.admin, pk=note.pk)
    note_services.note_update(actor=tenant_a.admin, note=current, expected_version=2, data={"body": "管理员修改"})
    saved = Note.objects.get(pk=note.pk)
    assert (saved.body, saved.version, saved.updated_by) == ("管理员修改", 3, tenant_a.admin)
    (entry,) = AuditEntry.objects.filter(action="note.update", actor=tenant_a.admin)
    assert entry.changes["body"] == {"before": "作者修改", "after": "管理员修改"}


def test_an_edit_notifies_only_the_newly_mentioned(tenant_a, people):
    rep, manager, marketer, _teammate = people
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep, body=f"{tag(manager)} 看一下")
    assert Notification.objects.filter(recipient=manager).count() == 1
    note = note_selectors.note_get_for(actor=rep, pk=note.pk)
    result = note_services.note_update(
        actor=rep, note=note, expected_version=1, data={"body": f"{tag(manager)} {tag(marketer)} 看一下"}
    )
    assert [u.pk for u in result.notified] == [marketer.pk]
    assert Notification.objects.filter(recipient=manager).count() == 1
    assert Notification.objects.filter(recipient=marketer).count() == 1
    assert Note.objects.get(pk=note.pk).mentions == [manager.pk, marketer.pk]


def test_delete_is_soft_and_takes_the_notes_files_along(tenant_a, people):
    rep, manager, _marketer, _teammate = people
    customer = make_customer(tenant_a, owner=rep)
    result = note_services.note_create(actor=rep, customer=customer, body="附合同", files=[upload("合同.pdf")])
    note = result.note
    (attachment,) = Attachment.objects.filter(note=note)
    with pytest.raises(PermissionDenied):
        note_services.note_delete(actor=manager, note=note_selectors.note_get_for(actor=manager, pk=note.pk))

    note_services.note_delete(actor=rep, note=note_selectors.note_get_for(actor=rep, pk=note.pk))

    row = Note.objects.get(pk=note.pk)  # still there, for the recycle bin
    assert row.deleted_at is not None and row.version == 2
    assert Attachment.objects.get(pk=attachment.pk).deleted_at is not None
    assert not note_selectors.note_list_for(actor=rep, customer=customer).exists()
    assert not note_selectors.attachment_list_for(actor=rep, customer=customer).exists()
    with pytest.raises(NotFound):
        note_selectors.note_get_for(actor=rep, pk=note.pk)
    assert "note" not in [i.kind for i in selectors.customer_timeline(actor=rep, customer=customer)]
    (entry,) = AuditEntry.objects.filter(action="note.delete", target_id=str(note.pk))
    assert entry.changes == {"customer": customer.pk, "attachments": [attachment.pk]}


def test_a_note_follows_its_customer_into_the_recycle_bin(tenant_a, people):
    rep = people[0]
    customer = make_customer(tenant_a, owner=rep)
    note = make_note(tenant_a, customer, author=rep)
    from kehu.customers import services

    services.customer_delete(actor=tenant_a.admin, customer=customer)
    with pytest.raises(NotFound):
        note_selectors.note_get_for(actor=tenant_a.admin, pk=note.pk)


def test_the_mention_picker_says_who_cannot_see_the_customer(tenant_a, people):
    rep, manager, _marketer, teammate = people
    customer = make_customer(tenant_a, owner=rep)
    candidates = note_selectors.mention_candidates_for(actor=rep, customer=customer, query="")
    by_user = {c.user.pk: c for c in candidates}
    assert rep.pk not in by_user
    assert by_user[manager.pk].can_see and not by_user[teammate.pk].can_see
    assert by_user[manager.pk].token == f"@[{manager}](user:{manager.pk})"
    found = note_selectors.mention_candidates_for(actor=rep, customer=customer, query="@sales_manager")
    assert [c.user.pk for c in found] == [manager.pk]


def test_mention_tokens_round_trip():
    body = "@[张 伟](user:12) 和 @[Li](user:7)，还有 @li@example.com。"
    found = mentions.find(body)
    assert [(m.user_id, m.word) for m in found] == [(12, ""), (7, ""), (None, "li@example.com")]
    assert mentions.plain(body) == "@张 伟 和 @Li，还有 @li@example.com。"
    assert mentions.token("A [b]", 3) == "@[A b](user:3)"
