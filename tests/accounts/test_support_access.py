"""Vendor support access: an organisation administrator grants the vendor's platform staff read-only
access for some hours; platform staff then open a support session in which they read, and never change,
that organisation's data through the same `visible_to`/`can` as everyone else. Every step is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kehu.accounts import support_services
from kehu.accounts.middleware import SESSION_KEY
from kehu.accounts.models import SupportActor, SupportGrant, User
from kehu.accounts.tasks import support_grants_expire
from kehu.core import audit
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.permissions import Action, can
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from tests.api.support import all_ids, assert_error
from tests.conftest import PASSWORD
from tests.customers.factories import make_contact, make_customer

SUPPORT_PAGE = "/admin/support/"
GRANTS_API = "/api/v1/support-grants/"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_superuser("ops@vendor.test", PASSWORD, name="Vendor ops")


@pytest.fixture
def staff_web(staff) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(staff)
    return client


def web(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def grant_for(tenant, hours: int = 4, reason: str = "Ticket #1234: the import fails") -> SupportGrant:
    return support_services.support_grant_create(actor=tenant.admin, hours=hours, reason=reason)


def enter(client: Client, grant: SupportGrant) -> None:
    response = client.post(f"/platform/accounts/supportgrant/{grant.pk}/enter/")
    assert response.status_code == 302 and response.url == "/", response.content[:500]
    assert client.session[SESSION_KEY] == grant.pk


def actions(org, action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(organization=org, action=action).order_by("seq"))


# Granting, on the administrator's page and through the API ----------------------------------------------


def test_an_administrator_grants_access_on_the_admin_page_and_it_is_audited(tenant_a):
    client = web(tenant_a.admin)

    page = client.get(SUPPORT_PAGE)
    assert page.status_code == 200
    assert b'data-testid="empty"' in page.content and b"Grant the vendor read-only access" in page.content

    response = client.post(SUPPORT_PAGE, {"hours": "8", "reason": "Ticket #42: the pool does not refill"})

    assert response.status_code == 302
    grant = SupportGrant.objects.visible_to(tenant_a.admin).get()
    assert (grant.hours, grant.reason, grant.granted_by, grant.status) == (
        8,
        "Ticket #42: the pool does not refill",
        tenant_a.admin,
        "active",
    )
    assert abs((grant.expires_at - grant.created_at) - timedelta(hours=8)) < timedelta(seconds=1)
    [entry] = actions(tenant_a.org, "support_grant.create")
    assert entry.actor == tenant_a.admin and entry.changes["hours"] == 8
    html = client.get(SUPPORT_PAGE).content.decode()
    assert 'data-testid="support-revoke"' in html and "Ticket #42" in html


@pytest.mark.parametrize(
    ("hours", "reason", "field"),
    [("0", "why", "hours"), ("73", "why", "hours"), ("abc", "why", "hours"), ("4", "   ", "reason")],
)
def test_the_grant_form_refuses_bad_input_and_keeps_it(tenant_a, hours, reason, field):
    response = web(tenant_a.admin).post(SUPPORT_PAGE, {"hours": hours, "reason": reason})

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-field-error="{field}"' in html
    assert f'value="{hours}"' in html  # what was typed stays in the form
    assert not SupportGrant.objects.dangerously_all_organizations().exists()


@pytest.mark.parametrize("role", ["sales_manager", "sales_rep", "read_only", "analyst"])
def test_only_administrators_grant_access(tenant_a, api, role):
    user = tenant_a.users[role]

    assert web(user).get(SUPPORT_PAGE).status_code == 403
    assert web(user).post(SUPPORT_PAGE, {"hours": "4", "reason": "x"}).status_code == 403
    assert_error(api(user).get(GRANTS_API), 403, "permission_denied")
    assert_error(api(user).post(GRANTS_API, {"hours": 4, "reason": "x"}, format="json"), 403, "permission_denied")
    with pytest.raises(PermissionDenied):
        support_services.support_grant_create(actor=user, hours=4, reason="x")
    assert not SupportGrant.objects.dangerously_all_organizations().exists()


def test_the_api_creates_lists_and_revokes_grants(tenant_a, api):
    client = api(tenant_a.admin)

    created = client.post(GRANTS_API, {"hours": 2, "reason": "Ticket #7"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "active" and body["hours"] == 2 and body["granted_by"]["id"] == tenant_a.admin.pk

    again = client.post(GRANTS_API, {"hours": 2, "reason": "Ticket #8"}, format="json")
    assert_error(again, 400, "support_grant_open")

    assert all_ids(client, GRANTS_API) == [body["id"]]
    revoked = client.post(f"{GRANTS_API}{body['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["ended_by"]["id"] == tenant_a.admin.pk
    assert_error(client.post(f"{GRANTS_API}{body['id']}/revoke/"), 400, "support_grant_ended")
    assert [e.actor for e in actions(tenant_a.org, "support_grant.revoke")] == [tenant_a.admin]
    # A new grant once the last one has ended.
    assert client.post(GRANTS_API, {"hours": 72, "reason": "Ticket #9"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("data", "field"),
    [({"hours": 0, "reason": "x"}, "hours"), ({"hours": 73, "reason": "x"}, "hours"), ({"hours": 4}, "reason")],
)
def test_the_api_names_the_bad_field(tenant_a, api, data, field):
    error = assert_error(api(tenant_a.admin).post(GRANTS_API, data, format="json"), 400, "validation_failed")
    assert field in error["fields"]


def test_the_grant_list_reads_a_fixed_number_of_queries(tenant_a, api, django_assert_max_num_queries):
    client = api(tenant_a.admin)
    for _ in range(5):
        grant = grant_for(tenant_a)
        support_services.support_grant_revoke(actor=tenant_a.admin, grant=grant)

    with django_assert_max_num_queries(4):
        response = client.get(GRANTS_API)

    assert response.status_code == 200 and len(response.json()["results"]) == 5


# Platform staff: nothing without a grant ------------------------------------------------------------


def test_without_a_grant_platform_staff_see_no_customer_data(staff_web, staff, tenant_a):
    customer = make_customer(tenant_a)

    assert staff_web.get("/customers/").status_code in (403, 404)
    assert staff_web.get(f"/customers/{customer.pk}/").status_code in (403, 404)
    assert staff_web.get("/api/v1/customers/").status_code == 403
    assert staff_web.get(f"/api/v1/customers/{customer.pk}/").status_code in (403, 404)
    assert Customer.objects.visible_to(staff).count() == 0
    # The platform lists no grant, and there is nothing to enter.
    assert b"Enter support session" not in staff_web.get("/platform/accounts/supportgrant/").content


def test_an_ended_grant_cannot_be_entered(staff_web, tenant_a):
    grant = grant_for(tenant_a)
    support_services.support_grant_revoke(actor=tenant_a.admin, grant=grant)

    response = staff_web.post(f"/platform/accounts/supportgrant/{grant.pk}/enter/", follow=True)

    assert SESSION_KEY not in staff_web.session
    assert b"This support grant has ended or was revoked." in response.content
    assert not actions(tenant_a.org, "support.session_start")


# Platform staff: a support session reads, and only reads --------------------------------------------


def test_the_platform_lists_active_grants_with_an_enter_button(staff_web, tenant_a, tenant_b):
    grant = grant_for(tenant_a)

    html = staff_web.get("/platform/accounts/supportgrant/").content.decode()

    assert tenant_a.org.name in html and "Ticket #1234" in html
    assert f"/platform/accounts/supportgrant/{grant.pk}/enter/" in html
    assert tenant_b.org.name not in html  # no grant of Other Corp yet
    ended = grant_for(tenant_b)
    support_services.support_grant_revoke(actor=tenant_b.admin, grant=ended)
    active_only = staff_web.get("/platform/accounts/supportgrant/?status=in_force").content.decode()
    assert tenant_a.org.name in active_only and tenant_b.org.name not in active_only
    assert (
        f"/platform/accounts/supportgrant/{ended.pk}/enter/"
        not in staff_web.get("/platform/accounts/supportgrant/").content.decode()
    )
    confirm = staff_web.get(f"/platform/accounts/supportgrant/{grant.pk}/enter/").content.decode()
    assert 'data-testid="support-enter"' in confirm and "read-only" in confirm


def test_in_a_support_session_staff_read_the_organisations_customers(staff_web, staff, tenant_a, tenant_b):
    ours = make_customer(tenant_a, name="华为技术有限公司")
    contact = make_contact(tenant_a, ours, name="张三")
    theirs = make_customer(tenant_b, name="Other Corp customer")
    grant = grant_for(tenant_a)

    enter(staff_web, grant)

    [start] = actions(tenant_a.org, "support.session_start")
    assert start.actor == staff and start.target_id == str(grant.pk)
    listing = staff_web.get("/customers/")
    html = listing.content.decode()
    assert listing.status_code == 200
    assert "华为技术有限公司" in html and "Other Corp customer" not in html
    assert 'data-testid="support-banner"' in html and "Support session, read-only" in html
    assert 'href="/customers/new/"' not in html  # no create button: can() refuses it
    detail = staff_web.get(f"/customers/{ours.pk}/")
    assert detail.status_code == 200 and "张三" in detail.content.decode()
    # API through the session: the organisation's customers, never another's.
    api_ids = all_ids(staff_web, "/api/v1/customers/")
    assert ours.pk in api_ids and theirs.pk not in api_ids
    assert staff_web.get(f"/api/v1/customers/{theirs.pk}/").status_code == 404
    assert staff_web.get(f"/customers/{theirs.pk}/").status_code == 404
    assert staff_web.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    # The administration stays the organisation's own.
    assert staff_web.get(SUPPORT_PAGE).status_code == 403
    assert staff_web.get("/audit/").status_code == 403
    assert staff_web.get(GRANTS_API).status_code == 403


def test_the_support_actor_reads_through_the_same_selectors_and_can_nothing_else(staff, tenant_a, tenant_b):
    ours = make_customer(tenant_a)
    theirs = make_customer(tenant_b)
    actor = support_services.support_actor_for(staff=staff, grant_id=grant_for(tenant_a).pk)

    assert isinstance(actor, SupportActor) and actor.organization_id == tenant_a.org.pk and actor.pk == staff.pk
    page = customer_selectors.customer_list_for(actor=actor)
    listed = {c.pk for c in page.items}
    assert ours.pk in listed and theirs.pk not in listed
    assert customer_selectors.customer_get_for(actor=actor, pk=ours.pk) == ours
    assert set(Customer.objects.visible_to(actor).values_list("pk", flat=True)) == set(
        Customer.objects.visible_to(tenant_a.admin).values_list("pk", flat=True)
    )
    assert can(actor, "view", ours) and not can(actor, "view", theirs)
    for action in [a for a in Action.values if a != "view"] + ["claim", "release", "restore", "purge"]:
        assert not can(actor, action, ours), action
        assert not can(actor, action, Customer), action
    with pytest.raises(PermissionDenied):
        customer_services.customer_create(actor=actor, name="写入测试")
    with pytest.raises(PermissionDenied):
        customer_services.customer_delete(actor=actor, customer=ours)
    with pytest.raises(ValueError):
        actor.save()
    assert not Customer.objects.filter(name="写入测试").exists()


def test_every_write_in_a_support_session_is_refused(staff_web, staff, tenant_a):
    customer = make_customer(tenant_a, name="原名")
    enter(staff_web, grant_for(tenant_a))

    ui_writes = [
        ("/customers/new/", {"name": "新客户"}),
        (f"/customers/{customer.pk}/edit/", {"name": "改名", "version": customer.version}),
        (f"/customers/{customer.pk}/delete/", {}),
        (f"/customers/{customer.pk}/notes/new/", {"body": "support note"}),
        ("/accounts/profile/", {"name": "renamed"}),
        ("/admin/support/", {"hours": "72", "reason": "extend it myself"}),
    ]
    for url, data in ui_writes:
        response = staff_web.post(url, data)
        assert response.status_code == 403, url
        assert b'data-error-code="support_read_only"' in response.content, url
    assert_error(staff_web.post("/api/v1/customers/", {"name": "新客户"}), 403, "support_read_only")
    assert_error(
        staff_web.patch(f"/api/v1/customers/{customer.pk}/", {"name": "改名"}, content_type="application/json"),
        403,
        "support_read_only",
    )
    assert_error(staff_web.delete(f"/api/v1/customers/{customer.pk}/"), 403, "support_read_only")
    assert staff_web.get("/customers/export/?format=csv").status_code == 403  # exporting is not reading

    customer.refresh_from_db()
    assert (customer.name, customer.deleted_at, customer.version) == ("原名", None, 1)
    assert Customer.objects.filter(organization=tenant_a.org).count() == 1
    staff.refresh_from_db()
    assert staff.organization_id is None and staff.name == "Vendor ops"
    # The attempts are in the organisation's log too.
    methods = {e.changes["method"] for e in actions(tenant_a.org, "support.access")}
    assert {"POST", "PATCH", "DELETE", "GET"} <= methods


def test_every_request_of_a_session_is_audited_in_the_organisations_chain(staff_web, staff, tenant_a, tenant_b):
    customer = make_customer(tenant_a)
    enter(staff_web, grant_for(tenant_a))

    staff_web.get("/customers/")
    staff_web.get(f"/customers/{customer.pk}/")
    staff_web.get("/api/v1/customers/?search=%E5%8D%8E%E4%B8%BA")  # 华为

    accesses = actions(tenant_a.org, "support.access")
    assert [e.changes["path"] for e in accesses] == [
        "/customers/",
        f"/customers/{customer.pk}/",
        "/api/v1/customers/?search=%E5%8D%8E%E4%B8%BA",
    ]
    assert all(e.actor == staff and e.actor_label == staff.email for e in accesses)
    assert not AuditEntry.objects.filter(organization=tenant_b.org, action__startswith="support.").exists()
    assert audit.verify() == []
    # The organisation's administrators find them in their audit log.
    html = web(tenant_a.admin).get("/audit/?action=support.").content.decode()
    assert "support.access" in html and staff.email in html


def test_revoking_ends_the_session_with_the_next_request(staff_web, tenant_a):
    grant = grant_for(tenant_a)
    enter(staff_web, grant)
    assert staff_web.get("/customers/").status_code == 200

    web(tenant_a.admin).post(f"/admin/support/{grant.pk}/revoke/")

    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.ended_by == tenant_a.admin
    response = staff_web.get("/customers/")
    assert response.status_code == 403
    assert SESSION_KEY not in staff_web.session
    assert staff_web.get("/api/v1/customers/").status_code == 403
    [entry] = actions(tenant_a.org, "support_grant.revoke")
    assert entry.actor == tenant_a.admin


def test_expiry_ends_the_session_immediately_and_is_audited_once(staff_web, tenant_a):
    grant = grant_for(tenant_a, hours=1)
    enter(staff_web, grant)
    assert staff_web.get("/customers/").status_code == 200

    SupportGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert staff_web.get("/customers/").status_code == 403
    assert SESSION_KEY not in staff_web.session
    grant.refresh_from_db()
    assert grant.status == "expired" and grant.end_reason == "expired" and grant.ended_at == grant.expires_at
    assert support_grants_expire() == 0  # the scheduled job finds nothing left to record
    [entry] = actions(tenant_a.org, "support_grant.expire")
    assert entry.actor is None and entry.target_id == str(grant.pk)


def test_the_scheduled_job_records_expiries_of_every_organisation(tenant_a, tenant_b):
    grants = [grant_for(tenant_a), grant_for(tenant_b)]
    SupportGrant.objects.filter(pk__in=[g.pk for g in grants]).update(expires_at=timezone.now() - timedelta(hours=1))

    assert support_grants_expire() == 2
    assert support_grants_expire() == 0

    assert len(actions(tenant_a.org, "support_grant.expire")) == len(actions(tenant_b.org, "support_grant.expire")) == 1
    # With the old grant recorded as ended, a new one can be granted.
    assert grant_for(tenant_a).status == "active"


def test_ending_the_session_from_the_banner(staff_web, staff, tenant_a):
    enter(staff_web, grant_for(tenant_a))

    response = staff_web.post("/platform/accounts/supportgrant/exit/")

    assert response.status_code == 302
    assert SESSION_KEY not in staff_web.session
    [end] = actions(tenant_a.org, "support.session_end")
    assert end.actor == staff and end.changes["reason"] == "exit"
    assert staff_web.get("/customers/").status_code == 403


def test_signing_out_ends_the_session(staff_web, staff, tenant_a):
    enter(staff_web, grant_for(tenant_a))

    assert staff_web.post("/accounts/logout/").status_code == 302

    [end] = actions(tenant_a.org, "support.session_end")
    assert end.changes["reason"] == "sign_out"
    assert AuditEntry.objects.filter(organization=None, action="auth.logout", actor=staff).exists()
    assert not AuditEntry.objects.filter(organization=tenant_a.org, action="auth.logout", actor=staff).exists()


def test_language_switch_in_a_session_changes_nobody(staff_web, staff, tenant_a):
    enter(staff_web, grant_for(tenant_a))

    response = staff_web.post("/i18n/setlang/", {"language": "zh-hans", "next": "/customers/"})

    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.language == "" and staff.organization_id is None


def test_required_two_factor_of_the_organisation_does_not_redirect_staff(staff_web, tenant_a):
    tenant_a.org.require_2fa = True
    tenant_a.org.save(update_fields=["require_2fa"])
    enter(staff_web, grant_for(tenant_a))

    assert staff_web.get("/customers/").status_code == 200


# Who may open a session ---------------------------------------------------------------------------------


def test_organisation_users_cannot_start_a_support_session(tenant_a, tenant_b):
    grant = grant_for(tenant_b)
    intruder = tenant_a.admin
    intruder.is_staff = intruder.is_superuser = True  # even with the flags set by mistake
    intruder.save(update_fields=["is_staff", "is_superuser"])
    client = web(intruder)

    response = client.post(f"/platform/accounts/supportgrant/{grant.pk}/enter/")

    assert response.status_code == 302 and "/platform/login/" in response.url
    assert SESSION_KEY not in client.session
    with pytest.raises(PermissionDenied):
        support_services.support_session_start(staff=intruder, grant_id=grant.pk)
    assert support_services.support_actor_for(staff=intruder, grant_id=grant.pk) is None
    assert not actions(tenant_b.org, "support.session_start")


def test_a_planted_session_key_gives_an_organisation_user_nothing(tenant_a, tenant_b):
    theirs = make_customer(tenant_b, name="Other Corp customer")
    grant = grant_for(tenant_b)
    client = web(tenant_a.users["sales_rep"])
    session = client.session
    session[SESSION_KEY] = grant.pk
    session.save()

    response = client.get("/customers/")

    assert response.status_code == 200 and "Other Corp customer" not in response.content.decode()
    assert b"support-banner" not in response.content
    assert client.get(f"/customers/{theirs.pk}/").status_code == 404
    assert SESSION_KEY not in client.session
    assert not actions(tenant_b.org, "support.access")


def test_a_grant_of_one_organisation_opens_no_other(staff, tenant_a, tenant_b):
    grant_a = grant_for(tenant_a)
    theirs = make_customer(tenant_b)

    actor = support_services.support_actor_for(staff=staff, grant_id=grant_a.pk)

    assert not Customer.objects.visible_to(actor).filter(pk=theirs.pk).exists()
    with pytest.raises(ValidationFailed):
        support_services.support_session_start(staff=staff, grant_id=999_999)


def test_a_deactivated_organisation_opens_no_session(staff, tenant_a):
    grant = grant_for(tenant_a)
    tenant_a.org.is_active = False
    tenant_a.org.save(update_fields=["is_active"])

    assert support_services.support_actor_for(staff=staff, grant_id=grant.pk) is None
