"""`can()` and `visible_to()` on the platform records; module records are covered by their modules."""

from kehu.accounts.models import ApiToken, Role, Team, User
from kehu.core import modules
from kehu.core.models import scope_filter
from kehu.core.permissions import Scope, can


def test_administrators_administer_and_others_only_view(tenant_a):
    admin, rep = tenant_a.admin, tenant_a.users["sales_rep"]
    assert can(admin, "administer", modules.PLATFORM)
    assert can(admin, "edit", rep)
    assert not can(rep, "administer", modules.PLATFORM)
    assert can(rep, "view", admin)
    assert not can(rep, "edit", admin)


def test_nothing_of_another_organization_is_visible_or_changeable(tenant_a, tenant_b):
    admin_a = tenant_a.admin
    for model in (User, Team, Role):
        assert not model.objects.visible_to(admin_a).filter(organization=tenant_b.org).exists()
    assert not can(admin_a, "view", tenant_b.admin)
    assert not can(admin_a, "edit", tenant_b.admin)


def test_it_fails_closed(tenant_a):
    rep = tenant_a.users["sales_rep"]
    assert User.objects.visible_to(None).count() == 0
    rep.is_active = False
    assert not can(rep, "view", modules.PLATFORM)
    staff = User.objects.create_superuser("vendor@kehu.test", "pw")
    assert not can(staff, "view", modules.PLATFORM)
    assert User.objects.visible_to(staff).count() == 0


def test_disabled_modules_grant_nothing(tenant_a):
    manager = tenant_a.users["sales_manager"]
    assert can(manager, "view", "sales")
    tenant_a.org.enabled_modules = ["customers"]
    tenant_a.org.save()
    manager.refresh_from_db()
    assert not can(manager, "view", "sales")
    assert can(manager, "view", "customers")
    assert can(manager, "view", modules.PLATFORM)  # the platform is always on


def test_scope_filters_follow_the_team_tree(tenant_a):
    rep, manager = tenant_a.users["sales_rep"], tenant_a.users["sales_manager"]
    east_members = set(
        User.objects.filter(scope_filter(rep, Scope.TEAM, owner_field="")).values_list("email", flat=True)
    )
    assert east_members == {"sales_rep@a.test", "sales_rep_2@a.test"}
    tree = set(
        User.objects.filter(scope_filter(manager, Scope.TEAM_TREE, owner_field="")).values_list("email", flat=True)
    )
    assert {"sales_rep@a.test", "sales_manager@a.test"} <= tree
    assert set(User.objects.filter(scope_filter(rep, Scope.OWN, owner_field="")).values_list("pk", flat=True)) == {
        rep.pk
    }


def test_everyone_manages_only_their_own_tokens(tenant_a):
    from kehu.accounts import selectors, services

    rep, rep2 = tenant_a.users["sales_rep"], tenant_a.users["sales_rep_2"]
    token, _ = services.token_create(actor=rep2)
    assert can(rep2, "edit", token)
    assert not can(rep, "edit", token)
    assert list(selectors.token_list_for(actor=rep)) == []
    assert list(selectors.token_list_for(actor=tenant_a.admin)) == [token]
    assert ApiToken.objects.visible_to(rep).count() == 1  # the tenant boundary; the selector narrows further
