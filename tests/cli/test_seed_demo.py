from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command

from kehu.accounts.models import Organization, Team, User
from kehu.accounts.roles import DEFAULT_ROLES
from kehu.core import audit, demo, modules
from kehu.core.models import AuditEntry, Notification

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def login_block(output: str) -> str:
    return output[output.index("Demo organisation") :]


@pytest.fixture
def hook_calls():
    """A demo hook as another module would register one; removed again afterwards."""
    calls = []

    def tag_admin(ctx: demo.DemoContext) -> None:
        calls.append(ctx)
        if not Notification.objects.filter(recipient=ctx.admin, title="hook ran").exists():
            Notification.objects.create(organization=ctx.organization, recipient=ctx.admin, title="hook ran")
            ctx.created("hook notification")

    demo.register(tag_admin, order=5)
    yield calls
    demo._hooks[:] = [h for h in demo._hooks if h[2] is not tag_admin]


def test_it_builds_the_demo_organisation(hook_calls):
    out = seed()
    org = Organization.objects.get(name="示例科技有限公司")
    assert org.enabled_modules == sorted(m.key for m in modules.licensable_modules())

    teams = {t.name: t for t in Team.objects.filter(organization=org)}
    assert set(teams) == {"销售部", "华东销售组", "华南销售组", "客服部", "市场部"}
    assert teams["华东销售组"].parent == teams["销售部"] and teams["华南销售组"].parent == teams["销售部"]
    assert teams["华东销售组"].path.startswith(teams["销售部"].path)

    users = User.objects.filter(organization=org)
    assert {u.role.key for u in users} == set(DEFAULT_ROLES)  # one user per default role
    admin = users.get(email="admin@demo.kehu.cn")
    assert admin.role.key == "administrator" and admin.name == "王晓明"
    assert users.get(email="sales_manager@demo.kehu.cn").team == teams["销售部"]
    assert teams["销售部"].manager.email == "sales_manager@demo.kehu.cn"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in u.name) for u in users)  # Chinese names

    assert authenticate(email="admin@demo.kehu.cn", password=demo.PASSWORD) == admin
    assert "admin@demo.kehu.cn" in out and demo.PASSWORD in out and "sales_manager@demo.kehu.cn" in out
    assert Notification.objects.filter(recipient=admin).count() >= 2
    assert audit.verify() == []
    assert len(hook_calls) == 1 and hook_calls[0].organization == org
    assert set(hook_calls[0].users) >= set(DEFAULT_ROLES)


def test_a_second_run_changes_nothing_and_prints_the_same_login(hook_calls):
    first = seed()
    counts, entries = row_counts(), AuditEntry.objects.count()
    second = seed()
    assert row_counts() == counts and AuditEntry.objects.count() == entries
    assert "nothing changed" in second
    assert login_block(second) == login_block(first)
    assert len(hook_calls) == 2  # hooks run every time and keep themselves idempotent


def test_it_fills_in_what_was_removed():
    seed()
    User.objects.filter(email="read_only@demo.kehu.cn").delete()
    org = Organization.objects.get(name="示例科技有限公司")
    org.enabled_modules = ["customers"]
    org.save()
    out = seed()
    assert "new records" in out
    assert User.objects.filter(email="read_only@demo.kehu.cn", is_active=True).exists()
    org.refresh_from_db()
    assert set(org.enabled_modules) == {m.key for m in modules.licensable_modules()}


def test_register_works_as_a_decorator_and_orders_hooks():
    @demo.register(order=2)
    def second(ctx):
        return None

    @demo.register
    def third(ctx):
        return None

    @demo.register(order=1)
    def first(ctx):
        return None

    try:
        ours = [h for h in demo.hooks() if h in (first, second, third)]
        assert ours == [first, second, third]
        demo.register(first, order=1)  # registering again keeps one entry
        assert demo.hooks().count(first) == 1
    finally:
        demo._hooks[:] = [h for h in demo._hooks if h[2] not in (first, second, third)]
