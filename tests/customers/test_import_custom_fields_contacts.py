"""Importing custom-field columns (of customers and of contacts) and contacts (the contact columns of the
customer import): values checked by kehu.core.custom_fields.clean, bad rows reported with their row
number and the field, several contacts per customer under the "update" policy."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from kehu.core import imports
from kehu.core.import_models import ImportJob
from kehu.customers.importing import ADAPTER
from kehu.customers.models import Contact, Customer
from tests.customers.factories import make_contact, make_customer
from tests.customers.field_factories import make_field

CONTACT = "customers.contact"


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def upload(actor, header, rows, name="客户.csv") -> ImportJob:
    return imports.import_job_create(
        actor=actor, record_type="customers", upload=ContentFile(csv_bytes(header, rows), name=name)
    )


def check(actor, job, policy="skip", capture=None) -> ImportJob:
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    with capture(execute=True):
        imports.import_job_dry_run(actor=actor, job=job)
    job.refresh_from_db()
    return job


def run(actor, job, policy="skip", capture=None) -> ImportJob:
    job = imports.import_job_update(actor=actor, job=job, policy=policy)
    with capture(execute=True):
        imports.import_job_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


@pytest.fixture
def fields(tenant_a):
    """Custom fields of customers (a required select with a default, a number, a multi select, a user, a
    date) and of contacts (a required text, a boolean)."""
    return {
        "level": make_field(tenant_a, "single_select", key="level", label="会员等级", options=["金", "银", "铜"]),
        "budget": make_field(tenant_a, "decimal", key="budget", label="预算"),
        "channels": make_field(
            tenant_a, "multi_select", key="channels", label="渠道", options=["线上", "线下", "展会"]
        ),
        "manager": make_field(tenant_a, "user", key="manager", label="客户经理"),
        "signed": make_field(tenant_a, "date", key="signed", label="签约日期"),
        "region": make_field(tenant_a, "text", key="region", label="大区", required=True, default="华东"),
        "hobby": make_field(tenant_a, "text", key="hobby", label="爱好", record_type=CONTACT, required=True),
        "vip": make_field(tenant_a, "boolean", key="vip", label="VIP", record_type=CONTACT),
    }


# Custom fields -----------------------------------------------------------------------------------------


def test_custom_fields_are_import_columns_guessed_from_their_label_or_key(rep, tenant_a, fields):
    names = [f.name for f in ADAPTER.fields_for(tenant_a.org.pk)]
    assert {"custom.level", "custom.budget", "contact.custom.hobby", "contact.custom.vip"} <= set(names)
    assert "custom.level" not in [f.name for f in ADAPTER.fields_for(None)]

    job = upload(
        rep,
        ["客户名称", "会员等级", "budget", "联系人", "联系人爱好", "contact vip"],
        [["甲", "金", "1", "张三", "", ""]],
    )

    assert job.mapping == {
        "0": "name",
        "1": "custom.level",
        "2": "custom.budget",
        "3": "contact_name",
        "4": "contact.custom.hobby",
        "5": "contact.custom.vip",
    }
    # The wizard and the API offer them as mapping targets.
    client = Client(headers={"accept-language": "en"})
    client.force_login(rep)
    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert 'value="custom.level"' in page and "Contact: 爱好" in page
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(rep)
    record_fields = {f["name"] for f in api.get(f"/api/v1/imports/{job.pk}/").json()["record_fields"]}
    assert {"custom.level", "contact.custom.hobby", "contact_phone"} <= record_fields


def test_custom_values_are_checked_and_bad_rows_name_row_and_field(
    rep, tenant_a, fields, django_capture_on_commit_callbacks
):
    header = ["客户名称", "会员等级", "预算", "渠道", "客户经理", "签约日期"]
    rows = [
        ["好公司", "金", "12,500.50", "线上，展会", tenant_a.users["sales_manager"].email, "2026-03-01"],
        ["坏级别", "钻石", "", "", "", ""],
        ["坏预算", "", "很多", "", "", ""],
        ["坏渠道", "", "", "线上,电视", "", ""],
        ["坏经理", "", "", "", "nobody@nowhere.test", ""],
        ["坏日期", "", "", "", "", "明天"],
    ]
    job = check(rep, upload(rep, header, rows), capture=django_capture_on_commit_callbacks)

    assert (job.dry_run["created"], job.dry_run["error"]) == (1, 5)
    bad = {r["row"]: r["fields"] for r in job.dry_run["bad_rows"]}
    assert list(bad) == [3, 4, 5, 6, 7]
    assert list(bad[3]) == ["custom.level"] and "金" in bad[3]["custom.level"]
    assert list(bad[4]) == ["custom.budget"]
    assert list(bad[5]) == ["custom.channels"] and "电视" in bad[5]["custom.channels"]
    assert list(bad[6]) == ["custom.manager"]
    assert list(bad[7]) == ["custom.signed"]
    assert Customer.objects.filter(organization=tenant_a.org).count() == 0

    job = run(rep, upload(rep, header, rows, name="again.csv"), capture=django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (1, 5)
    good = Customer.objects.get(organization=tenant_a.org, name="好公司")
    assert good.custom == {
        "level": "金",
        "budget": 12500.5,
        "channels": ["线上", "展会"],
        "manager": tenant_a.users["sales_manager"].pk,
        "signed": "2026-03-01",
        "region": "华东",  # the default of a field the file leaves out
    }
    handle, _name = imports.import_job_error_report(actor=rep, job=job)
    report = list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))
    assert report[1][0] == "坏级别" and report[1][-1].startswith("custom.level:")


def test_a_required_custom_field_without_default_is_required_on_create(
    rep, tenant_a, django_capture_on_commit_callbacks
):
    make_field(tenant_a, "text", key="licence", label="营业执照号", required=True)
    job = run(
        rep,
        upload(rep, ["客户名称", "营业执照号"], [["有执照", "91310000"], ["无执照", ""]]),
        capture=django_capture_on_commit_callbacks,
    )

    assert (job.created_count, job.error_count) == (1, 1)
    assert Customer.objects.get(name="有执照").custom == {"licence": "91310000"}
    bad = imports.import_job_bad_rows(job=job)
    assert [(r.row_number, r.message.split(":")[0]) for r in bad] == [(3, "custom.licence")]


def test_update_fills_in_custom_values_without_erasing_others(
    rep, tenant_a, fields, django_capture_on_commit_callbacks
):
    existing = make_customer(tenant_a, owner=rep, name="老客户", custom={"level": "铜", "budget": 10})
    job = run(
        rep,
        upload(rep, ["客户名称", "会员等级", "预算"], [["老客户", "银", ""]]),
        policy="update",
        capture=django_capture_on_commit_callbacks,
    )

    existing.refresh_from_db()
    assert job.updated_count == 1
    assert existing.custom == {"level": "银", "budget": 10, "region": "华东"}
    assert existing.version == 2


def test_a_deactivated_field_is_refused_by_name(rep, tenant_a, fields, django_capture_on_commit_callbacks):
    job = upload(rep, ["客户名称", "预算"], [["甲", "5"]])
    from kehu.core import custom_fields

    budget = fields["budget"]
    custom_fields.definition_update(
        actor=tenant_a.admin, definition=budget, expected_version=budget.version, data={"is_active": False}
    )

    job = check(rep, job, capture=django_capture_on_commit_callbacks)
    [bad] = job.dry_run["bad_rows"]
    assert bad["row"] == 2 and list(bad["fields"]) == ["custom.budget"]


# Contacts ------------------------------------------------------------------------------------------------

CONTACT_HEADER = ["公司名称", "联系人", "职务", "部门", "联系人手机", "联系人邮箱", "微信", "联系人爱好", "contact vip"]


def test_new_customers_get_the_row_contact_with_all_its_columns(
    rep, tenant_a, fields, django_capture_on_commit_callbacks
):
    rows = [["新公司", "王五", "采购经理", "采购部", "+86 139 0000 1111", "Wang@New.cn", "wangwu", "钓鱼", "是"]]
    job = run(rep, upload(rep, CONTACT_HEADER, rows), capture=django_capture_on_commit_callbacks)

    assert job.created_count == 1
    contact = Contact.objects.get(customer__name="新公司")
    assert (contact.name, contact.title, contact.department, contact.wechat, contact.is_primary) == (
        "王五",
        "采购经理",
        "采购部",
        "wangwu",
        True,
    )
    assert (contact.phone_normalized, contact.email_normalized) == ("13900001111", "wang@new.cn")
    assert contact.custom == {"hobby": "钓鱼", "vip": True}
    assert contact.owner_id == rep.pk and contact.created_by_id == rep.pk
    # The contact is found by the search like one typed in.
    assert Customer.objects.visible_to(rep).filter(contacts__phone_normalized="13900001111").exists()


def test_a_file_of_contacts_adds_several_contacts_per_customer_under_update(
    rep, tenant_a, fields, django_capture_on_commit_callbacks
):
    existing = make_customer(tenant_a, owner=rep, name="老客户")
    known = make_contact(
        tenant_a, existing, name="赵六", phone="13700000001", is_primary=True, custom={"hobby": "下棋"}
    )
    rows = [
        ["老客户", "赵六", "总经理", "", "13700000001", "", "", "高尔夫", ""],  # fills in the known contact
        ["老客户", "孙七", "", "", "13700000002", "", "", "读书", ""],  # a second contact
        ["老客户", "周八", "", "", "", "", "", "跑步", "否"],  # and a third
        ["新客户", "吴九", "", "", "", "", "", "游泳", ""],  # a new customer with its contact
        ["新客户", "郑十", "", "", "", "", "", "爬山", ""],  # folded into it: its second contact
        ["新客户", "吴九", "经理", "", "", "", "", "", ""],  # the same contact again: filled in
    ]
    dry = check(rep, upload(rep, CONTACT_HEADER, rows), policy="update", capture=django_capture_on_commit_callbacks)
    assert (dry.dry_run["created"], dry.dry_run["updated"], dry.dry_run["error"]) == (1, 5, 0)

    job = run(
        rep,
        upload(rep, CONTACT_HEADER, rows, name="b.csv"),
        policy="update",
        capture=django_capture_on_commit_callbacks,
    )

    assert (job.created_count, job.updated_count, job.error_count) == (1, 5, 0)
    old = {c.name: c for c in Contact.objects.filter(customer=existing)}
    assert set(old) == {"赵六", "孙七", "周八"}
    assert old["赵六"].pk == known.pk and old["赵六"].title == "总经理" and old["赵六"].version == 2
    assert old["赵六"].custom == {"hobby": "高尔夫"} and old["赵六"].is_primary
    assert not old["孙七"].is_primary and old["孙七"].phone_normalized == "13700000002"
    assert old["周八"].custom == {"hobby": "跑步", "vip": False}
    new = Customer.objects.get(organization=tenant_a.org, name="新客户")
    contacts = {c.name: c for c in Contact.objects.filter(customer=new)}
    assert set(contacts) == {"吴九", "郑十"}
    assert contacts["吴九"].is_primary and contacts["吴九"].title == "经理" and not contacts["郑十"].is_primary

    # The same file again: nothing new.
    again = run(
        rep,
        upload(rep, CONTACT_HEADER, rows, name="c.csv"),
        policy="update",
        capture=django_capture_on_commit_callbacks,
    )
    assert again.created_count == 0
    assert Contact.objects.filter(organization=tenant_a.org).count() == 5


def test_bad_contact_cells_are_bad_rows(rep, tenant_a, fields, django_capture_on_commit_callbacks):
    rows = [
        ["甲", "", "经理", "", "", "", "", "", ""],  # a contact without a name
        ["乙", "钱", "", "", "12345", "", "", "x", ""],  # a bad phone
        ["丙", "李", "", "", "", "not-an-email", "", "x", ""],  # a bad email
        ["丁", "周", "", "", "", "", "", "", ""],  # the contact's required custom field is empty
        ["戊", "吴", "", "", "", "", "", "x", "也许"],  # not a boolean
        ["己", "", "", "", "", "", "", "", ""],  # no contact at all: fine
    ]
    job = check(rep, upload(rep, CONTACT_HEADER, rows), capture=django_capture_on_commit_callbacks)

    bad = {r["row"]: list(r["fields"]) for r in job.dry_run["bad_rows"]}
    assert bad == {
        2: ["contact_name"],
        3: ["contact_phone"],
        4: ["contact_email"],
        5: ["contact.custom.hobby"],
        6: ["contact.custom.vip"],
    }
    assert job.dry_run["created"] == 1


def test_a_role_that_may_not_edit_customers_adds_no_contacts(tenant_a, django_capture_on_commit_callbacks):
    """A role with create but without edit in customers cannot add contacts (contacts need edit)."""
    from kehu.accounts import services as account_services

    role = account_services.role_create(
        actor=tenant_a.admin,
        name="只能新建",
        permissions={
            "customers": {"actions": ["view", "create"], "scope": "own"},
            "platform": {"actions": ["view"], "scope": "organization"},
        },
    )
    user = account_services.user_create(
        actor=tenant_a.admin, organization=tenant_a.org, email="creator@a.test", password="Kehu-test-pw-2026", role=role
    )
    job = check(
        user,
        upload(user, ["客户名称", "联系人"], [["甲", "张三"], ["乙", ""]]),
        capture=django_capture_on_commit_callbacks,
    )

    assert job.dry_run["created"] == 1
    assert [r["fields"] for r in job.dry_run["bad_rows"]] == [
        {"contact_name": job.dry_run["bad_rows"][0]["fields"]["contact_name"]}
    ]
