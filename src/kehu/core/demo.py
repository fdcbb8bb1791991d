"""The demo organisation that `kehu seed_demo` (and so `make run`) builds: 示例科技有限公司.

Building is idempotent: every step looks before it creates, so a second run changes nothing and the
demo users keep their password. Modules add their own demo data through hooks:

    # kehu/customers/demo.py (imported automatically) or in the app's ready()
    from kehu.core import demo

    @demo.register(order=10)
    def customers(ctx: demo.DemoContext) -> None:
        if not Customer.objects.filter(organization=ctx.organization).exists():
            ...  # create through the module's services, as ctx.users["sales_rep"] or ctx.admin
            ctx.created("12 customers")

Hooks run in `order` (customers 10 before sales 20, say), inside the same transaction as the
organisation and users, and must be idempotent themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from kehu.accounts import services as account_services
from kehu.accounts.models import Organization, Role, Team, User
from kehu.accounts.roles import DEFAULT_ROLES
from kehu.core import modules
from kehu.core.models import Notification
from kehu.core.notifications import notify

ORG_NAME = "示例科技有限公司"
DOMAIN = "demo.kehu.cn"
PASSWORD = "Kehu-demo-2026"  # a demo on a laptop: fixed, so the login printed never changes
ADMIN_EMAIL = f"admin@{DOMAIN}"

# Teams (departments) as (name, parent name). Parents come first.
TEAMS: list[tuple[str, str | None]] = [
    ("销售部", None),
    ("华东销售组", "销售部"),
    ("华南销售组", "销售部"),
    ("客服部", None),
    ("市场部", None),
]

# Users as key -> (email local part, name, role key, team name). One per default role, plus a second
# sales rep in another team so that "own" and "team" data scopes show a difference.
USERS: dict[str, tuple[str, str, str, str | None]] = {
    "administrator": ("admin", "王晓明", "administrator", None),
    "sales_manager": ("sales_manager", "李娜", "sales_manager", "销售部"),
    "sales_rep": ("sales_rep", "张伟", "sales_rep", "华东销售组"),
    "sales_rep_2": ("sales_rep_2", "陈静", "sales_rep", "华南销售组"),
    "marketer": ("marketer", "刘洋", "marketer", "市场部"),
    "service_agent": ("service_agent", "赵敏", "service_agent", "客服部"),
    "service_manager": ("service_manager", "孙浩", "service_manager", "客服部"),
    "analyst": ("analyst", "周婷", "analyst", None),
    "read_only": ("read_only", "吴磊", "read_only", None),
}

TEAM_MANAGERS = {"销售部": "sales_manager", "客服部": "service_manager"}

# (user key, title, body): a few unread notifications so the bell is not empty.
NOTIFICATIONS: list[tuple[str, str, str]] = [
    (
        "administrator",
        "欢迎使用 Kehu 客户管理系统",
        "这是演示数据：随意浏览、修改和删除，重新运行 seed_demo 会补齐缺少的数据。",
    ),
    ("administrator", "李娜 加入了 示例科技有限公司", "销售经理李娜已加入销售部。"),
    ("sales_manager", "华东销售组本周新增 3 条线索", "请及时分配给组内销售。"),
    ("sales_rep", "李娜 给你分配了一个新任务", "本周五前回访上海云帆贸易有限公司。"),
    ("service_agent", "你有 2 个工单即将超时", "请在今天 18:00 前回复客户。"),
]


@dataclass
class DemoContext:
    """What hooks get: the demo organisation, its users by key, its teams by name."""

    organization: Organization
    admin: User
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    password: str = PASSWORD
    changes: list[str] = field(default_factory=list)

    def created(self, what: str) -> None:
        """Report something a step created; an empty list after a run means nothing changed."""
        self.changes.append(what)


Hook = Callable[[DemoContext], Any]
_hooks: list[tuple[int, str, Hook]] = []


def register(hook: Hook | None = None, *, order: int = 100) -> Any:
    """Add a demo-data step; usable as `register(fn)`, `@register` or `@register(order=10)`.

    Registering the same function twice (a module imported again) keeps one entry.
    """

    def add(fn: Hook) -> Hook:
        name = f"{fn.__module__}.{fn.__qualname__}"
        _hooks[:] = [h for h in _hooks if h[1] != name]
        _hooks.append((order, name, fn))
        return fn

    return add(hook) if hook is not None else add


def hooks() -> list[Hook]:
    return [fn for _, _, fn in sorted(_hooks, key=lambda h: (h[0], h[1]))]


def _organization(ctx_changes: list[str]) -> tuple[Organization, User]:
    org = Organization.objects.filter(name=ORG_NAME).first()
    every_module = sorted(m.key for m in modules.licensable_modules())
    if org is None:
        org = account_services.organization_create(
            actor=None,
            name=ORG_NAME,
            admin_email=ADMIN_EMAIL,
            admin_password=PASSWORD,
            admin_name=USERS["administrator"][1],
            modules_enabled=every_module,
        )
        ctx_changes.append(f"organisation {ORG_NAME}")
    admin = User.objects.filter(email=ADMIN_EMAIL).first()
    if admin is None:
        admin = account_services.user_create(
            actor=None,
            organization=org,
            email=ADMIN_EMAIL,
            password=PASSWORD,
            role=org.roles.get(key="administrator"),
            name=USERS["administrator"][1],
        )
        ctx_changes.append(ADMIN_EMAIL)
    missing = set(every_module) - set(org.enabled_modules or [])
    if missing:  # modules added to Kehu after the demo was first built
        account_services.organization_update(
            actor=admin, organization=org, data={"enabled_modules": sorted(set(org.enabled_modules) | missing)}
        )
        ctx_changes.append(f"modules {', '.join(sorted(missing))}")
    return org, admin


def _teams(ctx: DemoContext) -> None:
    for name, parent_name in TEAMS:
        parent = ctx.teams.get(parent_name) if parent_name else None
        team = Team.objects.filter(organization=ctx.organization, name=name, parent=parent).first()
        if team is None:
            team = account_services.team_create(actor=ctx.admin, name=name, parent=parent)
            ctx.created(f"team {name}")
        ctx.teams[name] = team


def _users(ctx: DemoContext) -> None:
    spec = dict(USERS)
    for role_key in DEFAULT_ROLES:  # a role added to Kehu later still gets its demo user
        if not any(s[2] == role_key for s in spec.values()):
            spec[role_key] = (role_key, role_key, role_key, None)
    roles = {r.key: r for r in Role.objects.filter(organization=ctx.organization)}
    for key, (local, name, role_key, team_name) in spec.items():
        email = f"{local}@{DOMAIN}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = account_services.user_create(
                actor=ctx.admin,
                organization=ctx.organization,
                email=email,
                password=ctx.password,
                role=roles[role_key],
                name=name,
                team=ctx.teams.get(team_name) if team_name else None,
            )
            ctx.created(f"user {email}")
        ctx.users[key] = user
    for team_name, user_key in TEAM_MANAGERS.items():
        team = ctx.teams[team_name]
        if team.manager_id is None:
            account_services.team_update(actor=ctx.admin, team=team, data={"manager": ctx.users[user_key]})
            ctx.created(f"manager of {team_name}")


def _notifications(ctx: DemoContext) -> None:
    for user_key, title, body in NOTIFICATIONS:
        user = ctx.users[user_key]
        if not Notification.objects.filter(organization=ctx.organization, recipient=user, title=title).exists():
            notify(recipient=user, title=title, body=body)
            ctx.created(f"notification for {user.email}")


@transaction.atomic
def build() -> DemoContext:
    """Create what is missing of the demo organisation; return it with the list of what was created."""
    autodiscover_modules("demo")  # kehu.<module>.demo files register their hooks on import
    changes: list[str] = []
    org, admin = _organization(changes)
    ctx = DemoContext(organization=org, admin=admin, users={"administrator": admin}, changes=changes)
    _teams(ctx)
    _users(ctx)
    _notifications(ctx)
    for hook in hooks():
        hook(ctx)
    return ctx
