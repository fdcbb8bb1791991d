"""Lead services: create (with the rules), change with the version, recycle bin, manual assignment,
sources, custom fields, and conversion without duplicate customers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.core import custom_fields
from kehu.core.errors import ModuleNotEnabled, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry, Notification
from kehu.customers.models import Contact, Customer
from kehu.sales import lead_selectors, lead_services
from kehu.sales.lead_models import Lead
from kehu.sales.models import Opportunity
from tests.customers.factories import make_contact, make_customer, make_pool_customer
from tests.sales.lead_factories import make_lead, make_qualified_lead, make_rule, make_source

pytestmark = pytest.mark.django_db


def audit_actions(lead: Lead) -> list[str]:
    return list(
        AuditEntry.objects.filter(target_type="sales.lead", target_id=str(lead.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


# Create -----------------------------------------------------------------------------------------------


def test_a_lead_without_owner_and_without_rules_stays_with_its_creator(tenant_a):
    rep = tenant_a.users["sales_rep"]
    lead = lead_services.lead_create(actor=rep, name=" 王芳 ", company="华为", phone="+86 138-0013-8000")
    assert lead.owner == rep and lead.name == "王芳" and lead.phone_normalized == "13800138000"
    assert lead.assigned_rule is None and lead.assigned_rule_name == ""
    assert lead.source == Lead.Source.OTHER and lead.status == Lead.Status.NEW
    assert audit_actions(lead) == ["lead.create"]


def test_a_lead_without_owner_goes_to_the_rule_and_says_so(tenant_a):
    rep2 = tenant_a.users["sales_rep_2"]
    rule = make_rule(
        tenant_a,
        name="广东",
        conditions=[{"field": "province", "op": "equals", "value": "广东"}],
        action="user",
        user=rep2,
    )
    lead = lead_services.lead_create(
        actor=tenant_a.users["sales_rep"], name="李雷", province="广东省", phone="13800000001"
    )
    assert lead.owner == rep2
    assert lead.assigned_rule == rule and lead.assigned_rule_name == "广东" and lead.assigned_at is not None
    assert audit_actions(lead) == ["lead.create", "lead.assign"]
    entry = AuditEntry.objects.get(action="lead.assign", target_id=str(lead.pk))
    assert entry.changes["rule"] == "广东" and entry.changes["owner"] == {"before": None, "after": rep2.pk}
    assert Notification.objects.filter(recipient=rep2, url=lead.get_absolute_url()).exists()


def test_an_explicit_owner_skips_the_rules_and_needs_the_assign_right(tenant_a):
    make_rule(tenant_a, action="user", user=tenant_a.users["sales_rep_2"])
    manager, rep = tenant_a.users["sales_manager"], tenant_a.users["sales_rep"]
    lead = lead_services.lead_create(actor=manager, owner=rep, name="韩梅梅")
    assert lead.owner == rep and lead.assigned_rule is None
    with pytest.raises(PermissionDenied):
        lead_services.lead_create(actor=rep, owner=manager, name="越权")
    assert lead_services.lead_create(actor=rep, owner=rep, name="自己的").owner == rep


def test_create_validates_with_field_names(tenant_a):
    admin = tenant_a.admin
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_create(actor=admin, name="", phone="12")
    assert {"name", "phone"} <= set(caught.value.fields)
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_create(actor=admin, name="x", source="nope")
    assert "source" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_create(actor=admin, name="x", status="converted")
    assert "status" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_create(actor=admin, name="x", owner_id=3)
    assert "owner_id" in caught.value.fields
    with pytest.raises(PermissionDenied):
        lead_services.lead_create(actor=tenant_a.users["marketer"], name="无权")


def test_organisation_sources_are_accepted_and_listed_after_the_built_in_ones(tenant_a, tenant_b):
    source = make_source(tenant_a, label="微信群", key="wechat_group")
    lead = make_lead(tenant_a, source="wechat_group")
    assert lead.source == "wechat_group"
    labels = lead_selectors.source_labels(tenant_a.org.pk)
    assert labels["wechat_group"] == "微信群" and "web_form" in labels
    with pytest.raises(ValidationFailed):
        make_lead(tenant_b, source="wechat_group")  # another organisation's source
    lead_services.source_update(actor=tenant_a.admin, source=source, data={"is_active": False})
    with pytest.raises(ValidationFailed):
        make_lead(tenant_a, source="wechat_group")
    with pytest.raises(ValidationFailed) as caught:  # in use: deactivate, do not delete
        lead_services.source_delete(actor=tenant_a.admin, source=source)
    assert "key" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        make_source(tenant_a, label="网页表单", key="web_form")
    assert "key" in caught.value.fields
    with pytest.raises(PermissionDenied):
        lead_services.source_create(actor=tenant_a.users["sales_rep"], label="私自")


def test_custom_fields_of_leads_are_validated_and_audited_by_key(tenant_a):
    custom_fields.definition_create(
        actor=tenant_a.admin, record_type="sales.lead", key="budget", label="预算", field_type="integer", required=True
    )
    with pytest.raises(ValidationFailed) as caught:
        make_lead(tenant_a)
    assert "custom.budget" in caught.value.fields
    lead = make_lead(tenant_a, custom={"budget": "50000"})
    assert lead.custom == {"budget": 50000}
    lead_services.lead_update(
        actor=tenant_a.admin, lead=lead, expected_version=lead.version, data={"custom": {"budget": 8}}
    )
    entry = AuditEntry.objects.filter(action="lead.update", target_id=str(lead.pk)).get()
    assert entry.changes == {"custom.budget": {"before": 50000, "after": 8}}


# Change, delete, restore --------------------------------------------------------------------------------


def test_update_refuses_a_stale_version_and_the_converted_status(tenant_a):
    lead = make_lead(tenant_a)
    rep = tenant_a.users["sales_rep"]
    lead_services.lead_update(actor=rep, lead=lead, expected_version=1, data={"status": "contacted", "score": 40})
    assert Lead.objects.get(pk=lead.pk).version == 2
    stale = Lead.objects.get(pk=lead.pk)
    stale.version = 1
    with pytest.raises(VersionConflict):
        lead_services.lead_update(actor=rep, lead=stale, expected_version=1, data={"score": 1})
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_update(actor=rep, lead=lead, expected_version=None, data={"status": "converted"})
    assert "status" in caught.value.fields
    with pytest.raises(ValidationFailed):
        lead_services.lead_update(actor=rep, lead=lead, expected_version=None, data={"owner": rep})


def test_delete_and_restore_through_the_recycle_bin(tenant_a):
    lead = make_lead(tenant_a)
    manager = tenant_a.users["sales_manager"]
    lead_services.lead_delete(actor=manager, lead=lead)
    with pytest.raises(NotFound):
        lead_selectors.lead_get_for(actor=manager, pk=lead.pk)
    assert list(lead_selectors.lead_recycle_bin_for(actor=manager)) == [lead]
    with pytest.raises(PermissionDenied):  # a rep may not delete, so may not restore either
        lead_services.lead_restore(
            actor=tenant_a.users["sales_rep"],
            lead=lead_selectors.lead_deleted_get_for(actor=tenant_a.users["sales_rep"], pk=lead.pk),
        )
    lead_services.lead_restore(actor=manager, lead=lead_selectors.lead_deleted_get_for(actor=manager, pk=lead.pk))
    assert lead_selectors.lead_get_for(actor=manager, pk=lead.pk).deleted_at is None
    assert audit_actions(lead) == ["lead.create", "lead.delete", "lead.restore"]


def test_manual_assignment_records_and_notifies(tenant_a):
    lead = make_lead(tenant_a)
    manager, rep2 = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    moved = lead_services.leads_assign(actor=manager, leads=[lead], owner=rep2)
    assert moved == [lead]
    lead.refresh_from_db()
    assert lead.owner == rep2 and lead.assigned_rule_name == "" and lead.version == 2
    assert Notification.objects.filter(recipient=rep2).exists()
    with pytest.raises(NotFound):  # no longer hers: as if it did not exist
        lead_services.leads_assign(actor=tenant_a.users["sales_rep"], leads=[lead], owner=manager)
    with pytest.raises(PermissionDenied):  # hers, but a rep may not assign
        lead_services.leads_assign(actor=tenant_a.users["sales_rep"], leads=[make_lead(tenant_a)], owner=manager)
    with pytest.raises(ValidationFailed) as caught:
        lead_services.leads_assign(actor=manager, leads=[lead], owner=tenant_a.users["marketer"])  # no sales
    assert "owner" in caught.value.fields


# Conversion --------------------------------------------------------------------------------------------


def test_converting_creates_customer_contact_and_opportunity_and_links_them(tenant_a):
    lead = make_qualified_lead(
        tenant_a,
        name="周建华",
        company="苏州博远自动化",
        phone="13962112233",
        email="zhou@boyuan.cn",
        province="江苏省",
        source="referral",
    )
    rep = tenant_a.users["sales_rep"]
    result = lead_services.lead_convert(
        actor=rep, lead=lead, expected_version=lead.version, create_opportunity=True, amount=Decimal("120000")
    )
    assert result.created_customer and result.created_contact
    customer, contact, opportunity = result.customer, result.contact, result.opportunity
    assert customer.name == "苏州博远自动化" and customer.kind == "company" and customer.owner == rep
    assert customer.source == "referral" and customer.province == "江苏省"
    assert contact.customer == customer and contact.name == "周建华" and contact.phone_normalized == "13962112233"
    assert contact.is_primary
    assert opportunity.customer == customer and opportunity.contact == contact and opportunity.amount == 120000
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_at is not None
    assert (lead.converted_customer, lead.converted_contact, lead.converted_opportunity) == (
        customer,
        contact,
        opportunity,
    )
    entry = AuditEntry.objects.get(action="lead.convert", target_id=str(lead.pk))
    assert entry.changes["customer_id"] == customer.pk and entry.changes["created_customer"] is True


def test_conversion_refuses_what_is_not_qualified_or_already_done(tenant_a):
    lead = make_lead(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        lead_services.lead_convert(actor=tenant_a.admin, lead=lead)
    assert "status" in caught.value.fields
    lead = make_qualified_lead(tenant_a)
    with pytest.raises(VersionConflict):
        lead_services.lead_convert(actor=tenant_a.admin, lead=lead, expected_version=lead.version + 1)
    lead_services.lead_convert(actor=tenant_a.admin, lead=lead)
    with pytest.raises(lead_services.AlreadyConverted) as caught:
        lead_services.lead_convert(actor=tenant_a.admin, lead=lead)
    assert caught.value.status == 409


def test_a_duplicate_customer_is_never_created_twice(tenant_a):
    rep = tenant_a.users["sales_rep"]
    existing = make_customer(tenant_a, rep, name="深圳鹏程电子有限公司")
    lead = make_qualified_lead(tenant_a, rep, name="黄志强", company="深圳鹏程电子有限公司", phone="13823456781")
    matches = lead_services.lead_customer_matches_for(actor=rep, lead=lead)
    assert [(m.customer, m.reasons, m.visible, m.strong) for m in matches] == [(existing, ("name",), True, True)]
    with pytest.raises(lead_services.DuplicateCustomer) as caught:
        lead_services.lead_convert(actor=rep, lead=lead)
    assert caught.value.status == 409 and "customer" in caught.value.fields
    assert Customer.objects.filter(organization=tenant_a.org, name="深圳鹏程电子有限公司").count() == 1
    result = lead_services.lead_convert(actor=rep, lead=lead, customer=existing)
    assert result.customer == existing and not result.created_customer and result.created_contact
    assert Customer.objects.filter(organization=tenant_a.org).count() == 1


def test_a_matching_contact_is_kept_instead_of_added_again(tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, rep, name="广州珠江物流有限公司")
    contact = make_contact(tenant_a, customer, name="林晓燕", phone="13922334455")
    lead = make_qualified_lead(tenant_a, rep, name="林小姐", phone="139 2233 4455")
    (match,) = lead_services.lead_customer_matches_for(actor=rep, lead=lead)
    assert match.customer == customer and match.reasons == ("contact_phone",) and match.strong
    result = lead_services.lead_convert(actor=rep, lead=lead, customer=customer)
    assert result.contact == contact and not result.created_contact
    assert Contact.objects.filter(customer=customer).count() == 1


def test_a_colleagues_customer_blocks_a_new_one_without_being_shown(tenant_a):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_customer(tenant_a, rep2, name="他人客户", phone="13700001111")
    lead = make_qualified_lead(tenant_a, rep, name="张三", phone="13700001111")
    (match,) = lead_services.lead_customer_matches_for(actor=rep, lead=lead)
    assert not match.visible and match.owner_name == str(rep2)
    with pytest.raises(lead_services.DuplicateCustomer) as caught:
        lead_services.lead_convert(actor=rep, lead=lead)
    assert "他人客户" not in caught.value.message and str(rep2) in caught.value.message


def test_a_person_with_a_common_name_may_still_become_a_new_customer(tenant_a):
    rep = tenant_a.users["sales_rep"]
    make_customer(tenant_a, rep, name="张伟", kind="person")
    lead = make_qualified_lead(tenant_a, rep, name="张伟", phone="13512345678")
    (match,) = lead_services.lead_customer_matches_for(actor=rep, lead=lead)
    assert match.reasons == ("name",) and not match.strong
    result = lead_services.lead_convert(actor=rep, lead=lead)
    assert result.created_customer and result.customer.kind == "person" and result.customer.phone == "13512345678"


def test_converting_into_a_pool_customer_claims_it(tenant_a):
    rep = tenant_a.users["sales_rep"]
    pooled = make_pool_customer(tenant_a, name="公海客户有限公司")
    lead = make_qualified_lead(tenant_a, rep, name="钱七", company="公海客户有限公司")
    result = lead_services.lead_convert(actor=rep, lead=lead, customer=pooled)
    pooled.refresh_from_db()
    assert result.customer == pooled and pooled.owner == rep


def test_conversion_needs_the_customers_module(tenant_a):
    org = tenant_a.org
    org.enabled_modules = ["sales"]
    org.save(update_fields=["enabled_modules"])
    lead = make_qualified_lead(tenant_a)
    admin = type(tenant_a.admin).objects.get(pk=tenant_a.admin.pk)
    with pytest.raises(ModuleNotEnabled):
        lead_services.lead_convert(actor=admin, lead=lead)


def test_merging_customers_moves_the_converted_leads(tenant_a):
    from kehu.customers import merge

    lead = make_qualified_lead(tenant_a)
    result = lead_services.lead_convert(actor=tenant_a.admin, lead=lead)
    survivor = make_customer(tenant_a)
    merge.customer_merge(actor=tenant_a.admin, survivor=survivor, others=[result.customer], choices={})
    lead.refresh_from_db()
    assert lead.converted_customer == survivor


def test_a_converted_lead_shows_on_the_customers_timeline(tenant_a):
    from kehu.customers import selectors as customer_selectors

    lead = make_qualified_lead(tenant_a, name="时间线线索")
    result = lead_services.lead_convert(
        actor=tenant_a.admin, lead=lead, create_opportunity=True, opportunity_name="首单"
    )
    items = customer_selectors.customer_timeline(actor=tenant_a.admin, customer=result.customer)
    assert any(item.kind == "lead.convert" and "时间线线索" in item.title for item in items)
    assert Opportunity.objects.get(pk=result.opportunity.pk).name == "首单"


def test_history_names_the_rule_and_the_changes(tenant_a):
    rule = make_rule(tenant_a, name="兜底", action="user", user=tenant_a.users["sales_rep"])
    lead = lead_services.lead_create(actor=tenant_a.admin, name="历史", score=1)
    lead_services.lead_update(actor=tenant_a.admin, lead=lead, expected_version=None, data={"score": 5})
    items = lead_selectors.lead_history(actor=tenant_a.admin, lead=lead)
    kinds = [item.kind for item in items]
    assert kinds == ["lead.update", "lead.assign", "lead.create"]
    assert rule.name in items[1].body
    assert [(c.before, c.after) for c in items[0].changes] == [("1", "5")]
