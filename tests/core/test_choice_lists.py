"""Editable option lists (kehu.core.choice_lists): customer tiers, lifecycle stages and ticket types per
organisation. The mechanism, the API and the administration pages, validation errors in English and
Chinese, and what the lists change on the customer and ticket pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from kehu.core import choice_lists
from kehu.core.choice_list_models import ChoiceOption
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import services as customer_services
from kehu.customers.models import STAGES, TIERS, Customer
from kehu.service.ticket_models import KINDS, Ticket
from tests.api.support import assert_error
from tests.customers.factories import make_customer
from tests.service.ticket_factories import make_ticket

OPTIONS = "/api/v1/choice-options/"


def web(user, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def row(tenant, list_key: str, key: str) -> ChoiceOption:
    choice_lists.ensure_seeded(tenant.org.pk, list_key)
    return ChoiceOption.objects.get(organization=tenant.org, list_key=list_key, key=key)


# The mechanism ---------------------------------------------------------------------------------------


def test_built_in_options_read_without_any_row_in_the_readers_language(tenant_a):
    assert not ChoiceOption.objects.filter(organization=tenant_a.org).exists()
    with translation.override("en"):
        assert [o.key for o in choice_lists.options(tenant_a.org.pk, TIERS)] == ["A", "B", "C", "D"]
        assert choice_lists.label(tenant_a.org.pk, STAGES, "prospect") == "Prospect"
        assert choice_lists.label(tenant_a.org.pk, KINDS, "complaint") == "Complaint"
    with translation.override("zh-hans"):
        assert choice_lists.label(tenant_a.org.pk, KINDS, "complaint") == "投诉"
    assert choice_lists.label(tenant_a.org.pk, TIERS, "") == ""
    assert choice_lists.label(tenant_a.org.pk, TIERS, "gone") == "gone"  # an unknown stored key shows as is


def test_add_rename_reorder_deactivate_and_delete(tenant_a, tenant_b):
    admin = tenant_a.admin
    vip = choice_lists.option_create(actor=admin, list_key=TIERS, label="贵宾", key="VIP")
    assert [o.key for o in choice_lists.options(tenant_a.org.pk, TIERS)] == ["A", "B", "C", "D", "VIP"]
    assert [o.key for o in choice_lists.options(tenant_b.org.pk, TIERS)] == ["A", "B", "C", "D"]  # theirs untouched

    choice_lists.option_move(actor=admin, option=vip, offset=-1)
    assert [o.key for o in choice_lists.options(tenant_a.org.pk, TIERS)] == ["A", "B", "C", "VIP", "D"]

    a = row(tenant_a, TIERS, "A")
    choice_lists.option_update(actor=admin, option=a, data={"label": "战略客户"})
    assert choice_lists.label(tenant_a.org.pk, TIERS, "A") == "战略客户"
    choice_lists.option_update(actor=admin, option=a, data={"label": ""})  # the built-in name comes back
    with translation.override("en"):
        assert choice_lists.label(tenant_a.org.pk, TIERS, "A") == "A (key account)"

    d = row(tenant_a, TIERS, "D")
    choice_lists.option_update(actor=admin, option=d, data={"is_active": False})
    assert "D" not in dict(choice_lists.choices(tenant_a.org.pk, TIERS))
    assert "D" in dict(choice_lists.choices(tenant_a.org.pk, TIERS, current="D"))  # a record keeps its own
    assert choice_lists.labels(tenant_a.org.pk, TIERS)["D"]  # still labelled for old records

    with pytest.raises(ValidationFailed) as exc:
        choice_lists.option_delete(actor=admin, option=d)
    assert "key" in exc.value.fields  # built-in: deactivate only
    make_customer(tenant_a, tier="VIP")
    with pytest.raises(ValidationFailed):
        choice_lists.option_delete(actor=admin, option=vip)  # in use
    unused = choice_lists.option_create(actor=admin, list_key=TIERS, label="试用")
    choice_lists.option_delete(actor=admin, option=unused)
    assert not ChoiceOption.objects.filter(pk=unused.pk).exists()
    actions = set(AuditEntry.objects.filter(action__startswith="choice_option.").values_list("action", flat=True))
    assert actions == {"choice_option.create", "choice_option.move", "choice_option.update", "choice_option.delete"}


def test_labels_and_keys_are_checked(tenant_a):
    admin = tenant_a.admin
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        choice_lists.option_create(actor=admin, list_key=STAGES, label="Prospect")  # a built-in's name
    assert "label" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        choice_lists.option_create(actor=admin, list_key=TIERS, label="S", key="b")  # case-insensitive clash
    assert "key" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        choice_lists.option_create(actor=admin, list_key=TIERS, label="S", key="bad key!")
    assert "key" in exc.value.fields
    for key in ("B", "C", "D"):
        choice_lists.option_update(actor=admin, option=row(tenant_a, TIERS, key), data={"is_active": False})
    with pytest.raises(ValidationFailed) as exc:
        choice_lists.option_update(actor=admin, option=row(tenant_a, TIERS, "A"), data={"is_active": False})
    assert "is_active" in exc.value.fields  # a list keeps one active option


def test_only_the_lists_module_administrators_edit_it(tenant_a):
    with pytest.raises(PermissionDenied):
        choice_lists.option_create(actor=tenant_a.users["sales_rep"], list_key=TIERS, label="S")
    with pytest.raises(PermissionDenied):
        choice_lists.option_create(actor=tenant_a.users["sales_manager"], list_key=KINDS, label="咨询2")


def test_a_request_reads_the_lists_once(tenant_a, django_assert_num_queries):
    with choice_lists.cached():
        with django_assert_num_queries(1):
            for _ in range(3):
                choice_lists.label(tenant_a.org.pk, TIERS, "A")
                choice_lists.label(tenant_a.org.pk, KINDS, "inquiry")
        choice_lists.option_create(actor=tenant_a.admin, list_key=TIERS, label="新等级", key="S")
        assert choice_lists.label(tenant_a.org.pk, TIERS, "S") == "新等级"  # a write refreshes the cache


def test_imports_match_keys_and_labels_in_every_language(tenant_a):
    choice_lists.option_create(actor=tenant_a.admin, list_key=TIERS, label="贵宾", key="VIP")
    assert choice_lists.match(tenant_a.org.pk, TIERS, "vip") == "VIP"
    assert choice_lists.match(tenant_a.org.pk, TIERS, "贵宾") == "VIP"
    assert choice_lists.match(tenant_a.org.pk, STAGES, "Repeat customer") == "repeat"
    assert choice_lists.match(tenant_a.org.pk, KINDS, "投诉") == "complaint"
    assert choice_lists.match(tenant_a.org.pk, KINDS, "nonsense") is None


# Customers -------------------------------------------------------------------------------------------


def test_a_customer_takes_an_added_tier_and_refuses_an_unknown_one(tenant_a):
    choice_lists.option_create(actor=tenant_a.admin, list_key=TIERS, label="贵宾", key="VIP")
    customer = customer_services.customer_create(actor=tenant_a.admin, name="贵宾公司", tier="VIP").customer
    assert Customer.objects.get(pk=customer.pk).tier == "VIP"
    with pytest.raises(ValidationFailed) as exc:
        customer_services.customer_create(actor=tenant_a.admin, name="x", tier="Z")
    assert "tier" in exc.value.fields


# The options are named in the reader's language (the message's own Chinese comes with the catalogue).
@pytest.mark.parametrize(("language", "fragment"), [("en", "prospect (Prospect)"), ("zh-hans", "prospect (意向客户)")])
def test_the_api_answers_a_field_error_for_an_inactive_or_unknown_option(tenant_a, api, language, fragment):
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, STAGES, "churned"), data={"is_active": False})
    client = api(tenant_a.admin)
    response = client.post(
        "/api/v1/customers/", {"name": "流失公司", "stage": "churned"}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    error = assert_error(response, 400, "validation_failed")
    assert list(error["fields"]) == ["stage"]
    assert fragment in error["fields"]["stage"][0] and "churned" in error["fields"]["stage"][0]
    assert client.post("/api/v1/customers/", {"name": "好公司", "stage": "prospect"}, format="json").status_code == 201


def test_a_customer_keeps_a_deactivated_stage_when_other_fields_change(tenant_a):
    customer = make_customer(tenant_a, stage="churned")
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, STAGES, "churned"), data={"is_active": False})
    customer = customer_services.customer_update(
        actor=tenant_a.admin, customer=customer, expected_version=None, data={"name": "改名", "stage": "churned"}
    )
    assert customer.stage == "churned" and customer.name == "改名"


def test_a_renamed_tier_shows_on_the_customer_list_and_page(tenant_a, django_assert_max_num_queries):
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, TIERS, "A"), data={"label": "战略大客户"})
    choice_lists.option_create(actor=tenant_a.admin, list_key=STAGES, label="沉睡客户", key="dormant")
    customers = [make_customer(tenant_a, name=f"客户{i}", tier="A", stage="dormant") for i in range(3)]
    client = web(tenant_a.admin)

    html = client.get("/customers/").content.decode()
    assert html.count("战略大客户") >= 3 and "沉睡客户" in html  # the columns (and the filter's options)
    assert client.get(f"/customers/{customers[0].pk}/").content.decode().count("战略大客户") >= 1
    filtered = client.get("/customers/", {"tier": "A", "stage": "dormant"}).content.decode()
    assert "客户2" in filtered

    more = [make_customer(tenant_a, name=f"更多{i}", tier="A") for i in range(10)]
    with django_assert_max_num_queries(40) as small:
        client.get("/customers/")
    with django_assert_max_num_queries(len(small.captured_queries)):  # no query per row for the labels
        client.get("/customers/")
    assert more


def test_customer_form_offers_the_organisations_tiers(tenant_a):
    choice_lists.option_create(actor=tenant_a.admin, list_key=TIERS, label="贵宾", key="VIP")
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, TIERS, "D"), data={"is_active": False})
    html = web(tenant_a.admin).get("/customers/new/").content.decode()
    assert 'value="VIP"' in html and 'value="D"' not in html


# Tickets ---------------------------------------------------------------------------------------------


def test_a_deactivated_ticket_type_is_refused_for_new_tickets_but_shown_on_old_ones(tenant_a, api):
    old = make_ticket(tenant_a, kind="incident")
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, KINDS, "incident"), data={"label": "故障"})
    choice_lists.option_update(actor=tenant_a.admin, option=row(tenant_a, KINDS, "incident"), data={"is_active": False})
    client = api(tenant_a.users["service_agent"])
    error = assert_error(
        client.post("/api/v1/tickets/", {"subject": "又坏了", "kind": "incident"}, format="json"),
        400,
        "validation_failed",
    )
    assert "kind" in error["fields"]
    page = web(tenant_a.admin).get(f"/service/tickets/{old.pk}/").content.decode()
    assert "故障" in page
    form = web(tenant_a.admin).get("/service/tickets/new/").content.decode()
    assert 'value="incident"' not in form and 'value="complaint"' in form
    # the old ticket keeps it through an edit of something else
    response = client.patch(f"/api/v1/tickets/{old.pk}/", {"kind": "incident", "version": old.version}, format="json")
    assert response.status_code == 200 and Ticket.objects.get(pk=old.pk).kind == "incident"


def test_an_added_ticket_type_is_used_by_the_api(tenant_a, api):
    choice_lists.option_create(actor=tenant_a.admin, list_key=KINDS, label="表扬", key="praise")
    client = api(tenant_a.users["service_agent"])
    response = client.post("/api/v1/tickets/", {"subject": "服务很好", "kind": "praise"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "praise"


# API and pages ---------------------------------------------------------------------------------------


def test_api_lists_seeds_creates_renames_moves_and_deletes(tenant_a, api):
    client = api(tenant_a.admin)
    listed = client.get(OPTIONS, {"list": "ticket_kind"}, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"]
    assert [(o["key"], o["label"], o["builtin"]) for o in listed][:2] == [
        ("complaint", "投诉", True),
        ("inquiry", "咨询", True),
    ]
    created = client.post(OPTIONS, {"list": "ticket_kind", "label": "建议", "key": "suggestion"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert client.patch(f"{OPTIONS}{pk}/", {"label": "改进建议"}, format="json").json()["label"] == "改进建议"
    assert client.post(f"{OPTIONS}{pk}/move/", {"direction": "up"}, format="json").status_code == 200
    keys = [o["key"] for o in client.get(OPTIONS, {"list": "ticket_kind"}).json()["results"]]
    assert keys[-2:] == ["suggestion", "incident"]
    error = assert_error(
        client.post(OPTIONS, {"list": "ticket_kind", "label": "投诉"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"),
        400,
        "validation_failed",
    )
    assert "label" in error["fields"]
    builtin = next(o for o in client.get(OPTIONS, {"list": "ticket_kind"}).json()["results"] if o["builtin"])
    assert_error(client.delete(f"{OPTIONS}{builtin['id']}/"), 400, "validation_failed")
    assert client.delete(f"{OPTIONS}{pk}/").status_code == 204


def test_api_writes_need_the_lists_module_administrator(tenant_a, api):
    rep = api(tenant_a.users["sales_rep"])
    assert rep.get(OPTIONS, {"list": "customer_tier"}).status_code == 200
    assert_error(rep.post(OPTIONS, {"list": "customer_tier", "label": "S"}, format="json"), 403, "permission_denied")


def test_the_administration_page_adds_renames_reorders_and_deactivates(tenant_a):
    client = web(tenant_a.admin)
    page = client.get("/lists/", {"list": "customer_stage"})
    assert page.status_code == 200 and 'data-option="prospect"' in page.content.decode()
    response = client.post("/lists/?list=customer_stage", {"label": "沉睡客户", "key": "dormant"})
    assert response.status_code == 302
    dormant = ChoiceOption.objects.get(organization=tenant_a.org, list_key=STAGES, key="dormant")
    assert client.post(f"/lists/{dormant.pk}/", {"label": "休眠客户"}).status_code == 302
    client.post(f"/lists/{dormant.pk}/move/", {"direction": "up"})
    client.post(f"/lists/{dormant.pk}/toggle/")
    dormant.refresh_from_db()
    assert dormant.label == "休眠客户" and not dormant.is_active
    stages = [o.key for o in choice_lists.options(tenant_a.org.pk, STAGES)]
    assert stages.index("dormant") == len(stages) - 2
    error_page = client.post("/lists/?list=customer_stage", {"label": "休眠客户"}).content.decode()
    assert 'data-testid="error-label"' in error_page  # the same label twice: inline error, input kept
    assert client.get("/lists/", {"list": "ticket_kind"}).status_code == 200
    assert web(tenant_a.users["sales_rep"]).get("/lists/").status_code == 403


def test_a_disabled_modules_lists_are_left_out(tenant_a, api):
    from kehu.accounts.models import Organization, User

    org = tenant_a.org
    Organization.objects.filter(pk=org.pk).update(enabled_modules=[m for m in org.enabled_modules if m != "service"])
    admin = User.objects.select_related("organization", "role", "team").get(pk=tenant_a.admin.pk)
    listed = {o["list"] for o in api(admin).get(OPTIONS).json()["results"]}
    assert listed == {"customer_tier", "customer_stage"}
    assert "ticket_kind" not in web(admin).get("/lists/").content.decode()
