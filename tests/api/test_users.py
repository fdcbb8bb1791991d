"""/api/v1/users/: list with filters and ordering, invite, edit, deactivate and reactivate."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.accounts import services
from kehu.accounts.models import User
from kehu.core.models import AuditEntry
from tests.api.support import API, all_ids, assert_error

USERS = f"{API}/users/"


def test_it_lists_the_colleagues_of_the_organisation(tenant_a, tenant_b, api):
    response = api(tenant_a.users["sales_rep"]).get(USERS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    emails = {u["email"] for u in body["results"]}
    assert emails == set(User.objects.filter(organization=tenant_a.org).values_list("email", flat=True))
    rep = next(u for u in body["results"] if u["email"] == "sales_rep@a.test")
    assert rep["team"] == {"id": tenant_a.teams["east"].pk, "name": "Sales East"}
    assert rep["role"]["key"] == "sales_rep"
    assert rep["status"] == "active"
    assert "password" not in rep and "totp_secret" not in rep


def test_it_filters_by_status_team_and_search(tenant_a, api):
    admin = tenant_a.admin
    services.user_invite(actor=admin, email="new@a.test", role=tenant_a.role("marketer"))
    services.user_deactivate(actor=admin, user=tenant_a.users["analyst"])
    client = api(admin)

    def emails(query: str) -> set[str]:
        response = client.get(f"{USERS}?{query}")
        assert response.status_code == 200, response.json()
        return {u["email"] for u in response.json()["results"]}

    assert emails("status=invited") == {"new@a.test"}
    assert emails("status=deactivated") == {"analyst@a.test"}
    assert "new@a.test" not in emails("status=active") and "analyst@a.test" not in emails("status=active")
    assert emails(f"team={tenant_a.teams['east'].pk}") == {"sales_rep@a.test", "sales_rep_2@a.test"}
    assert emails("search=rep two") == {"sales_rep_2@a.test"}
    assert emails("search=SALES_MANAGER@") == {"sales_manager@a.test"}


def test_it_rejects_bad_filters_naming_the_field(tenant_a, api):
    client = api(tenant_a.admin)

    assert "status" in assert_error(client.get(f"{USERS}?status=sleeping"), 400, "validation_failed")["fields"]
    assert "team" in assert_error(client.get(f"{USERS}?team=abc"), 400, "validation_failed")["fields"]


def test_it_orders_by_whitelisted_fields_only(tenant_a, api):
    client = api(tenant_a.admin)
    all_users = User.objects.filter(organization=tenant_a.org)

    by_email = [u["email"] for u in client.get(f"{USERS}?ordering=email").json()["results"]]
    assert by_email == sorted(all_users.values_list("email", flat=True))
    newest = [u["id"] for u in client.get(f"{USERS}?ordering=-created_at").json()["results"]]
    assert newest == list(all_users.order_by("-created_at", "-id").values_list("pk", flat=True))
    default = [u["id"] for u in client.get(USERS).json()["results"]]
    # Not on the whitelist: ignored (the default order), never an error or a sort by a hidden column.
    for attempt in ("password", "-totp_secret", "role__name", "email;DROP TABLE accounts_user", "-"):
        response = client.get(USERS, {"ordering": attempt})
        assert response.status_code == 200, attempt
        assert [u["id"] for u in response.json()["results"]] == default, attempt


def test_cursor_pages_cover_every_user_once(tenant_a, api):
    for n in range(7):
        services.user_create(
            actor=tenant_a.admin,
            organization=tenant_a.org,
            email=f"same{n}@a.test",
            password="Kehu-test-pw-2026",
            role=tenant_a.role("sales_rep"),
            name="Same Name",  # many equal names: the id tie-breaker keeps the pages stable
        )
    client = api(tenant_a.admin)
    first = client.get(f"{USERS}?limit=4").json()
    assert len(first["results"]) == 4 and first["next"]

    ids = []
    url = f"{USERS}?limit=4"
    while url:
        body = client.get(url).json()
        ids += [u["id"] for u in body["results"]]
        url = body["next"]

    assert sorted(ids) == sorted(User.objects.filter(organization=tenant_a.org).values_list("pk", flat=True))
    assert len(ids) == len(set(ids))


def test_limit_is_capped_at_200(tenant_a, api):
    User.objects.bulk_create(
        User(organization=tenant_a.org, email=f"bulk{n}@a.test", name=f"Bulk {n:03}") for n in range(205)
    )

    body = api(tenant_a.admin).get(f"{USERS}?limit=100000").json()

    assert len(body["results"]) == 200
    assert body["next"]
    assert len(all_ids(api(tenant_a.admin), USERS)) == User.objects.filter(organization=tenant_a.org).count()


def test_the_list_runs_a_constant_number_of_queries(tenant_a, api):
    client = api(tenant_a.admin)
    client.get(USERS)  # warm up caches that are not per request
    with CaptureQueriesContext(connection) as few:
        assert client.get(USERS).status_code == 200
    for n in range(15):
        team = tenant_a.teams["east" if n % 2 else "sales"]
        User.objects.create(
            organization=tenant_a.org, email=f"more{n}@a.test", team=team, role=tenant_a.role("marketer")
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(USERS)
    assert len(response.json()["results"]) == 24
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(many) <= 4


def test_it_retrieves_one_user_and_404s_for_bad_ids(tenant_a, tenant_b, api):
    client = api(tenant_a.users["read_only"])
    rep = tenant_a.users["sales_rep"]

    assert client.get(f"{USERS}{rep.pk}/").json()["email"] == "sales_rep@a.test"
    for bad in ("abc", "-1", "0", "99999999999999999999999", tenant_b.admin.pk):
        assert_error(client.get(f"{USERS}{bad}/"), 404, "not_found")


def test_an_administrator_invites_a_colleague(tenant_a, api):
    response = api(tenant_a.admin).post(
        USERS,
        {
            "email": "New.Person@A.test",
            "name": "新同事",
            "role": tenant_a.role("sales_rep").pk,
            "team": tenant_a.teams["east"].pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "new.person@a.test"
    assert body["status"] == "invited"
    assert body["role"]["key"] == "sales_rep"
    assert body["team"]["id"] == tenant_a.teams["east"].pk
    assert body["invitation_link"].startswith("http://testserver/accounts/invite/")
    user = User.objects.get(email="new.person@a.test")
    assert user.organization == tenant_a.org and not user.is_active
    assert AuditEntry.objects.filter(action="user.invite", target_id=str(user.pk), actor=tenant_a.admin).exists()


def test_the_invitation_is_emailed(tenant_a, api, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(tenant_a.admin).post(
            USERS, {"email": "mailme@a.test", "role": tenant_a.role("marketer").pk}, format="json"
        )

    assert response.status_code == 201
    [message] = smtp_server.wait_for(1)
    assert message["X-RcptTo"] == "mailme@a.test"
    assert response.json()["invitation_link"] in smtp_server.body(message)


def test_an_invitation_with_bad_input_names_the_fields(tenant_a, tenant_b, api):
    client = api(tenant_a.admin)
    role = tenant_a.role("sales_rep").pk

    cases = [
        ({"email": "not-an-email", "role": role}, "email"),
        ({"email": "admin@b.test", "role": role}, "email"),  # taken (by someone of another organisation)
        ({"email": "x@a.test"}, "role"),
        ({"email": "x@a.test", "role": tenant_b.role("sales_rep").pk}, "role"),
        ({"email": "x@a.test", "role": "abc"}, "role"),
        ({"email": "x@a.test", "role": role, "team": tenant_b.teams["sales"].pk}, "team"),
    ]
    for data, field in cases:
        error = assert_error(client.post(USERS, data, format="json"), 400, "validation_failed")
        assert field in error["fields"], (data, error)
    assert not User.objects.filter(email="x@a.test").exists()


def test_only_administrators_invite(tenant_a, api):
    for key in ("sales_manager", "sales_rep", "read_only"):
        response = api(tenant_a.users[key]).post(
            USERS, {"email": f"by-{key}@a.test", "role": tenant_a.role("sales_rep").pk}, format="json"
        )
        assert_error(response, 403, "permission_denied")
    assert not User.objects.filter(email__startswith="by-").exists()


def test_an_administrator_changes_role_and_team(tenant_a, tenant_b, api):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.admin)

    response = client.patch(
        f"{USERS}{rep.pk}/",
        {"role": tenant_a.role("sales_manager").pk, "team": None, "phone": "021-1234"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    rep.refresh_from_db()
    assert (rep.role.key, rep.team, rep.phone) == ("sales_manager", None, "021-1234")
    entry = AuditEntry.objects.filter(action="user.update", target_id=str(rep.pk)).latest("seq")
    assert entry.changes["role"]["after"] == tenant_a.role("sales_manager").pk
    error = assert_error(
        client.patch(f"{USERS}{rep.pk}/", {"team": tenant_b.teams["east"].pk}, format="json"), 400, "validation_failed"
    )
    assert "team" in error["fields"]


def test_users_edit_their_own_name_but_nobody_elses(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(rep)

    assert client.patch(f"{USERS}{rep.pk}/", {"name": "Me myself"}, format="json").status_code == 200
    assert_error(
        client.patch(f"{USERS}{rep.pk}/", {"role": tenant_a.role("administrator").pk}, format="json"),
        403,
        "permission_denied",
    )
    other = tenant_a.users["sales_rep_2"]
    assert_error(client.patch(f"{USERS}{other.pk}/", {"name": "Hacked"}, format="json"), 403, "permission_denied")
    other.refresh_from_db()
    assert other.name == "a rep two"


def test_an_administrator_cannot_change_their_own_role(tenant_a, api):
    admin = tenant_a.admin
    response = api(admin).patch(f"{USERS}{admin.pk}/", {"role": tenant_a.role("read_only").pk}, format="json")

    assert "role" in assert_error(response, 400, "validation_failed")["fields"]


def test_deactivate_and_reactivate(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.admin)

    response = client.post(f"{USERS}{rep.pk}/deactivate/")
    assert response.status_code == 200
    assert response.json()["status"] == "deactivated"
    rep.refresh_from_db()
    assert not rep.is_active

    response = client.post(f"{USERS}{rep.pk}/reactivate/")
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert (
        AuditEntry.objects.filter(target_id=str(rep.pk), action__in=["user.deactivate", "user.reactivate"]).count() == 2
    )


def test_nobody_deactivates_themselves_and_only_administrators_deactivate(tenant_a, api):
    admin = tenant_a.admin
    assert_error(api(admin).post(f"{USERS}{admin.pk}/deactivate/"), 400, "validation_failed")
    other = tenant_a.users["sales_rep_2"]
    assert_error(api(tenant_a.users["sales_manager"]).post(f"{USERS}{other.pk}/deactivate/"), 403, "permission_denied")
    other.refresh_from_db()
    assert other.is_active


def test_users_cannot_be_deleted_or_replaced(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    client = api(tenant_a.admin)

    assert_error(client.delete(f"{USERS}{rep.pk}/"), 405, "method_not_allowed")
    assert_error(client.put(f"{USERS}{rep.pk}/", {"name": "x"}, format="json"), 405, "method_not_allowed")
    assert User.objects.filter(pk=rep.pk).exists()
