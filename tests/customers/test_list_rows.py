"""The customer list's rows, built with f-strings over escaped values (customers/list_columns.py), are byte for
byte what the former format_html implementation gave: the reference below is that implementation, kept here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from kehu.core import choice_lists, custom_fields
from kehu.core.fast_html import esc, options
from kehu.customers import selectors
from kehu.customers.list_columns import (
    _DAY,
    _MINUTES,
    EMPTY,
    _when,
    available_columns,
    cell_html,
    chosen_columns,
    detail_url,
    rows_html,
    tags_html,
)
from kehu.customers.models import Tag
from tests.customers.factories import make_customer, make_tag
from tests.customers.field_factories import make_field

pytestmark = pytest.mark.django_db

TRICKY = [
    "<script>alert('x')</script>",
    'Tom & "Jerry" <b>',
    "云帆科技 & 售后 <升级>",
    "O'Brien's {} %(name)s",
    "&amp; already escaped",
]


def _reference_tags_html(tags: Any) -> SafeString:
    return format_html_join(
        "",
        '<span class="badge rounded-pill border text-body me-1" data-tag="{}"><span class="d-inline-block '
        'rounded-circle me-1 align-middle" style="width:.6em;height:.6em;background-color:{}"></span>{}</span>',
        ((tag.pk, tag.colour, tag.name) for tag in tags),
    )


def _reference_name(customer: Any) -> SafeString:
    short = format_html('<span class="d-block small text-body-secondary">{}</span>', customer.short_name)
    return format_html(
        '<td style="min-width: 12rem"><a href="{}" class="fw-medium">{}</a>{}</td>',
        detail_url(customer.pk),
        customer.name,
        short if customer.short_name else "",
    )


def _reference_tier(customer: Any) -> SafeString:
    badge = format_html('<span class="badge text-bg-light border">{}</span>', customer.tier_label)
    return format_html("<td>{}</td>", badge if customer.tier else EMPTY)


_REFERENCE_CELLS: dict[str, Any] = {
    "name": _reference_name,
    "tier": _reference_tier,
    "stage": lambda c: ("text-nowrap", c.stage_label),
    "kind": lambda c: ("text-nowrap", c.get_kind_display()),
    "owner": lambda c: ("text-nowrap", c.owner or "—"),
    "phone": lambda c: ("text-nowrap", c.phone or "—"),
    "email": lambda c: ("text-break", c.email or "—"),
    "industry": lambda c: ("", c.industry or "—"),
    "source": lambda c: ("text-nowrap", c.get_source_display() or "—"),
    "region": lambda c: ("", c.region or "—"),
    "tags": lambda c: ("", _reference_tags_html(c.tags.all())),
    "next_follow_up_at": lambda c: ("text-nowrap small", _when(c.next_follow_up_at, _MINUTES)),
    "last_contacted_at": lambda c: ("text-nowrap small", _when(c.last_contacted_at, _MINUTES)),
    "updated_at": lambda c: ("text-nowrap small", _when(c.updated_at, _MINUTES)),
    "created_at": lambda c: ("text-nowrap small", _when(c.created_at, _DAY)),
}


def reference_cell_html(column: Any, customer: Any, text: str = "") -> SafeString:
    if column.is_custom:
        value = text if len(text) <= 80 else text[:79] + "…"
        return format_html('<td class="kehu-table-responsive-hide" data-column="{}">{}</td>', column.key, value or "—")
    result = _REFERENCE_CELLS[column.key](customer)
    if isinstance(result, SafeString):
        return result
    classes, value = result
    if column.secondary:
        classes = f"kehu-table-responsive-hide {classes}".strip()
    return mark_safe(f'<td class="{classes}">{conditional_escape(value)}</td>')


def reference_rows_html(columns: list, customers: list, custom_texts: list, *, selectable: bool) -> SafeString:
    select_label = gettext("Select %(name)s")
    out = []
    for customer, texts in zip(customers, custom_texts, strict=True):
        texts_iter = iter(texts)
        cells = "".join(reference_cell_html(c, customer, next(texts_iter) if c.is_custom else "") for c in columns)
        box = ""
        if selectable:
            label = escape(select_label % {"name": customer.name})
            box = (
                f'<td><input type="checkbox" class="form-check-input" name="ids" value="{customer.pk}" '
                f'form="bulk-form" aria-label="{label}"></td>'
            )
        out.append(f'<tr data-customer="{customer.pk}">\n            {box}\n            {cells}\n          </tr>')
    return mark_safe("\n".join(out))


def _tricky_customers(tenant: Any) -> list[Any]:
    owner = tenant.users["sales_rep"]
    tags = [make_tag(tenant, name=name) for name in TRICKY[:3]]
    text = make_field(tenant, "text", key="note", label="<Note>")
    select = make_field(tenant, "multi_select", key="grade", label="Grade")
    now = timezone.now()
    customers = []
    for i, name in enumerate(TRICKY):
        customer = make_customer(
            tenant,
            owner if i % 2 else tenant.admin,
            name=name,
            short_name=TRICKY[-1 - i] if i % 3 else "",
            tier="" if i == 1 else "A",
            phone="" if i == 2 else f"1380013800{i}",
            email=f"a{i}@example.com" if i % 2 else "",
            industry=TRICKY[i] if i != 3 else "",
            province="广东省" if i else "",
            city="深圳市<" if i else "",
            next_follow_up_at=now + timedelta(days=i) if i % 2 else None,
            last_contacted_at=now - timedelta(days=i) if i != 4 else None,
            custom={"note": (TRICKY[i] * (i * 3 + 1))[:100], "grade": ["金", "银"][: i % 3]},
            tags=tags[: i % 4],
        )
        customers.append(customer)
    return customers, [text, select]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("selectable", [True, False])
def test_rows_are_the_format_html_rows(tenant_a: Any, language: str, selectable: bool) -> None:
    _tricky_customers(tenant_a)
    actor = tenant_a.users["sales_manager"]
    with translation.override(language), choice_lists.cached():
        page = selectors.customer_list_for(actor=actor)  # Customer instances with owner and tags
        rows = selectors.customer_list_for(actor=actor, as_rows=True)  # what the list page renders
        assert [c.pk for c in page.items] == [r.pk for r in rows.items] and len(rows.items) == len(TRICKY)
        assert (rows.next_cursor, rows.previous_cursor) == (page.next_cursor, page.previous_cursor)
        definitions = custom_fields.definitions_for(actor.organization_id, "customers.customer")
        available = available_columns(actor.organization_id, definitions)
        for columns in (chosen_columns(None, available), available, list(reversed(available))):
            custom = [c.definition for c in columns if c.is_custom]
            users = custom_fields.users_for(actor.organization_id, custom, page.items)
            texts = [[custom_fields.display(d, c.custom.get(d.key), users) for d in custom] for c in page.items]
            expected = reference_rows_html(columns, page.items, texts, selectable=selectable)
            assert rows_html(columns, rows.items, texts, selectable=selectable) == expected
            for column in columns:
                if not column.is_custom:
                    for customer, row in zip(page.items, rows.items, strict=True):
                        assert cell_html(column, row) == reference_cell_html(column, customer)
    assert "<script>" not in expected and "&lt;script&gt;" in expected


def test_rows_page_like_the_instances(tenant_a: Any) -> None:
    """Every ordering and both directions give the same pages and cursors as instances or as rows."""
    _tricky_customers(tenant_a)
    actor = tenant_a.admin
    for ordering in ("-updated_at", "name", "-name", "tier", "created_at"):
        cursor, seen = None, []
        while True:
            page = selectors.customer_list_for(actor=actor, ordering=ordering, cursor=cursor, limit=2)
            rows = selectors.customer_list_for(actor=actor, ordering=ordering, cursor=cursor, limit=2, as_rows=True)
            assert [c.pk for c in page.items] == [r.pk for r in rows.items]
            assert [[t.pk for t in c.tags.all()] for c in page.items] == [
                [t.pk for t in r.tag_rows] for r in rows.items
            ]
            assert (rows.next_cursor, rows.previous_cursor) == (page.next_cursor, page.previous_cursor)
            seen += [r.pk for r in rows.items]
            if rows.previous_cursor:
                back = selectors.customer_list_for(
                    actor=actor, ordering=ordering, cursor=rows.previous_cursor, limit=2, as_rows=True
                )
                assert [r.pk for r in back.items] == seen[-len(rows.items) - len(back.items) : -len(rows.items)]
            if not rows.next_cursor:
                break
            cursor = rows.next_cursor
        assert len(seen) == len(set(seen)) == len(TRICKY)


def test_rows_of_a_search_are_the_instances(tenant_a: Any) -> None:
    _tricky_customers(tenant_a)
    actor = tenant_a.admin
    for ordering in ("-updated_at", "name"):
        page = selectors.customer_list_for(actor=actor, filters={"search": "Jerry"}, ordering=ordering)
        rows = selectors.customer_list_for(actor=actor, filters={"search": "Jerry"}, ordering=ordering, as_rows=True)
        assert [r.pk for r in rows.items] == [c.pk for c in page.items] and rows.items


def test_tag_pills_are_the_format_html_pills() -> None:
    tags = [Tag(pk=i, name=name, colour='red"<') for i, name in enumerate(TRICKY, 1)]
    assert tags_html(tags) == _reference_tags_html(tags)
    assert isinstance(tags_html(tags), SafeString)


def test_dates_are_the_date_filter_formats() -> None:
    moment = timezone.now()
    assert _when(moment, _MINUTES) == timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
    assert _when(moment, _DAY) == timezone.localtime(moment).strftime("%Y-%m-%d")
    assert _when(None, _DAY) == "—"


def test_options_are_the_template_loop() -> None:
    choices = [(1, TRICKY[0]), (22, TRICKY[1]), (1000, mark_safe("<i>safe</i>"))]
    assert options(choices) == "".join(
        format_html('<option value="{}">{}</option>', value, label) for value, label in choices
    )
    assert esc(1234567) == "1234567"


HEADERS_REFERENCE = """{% load i18n %}{% for column, link in headers %}
            <th scope="col" data-column="{{ column.key }}"{% if column.secondary %} class="kehu-table-responsive-hide"{% endif %}>{% if link %}{% include "customers/_sort.html" with column=column.sort label=column.label state=link.state target=link.ordering %}{% else %}{{ column.label }}{% endif %}</th>
            {% endfor %}"""


@pytest.mark.parametrize(
    "query", ["", "ordering=name&tier=A", "ordering=-updated_at&cursor=abc&columns=name,tier", 'q=<&x="1"']
)
def test_headers_are_the_template_loop(tenant_a: Any, query: str) -> None:
    from django.http import QueryDict
    from django.template import engines
    from django.test import RequestFactory

    from kehu.customers.list_columns import headers_html
    from kehu.customers.views import _sort_links

    make_field(tenant_a, "text", key="note", label="<Note>")
    definitions = custom_fields.definitions_for(tenant_a.org.pk, "customers.customer")
    available = available_columns(tenant_a.org.pk, definitions)
    request = RequestFactory().get("/customers/?" + query)
    template = engines["django"].from_string(HEADERS_REFERENCE)
    for language in ("zh-hans", "en"):
        for ordering in ("-updated_at", "updated_at", "name", "-name", "tier", "-created_at"):
            sort = _sort_links(ordering)
            headers = [(c, sort.get(c.sort) if c.sort else None) for c in available]
            with translation.override(language):
                expected = template.render({"headers": headers, "request": request}, request)
                assert headers_html(headers, QueryDict(query)) == expected
    assert "aria-sort" in expected


def test_owner_options_are_the_owner_choices(tenant_a: Any, tenant_b: Any) -> None:
    """The list's colleague options ask "may view customers" once per role: the same colleagues, names and order
    as owner_choices_for, which asks it of every colleague."""
    from kehu.accounts.models import User

    User.objects.filter(pk=tenant_a.users["sales_rep_2"].pk).update(is_active=False)
    User.objects.filter(pk=tenant_a.users["analyst"].pk).update(role=None)  # a colleague without a role
    for key, actor in tenant_a.users.items():
        actor = User.objects.select_related("organization", "role").get(pk=actor.pk)
        if not actor.is_active:
            continue
        expected = [(u.pk, str(u)) for u in selectors.owner_choices_for(actor=actor)]
        assert selectors.owner_options_for(actor=actor) == expected, key
    assert all(pk not in {u.pk for u in tenant_b.users.values()} for pk, _label in expected)
