"""The pages: they render, forms validate inline and keep what was typed, scope is 404, the module gate
is 403, conflicts keep the user's input."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.customers import services
from kehu.customers.models import Contact, Customer, Tag
from tests.customers.factories import make_contact, make_customer, make_tag
from tests.customers.pages import customer_page


@pytest.fixture
def rep_client(client, tenant_a):
    client.force_login(tenant_a.users["sales_rep"])
    return client


@pytest.fixture
def admin_client(client, tenant_a):
    client.force_login(tenant_a.admin)
    return client


# The customer's page as a sales manager, sales on (session, user, the team's members, customer and tags,
# contacts, custom fields, duplicates, colleagues, files) and the first page of its timeline: the customer is
# read with whether each module's timeline provider has rows for it (one EXISTS each, timeline.presence), and
# only those providers are called (the files' are the files panel's). Its panels (activities, opportunities)
# come right after it. benchmarks/RESULTS.md has the figures at scale.
PAGE_QUERIES = 13  # with notes, files, activities and quotes: + audit trail, notes, activities, quotes
PAGE_EMPTY_QUERIES = 10  # with none of them: + the audit trail (9 in session 5 without the timeline)
# customers:timeline ("show older", and the timeline as a page of its own): 15 before session 6.
TIMELINE_QUERIES = 9  # with notes, files, activities and quotes
TIMELINE_EMPTY_QUERIES = 5  # with none of them (session, user, the team's members, the customer, its audit trail)
PANELS_QUERIES = 8  # customers:panels, loaded by htmx right after the page: the activity and opportunity panels


def html(response):
    return response.content.decode()


def test_the_list_shows_own_customers_with_filters_sorting_and_paging(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    for i in range(3):
        make_customer(tenant_a, owner=rep, name=f"我的客户{i}", tier="A" if i == 0 else "B")
    make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"], name="同事的客户")
    response = rep_client.get(reverse("customers:list"))
    assert response.status_code == 200
    body = html(response)
    assert "我的客户0" in body and "我的客户2" in body
    assert "同事的客户" not in body
    assert 'data-sort="name"' in body and "ordering=name" in body
    assert 'data-testid="bulk"' in body  # a rep may edit: tags in bulk
    assert 'value="delete"' not in body  # but not delete
    response = rep_client.get(reverse("customers:list"), {"tier": "A"})
    assert "我的客户0" in html(response) and "我的客户1" not in html(response)
    response = rep_client.get(reverse("customers:list"), {"ordering": "name", "limit": 1})
    assert response.status_code == 200


def test_the_list_pages_with_a_next_link(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    for i in range(3):
        make_customer(tenant_a, owner=rep, name=f"分页{i}")
    first = html(rep_client.get(reverse("customers:list"), {"ordering": "name", "limit": 2}))
    assert "分页0" in first and "分页1" in first and "分页2" not in first
    next_url = (
        re.search(r'href="(\?[^"]*cursor=[^"]+)"[^>]*data-testid="next-page"', first).group(1).replace("&amp;", "&")
    )
    second = html(rep_client.get(reverse("customers:list") + next_url))
    assert "分页2" in second and "分页0" not in second
    assert 'data-testid="next-page"' not in second and 'data-testid="previous-page"' in second


def test_a_bad_sort_or_cursor_falls_back_to_the_first_page(rep_client, tenant_a):
    make_customer(tenant_a, name="回退")
    for params in ({"ordering": "password"}, {"cursor": "nonsense"}):
        response = rep_client.get(reverse("customers:list"), params)
        assert response.status_code == 200
        assert "回退" in html(response)


def test_invalid_filters_name_the_field(rep_client):
    response = rep_client.get(reverse("customers:list"), {"tier": "Z"})
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in html(response)
    errors = re.search(r'data-testid="filter-errors">(.*?)</div>\s*</div>', html(response), re.S).group(1)
    assert str(Customer._meta.get_field("tier").verbose_name) in errors and "Z" in errors


def test_the_empty_state(rep_client):
    body = html(rep_client.get(reverse("customers:list")))
    assert 'data-testid="empty"' in body
    assert reverse("customers:create") in body
    body = html(rep_client.get(reverse("customers:list"), {"search": "不存在"}))
    assert 'data-testid="empty"' in body


def test_create_validates_inline_and_keeps_what_was_typed(rep_client, tenant_a):
    response = rep_client.post(
        reverse("customers:create"),
        {"kind": "company", "name": "", "stage": "lead_in", "phone": "12345", "email": "bad", "short_name": "保留我"},
    )
    assert response.status_code == 200
    body = html(response)
    for field in ("name", "phone", "email"):
        assert f'data-testid="error-{field}"' in body
    assert 'value="保留我"' in body and 'value="12345"' in body
    assert not Customer.objects.exists()


def test_create_redirects_to_the_detail_and_warns_about_duplicates(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    existing = make_customer(tenant_a, owner=rep, name="老客户", phone="13800138000")
    tag = make_tag(tenant_a)
    response = rep_client.post(
        reverse("customers:create"),
        {"kind": "company", "name": "新客户", "stage": "prospect", "phone": "+86 138 0013 8000", "tags": [tag.pk]},
        follow=True,
    )
    customer = Customer.objects.get(name="新客户")
    assert response.redirect_chain[-1][0] == reverse("customers:detail", args=[customer.pk])
    body = html(response)
    assert 'data-testid="duplicates"' in body
    assert reverse("customers:detail", args=[existing.pk]) in body
    assert customer.owner == rep and list(customer.tags.all()) == [tag]


def test_the_detail_page_has_fields_timeline_and_contacts(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="详情公司", phone="010-8888 6666")
    make_contact(tenant_a, customer, name="联系人甲", is_primary=True)
    services.customer_update(actor=rep, customer=customer, expected_version=1, data={"tier": "B"})
    body = customer_page(rep_client, customer)
    assert 'data-testid="fields"' in body and "010-8888 6666" in body
    assert 'data-testid="timeline"' in body and 'data-kind="customer.update"' in body
    assert 'data-testid="contacts"' in body and "联系人甲" in body
    assert reverse("customers:contact_create", args=[customer.pk]) in body
    assert 'data-testid="delete-customer"' not in body  # a rep may not delete


def test_the_detail_page_reads_a_fixed_number_of_queries(client, tenant_a, django_assert_max_num_queries):
    from tests.customers.note_factories import make_attachment, make_note
    from tests.sales.activity_factories import make_activity
    from tests.sales.commerce_factories import make_quote

    manager = tenant_a.users["sales_manager"]  # a team scope: the team's members are read once
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep"], name="查询计数")
    client.force_login(manager)
    url = reverse("customers:detail", args=[customer.pk])
    parts = {  # the page, its timeline's own URL ("show older"), and what htmx loads into the page right after
        url: PAGE_QUERIES,
        reverse("customers:timeline", args=[customer.pk]): TIMELINE_QUERIES,
        reverse("customers:panels", args=[customer.pk]): PANELS_QUERIES,
    }
    hx = {part: {"HX-Request": "true"} if part != url else {} for part in parts}
    client.get(url)  # the session's first write and the caches of the process out of the way
    empty = {}
    for part, most in parts.items():
        with django_assert_max_num_queries(most) as empty[part]:
            client.get(part, headers=hx[part])
    # Nothing of notes, files, activities or quotes: their timeline providers are not even asked.
    timeline_part = reverse("customers:timeline", args=[customer.pk])
    assert len(empty[timeline_part].captured_queries) <= TIMELINE_EMPTY_QUERIES
    assert len(empty[url].captured_queries) <= PAGE_EMPTY_QUERIES

    def more_of_everything(n):
        make_contact(tenant_a, customer, name=f"联系人{n}")
        make_note(tenant_a, customer, body=f"笔记{n}")
        make_attachment(tenant_a, customer, name=f"文件{n}.pdf")
        make_quote(tenant_a, customer=customer)
        owner = (tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"], manager)[
            n % 3
        ]  # the panel reads each team
        make_activity(
            tenant_a, owner, customer=customer, subject=f"拜访{n}", starts_at=timezone.now() + timedelta(days=1)
        )
        make_activity(tenant_a, owner, customer=customer, subject=f"电话{n}", status="done")
        customer.refresh_from_db()  # a done activity touches the customer (last contacted)
        services.customer_update(actor=tenant_a.admin, customer=customer, expected_version=None, data={"notes": str(n)})

    more_of_everything(0)
    full = {}
    for part, most in parts.items():
        with django_assert_max_num_queries(most) as full[part]:
            client.get(part, headers=hx[part])
    for n in range(1, 3):  # more of everything on the page: the same queries
        more_of_everything(n)
    for part in parts:
        with django_assert_max_num_queries(len(full[part].captured_queries)):
            client.get(part, headers=hx[part])
    body = customer_page(client, customer)
    assert body.count("data-contact=") == 3 and body.count("data-attachment=") == 3
    assert body.count('data-kind="activity.') == 6 and body.count("data-activity=") == 6
    assert body.count('data-kind="note"') == 3 and body.count('data-kind="attachment"') == 3


def test_the_timeline_escapes_what_it_shows_and_pages_with_show_older(rep_client, tenant_a, monkeypatch):
    from kehu.customers import views

    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="<b>转义</b>")
    for n in range(3):
        services.customer_update(actor=rep, customer=customer, expected_version=None, data={"notes": f"<i>{n}</i>"})
    monkeypatch.setattr(views, "TIMELINE_PAGE", 2)
    body = customer_page(rep_client, customer)
    timeline = body[body.index('data-testid="timeline"') :]
    assert "<i>" not in timeline and "&lt;i&gt;2&lt;/i&gt;" in timeline  # the change's text, escaped
    assert timeline.count("<li class=") == 2 and 'hx-swap="outerHTML"' in timeline
    older = re.search(r'hx-get="([^"]+)"', timeline).group(1).replace("&amp;", "&")
    assert older.startswith(reverse("customers:timeline", args=[customer.pk]) + "?before=")
    rest = html(rep_client.get(older, headers={"HX-Request": "true"}))
    assert rest.startswith('<ol class="list-unstyled mb-0" data-testid="timeline">')
    assert rest.count("<li class=") == 2 and "customer.create" in rest  # the update of 0, then the creation


def test_the_timeline_is_in_the_page_and_the_panels_come_after_it_and_open_without_javascript(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="<b>分段</b>")
    services.customer_update(actor=rep, customer=customer, expected_version=1, data={"tier": "B"})
    page = html(rep_client.get(reverse("customers:detail", args=[customer.pk])))
    timeline_url, panels_url = (reverse(f"customers:{name}", args=[customer.pk]) for name in ("timeline", "panels"))
    # The timeline's first page is the page's own (no JavaScript needed); the panels come after it.
    assert 'data-kind="customer.update"' in page and 'data-testid="timeline-placeholder"' not in page
    assert 'data-testid="activity-panel"' not in page
    assert f'hx-get="{panels_url}" hx-trigger="load" hx-swap="outerHTML"' in page and f'href="{panels_url}"' in page
    # The timeline's URL still serves its pages ("show older" with htmx) ...
    part = html(rep_client.get(timeline_url, headers={"HX-Request": "true"}))
    assert part.startswith('<ol class="list-unstyled mb-0" data-testid="timeline">') and "<html" not in part
    part = html(rep_client.get(panels_url, headers={"HX-Request": "true"}))
    assert part.lstrip().startswith("<section") and 'data-testid="activity-panel"' in part and "<html" not in part
    # ... and without JavaScript a page of its own, under the customer's name, with a way back.
    own = html(rep_client.get(timeline_url))
    assert "<html" in own and 'data-kind="customer.update"' in own and "&lt;b&gt;分段&lt;/b&gt;" in own
    assert f'href="{customer.get_absolute_url()}"' in own
    own = html(rep_client.get(panels_url))
    assert "<html" in own and 'data-testid="activity-panel"' in own and 'data-testid="customer-opportunities"' in own
    # The activity panel's forms return to the customer's page, not to the part they came with.
    assert f"next={customer.get_absolute_url().replace('/', '%2F')}" in own


def test_a_user_without_other_modules_gets_no_panels(client, tenant_a, monkeypatch):
    from kehu.customers import panels

    monkeypatch.setattr(panels, "_registry", {})
    client.force_login(tenant_a.users["sales_rep"])
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep"])
    page = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert 'data-testid="panels-placeholder"' not in page and 'data-testid="timeline"' in page


def test_other_peoples_customers_are_404_on_every_page(rep_client, tenant_a, tenant_b):
    colleague = make_customer(tenant_a, owner=tenant_a.users["sales_rep_2"])
    foreign = make_customer(tenant_b)
    contact = make_contact(tenant_a, colleague)
    for customer in (colleague, foreign):
        for name in ("detail", "edit", "timeline", "panels", "contact_create"):
            assert rep_client.get(reverse(f"customers:{name}", args=[customer.pk])).status_code == 404
        assert rep_client.post(reverse("customers:edit", args=[customer.pk]), {"name": "x"}).status_code == 404
        assert rep_client.post(reverse("customers:delete", args=[customer.pk])).status_code == 404
    assert rep_client.get(reverse("customers:contact_edit", args=[contact.pk])).status_code == 404
    assert rep_client.post(reverse("customers:contact_delete", args=[contact.pk])).status_code == 404
    colleague.refresh_from_db()
    assert colleague.deleted_at is None


def test_edit_saves_with_the_version(rep_client, tenant_a):
    customer = make_customer(tenant_a, name="编辑前", stage="lead_in")
    response = rep_client.get(reverse("customers:edit", args=[customer.pk]))
    assert 'name="version" value="1"' in html(response)
    data = {"kind": "company", "name": "编辑后", "stage": "customer", "version": 1}
    response = rep_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.stage, customer.version) == ("编辑后", "customer", 2)


def test_a_conflict_keeps_the_input_and_shows_what_changed(rep_client, tenant_a):
    rep = tenant_a.users["sales_rep"]
    customer = make_customer(tenant_a, owner=rep, name="原名")
    services.customer_update(actor=tenant_a.admin, customer=customer, expected_version=1, data={"name": "同事改名"})
    data = {"kind": "company", "name": "我的改名", "stage": "lead_in", "version": 1}
    response = rep_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 200
    body = html(response)
    assert 'data-testid="version-conflict"' in body
    assert 'value="我的改名"' in body  # the user's input is kept
    assert "同事改名" in body  # and what the colleague saved is shown
    assert 'name="version" value="2"' in body  # saving again is a deliberate overwrite
    customer.refresh_from_db()
    assert customer.name == "同事改名"
    response = rep_client.post(reverse("customers:edit", args=[customer.pk]), {**data, "version": 2})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "我的改名"


def test_delete_restore_and_the_recycle_bin(admin_client, tenant_a):
    customer = make_customer(tenant_a, name="回收站公司")
    response = admin_client.post(reverse("customers:delete", args=[customer.pk]))
    assert response.status_code == 302
    assert admin_client.get(reverse("customers:detail", args=[customer.pk])).status_code == 404
    body = html(admin_client.get(reverse("customers:recycle_bin")))
    assert "回收站公司" in body and 'data-testid="restore"' in body
    response = admin_client.post(reverse("customers:restore", args=[customer.pk]))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.deleted_at is None
    assert 'data-testid="empty"' in html(admin_client.get(reverse("customers:recycle_bin")))


def test_bulk_assign_tag_and_delete(admin_client, tenant_a, tenant_b):
    a, b = make_customer(tenant_a), make_customer(tenant_a)
    foreign = make_customer(tenant_b)
    tag = make_tag(tenant_a)
    rep2 = tenant_a.users["sales_rep_2"]
    url = reverse("customers:bulk")
    admin_client.post(url, {"action": "assign", "ids": [a.pk, b.pk, foreign.pk], "owner": rep2.pk})
    a.refresh_from_db()
    foreign.refresh_from_db()
    assert a.owner == rep2 and foreign.owner == tenant_b.users["sales_rep"]
    admin_client.post(url, {"action": "tag_add", "ids": [a.pk], "tag": tag.pk})
    assert list(a.tags.all()) == [tag]
    response = admin_client.post(url, {"action": "assign", "ids": [a.pk]}, follow=True)
    assert "Choose the new owner" in html(response) or "选择" in html(response)
    admin_client.post(url, {"action": "delete", "ids": [a.pk, b.pk], "next": "https://evil.example/"})
    assert Customer.objects.filter(pk__in=[a.pk, b.pk], deleted_at__isnull=False).count() == 2


def test_bulk_actions_the_role_lacks_change_nothing(rep_client, tenant_a):
    mine = make_customer(tenant_a, owner=tenant_a.users["sales_rep"])
    response = rep_client.post(reverse("customers:bulk"), {"action": "delete", "ids": [mine.pk]})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.deleted_at is None


def test_contacts_add_edit_remove(rep_client, tenant_a):
    customer = make_customer(tenant_a, owner=tenant_a.users["sales_rep"])
    url = reverse("customers:contact_create", args=[customer.pk])
    response = rep_client.post(url, {"name": "", "phone": "abc"})
    assert response.status_code == 200
    assert 'data-testid="error-name"' in html(response) and 'data-testid="error-phone"' in html(response)
    response = rep_client.post(url, {"name": "赵六", "phone": "139 1000 2000", "is_primary": "on"})
    assert response.status_code == 302
    contact = Contact.objects.get(name="赵六")
    assert contact.is_primary and contact.phone_normalized == "13910002000"
    edit = reverse("customers:contact_edit", args=[contact.pk])
    assert 'name="version" value="1"' in html(rep_client.get(edit))
    assert rep_client.post(edit, {"name": "赵六六", "version": 1}).status_code == 302
    conflict = rep_client.post(edit, {"name": "赵七", "version": 1})
    assert 'data-testid="version-conflict"' in html(conflict) and 'value="赵七"' in html(conflict)
    assert rep_client.post(reverse("customers:contact_delete", args=[contact.pk])).status_code == 302
    contact.refresh_from_db()
    assert contact.name == "赵六六" and contact.deleted_at is not None


def test_tags_page(admin_client, tenant_a):
    response = admin_client.post(reverse("customers:tags"), {"name": "重点", "colour": "#ff0000"})
    assert response.status_code == 302
    response = admin_client.post(reverse("customers:tags"), {"name": "重点", "colour": "#ff0000"})
    assert 'data-testid="error-name"' in html(response)
    tag = Tag.objects.get(organization=tenant_a.org, name="重点")
    admin_client.post(reverse("customers:tag_edit", args=[tag.pk]), {"name": "非常重点", "colour": "#00ff00"})
    tag.refresh_from_db()
    assert (tag.name, tag.colour) == ("非常重点", "#00ff00")
    admin_client.post(reverse("customers:tag_delete", args=[tag.pk]))
    assert not Tag.objects.filter(pk=tag.pk).exists()


def test_navigation_lists_customers_and_the_recycle_bin(rep_client):
    body = html(rep_client.get(reverse("customers:list")))
    assert f'href="{reverse("customers:recycle_bin")}"' in body


def test_the_module_disabled_answers_the_403_page(admin_client, tenant_a):
    customer = make_customer(tenant_a)
    tenant_a.org.enabled_modules = [m for m in tenant_a.org.enabled_modules if m != "customers"]
    tenant_a.org.save()
    for url in (
        reverse("customers:list"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("customers:create"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 403
        assert 'data-error-code="module_not_enabled"' in html(response)


def test_a_role_without_customers_sees_403(client, tenant_a):
    role = tenant_a.role("read_only")
    role.permissions = {"platform": {"actions": ["view"], "scope": "organization"}}
    role.save()
    client.force_login(tenant_a.users["read_only"])
    response = client.get(reverse("customers:list"))
    assert response.status_code == 403
