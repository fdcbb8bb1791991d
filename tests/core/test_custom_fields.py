"""kehu.core.custom_fields: every type's validation, required and defaults, unknown keys, type changes,
and the filters by custom values on the database the suite runs on."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kehu.core import custom_fields
from kehu.core.custom_field_models import CustomFieldDefinition
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from tests.customers.factories import make_customer
from tests.customers.field_factories import make_field

RT = "customers.customer"

# (type, extra definition fields, good inputs -> stored value, bad inputs)
CASES = [
    ("text", {}, [("  你好  ", "你好"), ("abc", "abc")], [123, "x" * 256, ["a"]]),
    ("long_text", {}, [("line 1\nline 2", "line 1\nline 2")], ["x" * 10_001, 5]),
    ("integer", {}, [(42, 42), ("-7", -7), (3.0, 3)], ["4.5", 4.5, True, "abc", 2**60]),
    (
        "decimal",
        {},
        [("12.50", 12.5), (3, 3), (Decimal("0.1"), 0.1), ("1,200.5", 1200.5)],
        ["abc", True, "1e400", "1234567890.1234567"],
    ),
    (
        "date",
        {},
        [("2026-03-01", "2026-03-01"), (date(2026, 1, 2), "2026-01-02")],
        ["2026-13-01", "03/01/2026", 20260301],
    ),
    (
        "datetime",
        {},
        [
            ("2026-03-01T08:30:00+08:00", "2026-03-01T00:30:00Z"),
            ("2026-03-01T08:30", "2026-03-01T00:30:00Z"),  # naive: the active time zone (Asia/Shanghai)
            (datetime(2026, 3, 1, 1, 0, tzinfo=ZoneInfo("UTC")), "2026-03-01T01:00:00Z"),
        ],
        ["tomorrow", "2026-03-01 25:00", 5],
    ),
    ("single_select", {}, [("银", "银"), (" 金 ", "金")], ["铁", ["金"], 1]),
    ("multi_select", {}, [(["铜", "金", "金"], ["金", "铜"]), ("银", ["银"])], [["铁"], [1], {"a": 1}]),
    ("boolean", {}, [(True, True), ("false", False), ("是", True), (0, False)], ["maybe", 2, [True]]),
    (
        "url",
        {},
        [("example.com/x", "https://example.com/x"), ("http://a.cn", "http://a.cn")],
        ["not a url", "ftp://a.cn", 3],
    ),
    ("email", {}, [("Zhang@Example.COM", "zhang@example.com")], ["zhang@", "no-at-sign", 3]),
    (
        "phone",
        {},
        [("+86 138 0013 8000", "13800138000"), ("010-6552 9988", "01065529988"), ("+1 (415) 555-0100", "+14155550100")],
        ["call me", "12", "+86 138 0013 8000 ext abc"],
    ),
]


@pytest.mark.parametrize("field_type,extra,good,bad", CASES, ids=[c[0] for c in CASES])
def test_each_type_normalises_good_values_and_refuses_bad_ones_naming_the_field(tenant_a, field_type, extra, good, bad):
    field = make_field(tenant_a, field_type, key="probe", **extra)
    for given, stored in good:
        assert custom_fields.clean(tenant_a.org, RT, {"probe": given}, partial=True, current={}) == {"probe": stored}
    for given in bad:
        with pytest.raises(ValidationFailed) as exc:
            custom_fields.clean(tenant_a.org, RT, {"probe": given}, partial=True, current={})
        assert list(exc.value.fields) == ["custom.probe"], given
        assert exc.value.fields["custom.probe"][0]
        assert field.label in exc.value.message


def test_a_user_field_takes_active_users_of_the_organisation_only(tenant_a, tenant_b):
    make_field(tenant_a, "user", key="account_manager")
    rep = tenant_a.users["sales_rep"]
    assert custom_fields.clean(tenant_a.org, RT, {"account_manager": rep.pk}, partial=True, current={}) == {
        "account_manager": rep.pk
    }
    for bad in (tenant_b.admin.pk, 999_999, "x"):
        with pytest.raises(ValidationFailed) as exc:
            custom_fields.clean(tenant_a.org, RT, {"account_manager": bad}, partial=True, current={})
        assert "custom.account_manager" in exc.value.fields


def test_required_fields_are_enforced_and_defaults_applied_on_create(tenant_a):
    make_field(tenant_a, "single_select", key="grade", required=True, default="银")
    make_field(tenant_a, "text", key="contract_no", required=True)
    make_field(tenant_a, "integer", key="seats", default=5)
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.clean(tenant_a.org, RT, {}, partial=False)
    assert set(exc.value.fields) == {"custom.contract_no"}  # grade has a default
    assert custom_fields.clean(tenant_a.org, RT, {"contract_no": "HT-1"}, partial=False) == {
        "grade": "银",
        "contract_no": "HT-1",
        "seats": 5,
    }
    # An explicit empty value of a required field is refused, on create and on update.
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.clean(tenant_a.org, RT, {"contract_no": "  "}, partial=False)
    assert len(exc.value.fields["custom.contract_no"]) == 1
    with pytest.raises(ValidationFailed):
        custom_fields.clean(tenant_a.org, RT, {"grade": None}, partial=True, current={"grade": "金"})
    # No defaults on update; clearing an optional field removes its key.
    assert custom_fields.clean(tenant_a.org, RT, {"seats": None}, partial=True, current={"seats": 3, "x": 1}) == {
        "x": 1
    }


def test_unknown_and_inactive_keys_are_refused(tenant_a, tenant_b):
    field = make_field(tenant_a, "text", key="old_code")
    make_field(tenant_b, "text", key="theirs")
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.clean(tenant_a.org, RT, {"theirs": "x", "nope": 1}, partial=True, current={})
    assert set(exc.value.fields) == {"custom.theirs", "custom.nope"}
    custom_fields.definition_update(
        actor=tenant_a.admin, definition=field, expected_version=None, data={"is_active": False}
    )
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.clean(tenant_a.org, RT, {"old_code": "new"}, partial=True, current={"old_code": "A"})
    assert "no longer in use" in exc.value.fields["custom.old_code"][0]
    # Sent back unchanged (a client echoing what it read) is fine, and kept.
    assert custom_fields.clean(tenant_a.org, RT, {"old_code": "A"}, partial=True, current={"old_code": "A"}) == {
        "old_code": "A"
    }
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.clean(tenant_a.org, RT, ["not", "a", "dict"], partial=True, current={})
    assert "custom" in exc.value.fields


def test_definitions_are_validated_and_keys_unique_per_organisation_and_record_type(tenant_a, tenant_b):
    make_field(tenant_a, "text", key="code")
    with pytest.raises(ValidationFailed) as exc:
        make_field(tenant_a, "integer", key="code")
    assert "key" in exc.value.fields
    make_field(tenant_a, "text", key="code", record_type="customers.contact")  # another record type
    make_field(tenant_b, "text", key="code")  # another organisation
    for key in ("Code", "two__parts", "1st", "has-dash", "", "x" * 41):
        with pytest.raises(ValidationFailed, match="key") as exc:
            make_field(tenant_a, "text", key=key)
        assert "key" in exc.value.fields, key
    with pytest.raises(ValidationFailed) as exc:
        make_field(tenant_a, "single_select", key="grade", options=[])
    assert "options" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        make_field(tenant_a, "integer", key="seats", default="many")
    assert "default" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        make_field(tenant_a, "text", key="x1", record_type="nothing.here")
    assert "record_type" in exc.value.fields
    assert AuditEntry.objects.filter(action="custom_field.create", organization=tenant_a.org).count() == 2


def test_only_administrators_of_the_module_manage_definitions(tenant_a):
    rep = tenant_a.users["sales_rep"]
    with pytest.raises(PermissionDenied):
        custom_fields.definition_create(actor=rep, record_type=RT, key="mine", label="Mine", field_type="text")
    field = make_field(tenant_a, "text")
    with pytest.raises(PermissionDenied):
        custom_fields.definition_update(actor=rep, definition=field, expected_version=None, data={"label": "x"})
    # Everyone who sees customers reads the definitions (forms need them).
    assert list(custom_fields.definition_list_for(actor=rep)) == [field]


def test_the_type_of_a_field_with_values_cannot_change(tenant_a):
    field = make_field(tenant_a, "text", key="size")
    custom_fields.definition_update(
        actor=tenant_a.admin, definition=field, expected_version=None, data={"field_type": "integer"}
    )
    make_customer(tenant_a, custom={"size": 10})
    field.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        custom_fields.definition_update(
            actor=tenant_a.admin, definition=field, expected_version=field.version, data={"field_type": "text"}
        )
    assert "field_type" in exc.value.fields
    with pytest.raises(ValidationFailed):
        custom_fields.definition_delete(actor=tenant_a.admin, definition=field)
    # Label, help text and the active flag still change.
    custom_fields.definition_update(
        actor=tenant_a.admin,
        definition=field,
        expected_version=field.version,
        data={"label": "规模", "is_active": False},
    )
    field.refresh_from_db()
    assert (field.label, field.is_active, field.field_type) == ("规模", False, "integer")


def test_an_unused_field_is_deleted_and_reordered(tenant_a):
    a, _b, c = (make_field(tenant_a, "text", key=k) for k in ("a1", "b1", "c1"))
    custom_fields.definition_move(actor=tenant_a.admin, definition=c, offset=-1)
    assert [d.key for d in custom_fields.definitions_for(tenant_a.org, RT)] == ["a1", "c1", "b1"]
    custom_fields.definition_delete(actor=tenant_a.admin, definition=a)
    assert not CustomFieldDefinition.objects.filter(pk=a.pk).exists()
    with pytest.raises(NotFound):
        custom_fields.definition_get_for(actor=tenant_a.admin, pk=a.pk)


def _ids(qs):
    return set(qs.values_list("pk", flat=True))


def test_filters_by_custom_values(tenant_a):
    defs = [
        make_field(tenant_a, "text", key="note"),
        make_field(tenant_a, "single_select", key="grade"),
        make_field(tenant_a, "multi_select", key="regions", options=["华东", "华南", "华北"]),
        make_field(tenant_a, "boolean", key="vip"),
        make_field(tenant_a, "integer", key="seats"),
        make_field(tenant_a, "decimal", key="budget"),
        make_field(tenant_a, "date", key="signed_on"),
        make_field(tenant_a, "datetime", key="last_visit"),
        make_field(tenant_a, "user", key="manager"),
    ]
    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    one = make_customer(
        tenant_a,
        custom={
            "note": "Key ACCOUNT 重点",
            "grade": "金",
            "regions": ["华东", "华北"],
            "vip": True,
            "seats": 5,
            "budget": "1200.50",
            "signed_on": "2026-01-15",
            "last_visit": "2026-02-01T23:30:00+08:00",
            "manager": rep.pk,
        },
    )
    two = make_customer(
        tenant_a,
        custom={
            "note": "small",
            "grade": "银",
            "regions": ["华南"],
            "vip": False,
            "seats": 50,
            "budget": 99.5,
            "signed_on": "2026-03-01",
            "last_visit": "2026-02-02T08:00:00+08:00",
            "manager": rep2.pk,
        },
    )
    three = make_customer(tenant_a)  # no custom values at all
    base = Customer.objects.filter(organization=tenant_a.org)

    def match(**cleaned):
        return _ids(base.filter(custom_fields.filter_q(defs, cleaned)))

    assert match(**{"custom.note": "account"}) == {one.pk}
    assert match(**{"custom.note": "重点"}) == {one.pk}
    assert match(**{"custom.grade": "银"}) == {two.pk}
    assert match(**{"custom.regions": "华北"}) == {one.pk}
    assert match(**{"custom.regions": "华南"}) == {two.pk}
    assert match(**{"custom.vip": "true"}) == {one.pk}
    assert match(**{"custom.vip": "false"}) == {two.pk}
    assert match(**{"custom.manager": rep2.pk}) == {two.pk}
    assert match(**{"custom.seats.min": Decimal(6)}) == {two.pk}
    assert match(**{"custom.seats.max": Decimal(5)}) == {one.pk}
    assert match(**{"custom.budget.min": Decimal("100"), "custom.budget.max": Decimal("2000")}) == {one.pk}
    assert match(**{"custom.signed_on.min": date(2026, 2, 1)}) == {two.pk}
    assert match(**{"custom.signed_on.max": date(2026, 1, 15)}) == {one.pk}
    # Whole days of the organisation's time zone: 2026-02-01 23:30 in Shanghai is on the 1st.
    assert match(**{"custom.last_visit.min": date(2026, 2, 1), "custom.last_visit.max": date(2026, 2, 1)}) == {one.pk}
    assert match(**{"custom.last_visit.min": date(2026, 2, 2)}) == {two.pk}
    assert match() == {one.pk, two.pk, three.pk}
