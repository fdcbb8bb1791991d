"""Duplicates (bounded pairs within the actor's visibility) and merging (chosen values, related records
moved, others soft-deleted with merged_into, one transaction, audited, permission and 404 cases)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry
from kehu.customers import merge, pool_selectors, selectors, services
from kehu.customers.models import Contact, Customer, CustomerTag
from tests.customers.factories import make_contact, make_customer, make_tag


def fresh(customer):
    return Customer._base_manager.get(pk=customer.pk)


def test_duplicate_pairs_by_phone_email_and_name_within_visibility(tenant_a, tenant_b):
    rep = tenant_a.users["sales_rep"]
    a = make_customer(tenant_a, owner=rep, name="华为技术", phone="13800138000")
    b = make_customer(tenant_a, owner=rep, name="华为 深圳", phone="+86 138 0013 8000", email="x@huawei.com")
    c = make_customer(tenant_a, owner=rep, name="另一家", email="X@Huawei.com")
    d = make_customer(tenant_a, owner=rep, name="华为技术")
    hidden = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="华为技术", phone="13800138000")
    make_customer(tenant_b, name="华为技术", phone="13800138000")
    make_customer(tenant_a, owner=rep, name="独一无二")

    with CaptureQueriesContext(connection) as queries:
        pairs = pool_selectors.duplicate_pairs_for(actor=rep)
    assert len(queries) <= 6  # bounded: a GROUP BY per key and one read of the members (+ permission reads)
    found = {(p.first.pk, p.second.pk): sorted(p.reasons) for p in pairs}
    assert found == {(a.pk, b.pk): ["phone"], (b.pk, c.pk): ["email"], (a.pk, d.pk): ["name"]}
    assert all(hidden.pk not in key for key in found)
    admin_pairs = {(p.first.pk, p.second.pk) for p in pool_selectors.duplicate_pairs_for(actor=tenant_a.admin)}
    assert (a.pk, hidden.pk) in admin_pairs and (d.pk, hidden.pk) in admin_pairs


def test_merge_keeps_chosen_values_moves_contacts_and_tags_and_bins_the_others(tenant_a):
    rep = tenant_a.users["sales_rep"]
    vip, hot = make_tag(tenant_a, "VIP"), make_tag(tenant_a, "热门")
    survivor = make_customer(tenant_a, owner=rep, name="华为技术有限公司", phone="13800138000", tags=[vip])
    other = make_customer(
        tenant_a, owner=rep, name="华为", phone="13900139000", email="a@huawei.com", tier="A", tags=[vip, hot]
    )
    third = make_customer(tenant_a, owner=rep, name="华为 3", city="深圳")
    kept_primary = make_contact(tenant_a, survivor, name="主联系人", is_primary=True)
    moved_primary = make_contact(tenant_a, other, name="对方主联系人", is_primary=True)
    moved = make_contact(tenant_a, third, name="第三方联系人")

    merge.customer_merge(
        actor=tenant_a.admin,
        survivor=survivor,
        others=[other, third],
        choices={"phone": other.pk, "email": other.pk, "tier": other.pk, "city": third.pk, "name": survivor.pk},
    )
    saved = fresh(survivor)
    assert (saved.name, saved.phone_normalized, saved.email, saved.tier, saved.city) == (
        "华为技术有限公司",
        "13900139000",
        "a@huawei.com",
        "A",
        "深圳",
    )
    assert set(Contact.objects.filter(customer=survivor).values_list("pk", flat=True)) == {
        kept_primary.pk,
        moved_primary.pk,
        moved.pk,
    }
    assert (
        Contact.objects.get(pk=kept_primary.pk).is_primary and not Contact.objects.get(pk=moved_primary.pk).is_primary
    )
    assert sorted(t.name for t in saved.tags.all()) == ["VIP", "热门"]
    assert not CustomerTag.objects.filter(customer__in=[other, third]).exists()
    for gone in (other, third):
        row = fresh(gone)
        assert row.deleted_at is not None and row.merged_into_id == survivor.pk
        assert row in selectors.customer_recycle_bin_for(actor=tenant_a.admin)  # recoverable
    entry = AuditEntry.objects.get(action="customer.merge", target_id=str(survivor.pk))
    assert entry.changes["merged"] == [other.pk, third.pk]
    assert entry.changes["choices"]["phone"] == other.pk and entry.changes["moved"]["contacts"] == 2
    assert entry.changes["phone"] == {"before": "13800138000", "after": "13900139000"}
    assert (
        AuditEntry.objects.filter(action="customer.merged_into", target_id__in=[str(other.pk), str(third.pk)]).count()
        == 2
    )
    assert not AuditEntry.objects.filter(action="customer.update", target_id=str(survivor.pk)).exists()
    item = next(i for i in selectors.customer_timeline(actor=rep, customer=saved) if i.kind == "customer.merge")
    assert "华为 3" in item.body and f"#{third.pk}" in item.body
    # The survivor's timeline now holds the moved contacts' history too.
    kinds = [i.kind for i in selectors.customer_timeline(actor=rep, customer=saved)]
    assert kinds.count("contact.create") == 3


def test_the_extension_point_moves_other_modules_records_and_a_failure_rolls_everything_back(tenant_a):
    survivor, other = make_customer(tenant_a), make_customer(tenant_a)
    contact = make_contact(tenant_a, other)
    seen = []

    def later_module(*, actor, survivor, others):
        seen.append((survivor.pk, [o.pk for o in others]))
        raise ValidationFailed("an order cannot move")

    merge.register(later_module, name="test_orders")
    try:
        with pytest.raises(ValidationFailed):
            merge.customer_merge(actor=tenant_a.admin, survivor=survivor, others=[other], choices={})
    finally:
        merge._handlers.pop("test_orders")
    assert seen == [(survivor.pk, [other.pk])]
    assert fresh(other).deleted_at is None and Contact.objects.get(pk=contact.pk).customer_id == other.pk
    assert not AuditEntry.objects.filter(action__in=["customer.merge", "customer.merged_into"]).exists()


def test_merge_permissions_scope_and_input_errors(tenant_a, tenant_b):
    rep, rep2, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"], tenant_a.users["sales_manager"]
    mine, mine2 = make_customer(tenant_a, owner=rep), make_customer(tenant_a, owner=rep)
    colleagues = make_customer(tenant_a, owner=rep2)
    theirs = make_customer(tenant_b)
    with pytest.raises(PermissionDenied):  # a rep has edit but not delete
        merge.customer_merge(actor=rep, survivor=mine, others=[mine2])
    with pytest.raises(NotFound):
        merge.customer_merge(actor=rep, survivor=mine, others=[colleagues])
    with pytest.raises(NotFound):
        merge.customer_merge(actor=tenant_a.admin, survivor=mine, others=[theirs])
    with pytest.raises(NotFound):
        pool_selectors.merge_candidates_for(actor=rep, ids=[mine.pk, colleagues.pk])
    with pytest.raises(ValidationFailed) as exc:
        merge.customer_merge(actor=manager, survivor=mine, others=[])
    assert "others" in exc.value.fields
    with pytest.raises(ValidationFailed):
        merge.customer_merge(actor=manager, survivor=mine, others=[mine])
    with pytest.raises(ValidationFailed) as exc:
        merge.customer_merge(actor=manager, survivor=mine, others=[mine2], choices={"owner": mine2.pk})
    assert "choices" in exc.value.fields
    with pytest.raises(ValidationFailed):
        merge.customer_merge(actor=manager, survivor=mine, others=[mine2], choices={"name": colleagues.pk})
    stale = Customer.objects.get(pk=mine2.pk)
    services.customer_update(actor=rep, customer=mine2, expected_version=mine2.version, data={"notes": "changed"})
    with pytest.raises(VersionConflict):
        merge.customer_merge(actor=manager, survivor=mine, others=[stale])
    merge.customer_merge(actor=manager, survivor=mine, others=[mine2])  # the manager's team tree: allowed
    assert fresh(mine2).merged_into_id == mine.pk


def test_merge_moves_notes_and_attachments(tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kehu.customers import merge, note_services
    from kehu.customers.note_models import Attachment, Note
    from tests.customers.factories import make_customer

    admin = tenant_a.admin
    survivor = make_customer(tenant_a, name="华为技术有限公司")
    other = make_customer(tenant_a, name="华为技术")
    note_services.note_create(
        actor=admin,
        customer=other,
        body="见面纪要",
        files=[SimpleUploadedFile("纪要.txt", "会议纪要".encode(), content_type="text/plain")],
    )
    merge.customer_merge(actor=admin, survivor=survivor, others=[other], choices={})
    assert Note.objects.get(body="见面纪要").customer_id == survivor.pk
    assert Attachment.objects.filter(customer=survivor).count() == 1
