"""The lead pages as people use them: list (filters, sorting, empty states, bulk actions), forms that keep
what was typed, the version conflict, the detail page with its history and rule, the conversion wizard,
the recycle bin, the administrators' pages, the navigation, the global search and the import wizard."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.core.import_models import ImportJob
from kehu.customers.models import Customer
from kehu.sales import lead_services
from kehu.sales.lead_models import AssignmentRule, Lead, LeadSource, WebForm
from tests.customers.factories import make_customer
from tests.sales.lead_factories import make_lead, make_qualified_lead, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    """signed_in(user) -> the test client signed in as `user`, reading English."""

    def make(user):
        user.language = "en"
        user.save(update_fields=["language"])
        client.force_login(user)
        return client

    return make


def html(response) -> str:
    return response.content.decode()


# List ----------------------------------------------------------------------------------------------------


def test_the_empty_list_invites_to_add_and_the_filtered_one_to_clear(tenant_a, signed_in):
    client = signed_in(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("sales:lead_list")))
    assert 'data-testid="empty"' in page and "No leads yet" in page and 'data-testid="new-lead"' in page
    make_lead(tenant_a)
    page = html(client.get(reverse("sales:lead_list"), {"status": "qualified"}))
    assert "No leads match these filters." in page and "Clear filters" in page


def test_the_list_filters_sorts_and_shows_the_rule(tenant_a, signed_in, django_assert_max_num_queries):
    rule = make_rule(tenant_a, name="华东轮流", team=tenant_a.teams["east"])
    auto = lead_services.lead_create(actor=tenant_a.admin, name="规则分来的", score=5)
    manual = make_lead(tenant_a, tenant_a.users["sales_rep_2"], name="手工的", status="contacted", score=70)
    client = signed_in(tenant_a.admin)
    # Session, user, sources (twice: filter and rows), owners, custom fields, the page with its owners.
    with django_assert_max_num_queries(10):
        page = html(client.get(reverse("sales:lead_list")))
    assert f'data-lead="{auto.pk}"' in page and rule.name in page
    page = html(client.get(reverse("sales:lead_list"), {"status": "contacted"}))
    assert f'data-lead="{manual.pk}"' in page and f'data-lead="{auto.pk}"' not in page
    page = html(client.get(reverse("sales:lead_list"), {"ordering": "-score"}))
    assert page.index(f'data-lead="{manual.pk}"') < page.index(f'data-lead="{auto.pk}"')
    assert 'aria-sort="descending"' in page
    page = html(client.get(reverse("sales:lead_list"), {"created_from": "2030-01-02", "created_to": "2030-01-01"}))
    assert 'data-testid="filter-errors"' in page
    page = html(client.get(reverse("sales:lead_list"), {"ordering": "password"}))  # refused, first page instead
    assert f'data-lead="{manual.pk}"' in page and "Sort by one of" in page


def test_bulk_assign_apply_rules_and_delete(tenant_a, signed_in):
    manager, rep2 = tenant_a.users["sales_manager"], tenant_a.users["sales_rep_2"]
    first, second = make_lead(tenant_a), make_lead(tenant_a)
    client = signed_in(manager)
    response = client.post(
        reverse("sales:lead_bulk"), {"action": "assign", "ids": [first.pk, second.pk], "owner": rep2.pk}, follow=True
    )
    assert "2 leads assigned." in html(response)
    assert set(Lead.objects.filter(owner=rep2).values_list("pk", flat=True)) == {first.pk, second.pk}
    make_rule(tenant_a, name="给经理", action="user", user=manager)
    response = client.post(reverse("sales:lead_bulk"), {"action": "apply_rules", "ids": [first.pk]}, follow=True)
    assert "The rules assigned 1 lead." in html(response)
    assert Lead.objects.get(pk=first.pk).owner == manager
    response = client.post(reverse("sales:lead_bulk"), {"action": "delete", "ids": [second.pk]}, follow=True)
    assert "1 lead moved to the recycle bin." in html(response)
    response = client.post(reverse("sales:lead_bulk"), {"action": "assign", "ids": [first.pk]}, follow=True)
    assert "Choose the new owner." in html(response)


# Create, edit, detail ------------------------------------------------------------------------------------


def test_create_keeps_the_input_on_error_then_assigns_by_the_rules(tenant_a, signed_in):
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    make_rule(
        tenant_a,
        name="广东",
        action="user",
        user=rep2,
        conditions=[{"field": "province", "op": "equals", "value": "广东"}],
    )
    client = signed_in(rep)
    page = html(client.get(reverse("sales:lead_create")))
    assert "Assign automatically (assignment rules)" in page
    data = {
        "name": "",
        "company": "保留公司",
        "phone": "123",
        "source": "referral",
        "status": "new",
        "score": "0",
        "owner": "",
    }
    response = client.post(reverse("sales:lead_create"), data)
    assert response.status_code == 400
    page = html(response)
    assert 'value="保留公司"' in page and 'data-testid="error-name"' in page and 'data-testid="error-phone"' in page
    data.update(name="小王", phone="13800138000", province="广东省")
    response = client.post(reverse("sales:lead_create"), data, follow=True)
    lead = Lead.objects.get(name="小王")
    assert lead.owner == rep2 and lead.source == "referral"
    page = html(response)
    assert response.redirect_chain[-1][0] == reverse("sales:lead_list")  # now a colleague's: not hers to open
    assert "by the rule “广东”" in page
    data.update(name="我的", owner=str(rep.pk))
    response = client.post(reverse("sales:lead_create"), data)
    mine = Lead.objects.get(name="我的")
    assert mine.owner == rep and response["Location"] == reverse("sales:lead_detail", args=[mine.pk])


def test_edit_shows_the_conflict_and_keeps_the_input(tenant_a, signed_in):
    lead = make_lead(tenant_a, name="原名")
    client = signed_in(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("sales:lead_edit", args=[lead.pk])))
    assert 'name="version" value="1"' in page
    lead_services.lead_update(actor=tenant_a.admin, lead=lead, expected_version=1, data={"name": "同事改的"})
    form = {"name": "我改的", "source": "other", "status": "new", "score": "0", "version": "1"}
    response = client.post(reverse("sales:lead_edit", args=[lead.pk]), form)
    assert response.status_code == 409
    page = html(response)
    assert 'data-testid="version-conflict"' in page and "同事改的" in page and 'value="我改的"' in page
    assert 'name="version" value="2"' in page
    response = client.post(reverse("sales:lead_edit", args=[lead.pk]), {**form, "version": "2"})
    assert response.status_code == 302 and Lead.objects.get(pk=lead.pk).name == "我改的"


def test_the_detail_page_shows_owner_rule_history_and_status_buttons(tenant_a, signed_in):
    make_rule(tenant_a, name="兜底规则", action="user", user=tenant_a.users["sales_rep"])
    lead = lead_services.lead_create(actor=tenant_a.admin, name="详情线索", phone="13800000002")
    client = signed_in(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("sales:lead_detail", args=[lead.pk])))
    assert 'data-testid="assigned-rule"' in page and "兜底规则" in page
    assert 'data-kind="lead.assign"' in page and 'data-kind="lead.create"' in page
    response = client.post(
        reverse("sales:lead_status", args=[lead.pk]), {"status": "qualified", "version": "1"}, follow=True
    )
    assert Lead.objects.get(pk=lead.pk).status == "qualified"
    page = html(response)
    assert 'data-testid="convert"' in page and 'data-kind="lead.update"' in page
    response = client.post(
        reverse("sales:lead_status", args=[lead.pk]), {"status": "contacted", "version": "1"}, follow=True
    )
    assert "Someone else changed this record" in html(response)


def test_delete_to_the_recycle_bin_and_restore(tenant_a, signed_in):
    lead = make_lead(tenant_a, name="回收")
    client = signed_in(tenant_a.users["sales_manager"])
    client.post(reverse("sales:lead_delete", args=[lead.pk]))
    assert client.get(reverse("sales:lead_detail", args=[lead.pk])).status_code == 404
    page = html(client.get(reverse("sales:lead_recycle_bin")))
    assert f'data-lead="{lead.pk}"' in page and 'data-testid="restore"' in page
    response = client.post(reverse("sales:lead_restore", args=[lead.pk]))
    assert response["Location"] == reverse("sales:lead_detail", args=[lead.pk])
    assert "The recycle bin is empty." in html(client.get(reverse("sales:lead_recycle_bin")))


# Conversion ----------------------------------------------------------------------------------------------


def test_the_wizard_converts_into_a_new_customer(tenant_a, signed_in):
    lead = make_qualified_lead(tenant_a, name="新人", company="全新公司", phone="13911112222")
    client = signed_in(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("sales:lead_convert", args=[lead.pk])))
    assert "No existing customer has this phone, email or name" in page
    response = client.post(
        reverse("sales:lead_convert", args=[lead.pk]),
        {"version": "1", "customer": "new", "create_opportunity": "on", "opportunity_name": "首单", "amount": "100"},
    )
    customer = Customer.objects.get(name="全新公司")
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    lead.refresh_from_db()
    assert (
        lead.status == "converted" and lead.converted_customer == customer and lead.converted_opportunity.amount == 100
    )
    page = html(client.get(reverse("sales:lead_detail", args=[lead.pk])))
    assert 'data-testid="converted"' in page and "全新公司" in page
    assert client.get(reverse("sales:lead_convert", args=[lead.pk])).status_code == 302  # done already


def test_the_wizard_offers_the_existing_customer_and_refuses_a_duplicate(tenant_a, signed_in):
    rep = tenant_a.users["sales_rep"]
    existing = make_customer(tenant_a, rep, name="已有公司")
    lead = make_qualified_lead(tenant_a, rep, name="老朋友", company="已有公司")
    client = signed_in(rep)
    page = html(client.get(reverse("sales:lead_convert", args=[lead.pk])))
    assert f'value="{existing.pk}"' in page and "same name" in page
    assert re.search(rf'<input type="radio" name="customer" value="{existing.pk}"[^>]* checked', page)  # preselected
    response = client.post(reverse("sales:lead_convert", args=[lead.pk]), {"version": "1", "customer": "new"})
    assert response.status_code == 400 and "This customer already exists" in html(response)
    assert Customer.objects.filter(name="已有公司").count() == 1
    response = client.post(
        reverse("sales:lead_convert", args=[lead.pk]), {"version": "1", "customer": str(existing.pk)}
    )
    assert response["Location"] == reverse("customers:detail", args=[existing.pk])
    assert Customer.objects.filter(name="已有公司").count() == 1


# Administration -------------------------------------------------------------------------------------------


def test_the_navigation_shows_leads_to_reps_and_the_settings_to_administrators(tenant_a, signed_in, client):
    page = html(signed_in(tenant_a.users["sales_rep"]).get(reverse("sales:lead_list")))
    assert reverse("sales:lead_list") in page and reverse("sales:webform_list") not in page
    assert client.get(reverse("sales:webform_list")).status_code == 403
    assert client.get(reverse("sales:rule_list")).status_code == 403
    page = html(signed_in(tenant_a.admin).get(reverse("sales:lead_list")))
    assert reverse("sales:webform_list") in page and reverse("sales:rule_list") in page


def test_an_administrator_builds_a_web_form_and_gets_its_address_and_snippet(tenant_a, signed_in):
    client = signed_in(tenant_a.admin)
    page = html(client.get(reverse("sales:webform_create")))
    assert 'data-field="custom.' not in page and 'data-field="phone"' in page
    data = {
        "name": "展会登记",
        "title": "欢迎来到展台",
        "source": "exhibition",
        "is_active": "on",
        "thank_you": "感谢登记",
        "use_name": "on",
        "order_name": "1",
        "use_phone": "on",
        "required_phone": "on",
        "order_phone": "2",
        "label_phone": "手机号",
        "use_company": "on",
        "order_company": "3",
    }
    response = client.post(reverse("sales:webform_create"), {**data, "use_phone": "", "use_email": ""})
    assert response.status_code == 400 and "phone number or an email" in html(response)
    response = client.post(reverse("sales:webform_create"), data)
    form = WebForm.objects.get(name="展会登记")
    assert response["Location"] == reverse("sales:webform_edit", args=[form.pk])
    assert [f["field"] for f in form.fields] == ["name", "phone", "company"]
    assert form.fields[1] == {"field": "phone", "label": "手机号", "required": True} and form.source == "exhibition"
    page = html(client.get(reverse("sales:webform_edit", args=[form.pk])))
    assert f"/forms/{form.token}/" in page and "&lt;iframe" in page
    client.post(reverse("sales:webform_new_address", args=[form.pk]))
    assert WebForm.objects.get(pk=form.pk).token != form.token
    page = html(client.get(reverse("sales:webform_list")))
    assert f'data-webform="{form.pk}"' in page
    client.post(reverse("sales:webform_delete", args=[form.pk]))
    assert not WebForm.objects.filter(pk=form.pk).exists()


def test_an_administrator_orders_rules_and_sets_the_fallback(tenant_a, signed_in):
    client = signed_in(tenant_a.admin)
    east = tenant_a.teams["east"]
    response = client.post(
        reverse("sales:rule_create"),
        {
            "name": "华南",
            "is_active": "on",
            "action": "round_robin",
            "team": "",
            "cap": "0",
            "cond_field_0": "province",
            "cond_op_0": "in",
            "cond_value_0": "广东, 广西",
            "cond_op_1": "equals",
        },
    )
    assert response.status_code == 400 and 'data-testid="form-error"' in html(response)
    assert 'value="广东, 广西"' in html(response)
    response = client.post(
        reverse("sales:rule_create"),
        {
            "name": "华南",
            "is_active": "on",
            "action": "round_robin",
            "team": str(east.pk),
            "cap": "10",
            "cond_field_0": "province",
            "cond_op_0": "in",
            "cond_value_0": "广东, 广西",
            "cond_op_1": "equals",
        },
    )
    assert response["Location"] == reverse("sales:rule_list")
    rule = AssignmentRule.objects.get(name="华南")
    assert rule.conditions == [{"field": "province", "op": "in", "value": ["广东", "广西"]}] and rule.cap == 10
    client.post(
        reverse("sales:rule_create"),
        {
            "name": "兜底",
            "is_active": "on",
            "action": "user",
            "user": str(tenant_a.users["sales_manager"].pk),
            "cap": "0",
        },
    )
    page = html(client.get(reverse("sales:rule_list")))
    assert page.index("华南") < page.index("兜底") and "Every lead" in page
    client.post(reverse("sales:rule_move", args=[AssignmentRule.objects.get(name="兜底").pk]), {"direction": "up"})
    assert list(AssignmentRule.objects.order_by("position").values_list("name", flat=True)) == ["兜底", "华南"]
    page = html(client.get(reverse("sales:rule_edit", args=[rule.pk])))
    assert 'value="广东, 广西"' in page
    response = client.post(
        reverse("sales:rule_list"),
        {"version": "1", "default_owner": str(tenant_a.users["sales_rep"].pk), "reassign_after_days": "14"},
    )
    assert response.status_code == 302
    response = client.post(reverse("sales:rules_reapply"), {"days": "x"}, follow=True)
    assert "Enter a number of days" in html(response)
    response = client.post(reverse("sales:rules_reapply"), {"days": "7"}, follow=True)
    assert "0 leads re-assigned." in html(response)
    client.post(reverse("sales:rule_delete", args=[rule.pk]))
    assert not AssignmentRule.objects.filter(pk=rule.pk).exists()


def test_an_administrator_adds_renames_and_retires_sources(tenant_a, signed_in):
    client = signed_in(tenant_a.admin)
    response = client.post(reverse("sales:source_list"), {"label": "小红书", "key": ""})
    source = LeadSource.objects.get(label="小红书")
    assert response.status_code == 302 and source.key.startswith("s_")
    response = client.post(reverse("sales:source_list"), {"label": "小红书", "key": ""})
    assert response.status_code == 400 and "already exists" in html(response)
    client.post(reverse("sales:source_edit", args=[source.pk]), {"label": "小红书笔记"})
    client.post(reverse("sales:source_edit", args=[source.pk]), {"toggle": "1"})
    source.refresh_from_db()
    assert source.label == "小红书笔记" and not source.is_active
    page = html(signed_in(tenant_a.users["sales_rep"]).get(reverse("sales:lead_create")))
    assert "小红书笔记" not in page  # inactive: not offered
    signed_in(tenant_a.admin).post(reverse("sales:source_delete", args=[source.pk]))
    assert not LeadSource.objects.filter(pk=source.pk).exists()


def test_an_administrator_adds_a_custom_field_that_the_lead_form_shows(tenant_a, signed_in):
    client = signed_in(tenant_a.admin)
    response = client.post(
        reverse("sales:lead_field_create"),
        {"label": "预算", "key": "budget", "field_type": "integer", "is_active": "on"},
    )
    assert response["Location"] == reverse("sales:lead_fields")
    assert 'data-field="budget"' in html(client.get(reverse("sales:lead_fields")))
    assert 'data-custom-field="budget"' in html(client.get(reverse("sales:lead_create")))


# Search and import ------------------------------------------------------------------------------------------


def test_the_global_search_finds_visible_leads(tenant_a, signed_in):
    mine = make_lead(tenant_a, name="搜索我", company="搜索公司", phone="13766668888")
    make_lead(tenant_a, tenant_a.users["sales_rep_2"], name="搜索她")
    client = signed_in(tenant_a.users["sales_rep"])
    page = html(client.get(reverse("search"), {"q": "搜索"}))
    assert reverse("sales:lead_detail", args=[mine.pk]) in page and "搜索她" not in page
    assert reverse("sales:lead_detail", args=[mine.pk]) in html(client.get(reverse("search"), {"q": "6666 8888"}))


def test_the_import_wizard_imports_leads_through_the_rules(tenant_a, signed_in, django_capture_on_commit_callbacks):
    rep2 = tenant_a.users["sales_rep_2"]
    make_rule(
        tenant_a,
        name="华南",
        action="user",
        user=rep2,
        conditions=[{"field": "province", "op": "equals", "value": "广东"}],
    )
    client = signed_in(tenant_a.users["sales_rep"])
    csv = (
        "姓名,公司,手机,省份,来源\n刘一,一号公司,13800000011,广东省,展会\n陈二,二号公司,13800000022,浙江省,\n".encode()
    )
    response = client.post(reverse("sales:lead_imports"), {"file": SimpleUploadedFile("leads.csv", csv)})
    job = ImportJob.objects.get(record_type="sales.lead")
    assert response["Location"] == reverse("sales:lead_import_detail", args=[job.pk])
    assert job.mapping == {"0": "name", "1": "company", "2": "phone", "3": "province", "4": "source"}
    page = html(client.get(reverse("sales:lead_import_detail", args=[job.pk])))
    assert 'data-testid="import-mapping"' in page
    mapping = {f"col_{k}": v for k, v in job.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):  # the background job runs at commit
        client.post(
            reverse("sales:lead_import_mapping", args=[job.pk]), {**mapping, "policy": "skip", "next_step": "run"}
        )
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == 2
    first, second = Lead.objects.get(name="刘一"), Lead.objects.get(name="陈二")
    assert first.owner == rep2 and first.assigned_rule_name == "华南" and first.source == "exhibition"
    assert second.owner == tenant_a.users["sales_rep"] and second.source == "import"
