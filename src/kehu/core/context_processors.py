"""What the shell (layout, navigation) needs on every page."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation
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


def _nav_pieces(sections: list[dict[str, Any]], *, is_org_admin: bool) -> tuple[list[tuple[str, str | None]], str]:
    """The navigation's HTML as (text, URL) pieces and a tail: each text is followed by "active" when the URL
    is the request's path (a link's class), so the pieces serve every page of the same user kind."""
    pieces: list[tuple[str, str | None]] = []
    text = ""
    for section in sections:
        text += (
            f'\n        <li class="kehu-nav-section" data-module="{esc(section["key"])}"><i class="bi bi-'
            f'{esc(section["icon"])}"></i> {esc(section["label"])}</li>\n        '
        )
        for item in section["items"]:
            pieces.append((f'{text}\n          <li class="nav-item"><a class="nav-link ', item["url"]))
            text = (
                f'" href="{esc(item["url"])}"><i class="bi bi-{esc(item["icon"])}"></i> {esc(item["label"])}</a></li>'
                "\n        "
            )
        text += "\n      "
    text += "\n      "
    if is_org_admin:
        text += (
            '\n        <li class="kehu-nav-section" data-module="platform"><i class="bi bi-gear"></i> '
            f"{esc(gettext('Administration'))}</li>"
        )
        for url_name, icon, label in ADMINISTRATION:
            text += (
                f'\n        <li class="nav-item"><a class="nav-link" href="{esc(reverse(url_name))}"><i class="bi bi-{icon}">'
                f"</i> {esc(gettext(label))}</a></li>"
            )
        text += "\n      "
    return pieces, text


def _nav_join(pieces: list[tuple[str, str | None]], tail: str, path: str) -> SafeString:
    return mark_safe("".join(text + ("active" if url == path else "") for text, url in pieces) + tail)  # noqa: S308


def nav_html(sections: list[dict[str, Any]], *, path: str, is_org_admin: bool) -> SafeString:
    """The navigation's module sections and (for administrators) the administration, as base.html's loops wrote
    them (tests/core/test_layout.py keeps that template as the reference), written in Python: a template loop
    of a dozen nodes per link on every page."""
    pieces, tail = _nav_pieces(sections, is_org_admin=is_org_admin)
    return _nav_join(pieces, tail, path)


# The navigation (sections, and its HTML in pieces) per everything it is made of: the user's kind (active,
# support actor, administrator), the organisation's modules, the user's grant for each module, the URL
# configuration and the language. A change of any of them is a new key, so nothing needs invalidating; the
# memo is bounded (distinct roles times module sets times languages) and emptied when full.
_NAV_MEMO: dict[tuple, tuple[list[dict[str, Any]], list[tuple[str, str | None]], str]] = {}
NAV_MEMO_SIZE = 1024


def _navigation_key(user: Any, is_org_admin: bool) -> tuple:
    organization = user.organization
    return (
        type(user),
        bool(user.is_active),
        bool(getattr(user, "is_support_actor", False)),
        is_org_admin,
        tuple(organization.enabled_modules or ()) if organization is not None else None,
        tuple(user.grant_for(module.key) for module in modules.all_modules()),
        get_script_prefix(),
        get_urlconf(),
        translation.get_language(),
    )


def _navigation(user: Any, is_org_admin: bool) -> tuple[list[dict[str, Any]], list[tuple[str, str | None]], str]:
    key = _navigation_key(user, is_org_admin)
    entry = _NAV_MEMO.get(key)
    if entry is None:
        sections = navigation_for(user)
        entry = (sections, *_nav_pieces(sections, is_org_admin=is_org_admin))
        if len(_NAV_MEMO) >= NAV_MEMO_SIZE:
            _NAV_MEMO.clear()
        _NAV_MEMO[key] = entry
    return entry


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
    is_org_admin = can(user, "administer", modules.PLATFORM)
    sections, pieces, tail = _navigation(user, is_org_admin)
    return {
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "nav_sections": sections,  # shared by the requests of the same navigation: read, never change
        "nav_html": _nav_join(pieces, tail, request.path),
        "is_org_admin": is_org_admin,
        "organization": user.organization,
        # Set by kehu.accounts.middleware during a support session: base.html shows a banner.
        "support_grant": getattr(request, "support_grant", None),
    }
