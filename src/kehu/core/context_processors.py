"""What the shell (layout, navigation) needs on every page."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from kehu.core import modules
from kehu.core.fast_html import esc
from kehu.core.permissions import can

# The administration's pages in the navigation: (URL name, icon, label).
ADMINISTRATION = (
    ("admin_area:users", "person-badge", gettext_noop("Users")),
    ("admin_area:teams", "diagram-3", gettext_noop("Teams")),
    ("admin_area:roles", "shield-lock", gettext_noop("Roles")),
    ("admin_area:organization", "building-gear", gettext_noop("Organisation and modules")),
    ("audit:list", "journal-check", gettext_noop("Audit log")),
)


def navigation_for(user: Any) -> list[dict[str, Any]]:
    """The enabled modules the user may see, each with the pages the user's role allows."""
    sections = []
    for module in modules.all_modules():
        if module.always_on or not can(user, "view", module.key):
            continue
        items = []
        for item in module.nav:
            if not can(user, item.action, module.key):
                continue
            try:
                items.append({"label": item.label, "url": reverse(item.url_name), "icon": item.icon})
            except NoReverseMatch:
                continue
        if items:
            sections.append({"key": module.key, "label": module.label, "icon": module.icon, "items": items})
    return sections


def nav_html(sections: list[dict[str, Any]], *, path: str, is_org_admin: bool) -> SafeString:
    """The navigation's module sections and (for administrators) the administration, as base.html's loops wrote
    them (tests/core/test_layout.py keeps that template as the reference): built once per request in Python
    instead of a template loop of a dozen nodes per link on every page."""
    out = []
    for section in sections:
        out.append(
            f'\n        <li class="kehu-nav-section" data-module="{esc(section["key"])}"><i class="bi bi-'
            f'{esc(section["icon"])}"></i> {esc(section["label"])}</li>\n        '
        )
        for item in section["items"]:
            active = "active" if path == item["url"] else ""
            out.append(
                f'\n          <li class="nav-item"><a class="nav-link {active}" href="{esc(item["url"])}"><i class="bi bi-'
                f'{esc(item["icon"])}"></i> {esc(item["label"])}</a></li>\n        '
            )
        out.append("\n      ")
    out.append("\n      ")
    if is_org_admin:
        out.append(
            '\n        <li class="kehu-nav-section" data-module="platform"><i class="bi bi-gear"></i> '
            f"{esc(gettext('Administration'))}</li>"
        )
        for url_name, icon, label in ADMINISTRATION:
            out.append(
                f'\n        <li class="nav-item"><a class="nav-link" href="{esc(reverse(url_name))}"><i class="bi bi-{icon}">'
                f"</i> {esc(gettext(label))}</a></li>"
            )
        out.append("\n      ")
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped


NO_NAVIGATION = mark_safe("\n      ")  # what the loops wrote with no sections and no administration


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organization_id is None:
        return {"csp_nonce": getattr(request, "csp_nonce", ""), "nav_html": NO_NAVIGATION}
    # Once per request and user: a page that renders blocks of other modules with the request (the customer's
    # panels) runs the context processors for each block, and the navigation is dozens of permission checks.
    memo = request.__dict__.setdefault("_kehu_shell", {})
    if user.pk not in memo:
        memo[user.pk] = _shell_for(request, user)
    return memo[user.pk]


def _shell_for(request: HttpRequest, user: Any) -> dict[str, Any]:
    sections = navigation_for(user)
    is_org_admin = can(user, "administer", modules.PLATFORM)
    return {
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "nav_sections": sections,
        "nav_html": nav_html(sections, path=request.path, is_org_admin=is_org_admin),
        "is_org_admin": is_org_admin,
        "organization": user.organization,
        # Set by kehu.accounts.middleware during a support session: base.html shows a banner.
        "support_grant": getattr(request, "support_grant", None),
    }
