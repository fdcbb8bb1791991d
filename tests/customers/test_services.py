"""Writes through the services: validation, audit entries, versions, soft delete, assignment."""

import pytest
from django.core import mail

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry, Notification
from kehu.customers import services
from kehu.customers.models import Contact, Customer, CustomerTag
from tests.customers.factories import make_contact, make_customer, make_tag


def entries(target, action=None):
    qs = AuditEntry.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("seq"))


def test_it_creates_a_customer_owned_by_the_actor_with_an_audit_entry(tenant_a):
    rep = tenant_a.users["sales_rep"]
    tag = make_tag(tenant_a, "重点客户")
    customer, duplicates = services.customer_create(
        actor=rep, name=" 华为技术有限公司 ", phone="+86 138 0013 8000", email="Info@Huawei.COM", tags=[tag]
    )
    assert customer.owner == rep and customer.created_by == rep
    assert customer.organization == tenant_a.org
    assert customer.name == "华为技术有限公司"
    assert customer.phone_normalized == "13800138000"
    assert customer.email_normalized == "info@huawei.com"
    assert list(customer.tags.all()) == [tag]
    assert duplicates == []
    (entry,) = entries(customer, "customer.create")
    assert entry.actor == rep
    assert entry.changes["name"] == "华为技术有限公司"
    assert entry.changes["tags"] == ["重点客户"]
    assert audit.verify() == []


def test_it_refuses_invalid_fields_and_names_them(tenant_a):
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(ValidationFailed) as exc:
        services.customer_create(actor=rep, name="", phone="12345", email="nope", website="not a site")
    assert set(exc.value.fields) == {"name", "phone", "email", "website"}
    assert not Customer.objects.exists()
    with pytest.raises(ValidationFailed) as exc:
        services.customer_create(actor=rep, name="X", organization=tenant_a.org)
    assert "organization" in exc.value.fields


def test_it_warns_about_duplicates_by_phone_email_and_name(tenant_a):
    rep = tenant_a.users["sales_rep"]
    same_phone = make_customer(tenant_a, owner=rep, name="甲公司", phone="13800138000")
    same_email = make_customer(tenant_a, owner=rep, name="乙公司", email="buy@example.cn")
    same_name = make_customer(tenant_a, owner=rep, name="丙公司")
    make_customer(tenant_a, owner=rep, name="无关公司", phone="13900139000")
    _new, duplicates = services.customer_create(
        actor=rep, name="丙公司", phone="+86 138 0013 8000", email="BUY@example.cn"
    )
    assert {c.pk for c in duplicates} == {same_phone.pk, same_email.pk, same_name.pk}


def test_duplicates_never_reveal_customers_outside_the_actors_scope(tenant_a, tenant_b):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_customer(tenant_a, owner=rep2, name="同名公司", phone="13800138000")
    make_customer(tenant_b, owner=tenant_b.users["sales_rep"], name="同名公司", phone="13800138000")
    _new, duplicates = services.customer_create(actor=rep, name="同名公司", phone="13800138000")
    assert duplicates == []
    manager = tenant_a.users["sales_manager"]
    _new, duplicates = services.customer_create(actor=manager, name="同名公司")
    assert len(duplicates) == 2  # the two of tenant_a (rep's and rep2's), not tenant_b's
    assert all(c.organization_id == tenant_a.org.pk for c in duplicates)


def test_it_updates_with_an_audit_diff_and_a_new_version(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="旧名", tier="C")
    tag = make_tag(tenant_a)
    services.customer_update(
        actor=rep,
        customer=customer,
        expected_version=1,
        data={"name": "新名", "tier": "A", "phone": "010-8888 6666", "short_name": "", "tags": [tag]},
    )
    customer.refresh_from_db()
    assert (customer.name, customer.tier, customer.phone_normalized, customer.version) == (
        "新名",
        "A",
        "01088886666",
        2,
    )
    assert customer.updated_by == rep
    assert list(customer.tags.all()) == [tag]
    (entry,) = entries(customer, "customer.update")
    assert entry.changes["name"] == {"before": "旧名", "after": "新名"}
    assert entry.changes["tier"] == {"before": "C", "after": "A"}
    assert entry.changes["tags"] == {"before": [], "after": [tag.name]}
    assert "short_name" not in entry.changes  # unchanged fields are not in the diff


def test_an_update_without_changes_writes_nothing(tenant_a):
    customer = make_customer(tenant_a, name="不变")
    services.customer_update(actor=tenant_a.admin, customer=customer, expected_version=1, data={"name": "不变"})
    customer.refresh_from_db()
    assert customer.version == 1
    assert entries(customer, "customer.update") == []


def test_a_stale_version_is_a_conflict_and_changes_nothing(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="原名")
    services.customer_update(actor=rep, customer=customer, expected_version=1, data={"name": "同事改的"})
    stale = Customer.objects.get(pk=customer.pk)
    stale.version = 1  # what a second browser tab read before the first save
    with pytest.raises(VersionConflict):
        services.customer_update(actor=rep, customer=stale, expected_version=1, data={"name": "我改的"})
    customer.refresh_from_db()
    assert (customer.name, customer.version) == ("同事改的", 2)


def test_the_version_check_is_atomic_with_the_write(tenant_a):
    """Two saves that both read version 1: the database lets only one through."""
    customer = make_customer(tenant_a, name="并发")
    first = Customer.objects.get(pk=customer.pk)
    second = Customer.objects.get(pk=customer.pk)
    services.customer_update(actor=tenant_a.admin, customer=first, expected_version=None, data={"name": "A"})
    with pytest.raises(VersionConflict):
        services.customer_update(actor=tenant_a.admin, customer=second, expected_version=None, data={"name": "B"})
    assert Customer.objects.get(pk=customer.pk).name == "A"


def test_owner_changes_only_through_assign(tenant_a):
    customer = make_customer(tenant_a)
    with pytest.raises(ValidationFailed) as exc:
        services.customer_update(
            actor=tenant_a.admin, customer=customer, expected_version=1, data={"owner": tenant_a.admin}
        )
    assert "owner" in exc.value.fields


def test_delete_is_soft_and_restore_brings_it_back(tenant_a):
    manager = tenant_a.users["sales_manager"]
    customer = make_customer(tenant_a)
    contact = make_contact(tenant_a, customer)
    services.customer_delete(actor=manager, customer=customer)
    customer.refresh_from_db()
    assert customer.deleted_at is not None
    assert not Customer.objects.visible_to(manager).filter(pk=customer.pk).exists()
    assert not Contact.objects.visible_to(manager).filter(pk=contact.pk).exists()  # hidden with its customer
    assert Customer.objects.in_recycle_bin_for(manager).filter(pk=customer.pk).exists()
    services.customer_restore(actor=manager, customer=customer)
    customer.refresh_from_db()
    assert customer.deleted_at is None and customer.version == 3
    assert Contact.objects.visible_to(manager).filter(pk=contact.pk).exists()
    assert [e.action for e in entries(customer)] == ["customer.create", "customer.delete", "customer.restore"]


def test_a_rep_cannot_delete_or_assign(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    with pytest.raises(PermissionDenied):
        services.customer_delete(actor=rep, customer=customer)
    with pytest.raises(PermissionDenied):
        services.customer_assign(actor=rep, customers=[customer], owner=tenant_a.users["sales_rep_2"])
    with pytest.raises(PermissionDenied):
        services.customer_create(actor=rep, name="给同事建", owner=tenant_a.users["sales_rep_2"])


def test_a_customer_outside_the_scope_is_not_found_for_writes(tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    colleagues = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    foreign = make_customer(tenant_b)
    for customer in (colleagues, foreign):
        with pytest.raises(NotFound):
            services.customer_update(actor=rep, customer=customer, expected_version=1, data={"name": "x"})
        with pytest.raises(NotFound):
            services.contact_create(actor=rep, customer=customer, name="x")
    with pytest.raises(NotFound):
        services.customer_delete(actor=tenant_a.admin, customer=foreign)


def test_it_assigns_audits_moves_contacts_and_notifies_the_new_owner(tenant_a):
    manager = tenant_a.users["sales_manager"]
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    first = make_customer(tenant_a, owner=rep, name="甲")
    second = make_customer(tenant_a, owner=rep, name="乙")
    contact = make_contact(tenant_a, first)
    moved = services.customer_assign(actor=manager, customers=[first, second], owner=rep2)
    assert [c.pk for c in moved] == [first.pk, second.pk]
    first.refresh_from_db()
    contact.refresh_from_db()
    assert first.owner == rep2 and first.version == 2
    assert contact.owner == rep2
    (entry,) = entries(first, "customer.assign")
    assert entry.changes == {"owner": {"before": rep.pk, "after": rep2.pk}}
    note = Notification.objects.get(recipient=rep2)
    assert "2" in note.title and note.url.endswith(f"?owner={rep2.pk}")


def test_assign_sends_the_email_after_commit(tenant_a, django_capture_on_commit_callbacks):
    rep2 = tenant_a.users["sales_rep_2"]
    customer = make_customer(tenant_a, name="邮件通知公司")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_assign(actor=tenant_a.admin, customers=[customer], owner=rep2)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [rep2.email]
    assert "邮件通知公司" in mail.outbox[0].subject


def test_assign_is_all_or_nothing(tenant_a, tenant_b):
    manager = tenant_a.users["sales_manager"]
    mine = make_customer(tenant_a)
    foreign = make_customer(tenant_b)
    with pytest.raises(NotFound):
        services.customer_assign(actor=manager, customers=[mine, foreign], owner=tenant_a.users["sales_rep_2"])
    mine.refresh_from_db()
    assert mine.owner == tenant_a.users["sales_rep"]
    assert not Notification.objects.filter(recipient=tenant_a.users["sales_rep_2"]).exists()


def test_assign_refuses_an_owner_without_customer_access_or_of_another_organisation(tenant_a, tenant_b):
    customer = make_customer(tenant_a)
    role = tenant_a.role("read_only")
    role.permissions = {"platform": {"actions": ["view"], "scope": "organization"}}
    role.save()
    no_access = User.objects.get(pk=tenant_a.users["read_only"].pk)
    for owner in (no_access, tenant_b.users["sales_rep"]):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_assign(actor=tenant_a.admin, customers=[customer], owner=owner)
        assert "owner" in exc.value.fields
    customer.refresh_from_db()
    assert customer.owner == tenant_a.users["sales_rep"]


def test_tags_are_added_and_removed_in_bulk(tenant_a):
    rep = tenant_a.users["sales_rep"]
    tag = make_tag(tenant_a, "需回访")
    a, b = make_customer(tenant_a, owner=rep), make_customer(tenant_a, owner=rep)
    assert services.customers_tag_add(actor=rep, customers=[a, b], tags=[tag]) == 2
    assert services.customers_tag_add(actor=rep, customers=[a, b], tags=[tag]) == 0  # idempotent
    assert CustomerTag.objects.filter(tag=tag).count() == 2
    assert services.customers_tag_remove(actor=rep, customers=[a], tags=[tag]) == 1
    assert list(b.tags.all()) == [tag] and list(a.tags.all()) == []
    assert [e.action for e in entries(a)][-2:] == ["customer.tag_add", "customer.tag_remove"]


def test_tag_names_are_unique_per_organisation(tenant_a, tenant_b):
    make_tag(tenant_a, "VIP")
    make_tag(tenant_b, "VIP")  # another organisation may use the same name
    with pytest.raises(ValidationFailed) as exc:
        services.tag_create(actor=tenant_a.users["sales_rep"], name="VIP")
    assert "name" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.tag_create(actor=tenant_a.admin, name="Red", colour="red")
    assert "colour" in exc.value.fields


def test_only_administrators_rename_or_delete_tags(tenant_a):
    tag = make_tag(tenant_a, "旧标签")
    customer = make_customer(tenant_a, tags=[tag])
    with pytest.raises(PermissionDenied):
        services.tag_update(actor=tenant_a.users["sales_manager"], tag=tag, data={"name": "新"})
    services.tag_update(actor=tenant_a.admin, tag=tag, data={"name": "新标签"})
    assert customer.tags.get().name == "新标签"
    services.tag_delete(actor=tenant_a.admin, tag=tag)
    assert not customer.tags.exists()
    assert AuditEntry.objects.filter(action="tag.delete", changes__name="新标签").exists()


def test_contacts_are_created_updated_and_deleted_with_audit(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep)
    first = services.contact_create(
        actor=rep, customer=customer, name="张三", phone="+86 139 1000 2000", is_primary=True
    )
    assert first.phone_normalized == "13910002000" and first.owner == rep
    second = services.contact_create(actor=rep, customer=customer, name="李四", is_primary=True)
    first.refresh_from_db()
    assert not first.is_primary and second.is_primary  # one primary contact per customer
    services.contact_update(actor=rep, contact=first, expected_version=1, data={"title": "采购经理"})
    with pytest.raises(VersionConflict):
        services.contact_update(actor=rep, contact=first, expected_version=1, data={"title": "总监"})
    with pytest.raises(ValidationFailed) as exc:
        services.contact_update(actor=rep, contact=first, expected_version=2, data={"email": "not-an-email"})
    assert "email" in exc.value.fields
    services.contact_delete(actor=rep, contact=first)  # contacts need edit on the customer, not delete
    assert not Contact.objects.visible_to(rep).filter(pk=first.pk).exists()
    services.contact_restore(actor=rep, contact=first)
    assert Contact.objects.visible_to(rep).filter(pk=first.pk).exists()
    actions = [e.action for e in entries(first)]
    assert actions == ["contact.create", "contact.update", "contact.delete", "contact.restore"]


def test_every_write_keeps_the_audit_chain_intact(tenant_a):
    customer = make_customer(tenant_a)
    make_contact(tenant_a, customer)
    services.customer_update(actor=tenant_a.admin, customer=customer, expected_version=1, data={"tier": "B"})
    services.customer_delete(actor=tenant_a.admin, customer=customer)
    assert audit.verify() == []
