"""The schema rules of the design: every index and unique constraint leads with the organisation."""

import pytest
from django.db import models

from kehu.customers.forms import BulkForm
from kehu.customers.models import Contact, Customer, CustomerTag, Tag


@pytest.mark.parametrize("model", [Customer, Contact, Tag, CustomerTag])
def test_every_index_and_unique_constraint_leads_with_the_organisation(model):
    meta = model._meta
    entries = [*meta.indexes, *(c for c in meta.constraints if isinstance(c, models.UniqueConstraint))]
    assert entries
    for entry in entries:
        assert entry.fields[0] == "organization", f"{model.__name__}.{entry.name} leads with {entry.fields[0]}"


def test_the_bulk_form_takes_ids_and_names_what_is_missing():
    form = BulkForm({"action": "assign", "ids": ["3", "5"]})
    assert not form.is_valid()
    assert set(form.errors) == {"owner"}
    assert BulkForm({"action": "delete", "ids": ["3", "x"]}).errors["ids"]
    assert BulkForm({"action": "delete"}).errors["ids"]
    form = BulkForm({"action": "tag_add", "ids": ["7"], "tag": "2"})
    assert form.is_valid() and form.cleaned_data["ids"] == [7]
