"""What the shell (layout, navigation) needs on every page."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from kehu.core import modules
from kehu.core.permissions import can


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


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organization_id is None:
        return {"csp_nonce": getattr(request, "csp_nonce", "")}
    # Once per request and user: a page that renders blocks of other modules with the request (the customer's
    # panels) runs the context processors for each block, and the navigation is dozens of permission checks.
    memo = request.__dict__.setdefault("_kehu_shell", {})
    if user.pk not in memo:
        memo[user.pk] = _shell_for(request, user)
    return memo[user.pk]


def _shell_for(request: HttpRequest, user: Any) -> dict[str, Any]:
    return {
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "nav_sections": navigation_for(user),
        "is_org_admin": can(user, "administer", modules.PLATFORM),
        "organization": user.organization,
        # Set by kehu.accounts.middleware during a support session: base.html shows a banner.
        "support_grant": getattr(request, "support_grant", None),
    }
