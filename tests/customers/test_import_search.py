"""Imported customers are found by search: on PostgreSQL the import writes their search columns itself
(search.precomputed_search, the row triggers idle), so they must equal what the triggers compute."""

from __future__ import annotations

import pytest
from django.db import connection

from kehu.customers import search, selectors
from kehu.customers.models import Customer
from tests.customers.test_import_custom_fields_contacts import run, upload

HEADER = ["客户名称", "简称", "电话", "邮箱", "联系人", "联系人手机", "联系人邮箱"]
ROWS = [
    ["华为技术有限公司", "华为", "13800000001", "Info@Huawei.CN", "任正非", "13900000001", "Ren@Huawei.cn"],
    ["ACME Trading Ltd", "", "+86 138 0000 0002", "", "John SMITH", "", "JOHN@acme.com"],
    ["ÄRZTE GmbH Ωmega", "İstanbul", "13800000003", "", "Σίσυφος", "", ""],  # lower() may differ: triggers
    ["腾讯\u3000科技", "", "", "", "马化腾", "", ""],  # an ideographic space: the triggers compute it
    ["小米", "", "", "", "", "", ""],
    ['Ben "Q" \\ Co', "", "", "", "", "", ""],  # a quote and a backslash in the grams literal
]


def _columns(ids: list[int]) -> dict[int, tuple]:
    with connection.cursor() as cursor:
        grams = ", name_grams" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"SELECT id, search_names, search_text{grams} FROM customers_customer WHERE id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        return {row[0]: tuple(sorted(v) if isinstance(v, list) else v for v in row[1:]) for row in cursor.fetchall()}


@pytest.fixture
def rep(tenant_a):
    return tenant_a.users["sales_rep"]


def test_imported_search_columns_equal_what_the_triggers_compute(rep, tenant_a, django_capture_on_commit_callbacks):
    job = run(rep, upload(rep, HEADER, ROWS), capture=django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (len(ROWS), 0)
    ids = list(Customer.objects.filter(organization=tenant_a.org).values_list("pk", flat=True))
    imported = _columns(ids)
    assert all(columns[0] for columns in imported.values())  # never left empty
    search.refresh(connection, ids)  # the triggers recompute every row
    assert _columns(ids) == imported


@pytest.mark.parametrize("query", ["华为", "任正非", "13900000001", "ren@huawei", "john smith", "马化腾", "米"])
def test_imported_customers_are_found_by_name_contact_phone_and_email(
    rep, tenant_a, django_capture_on_commit_callbacks, query
):
    run(rep, upload(rep, HEADER, ROWS), capture=django_capture_on_commit_callbacks)
    qs = selectors.customer_queryset_for(actor=rep, filters={"search": query})
    assert qs.exists(), query
