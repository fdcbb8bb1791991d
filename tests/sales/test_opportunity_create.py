from decimal import Decimal

import pytest

from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEntry
from kehu.sales import opportunity_services
from kehu.sales.models import Pipeline, Stage
from tests.customers.factories import make_contact, make_customer
from tests.sales.factories import make_opportunity

pytestmark = pytest.mark.django_db


def test_default_pipeline_is_created_once_with_standard_stages(tenant_a):
    first = opportunity_services.ensure_default_pipeline(tenant_a.org)
    again = opportunity_services.ensure_default_pipeline(tenant_a.org)
    assert first == again
    assert Pipeline.objects.filter(organization=tenant_a.org).count() == 1
    kinds = list(first.stages.values_list("kind", flat=True))
    assert kinds[0] == Stage.Kind.OPEN and Stage.Kind.WON in kinds and Stage.Kind.LOST in kinds


def test_new_opportunity_starts_in_first_stage_with_its_probability_and_is_audited(tenant_a):
    opportunity = make_opportunity(tenant_a, amount=Decimal("1200.50"))
    first = opportunity.pipeline.stages.order_by("position").first()
    assert opportunity.stage == first
    assert opportunity.probability == first.probability
    assert opportunity.owner == tenant_a.users["sales_rep"]
    assert opportunity.weighted_amount == Decimal("1200.50") * first.probability / 100
    assert AuditEntry.objects.filter(action="opportunity.create", target_id=str(opportunity.pk)).exists()


def test_a_stage_gate_refuses_missing_required_fields(tenant_a):
    pipeline = opportunity_services.ensure_default_pipeline(tenant_a.org)
    gated = pipeline.stages.get(required_fields=["amount"], kind=Stage.Kind.OPEN)
    with pytest.raises(ValidationFailed) as caught:
        make_opportunity(tenant_a, stage=gated, pipeline=pipeline)
    assert "amount" in caught.value.fields


def test_contact_must_belong_to_the_customer(tenant_a):
    other_contact = make_contact(tenant_a)
    with pytest.raises(ValidationFailed) as caught:
        make_opportunity(tenant_a, customer=make_customer(tenant_a), contact=other_contact)
    assert "contact" in caught.value.fields
