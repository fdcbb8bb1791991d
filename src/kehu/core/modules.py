"""The module registry. Each module declares what it adds; the shell and the checks read only this.

Modules are what the licence sells: an organisation enables some of them, and a module that is not
enabled is absent from the navigation while its pages and API answer 403 `module_not_enabled`.
"""

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ModuleNotEnabled

PLATFORM = "platform"


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    icon: str = "circle"
    action: str = "view"  # the permission in this module the item needs


@dataclass(frozen=True)
class Module:
    key: str
    label: str | Promise
    icon: str
    order: int = 100
    nav: tuple[NavItem, ...] = ()
    always_on: bool = False
    # Actions a role can be granted in this module, in the order the role editor shows them.
    actions: tuple[str, ...] = ("view", "create", "edit", "delete", "export", "assign", "administer")
    search_providers: list = field(default_factory=list, compare=False)


_registry: dict[str, Module] = {}


def register(module: Module) -> Module:
    _registry[module.key] = module
    return module


def get(key: str) -> Module:
    return _registry[key]


def all_modules() -> list[Module]:
    return sorted(_registry.values(), key=lambda m: (m.order, m.key))


def licensable_modules() -> list[Module]:
    return [m for m in all_modules() if not m.always_on]


def is_enabled(organization, key: str) -> bool:
    module = _registry.get(key)
    if module is None:
        return False
    if module.always_on:
        return True
    return organization is not None and key in (organization.enabled_modules or [])


def require_module(organization, key: str) -> None:
    if not is_enabled(organization, key):
        raise ModuleNotEnabled()


register(
    Module(
        key=PLATFORM,
        label=_("Administration"),
        icon="gear",
        order=1000,
        always_on=True,
        actions=("view", "administer"),
    )
)
