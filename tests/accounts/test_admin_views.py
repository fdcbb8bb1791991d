"""The organisation administrator's pages: users, teams, roles, organisation settings."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from kehu.accounts import admin_views, services
from kehu.accounts.models import Role, Team, User
from kehu.core import modules
from kehu.core.models import AuditEntry


@pytest.fixture
def web() -> Client:
    return Client(headers={"accept-language": "en"})


@pytest.fixture
def admin_web(web, tenant_a) -> Client:
    web.force_login(tenant_a.admin)
    return web


@pytest.fixture
def rep_web(tenant_a) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(tenant_a.users["sales_rep"])
    return client


def _custom_role(tenant, name="Key accounts") -> Role:
    return services.role_create(
        actor=tenant.admin,
        name=name,
        permissions={"customers": {"actions": ["view", "edit"], "scope": "team"}},
    )


def _emails(html: str) -> list[str]:
    """The email column of the user table, in order."""
    return re.findall(r'<td class="d-none d-sm-table-cell">([^<]+)</td>', html)


def _pages(tenant) -> list[str]:
    rep = tenant.users["sales_rep"]
    sales_rep_role = tenant.role("sales_rep")
    return [
        reverse("admin_area:users"),
        reverse("admin_area:user_invite"),
        reverse("admin_area:user_edit", args=[rep.pk]),
        reverse("admin_area:teams"),
        reverse("admin_area:team_create"),
        reverse("admin_area:team_edit", args=[tenant.teams["east"].pk]),
        reverse("admin_area:roles"),
        reverse("admin_area:role_create"),
        reverse("admin_area:role_edit", args=[sales_rep_role.pk]),
        reverse("admin_area:role_copy", args=[sales_rep_role.pk]),
        reverse("admin_area:organization"),
    ]


# Access ----------------------------------------------------------------------------------------------


def test_every_page_opens_for_the_administrator(admin_web, tenant_a):
    for url in _pages(tenant_a):
        response = admin_web.get(url)
        assert response.status_code == 200, url
        assert b'data-testid="admin-tabs"' in response.content, url


@pytest.mark.parametrize("role_key", ["sales_rep", "sales_manager", "read_only"])
def test_every_page_is_403_for_non_administrators(tenant_a, role_key):
    client = Client(headers={"accept-language": "en"})
    client.force_login(tenant_a.users[role_key])
    for url in _pages(tenant_a):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b'data-error-code="permission_denied"' in response.content


def test_posts_are_403_for_a_sales_rep(rep_web, tenant_a):
    other = tenant_a.users["analyst"]
    response = rep_web.post(reverse("admin_area:user_deactivate", args=[other.pk]))

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.is_active


def test_anonymous_visitors_are_sent_to_sign_in(web):
    response = web.get(reverse("admin_area:users"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_records_of_another_organisation_are_404(admin_web, tenant_a, tenant_b):
    b_user = tenant_b.users["sales_rep"]
    b_team = tenant_b.teams["east"]
    b_role = tenant_b.role("sales_rep")
    for url in (
        reverse("admin_area:user_edit", args=[b_user.pk]),
        reverse("admin_area:team_edit", args=[b_team.pk]),
        reverse("admin_area:role_edit", args=[b_role.pk]),
        reverse("admin_area:role_copy", args=[b_role.pk]),
    ):
        assert admin_web.get(url).status_code == 404, url
    for url in (
        reverse("admin_area:user_deactivate", args=[b_user.pk]),
        reverse("admin_area:user_reset_2fa", args=[b_user.pk]),
        reverse("admin_area:team_delete", args=[b_team.pk]),
        reverse("admin_area:role_delete", args=[b_role.pk]),
    ):
        assert admin_web.post(url).status_code == 404, url
    b_user.refresh_from_db()
    assert b_user.is_active
    assert Team.objects.filter(pk=b_team.pk).exists()
    assert not AuditEntry.objects.filter(organization=tenant_b.org, actor=tenant_a.admin).exists()


# Users: list -----------------------------------------------------------------------------------------


def test_the_user_list_shows_only_the_organisation_with_status_and_role(admin_web, tenant_a, tenant_b):
    services.user_invite(actor=tenant_a.admin, email="new@a.test", role=tenant_a.role("sales_rep"))
    services.user_deactivate(actor=tenant_a.admin, user=tenant_a.users["analyst"])

    response = admin_web.get(reverse("admin_area:users"))

    html = response.content.decode()
    assert "sales_rep@a.test" in html and "new@a.test" in html
    assert "@b.test" not in html
    assert 'data-status="invited"' in html and 'data-status="deactivated"' in html
    assert "Sales East" in html and tenant_a.role("sales_rep").name in html
    assert "9 seats in use" in html  # 9 users, minus the deactivated analyst, plus the open invitation


def test_the_user_list_filters_by_search_status_and_team(admin_web, tenant_a):
    services.user_invite(actor=tenant_a.admin, email="invitee@a.test", role=tenant_a.role("sales_rep"))
    url = reverse("admin_area:users")

    by_status = admin_web.get(url, {"status": "invited"}).content.decode()
    assert "invitee@a.test" in by_status and "sales_rep@a.test" not in by_status

    by_team = admin_web.get(url, {"team": tenant_a.teams["east"].pk}).content.decode()
    emails = set(re.findall(r"[\w.]+@a\.test", by_team))
    assert emails == {"sales_rep@a.test", "sales_rep_2@a.test"}

    by_search = admin_web.get(url, {"q": "marketer"}).content.decode()
    assert set(re.findall(r"[\w.]+@a\.test", by_search)) == {"marketer@a.test"}

    nothing = admin_web.get(url, {"q": "no-such-person"})
    assert b'data-testid="empty"' in nothing.content and b"No users match these filters." in nothing.content


def test_the_user_list_sorts_by_a_whitelisted_field_only(admin_web):
    url = reverse("admin_area:users")

    desc = _emails(admin_web.get(url, {"sort": "-email"}).content.decode())
    asc = _emails(admin_web.get(url, {"sort": "email"}).content.decode())
    assert len(asc) == 9 and asc == sorted(asc) and desc == list(reversed(asc))

    # An unknown sort (e.g. an attempt at injecting SQL or sorting by the password) falls back to name.
    response = admin_web.get(url, {"sort": "password"})
    assert response.status_code == 200
    assert len(_emails(response.content.decode())) == 9


def test_the_user_list_answers_htmx_with_the_table_only(admin_web):
    response = admin_web.get(
        reverse("admin_area:users"), {"q": "rep"}, headers={"HX-Request": "true", "HX-Target": "users-table"}
    )

    assert response.status_code == 200
    assert b'data-testid="users-table"' in response.content
    assert b"<html" not in response.content


def test_the_user_list_pages_with_a_keyset_cursor(admin_web, monkeypatch):
    monkeypatch.setattr(admin_views, "USERS_PAGE_SIZE", 4)
    url = reverse("admin_area:users")
    seen: list[str] = []
    response = admin_web.get(url, {"sort": "email"})
    for _ in range(5):
        html = response.content.decode()
        seen += _emails(html)
        match = re.search(r'data-testid="next-page" href="\?([^"]+)"', html)
        if not match:
            break
        response = admin_web.get(url + "?" + match.group(1).replace("&amp;", "&"))
    assert len(seen) == 9 and len(set(seen)) == 9
    assert seen == sorted(seen)

    tampered = admin_web.get(url, {"after": "not-a-cursor"})
    assert tampered.status_code == 200  # a bad cursor shows the first page, never an error


# Users: invite ---------------------------------------------------------------------------------------


def test_inviting_creates_an_invited_user_an_audit_entry_and_shows_the_link(admin_web, tenant_a):
    role = tenant_a.role("sales_rep")
    response = admin_web.post(
        reverse("admin_area:user_invite"),
        {"email": "Li.Lei@A.test", "name": "李雷", "role": role.pk, "team": tenant_a.teams["east"].pk},
    )

    assert response.status_code == 200
    invitee = User.objects.get(email="li.lei@a.test")
    assert invitee.organization == tenant_a.org and invitee.is_pending_invitation and not invitee.is_active
    assert (invitee.name, invitee.role, invitee.team) == ("李雷", role, tenant_a.teams["east"])
    link = re.search(r'data-testid="invitation-link" value="([^"]+)"', response.content.decode()).group(1)
    assert link.startswith("http://testserver/accounts/invite/")
    entry = AuditEntry.objects.get(action="user.invite", target_id=str(invitee.pk))
    assert entry.actor == tenant_a.admin and entry.changes["email"] == "li.lei@a.test"
    # The link really lets the invitee in.
    page = Client().get(link.removeprefix("http://testserver"))
    assert page.status_code == 200


def test_an_invitation_is_mailed_through_smtp(admin_web, tenant_a, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(
            reverse("admin_area:user_invite"), {"email": "mail@a.test", "role": tenant_a.role("marketer").pk}
        )

    assert response.status_code == 200
    [message] = smtp_server.wait_for(1)
    assert message["X-RcptTo"] == "mail@a.test"
    link = re.search(r'data-testid="invitation-link" value="([^"]+)"', response.content.decode()).group(1)
    assert link in smtp_server.body(message)


def test_an_invitation_survives_a_mail_server_that_is_down(
    admin_web, tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on the discard port
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(
            reverse("admin_area:user_invite"), {"email": "nomail@a.test", "role": tenant_a.role("marketer").pk}
        )

    assert response.status_code == 200
    assert b'data-testid="invitation-link"' in response.content
    assert User.objects.get(email="nomail@a.test").is_pending_invitation


def test_an_invalid_invitation_keeps_what_was_typed_and_names_the_field(admin_web, tenant_a):
    response = admin_web.post(
        reverse("admin_area:user_invite"),
        {"email": "sales_rep@a.test", "name": "Typed name", "role": tenant_a.role("sales_rep").pk},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field-error="email"' in html and "A user with this email already exists." in html
    assert 'value="Typed name"' in html and 'value="sales_rep@a.test"' in html
    assert not AuditEntry.objects.filter(action="user.invite").exists()

    missing = admin_web.post(reverse("admin_area:user_invite"), {"email": "not-an-email", "role": ""})
    assert b'data-field-error="email"' in missing.content and b'data-field-error="role"' in missing.content


def test_inviting_with_a_role_of_another_organisation_is_refused(admin_web, tenant_b):
    response = admin_web.post(
        reverse("admin_area:user_invite"), {"email": "x@a.test", "role": tenant_b.role("administrator").pk}
    )

    assert b'data-field-error="role"' in response.content
    assert not User.objects.filter(email="x@a.test").exists()


def test_the_seat_limit_is_shown_clearly(admin_web, tenant_a):
    tenant_a.org.seats = 9
    tenant_a.org.save(update_fields=["seats"])

    page = admin_web.get(reverse("admin_area:user_invite"))
    assert b'data-testid="seats-full"' in page.content
    response = admin_web.post(
        reverse("admin_area:user_invite"), {"email": "one.more@a.test", "role": tenant_a.role("sales_rep").pk}
    )

    assert b'data-testid="form-errors"' in response.content
    assert b"no free seats left" in response.content
    assert not User.objects.filter(email="one.more@a.test").exists()


# Users: edit, deactivate, reactivate, 2FA ------------------------------------------------------------


def test_editing_role_and_team_is_audited_with_before_and_after(admin_web, tenant_a):
    rep = tenant_a.users["sales_rep"]
    manager_role, sales = tenant_a.role("sales_manager"), tenant_a.teams["sales"]
    url = reverse("admin_area:user_edit", args=[rep.pk])

    response = admin_web.post(
        url, {"name": rep.name, "phone": "13800001111", "role": manager_role.pk, "team": sales.pk}
    )

    assert response.status_code == 302 and response.url == url
    rep.refresh_from_db()
    assert (rep.role, rep.team, rep.phone) == (manager_role, sales, "13800001111")
    entry = AuditEntry.objects.get(action="user.update", target_id=str(rep.pk))
    assert entry.changes["role"] == {"before": tenant_a.role("sales_rep").pk, "after": manager_role.pk}
    assert entry.changes["team"] == {"before": tenant_a.teams["east"].pk, "after": sales.pk}
    assert "name" not in entry.changes  # unchanged fields are not logged
    assert b"Saved the changes" in admin_web.get(url).content


def test_administrators_cannot_change_their_own_role(admin_web, tenant_a):
    admin = tenant_a.admin
    url = reverse("admin_area:user_edit", args=[admin.pk])

    admin_web.post(url, {"name": "Boss", "role": tenant_a.role("read_only").pk, "team": ""})

    admin.refresh_from_db()
    assert admin.role.key == "administrator"  # the disabled field ignores what was posted
    assert admin.name == "Boss"


def test_deactivate_and_reactivate(admin_web, tenant_a):
    analyst = tenant_a.users["analyst"]
    edit_url = reverse("admin_area:user_edit", args=[analyst.pk])
    page = admin_web.get(edit_url).content.decode()
    assert 'data-testid="deactivate"' in page and "data-confirm=" in page

    response = admin_web.post(reverse("admin_area:user_deactivate", args=[analyst.pk]))

    assert response.status_code == 302 and response.url == edit_url
    analyst.refresh_from_db()
    assert not analyst.is_active and analyst.deactivated_at is not None
    assert AuditEntry.objects.filter(action="user.deactivate", target_id=str(analyst.pk)).exists()
    assert b'data-testid="reactivate"' in admin_web.get(edit_url).content

    admin_web.post(reverse("admin_area:user_reactivate", args=[analyst.pk]))

    analyst.refresh_from_db()
    assert analyst.is_active and analyst.deactivated_at is None
    assert AuditEntry.objects.filter(action="user.reactivate", target_id=str(analyst.pk)).exists()


def test_reactivating_over_the_seat_limit_shows_the_error(admin_web, tenant_a):
    analyst = tenant_a.users["analyst"]
    services.user_deactivate(actor=tenant_a.admin, user=analyst)
    tenant_a.org.seats = 8
    tenant_a.org.save(update_fields=["seats"])

    response = admin_web.post(reverse("admin_area:user_reactivate", args=[analyst.pk]), follow=True)

    assert b"no free seats left" in response.content
    assert b"alert-danger" in response.content
    analyst.refresh_from_db()
    assert not analyst.is_active


def test_administrators_cannot_deactivate_themselves(admin_web, tenant_a):
    response = admin_web.post(reverse("admin_area:user_deactivate", args=[tenant_a.admin.pk]), follow=True)

    assert b"You cannot deactivate yourself." in response.content
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.is_active


def test_deactivate_needs_post(admin_web, tenant_a):
    response = admin_web.get(reverse("admin_area:user_deactivate", args=[tenant_a.users["analyst"].pk]))

    assert response.status_code == 405


def test_the_edit_page_of_a_pending_invitation_shows_a_fresh_link(admin_web, tenant_a):
    invitee, _link = services.user_invite(actor=tenant_a.admin, email="later@a.test", role=tenant_a.role("analyst"))

    response = admin_web.get(reverse("admin_area:user_edit", args=[invitee.pk]))

    assert b'data-testid="pending-invitation"' in response.content
    assert b"/accounts/invite/" in response.content


def test_resetting_two_factor_authentication(admin_web, tenant_a):
    rep = tenant_a.users["sales_rep"]
    rep.totp_secret, rep.totp_enabled = "JBSWY3DPEHPK3PXP", True
    rep.save(update_fields=["totp_secret", "totp_enabled"])
    assert b'data-testid="reset-2fa"' in admin_web.get(reverse("admin_area:user_edit", args=[rep.pk])).content

    admin_web.post(reverse("admin_area:user_reset_2fa", args=[rep.pk]))

    rep.refresh_from_db()
    assert not rep.totp_enabled and rep.totp_secret == ""
    entry = AuditEntry.objects.get(action="user.2fa_disable", target_id=str(rep.pk))
    assert entry.actor == tenant_a.admin


# Teams -----------------------------------------------------------------------------------------------


def test_the_team_tree_is_indented_with_manager_and_member_count(admin_web, tenant_a):
    sales, east = tenant_a.teams["sales"], tenant_a.teams["east"]
    services.team_update(actor=tenant_a.admin, team=sales, data={"manager": tenant_a.users["sales_manager"]})

    html = admin_web.get(reverse("admin_area:teams")).content.decode()

    assert f'data-team-id="{sales.pk}" data-depth="0"' in html
    assert f'data-team-id="{east.pk}" data-depth="1"' in html
    assert html.index(f'data-team-id="{sales.pk}"') < html.index(f'data-team-id="{east.pk}"')
    assert "a sales_manager" in html  # the manager's name
    # sales: administrator + 6 others; east: the two reps
    assert f'href="/admin/users/?team={east.pk}">2</a>' in html


def test_team_create_edit_and_delete(admin_web, tenant_a):
    east = tenant_a.teams["east"]
    response = admin_web.post(
        reverse("admin_area:team_create"),
        {"name": "华南大区", "parent": east.pk, "manager": tenant_a.users["sales_rep"].pk},
    )
    assert response.status_code == 302
    team = Team.objects.get(organization=tenant_a.org, name="华南大区")
    assert team.parent == east and team.path == f"{east.path}{team.pk}/"
    assert AuditEntry.objects.filter(action="team.create", target_id=str(team.pk)).exists()

    admin_web.post(reverse("admin_area:team_edit", args=[team.pk]), {"name": "华南", "parent": "", "manager": ""})
    team.refresh_from_db()
    assert (team.name, team.parent, team.manager) == ("华南", None, None)
    entry = AuditEntry.objects.get(action="team.update", target_id=str(team.pk))
    assert entry.changes["name"] == {"before": "华南大区", "after": "华南"}

    page = admin_web.get(reverse("admin_area:team_edit", args=[team.pk])).content.decode()
    assert "data-confirm=" in page
    response = admin_web.post(reverse("admin_area:team_delete", args=[team.pk]))
    assert response.status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()
    assert AuditEntry.objects.filter(action="team.delete", target_id=str(team.pk)).exists()


def test_a_team_cannot_move_inside_its_own_sub_team(admin_web, tenant_a):
    sales, east = tenant_a.teams["sales"], tenant_a.teams["east"]

    response = admin_web.post(reverse("admin_area:team_edit", args=[sales.pk]), {"name": "Sales", "parent": east.pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field-error="parent"' in html and "A team cannot be inside itself." in html
    sales.refresh_from_db()
    assert sales.parent is None and sales.path == f"/{sales.pk}/"


def test_a_duplicate_team_name_is_shown_on_the_name(admin_web, tenant_a):
    response = admin_web.post(
        reverse("admin_area:team_create"), {"name": "Sales East", "parent": tenant_a.teams["sales"].pk}
    )

    html = response.content.decode()
    assert 'data-field-error="name"' in html and "already exists" in html
    assert 'value="Sales East"' in html
    assert Team.objects.filter(organization=tenant_a.org, name="Sales East").count() == 1


def test_a_team_with_members_cannot_be_deleted(admin_web, tenant_a):
    east = tenant_a.teams["east"]

    response = admin_web.post(reverse("admin_area:team_delete", args=[east.pk]))

    assert response.status_code == 200
    assert b'data-testid="delete-error"' in response.content
    assert b"Move the members to another team first." in response.content
    assert Team.objects.filter(pk=east.pk).exists()


def test_a_team_manager_of_another_organisation_is_refused(admin_web, tenant_b):
    response = admin_web.post(
        reverse("admin_area:team_create"), {"name": "Leak", "manager": tenant_b.users["sales_manager"].pk}
    )

    assert b'data-field-error="manager"' in response.content
    assert not Team.objects.filter(name="Leak").exists()


# Roles -----------------------------------------------------------------------------------------------


def test_the_role_list_shows_system_flag_and_user_counts(admin_web, tenant_a):
    custom = _custom_role(tenant_a)

    html = admin_web.get(reverse("admin_area:roles")).content.decode()

    rep_row = re.search(rf'data-role-id="{tenant_a.role("sales_rep").pk}">(.*?)</tr>', html, re.S).group(1)
    assert "System" in rep_row and '<td class="text-end">2</td>' in rep_row
    custom_row = re.search(rf'data-role-id="{custom.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "Custom" in custom_row and '<td class="text-end">0</td>' in custom_row


def test_the_role_editor_is_a_matrix_over_every_module(admin_web, tenant_a):
    html = admin_web.get(reverse("admin_area:role_edit", args=[tenant_a.role("sales_rep").pk])).content.decode()

    for module in modules.all_modules():
        assert f'data-module="{module.key}"' in html
        assert f'name="scope__{module.key}"' in html
    assert 'name="perm__platform__view"' in html and 'name="perm__platform__create"' not in html
    assert re.search(r'name="perm__customers__view"[^>]*checked', html)
    assert not re.search(r'name="perm__customers__delete"[^>]*checked', html)


def test_creating_a_role_from_the_matrix(admin_web, tenant_a):
    response = admin_web.post(
        reverse("admin_area:role_create"),
        {
            "name": "区域经理",
            "description": "Regional",
            "perm__customers__view": "on",
            "perm__customers__assign": "on",
            "scope__customers": "team_tree",
            "perm__platform__view": "on",
            "scope__platform": "organization",
            "scope__sales": "own",  # a scope without actions grants nothing
        },
    )

    role = Role.objects.get(organization=tenant_a.org, name="区域经理")
    assert response.status_code == 302 and response.url == reverse("admin_area:role_edit", args=[role.pk])
    assert role.permissions == {
        "customers": {"actions": ["view", "assign"], "scope": "team_tree"},
        "platform": {"actions": ["view"], "scope": "organization"},
    }
    assert not role.is_system
    assert AuditEntry.objects.filter(action="role.create", target_id=str(role.pk)).exists()


def test_editing_the_matrix_saves_permissions_and_audits_the_change(admin_web, tenant_a):
    role = _custom_role(tenant_a)
    before = role.permissions

    admin_web.post(
        reverse("admin_area:role_edit", args=[role.pk]),
        {
            "name": role.name,
            "description": "",
            "perm__customers__view": "on",
            "perm__customers__export": "on",
            "scope__customers": "organization",
        },
    )

    role.refresh_from_db()
    assert role.permissions == {"customers": {"actions": ["view", "export"], "scope": "organization"}}
    entry = AuditEntry.objects.get(action="role.update", target_id=str(role.pk))
    assert entry.changes["permissions"] == {"before": before, "after": role.permissions}
    assert entry.actor == tenant_a.admin


def test_a_duplicate_role_name_is_shown_on_the_name(admin_web, tenant_a):
    taken = tenant_a.role("sales_rep").name
    response = admin_web.post(reverse("admin_area:role_create"), {"name": taken, "perm__customers__view": "on"})

    assert b'data-field-error="name"' in response.content
    assert b"A role with this name already exists." in response.content
    assert Role.objects.filter(organization=tenant_a.org, name=taken).count() == 1


def test_copying_a_role(admin_web, tenant_a):
    source = tenant_a.role("sales_manager")
    page = admin_web.get(reverse("admin_area:role_copy", args=[source.pk]))
    assert f"Copy of {source.name}".encode() in page.content

    response = admin_web.post(reverse("admin_area:role_copy", args=[source.pk]), {"name": "Sales manager (north)"})

    copy = Role.objects.get(organization=tenant_a.org, name="Sales manager (north)")
    assert response.status_code == 302 and response.url == reverse("admin_area:role_edit", args=[copy.pk])
    assert copy.permissions == source.permissions and not copy.is_system
    assert AuditEntry.objects.filter(action="role.create", target_id=str(copy.pk)).exists()

    taken = admin_web.post(reverse("admin_area:role_copy", args=[source.pk]), {"name": "Sales manager (north)"})
    assert b'data-field-error="name"' in taken.content


def test_system_roles_cannot_be_deleted(admin_web, tenant_a):
    role = tenant_a.role("analyst")

    response = admin_web.post(reverse("admin_area:role_delete", args=[role.pk]))

    assert response.status_code == 200
    assert b'data-testid="delete-error"' in response.content
    assert b"cannot be deleted" in response.content
    assert Role.objects.filter(pk=role.pk).exists()


def test_a_role_in_use_cannot_be_deleted_and_an_unused_one_can(admin_web, tenant_a):
    role = _custom_role(tenant_a)
    services.user_update(actor=tenant_a.admin, user=tenant_a.users["analyst"], data={"role": role})

    refused = admin_web.post(reverse("admin_area:role_delete", args=[role.pk]))
    assert b"another role first" in refused.content

    services.user_update(actor=tenant_a.admin, user=tenant_a.users["analyst"], data={"role": tenant_a.role("analyst")})
    response = admin_web.post(reverse("admin_area:role_delete", args=[role.pk]))
    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()
    assert AuditEntry.objects.filter(action="role.delete", target_id=str(role.pk)).exists()


def test_the_administrator_role_is_read_only(admin_web, tenant_a):
    role = tenant_a.role("administrator")
    name, before = role.name, role.permissions
    url = reverse("admin_area:role_edit", args=[role.pk])

    page = admin_web.get(url).content.decode()
    assert 'data-testid="locked"' in page and "copy this role" in page
    assert re.search(r'name="perm__customers__view"[^>]*disabled', page)

    response = admin_web.post(url, {"name": "Hacked", "scope__customers": "own"}, follow=True)

    role.refresh_from_db()
    assert (role.name, role.permissions) == (name, before)
    assert b"cannot be changed" in response.content
    assert not AuditEntry.objects.filter(action="role.update").exists()


# Organisation ----------------------------------------------------------------------------------------


def _org_post(org, **overrides) -> dict:
    data = {
        "name": org.name,
        "time_zone": org.time_zone,
        "currency": org.currency,
        "language": org.language,
        "password_min_length": org.password_min_length,
        "session_hours": org.session_hours,
        "enabled_modules": list(org.enabled_modules),
    }
    if org.require_2fa:
        data["require_2fa"] = "on"
    data.update(overrides)
    return data


def test_the_organisation_page_shows_settings_modules_and_read_only_seats(admin_web, tenant_a):
    html = admin_web.get(reverse("admin_area:organization")).content.decode()

    for module in modules.licensable_modules():
        assert re.search(rf'name="enabled_modules" value="{module.key}"[^>]*checked', html)
    assert 'name="seats"' not in html
    assert "Unlimited" in html and 'data-testid="licence"' in html


def test_toggling_modules_and_the_security_policy(admin_web, tenant_a):
    org = tenant_a.org
    dropped = org.enabled_modules[0]
    keep = [key for key in org.enabled_modules if key != dropped]

    response = admin_web.post(
        reverse("admin_area:organization"),
        _org_post(org, enabled_modules=keep, require_2fa="on", password_min_length=12, time_zone="Asia/Hong_Kong"),
    )

    assert response.status_code == 302
    org.refresh_from_db()
    assert dropped not in org.enabled_modules and org.enabled_modules == sorted(keep)
    assert (org.require_2fa, org.password_min_length, org.time_zone) == (True, 12, "Asia/Hong_Kong")
    entry = AuditEntry.objects.get(action="organization.update", organization=org)
    assert entry.changes["enabled_modules"]["before"] == sorted([*keep, dropped])
    assert entry.changes["require_2fa"] == {"before": False, "after": True}
    assert "name" not in entry.changes


def test_posting_seats_does_not_change_the_licence(admin_web, tenant_a):
    org = tenant_a.org
    admin_web.post(reverse("admin_area:organization"), _org_post(org, seats=999, name="新名字"))

    org.refresh_from_db()
    assert org.seats is None and org.name == "新名字"


def test_invalid_organisation_settings_are_shown_on_the_field(admin_web, tenant_a):
    response = admin_web.post(
        reverse("admin_area:organization"),
        _org_post(tenant_a.org, currency="元元", password_min_length=3, name="Typed"),
    )

    html = response.content.decode()
    assert 'data-field-error="currency"' in html and 'data-field-error="password_min_length"' in html
    assert 'value="Typed"' in html
    tenant_a.org.refresh_from_db()
    assert tenant_a.org.currency == "CNY"


def test_an_organisation_name_taken_by_another_tenant_is_refused(admin_web, tenant_a, tenant_b):
    response = admin_web.post(reverse("admin_area:organization"), _org_post(tenant_a.org, name=tenant_b.org.name))

    assert b'data-field-error="name"' in response.content
    tenant_a.org.refresh_from_db()
    assert tenant_a.org.name != tenant_b.org.name


def test_a_refused_save_leaves_the_shell_with_the_stored_name(admin_web, tenant_a, tenant_b):
    """The service sets values before it validates; the page shell must still show the stored name."""
    response = admin_web.post(reverse("admin_area:organization"), _org_post(tenant_a.org, name=tenant_b.org.name))

    html = response.content.decode()
    assert f'<span class="dropdown-item-text small text-body-secondary">{tenant_a.org.name}</span>' in html
    assert f'value="{tenant_b.org.name}"' in html  # while the form keeps what was typed


# Query counts: no N+1 on the lists -------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_lists_do_not_query_per_row(admin_web, tenant_a):
    urls = [reverse("admin_area:users"), reverse("admin_area:teams"), reverse("admin_area:roles")]
    before = {url: _queries(admin_web, url) for url in urls}
    east = tenant_a.teams["east"]
    for n in range(4):
        team = services.team_create(actor=tenant_a.admin, name=f"Team {n}", parent=east)
        role = _custom_role(tenant_a, name=f"Role {n}")
        services.user_create(
            actor=tenant_a.admin,
            organization=tenant_a.org,
            email=f"extra{n}@a.test",
            password="Kehu-test-pw-2026",
            role=role,
            team=team,
        )
        services.team_update(actor=tenant_a.admin, team=team, data={"manager": tenant_a.users["sales_rep"]})

    after = {url: _queries(admin_web, url) for url in urls}

    assert after == before
    assert max(after.values()) <= 12
