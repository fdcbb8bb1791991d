"""Blocks of other modules on the customer's page (kehu.customers.panels): places, order, module access."""

from __future__ import annotations

from pathlib import Path

import pytest

from kehu.customers import panels
from tests.customers.factories import make_customer
from tests.customers.pages import customer_page

pytestmark = pytest.mark.django_db


def _button(request, customer):
    return f'<a data-testid="test-action" href="#">{customer.pk}</a>'


def _panel(request, customer):
    return '<section data-testid="test-panel"></section>'


@pytest.fixture
def registered():
    saved = dict(panels._registry)
    panels.register(_button, module="customers", order=1, place="actions")
    panels.register(_panel, module="customers", order=1)
    yield
    panels._registry.clear()
    panels._registry.update(saved)


def test_blocks_render_at_their_place(client, tenant_a, registered):
    user = tenant_a.users["sales_rep"]
    client.force_login(user)
    customer = make_customer(tenant_a, user)
    body = customer_page(client, customer)
    header, column = body.split('data-testid="fields"', 1)
    assert 'data-testid="test-action"' in header and 'data-testid="test-action"' not in column
    assert 'data-testid="test-panel"' in column and 'data-testid="test-panel"' not in header


def test_the_activity_panel_comes_before_the_opportunities(client, tenant_a):
    user = tenant_a.users["sales_rep"]
    client.force_login(user)
    customer = make_customer(tenant_a, user)
    body = customer_page(client, customer)
    assert body.index('data-testid="activity-panel"') < body.index('data-testid="customer-opportunities"')


def test_an_unknown_place_is_refused():
    with pytest.raises(ValueError):
        panels.register(_panel, module="customers", place="footer")


def test_the_customers_templates_load_no_other_modules_tags():
    templates = Path(panels.__file__).parent / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert "activity_tags" not in text and "opportunity_tags" not in text, path
