"""Opportunity pages as people use them: the board (with its query counts), the list, the forms that keep
input, the record page, the recycle bin, the customer's page, and the administrators' pipeline pages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.sales import opportunity_services as services
from kehu.sales.models import Opportunity, Pipeline, Stage
from tests.customers.factories import make_contact, make_customer
from tests.customers.pages import customer_page
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def en(tenant_a):
    """Tests that read text use English."""
    for user in tenant_a.users.values():
        user.language = "en"
        user.save(update_fields=["language"])
    return tenant_a


def stage_list(tenant) -> list[Stage]:
    return list(services.ensure_default_pipeline(tenant.org).stages.order_by("position"))


def test_the_board_shows_columns_with_counts_and_sums(client, en):
    rep = en.users["sales_rep"]
    first = stage_list(en)[0]
    make_opportunity(en, rep, name="云帆 ERP", amount=Decimal("12000"))
    make_opportunity(en, rep, name="青禾 CRM", amount=Decimal("3000"))
    client.force_login(rep)
    response = client.get(reverse("sales:opportunity_board"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "云帆 ERP" in html and "青禾 CRM" in html
    column = response.context["columns"][0]
    assert column.stage == first and column.count == 2 and column.totals == {"CNY": Decimal("15000.00")}
    assert "¥15K" in html


def test_the_board_costs_the_same_queries_for_many_cards(client, en, django_assert_max_num_queries):
    rep = en.users["sales_rep"]
    customer = make_customer(en, rep)
    make_opportunity(en, rep, customer=customer)
    client.force_login(rep)
    client.get(reverse("sales:opportunity_board"))  # the default pipeline exists from here on
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.sales.opportunity_summary import opportunities_changed

    opportunities_changed(en.org.pk)  # both requests compute the summary (it is cached until a change)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("sales:opportunity_board"))
    for index in range(30):
        make_opportunity(en, rep, customer=customer, amount=Decimal(index + 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("sales:opportunity_board"))
    assert response.context["columns"][0].count == 31
    assert len(response.context["columns"][0].page.items) == 20  # the first page of the column


def test_a_column_loads_more_cards_in_pages(client, en, django_assert_max_num_queries):
    rep = en.users["sales_rep"]
    customer = make_customer(en, rep)
    first = stage_list(en)[0]
    made = [make_opportunity(en, rep, customer=customer, name=f"机会 {i}") for i in range(25)]
    client.force_login(rep)
    board = client.get(reverse("sales:opportunity_board"))
    page = board.context["columns"][0].page
    assert page.next_cursor
    url = reverse("sales:opportunity_board_column", args=[first.pk])
    with django_assert_max_num_queries(12):
        more = client.get(url, {"cursor": page.next_cursor})
    assert more.status_code == 200
    more_ids = {int(pk) for pk in re.findall(r'data-opportunity="(\d+)"', more.content.decode())}
    shown = {o.pk for o in page.items} | more_ids
    assert shown == {o.pk for o in made}
    assert 'data-testid="load-more"' not in more.content.decode()


def test_board_filters_narrow_cards_and_sums(client, en):
    rep, rep2 = en.users["sales_rep"], en.users["sales_rep_2"]
    make_opportunity(en, rep, name="小单", amount=Decimal("100"))
    make_opportunity(en, rep2, name="大单", amount=Decimal("90000"))
    client.force_login(en.users["sales_manager"])
    response = client.get(reverse("sales:opportunity_board"), {"amount_min": "1000"})
    column = response.context["columns"][0]
    assert [o.name for o in column.page.items] == ["大单"] and column.totals == {"CNY": Decimal("90000.00")}
    response = client.get(reverse("sales:opportunity_board"), {"owner": rep.pk})
    assert [o.name for o in response.context["columns"][0].page.items] == ["小单"]


def test_won_and_lost_columns_show_only_recent_closures(client, en):
    stages = stage_list(en)
    old = make_opportunity(en, amount=Decimal("10"), name="去年赢单")
    services.mark_won(actor=en.admin, opportunity=old)
    Opportunity.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=90))
    recent = make_opportunity(en, amount=Decimal("10"), name="本月赢单")
    services.mark_won(actor=en.admin, opportunity=recent)
    client.force_login(en.admin)
    response = client.get(reverse("sales:opportunity_board"))
    won = next(c for c in response.context["columns"] if c.stage == stages[4])
    assert [o.name for o in won.page.items] == ["本月赢单"] and won.count == 1


def test_dragging_a_card_moves_it_and_answers_the_new_summary(client, en):
    stages = stage_list(en)
    opportunity = make_opportunity(en, amount=Decimal("500"))
    client.force_login(en.users["sales_rep"])
    url = reverse("sales:opportunity_move", args=[opportunity.pk])
    response = client.post(url, {"stage": stages[1].pk}, **JSON)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and body["stage"] == stages[1].pk
    assert body["summary"][str(stages[1].pk)]["count"] == 1
    assert body["summary"][str(stages[0].pk)]["count"] == 0
    assert 'data-testid="card"' in body["card_html"]
    assert Opportunity.objects.get(pk=opportunity.pk).stage == stages[1]


def test_a_gated_drag_is_refused_with_the_fields_to_fill(client, en):
    stages = stage_list(en)
    opportunity = make_opportunity(en)
    client.force_login(en.users["sales_rep"])
    response = client.post(reverse("sales:opportunity_move", args=[opportunity.pk]), {"stage": stages[3].pk}, **JSON)
    assert response.status_code == 400
    body = response.json()
    assert not body["ok"] and "Amount" in body["message"] and "Expected close date" in body["message"]
    assert set(body["fields"]) == {"amount", "expected_close_date"}
    assert 'name="amount"' in body["form_html"] and 'name="expected_close_date"' in body["form_html"]
    assert Opportunity.objects.get(pk=opportunity.pk).stage == stages[0]

    close = (timezone.localdate() + timedelta(days=20)).isoformat()
    response = client.post(
        reverse("sales:opportunity_quick_edit", args=[opportunity.pk]),
        {
            "fields": "amount,expected_close_date",
            "stage": stages[3].pk,
            "version": opportunity.version,
            "amount": "88000",
            "expected_close_date": close,
        },
        **JSON,
    )
    assert response.status_code == 200, response.content
    fresh = Opportunity.objects.get(pk=opportunity.pk)
    assert fresh.stage == stages[3] and fresh.amount == Decimal("88000")


def test_quick_edit_keeps_input_and_names_bad_fields(client, en):
    opportunity = make_opportunity(en)
    client.force_login(en.users["sales_rep"])
    url = reverse("sales:opportunity_quick_edit", args=[opportunity.pk])
    response = client.get(url)
    assert response.status_code == 200 and 'name="name"' in response.content.decode()
    response = client.post(
        url, {"fields": "name,amount", "version": opportunity.version, "name": "新名字", "amount": "-5"}, **JSON
    )
    assert response.status_code == 400
    html = response.json()["form_html"]
    assert "新名字" in html and 'data-testid="error-amount"' in html


def test_quick_edit_reports_a_version_conflict(client, en):
    opportunity = make_opportunity(en)
    services.update_opportunity(actor=en.admin, opportunity=opportunity, expected_version=1, data={"next_step": "x"})
    client.force_login(en.users["sales_rep"])
    response = client.post(
        reverse("sales:opportunity_quick_edit", args=[opportunity.pk]),
        {"fields": "name", "version": 1, "name": "我的改动"},
        **JSON,
    )
    assert response.status_code == 409
    assert "我的改动" in response.json()["form_html"]
    assert Opportunity.objects.get(pk=opportunity.pk).name != "我的改动"


def test_the_list_filters_sorts_and_counts_queries(client, en, django_assert_max_num_queries):
    rep = en.users["sales_rep"]
    customer = make_customer(en, rep, name="排序测试公司")
    for amount in (300, 100, 200):
        make_opportunity(en, rep, customer=customer, amount=Decimal(amount), name=f"单 {amount}")
    client.force_login(rep)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("sales:opportunity_list"), {"ordering": "-amount"})
    assert [o.amount for o in response.context["page"].items] == [Decimal(300), Decimal(200), Decimal(100)]
    response = client.get(reverse("sales:opportunity_list"), {"search": "单 2"})
    assert [o.name for o in response.context["page"].items] == ["单 200"]
    response = client.get(reverse("sales:opportunity_list"), {"amount_min": "500", **{}}, **EN)
    assert 'data-testid="empty"' in response.content.decode()
    response = client.get(reverse("sales:opportunity_list"), {"close_from": "2030-01-02", "close_to": "2030-01-01"})
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_list_query_count_does_not_grow_with_rows(client, en, django_assert_max_num_queries):
    rep = en.users["sales_rep"]
    customer = make_customer(en, rep)
    make_opportunity(en, rep, customer=customer)
    client.force_login(rep)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("sales:opportunity_list"))
    for _ in range(20):
        make_opportunity(en, rep, customer=make_customer(en, rep))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("sales:opportunity_list"))
    assert len(response.context["page"].items) == 21


def test_bulk_assign_and_delete(client, en):
    a, b = make_opportunity(en), make_opportunity(en)
    client.force_login(en.users["sales_manager"])
    response = client.post(
        reverse("sales:opportunity_bulk"),
        {"action": "assign", "ids": [a.pk, b.pk], "owner": en.users["sales_rep_2"].pk},
    )
    assert response.status_code == 302
    assert set(Opportunity.objects.filter(pk__in=[a.pk, b.pk]).values_list("owner", flat=True)) == {
        en.users["sales_rep_2"].pk
    }
    client.post(reverse("sales:opportunity_bulk"), {"action": "delete", "ids": [a.pk]})
    assert Opportunity.objects.get(pk=a.pk).deleted_at is not None


def test_create_form_keeps_input_on_error_and_creates(client, en):
    rep = en.users["sales_rep"]
    customer = make_customer(en, rep, name="表单测试公司")
    contact = make_contact(en, customer, name="李经理")
    stages = stage_list(en)
    client.force_login(rep)
    url = reverse("sales:opportunity_create")
    form_page = client.get(url, {"customer": customer.pk}, **EN)
    assert "表单测试公司" in form_page.content.decode() and "李经理" in form_page.content.decode()
    response = client.post(url, {"name": "新项目", "customer": customer.pk, "stage": stages[2].pk, "amount": ""}, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "新项目" in html and 'data-testid="error-amount"' in html
    response = client.post(
        url,
        {"name": "新项目", "customer": customer.pk, "contact": contact.pk, "stage": stages[2].pk, "amount": "1000"},
    )
    opportunity = Opportunity.objects.get(name="新项目")
    assert response.status_code == 302 and response.url == reverse("sales:opportunity_detail", args=[opportunity.pk])
    assert opportunity.contact == contact and opportunity.stage == stages[2] and opportunity.owner == rep


def test_a_customer_outside_the_scope_cannot_be_chosen(client, en):
    theirs = make_customer(en, en.users["sales_rep_2"])
    client.force_login(en.users["sales_rep"])
    response = client.post(reverse("sales:opportunity_create"), {"name": "x", "customer": theirs.pk}, **EN)
    assert response.status_code == 200 and 'data-testid="error-customer"' in response.content.decode()
    assert not Opportunity.objects.filter(name="x").exists()


def test_edit_with_a_stale_version_keeps_input_and_shows_the_conflict(client, en):
    opportunity = make_opportunity(en)
    client.force_login(en.users["sales_rep"])
    url = reverse("sales:opportunity_edit", args=[opportunity.pk])
    assert client.get(url).status_code == 200
    services.update_opportunity(
        actor=en.admin, opportunity=opportunity, expected_version=1, data={"name": "同事的名字"}
    )
    data = {"version": 1, "name": "我的名字", "customer": opportunity.customer_id, "currency": "CNY"}
    response = client.post(url, data, **EN)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="version-conflict"' in html
    assert "我的名字" in html and "同事的名字" in html
    response = client.post(url, {**data, "version": 2})
    assert response.status_code == 302
    assert Opportunity.objects.get(pk=opportunity.pk).name == "我的名字"


def test_detail_shows_history_rotting_and_links(client, en):
    stages = stage_list(en)
    services.update_stage(actor=en.admin, stage=stages[1], data={"rot_days": 5})
    opportunity = make_opportunity(en)
    services.change_stage(actor=en.admin, opportunity=opportunity, stage=stages[1])
    Opportunity.objects.filter(pk=opportunity.pk).update(stage_entered_at=timezone.now() - timedelta(days=9))
    client.force_login(en.users["sales_rep"])
    response = client.get(reverse("sales:opportunity_detail", args=[opportunity.pk]), **EN)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="history-row"') == 2
    assert "Rotting: 9 days in this stage" in html
    assert reverse("customers:detail", args=[opportunity.customer_id]) in html


def test_stage_bar_move_without_javascript_and_refusal_message(client, en):
    stages = stage_list(en)
    opportunity = make_opportunity(en)
    client.force_login(en.users["sales_rep"])
    url = reverse("sales:opportunity_move", args=[opportunity.pk])
    response = client.post(url, {"stage": stages[2].pk}, follow=True, **EN)
    assert "Fill in these fields to enter the stage" in response.content.decode()
    response = client.post(url, {"stage": stages[1].pk})
    assert response.status_code == 302 and Opportunity.objects.get(pk=opportunity.pk).stage == stages[1]


def test_won_and_lost_from_the_record_page(client, en):
    opportunity = make_opportunity(en, amount=Decimal("10"))
    client.force_login(en.users["sales_rep"])
    response = client.post(reverse("sales:opportunity_lost", args=[opportunity.pk]), {"reason": ""}, follow=True, **EN)
    assert "Say why the opportunity was lost." in response.content.decode()
    client.post(reverse("sales:opportunity_lost", args=[opportunity.pk]), {"reason": "价格太高"})
    fresh = Opportunity.objects.get(pk=opportunity.pk)
    assert fresh.status == "lost" and fresh.lost_reason == "价格太高"
    client.post(reverse("sales:opportunity_won", args=[opportunity.pk]), {"reason": ""})
    assert Opportunity.objects.get(pk=opportunity.pk).status == "won"


def test_delete_and_restore_through_the_recycle_bin(client, en):
    opportunity = make_opportunity(en, name="回收站测试")
    client.force_login(en.users["sales_manager"])
    client.post(reverse("sales:opportunity_delete", args=[opportunity.pk]))
    assert client.get(reverse("sales:opportunity_detail", args=[opportunity.pk])).status_code == 404
    bin_page = client.get(reverse("sales:opportunity_recycle_bin"))
    assert "回收站测试" in bin_page.content.decode()
    response = client.post(reverse("sales:opportunity_restore", args=[opportunity.pk]))
    assert response.status_code == 302
    assert client.get(reverse("sales:opportunity_detail", args=[opportunity.pk])).status_code == 200


def test_the_customer_page_shows_the_panel_and_the_timeline(client, en):
    customer = make_customer(en)
    opportunity = make_opportunity(en, customer=customer, name="面板商机", amount=Decimal("10"))
    services.mark_won(actor=en.admin, opportunity=opportunity)
    client.force_login(en.users["sales_rep"])
    html = customer_page(client, customer, **EN)
    assert 'data-testid="customer-opportunities"' in html and "面板商机" in html
    assert 'data-kind="opportunity.create"' in html and 'data-kind="opportunity.won"' in html
    assert "Opportunity 面板商机 won" in html


def test_the_panel_is_absent_without_the_sales_module(client, en):
    customer = make_customer(en)
    make_opportunity(en, customer=customer, name="不应出现")
    en.org.enabled_modules = [m for m in en.org.enabled_modules if m != "sales"]
    en.org.save(update_fields=["enabled_modules"])
    client.force_login(en.users["sales_rep"])
    html = customer_page(client, customer)
    assert "不应出现" not in html and 'data-testid="customer-opportunities"' not in html


def test_contact_options_follow_the_chosen_customer(client, en):
    customer = make_customer(en)
    make_contact(en, customer, name="王助理")
    client.force_login(en.users["sales_rep"])
    html = client.get(reverse("sales:opportunity_contact_options"), {"customer": customer.pk}).content.decode()
    assert "王助理" in html
    other = make_customer(en, en.users["sales_rep_2"])
    make_contact(en, other, name="看不见")
    html = client.get(reverse("sales:opportunity_contact_options"), {"customer": other.pk}).content.decode()
    assert "看不见" not in html


# Pipelines and stages (administrators) -----------------------------------------------------------------


def test_administrators_manage_pipelines_and_stages(client, en):
    client.force_login(en.admin)
    response = client.post(reverse("sales:pipeline_list"), {"name": "续约流程", "is_active": "on"})
    pipeline = Pipeline.objects.get(organization=en.org, name="续约流程")
    assert response.status_code == 302 and pipeline.stages.count() == 6
    detail = reverse("sales:pipeline_detail", args=[pipeline.pk])
    assert client.get(detail).status_code == 200
    response = client.post(
        reverse("sales:stage_create", args=[pipeline.pk]),
        {
            "new-name": "签约",
            "new-kind": "open",
            "new-probability": "90",
            "new-rot_days": "7",
            "new-required_fields": ["amount", "contact"],
        },
    )
    assert response.status_code == 302
    stage = pipeline.stages.get(name="签约")
    assert stage.required_fields == ["amount", "contact"] and stage.rot_days == 7 and stage.position == 6
    client.post(reverse("sales:stage_move", args=[stage.pk]), {"direction": "up"})
    assert Stage.objects.get(pk=stage.pk).position == 5
    response = client.post(
        reverse("sales:stage_edit", args=[stage.pk]),
        {"name": "合同签署", "kind": "open", "probability": "95", "rot_days": "0"},
    )
    assert response.status_code == 302 and Stage.objects.get(pk=stage.pk).name == "合同签署"
    client.post(reverse("sales:stage_delete", args=[stage.pk]))
    assert not Stage.objects.filter(pk=stage.pk).exists()
    client.post(reverse("sales:pipeline_delete", args=[pipeline.pk]))
    assert not Pipeline.objects.filter(pk=pipeline.pk).exists()


def test_deleting_a_used_stage_shows_a_clear_error(client, en):
    stages = stage_list(en)
    make_opportunity(en)
    client.force_login(en.admin)
    response = client.post(reverse("sales:stage_delete", args=[stages[0].pk]), follow=True, **EN)
    assert "1 opportunity is in the stage" in response.content.decode()
    assert Stage.objects.filter(pk=stages[0].pk).exists()


def test_stage_form_keeps_input_and_names_the_field(client, en):
    stages = stage_list(en)
    client.force_login(en.admin)
    response = client.post(
        reverse("sales:stage_edit", args=[stages[0].pk]),
        {"name": stages[1].name, "kind": "open", "probability": "150", "rot_days": "0"},
        **EN,
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="error-probability"' in html


def test_pipeline_pages_are_for_administrators(client, en):
    pipeline = services.ensure_default_pipeline(en.org)
    client.force_login(en.users["sales_manager"])
    assert client.get(reverse("sales:pipeline_list")).status_code == 403
    assert client.get(reverse("sales:pipeline_detail", args=[pipeline.pk])).status_code == 403
    assert client.post(reverse("sales:pipeline_delete", args=[pipeline.pk])).status_code == 403


def test_custom_fields_of_opportunities_are_managed_and_used(client, en):
    client.force_login(en.admin)
    page = client.get(reverse("customers:custom_fields"), {"record_type": "sales.opportunity"})
    assert page.status_code == 200 and page.context["record_type"] == "sales.opportunity"
    response = client.post(
        reverse("customers:custom_field_create"),
        {
            "record_type": "sales.opportunity",
            "label": "Budget owner",
            "key": "budget_owner",
            "field_type": "text",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    customer = make_customer(en)
    form = client.get(reverse("sales:opportunity_create"), {"customer": customer.pk}).content.decode()
    assert 'name="custom.budget_owner"' in form
    client.post(
        reverse("sales:opportunity_create"),
        {"name": "自定义字段商机", "customer": customer.pk, "custom.budget_owner": "王总", "currency": "CNY"},
    )
    opportunity = Opportunity.objects.get(name="自定义字段商机")
    assert opportunity.custom == {"budget_owner": "王总"}
    html = client.get(reverse("sales:opportunity_detail", args=[opportunity.pk])).content.decode()
    assert "Budget owner" in html and "王总" in html
    listed = client.get(reverse("sales:opportunity_list"), {"custom.budget_owner": "王"})
    assert [o.pk for o in listed.context["page"].items] == [opportunity.pk]


def test_a_new_opportunity_takes_the_stages_probability_unless_given(client, en):
    stages = stage_list(en)
    customer = make_customer(en)
    client.force_login(en.admin)
    form = client.get(reverse("sales:opportunity_create")).content.decode()
    assert 'name="probability" value="0"' not in form
    client.post(
        reverse("sales:opportunity_create"), {"name": "默认赢率", "customer": customer.pk, "stage": stages[1].pk}
    )
    client.post(
        reverse("sales:opportunity_create"),
        {"name": "自定赢率", "customer": customer.pk, "stage": stages[1].pk, "probability": "45"},
    )
    assert Opportunity.objects.get(name="默认赢率").probability == stages[1].probability
    assert Opportunity.objects.get(name="自定赢率").probability == 45


def test_column_sums_are_per_currency(client, en):
    """Amounts in different currencies are never added: the column shows one sum per currency, the
    organisation's own first, in the page and in a move's summary."""
    rep = en.users["sales_rep"]
    make_opportunity(en, rep, amount=Decimal("12000"))
    make_opportunity(en, rep, amount=Decimal("3000"), currency="USD")
    make_opportunity(en, rep, amount=Decimal("500"), currency="USD")
    client.force_login(rep)
    response = client.get(reverse("sales:opportunity_board"))
    column = response.context["columns"][0]
    assert column.totals == {"CNY": Decimal("12000.00"), "USD": Decimal("3500.00")} and column.count == 3
    assert column.total_text == "¥12K · US$3.5K"
    assert column.total_full == "¥12,000.00 · US$3,500.00"
    assert "¥12K · US$3.5K" in response.content.decode()
