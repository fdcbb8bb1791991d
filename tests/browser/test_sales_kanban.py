"""A rep works the opportunity board: drags a card to the next stage and sees it stay there after a reload;
drags one into a gated stage and is refused with the message and a form for the missing amount, which
then moves it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.sales import opportunity_services
from kehu.sales.models import Opportunity
from tests.browser.test_shell import sign_in
from tests.customers.factories import make_customer
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.browser


def column(page, stage):
    return page.locator(f"[data-testid=column][data-stage='{stage.pk}']")


def card(page, opportunity):
    return page.locator(f"[data-testid=card][data-opportunity='{opportunity.pk}']")


def drag(page, source, target) -> None:
    """Drag with the mouse in small steps, as a person does (SortableJS reads pointer moves)."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 40, steps=5)
    page.mouse.up()


def test_a_rep_drags_a_card_to_the_next_stage_and_it_stays_there(new_page, tenant_a):
    rep = tenant_a.users["sales_rep"]
    stages = list(opportunity_services.ensure_default_pipeline(tenant_a.org).stages.order_by("position"))
    customer = make_customer(tenant_a, rep, name="看板测试有限公司")
    opportunity = make_opportunity(tenant_a, rep, customer=customer, name="看板拖拽商机")
    page = new_page(locale="en-US")
    sign_in(page, rep)
    page.goto(reverse("sales:opportunity_board"))
    assert card(page, opportunity).is_visible()
    assert column(page, stages[0]).get_by_test_id("column-count").inner_text() == "1"

    drag(page, card(page, opportunity), column(page, stages[1]).get_by_test_id("cards"))

    page.get_by_test_id("board-success").wait_for()
    assert column(page, stages[1]).locator(f"[data-opportunity='{opportunity.pk}']").count() == 1
    assert column(page, stages[1]).get_by_test_id("column-count").inner_text() == "1"
    assert column(page, stages[0]).get_by_test_id("column-count").inner_text() == "0"
    assert Opportunity.objects.get(pk=opportunity.pk).stage == stages[1]

    page.reload()
    assert column(page, stages[1]).locator(f"[data-opportunity='{opportunity.pk}']").is_visible()
    assert column(page, stages[0]).locator("[data-testid=card]").count() == 0


def test_a_drag_into_a_gated_stage_is_refused_until_the_amount_is_filled(new_page, tenant_a):
    rep = tenant_a.users["sales_rep"]
    stages = list(opportunity_services.ensure_default_pipeline(tenant_a.org).stages.order_by("position"))
    proposal = stages[2]
    assert proposal.required_fields == ["amount"]
    opportunity = make_opportunity(tenant_a, rep, name="没有金额的商机")
    page = new_page(locale="en-US")
    sign_in(page, rep)
    page.goto(reverse("sales:opportunity_board"))

    drag(page, card(page, opportunity), column(page, proposal).get_by_test_id("cards"))

    error = page.get_by_test_id("board-error")
    error.wait_for()
    assert "Fill in these fields to enter the stage" in error.inner_text()
    assert "Amount" in error.inner_text()
    assert column(page, stages[0]).locator(f"[data-opportunity='{opportunity.pk}']").count() == 1  # back home
    assert column(page, proposal).locator("[data-testid=card]").count() == 0
    assert Opportunity.objects.get(pk=opportunity.pk).stage == stages[0]

    form = page.get_by_test_id("quick-edit-form")
    form.wait_for()
    form.locator("input[name=amount]").fill("26800")
    form.get_by_test_id("quick-save").click()

    page.get_by_test_id("board-success").wait_for()
    assert column(page, proposal).locator(f"[data-opportunity='{opportunity.pk}']").count() == 1
    assert "¥26,800.00" in card(page, opportunity).inner_text()
    fresh = Opportunity.objects.get(pk=opportunity.pk)
    assert fresh.stage == proposal and str(fresh.amount) == "26800.00"
