"""Audit actions, record types and changed fields in the reader's language (kehu.core.audit_labels): every
action the code records has a label, and the pages people read show labels instead of codes."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

import kehu
from kehu.core import audit, audit_labels, audit_views
from kehu.core.models import AuditEntry
from kehu.customers import services as customer_services
from kehu.customers.models import Customer

SOURCE = Path(kehu.__file__).parent
# Actions written as literals: `action="x.y"`, a module's `_audit(actor, "x.y", ...)`, `action = "x.y"`, and the
# verbs of f-string actions (`f"{kind}.line_add"`).
LITERAL = re.compile(r'(?:action\s*=\s*|_audit(?:_many)?\([^)"]*)f?"(?:\{[a-z_.()]+\}|[a-z_]+)\.([a-z_0-9]+)"')
ACTION = re.compile(r'(?:action\s*=\s*|_audit(?:_many)?\([^)"]*)"([a-z_]+\.[a-z_0-9]+)"')


def _recorded_in_source() -> tuple[set[str], set[str]]:
    actions, verbs = set(), set()
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        actions.update(ACTION.findall(text))
        verbs.update(LITERAL.findall(text))
    return actions, verbs


def test_every_action_the_code_records_has_a_label():
    actions, verbs = _recorded_in_source()
    assert len(actions) > 150  # the scan finds them (a pattern that matched nothing would pass below)
    assert {"customer.claim", "quote.accept", "ticket.reply", "calendar.apply_holidays"} <= actions
    assert sorted(a for a in actions if not audit_labels.is_labelled(a)) == []
    assert (
        sorted(v for v in verbs if v not in audit_labels.VERBS and not any(a.endswith("." + v) for a in actions)) == []
    )


@pytest.mark.django_db
def test_every_action_of_the_demo_has_a_label():
    call_command("seed_demo", stdout=StringIO())
    recorded = set(AuditEntry.objects.values_list("action", flat=True))
    assert len(recorded) > 20
    assert sorted(a for a in recorded if not audit_labels.is_labelled(a)) == []


def test_labels_are_in_the_readers_language():
    with translation.override("en"):
        assert audit_labels.action_label("customer.claim") == "Claimed from the public pool"
        assert audit_labels.action_label("quote.accept") == "Accepted"  # by its verb
        assert audit_labels.action_label("auth.login") == "Signed in"
        assert audit_labels.action_label("mystery.thing") == "mystery.thing"  # nothing names it: the code
        assert audit_labels.record_type_label("customers.customer") == "customer"
        assert audit_labels.field_label("customers.customer", "owner") == "owner"
    with translation.override("zh-hans"):
        assert audit_labels.action_label("customer.claim") != "Claimed from the public pool"
        assert audit_labels.action_label("calendar.apply_holidays") == "应用法定节假日"
        assert audit_labels.action_label("quote.accept") == "已接受"
        assert audit_labels.action_label("order.cancel") == "已取消"  # not the status "Cancelled"
        assert audit_labels.record_type_label("customers.customer") == "客户"
        assert audit_labels.field_label("customers.customer", "owner") == "负责人"
        # Not a column (a custom field's key), an unknown type, no type: the stored name.
        assert audit_labels.field_label("customers.customer", "cf_region_code") == "cf_region_code"
        assert audit_labels.field_label("nothing.here", "owner") == "owner"
        assert audit_labels.field_label("", "owner") == "owner"
        assert audit_labels.record_type_label("nothing.here") == "nothing.here"


def test_change_rows_name_the_fields_and_choices_of_the_record_type():
    changes = {"owner": {"before": 1, "after": 2}, "cf_code": "X", "kind": {"before": "company", "after": "person"}}
    with translation.override("zh-hans"):
        rows = audit_views.change_rows(changes, "customers.customer")
        kinds = dict(Customer._meta.get_field("kind").flatchoices)
        expected = (str(kinds["company"]), str(kinds["person"]))
    assert [row["field"] for row in rows][:2] == ["负责人", "cf_code"]
    assert (rows[2]["before"], rows[2]["after"]) == expected and expected != ("company", "person")
    assert (rows[0]["before"], rows[0]["after"]) == ("1", "2")  # no choices: as stored
    assert [row["field"] for row in audit_views.change_rows(changes)] == ["owner", "cf_code", "kind"]
    assert audit_views.change_rows(changes)[2]["after"] == "person"


@pytest.mark.django_db
def test_the_home_page_and_the_audit_log_show_labels(tenant_a):
    admin = tenant_a.admin
    customer = customer_services.customer_create(actor=admin, name="华为技术").customer
    audit.record(
        actor=admin, action="customer.release", target=customer, changes={"owner": {"before": "王伟", "after": None}}
    )
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(admin)
    home = client.get("/").content.decode()
    assert "<code>customer.release</code>" not in home
    with translation.override("zh-hans"):
        label = audit_labels.action_label("customer.release")
    assert f'data-action="customer.release">{label}</span>' in home and label != "customer.release"
    log = client.get("/audit/").content.decode()
    assert label in log and "<code>customer.release</code>" in log  # the code stays, for the action filter
    assert f"客户 #{customer.pk}" in log  # the record type by its name
    assert "负责人:" in log  # the changed field by its name
