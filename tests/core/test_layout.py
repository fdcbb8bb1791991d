"""The layout's navigation, written in Python (kehu.core.context_processors.nav_html), is byte for byte what
base.html's template loops gave: the reference below is that template text, kept here."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import engines
from django.test import Client, RequestFactory
from django.utils import translation

from kehu.core.context_processors import NO_NAVIGATION, nav_html, navigation_for
from kehu.core.permissions import can
from tests.conftest import ROLE_KEYS

pytestmark = pytest.mark.django_db

REFERENCE = """{% load i18n %}{% for section in nav_sections %}
        <li class="kehu-nav-section" data-module="{{ section.key }}"><i class="bi bi-{{ section.icon }}"></i> {{ section.label }}</li>
        {% for item in section.items %}
          <li class="nav-item"><a class="nav-link {% if request.path == item.url %}active{% endif %}" href="{{ item.url }}"><i class="bi bi-{{ item.icon }}"></i> {{ item.label }}</a></li>
        {% endfor %}
      {% endfor %}
      {% if is_org_admin %}
        <li class="kehu-nav-section" data-module="platform"><i class="bi bi-gear"></i> {% translate "Administration" %}</li>
        <li class="nav-item"><a class="nav-link" href="{% url 'admin_area:users' %}"><i class="bi bi-person-badge"></i> {% translate "Users" %}</a></li>
        <li class="nav-item"><a class="nav-link" href="{% url 'admin_area:teams' %}"><i class="bi bi-diagram-3"></i> {% translate "Teams" %}</a></li>
        <li class="nav-item"><a class="nav-link" href="{% url 'admin_area:roles' %}"><i class="bi bi-shield-lock"></i> {% translate "Roles" %}</a></li>
        <li class="nav-item"><a class="nav-link" href="{% url 'admin_area:organization' %}"><i class="bi bi-building-gear"></i> {% translate "Organisation and modules" %}</a></li>
        <li class="nav-item"><a class="nav-link" href="{% url 'audit:list' %}"><i class="bi bi-journal-check"></i> {% translate "Audit log" %}</a></li>
      {% endif %}"""


def reference(sections: list, *, path: str, is_org_admin: Any) -> str:
    request = RequestFactory().get(path)
    template = engines["django"].from_string(REFERENCE)
    return template.render({"nav_sections": sections, "is_org_admin": is_org_admin, "request": request})


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_navigation_is_the_template_loops(tenant_a: Any, language: str) -> None:
    with translation.override(language):
        for key in ROLE_KEYS:
            user = tenant_a.users[key]
            sections = navigation_for(user)
            is_admin = can(user, "administer", "platform")
            paths = ["/", "/nowhere/", *[item["url"] for section in sections for item in section["items"]]]
            for path in paths:
                assert nav_html(sections, path=path, is_org_admin=is_admin) == reference(
                    sections, path=path, is_org_admin=is_admin
                ), (key, path)
    assert reference([], path="/", is_org_admin=None) == NO_NAVIGATION


def test_navigation_escapes_its_values() -> None:
    sections = [
        {"key": "x<", "label": "<b>&", "icon": 'a"b', "items": [{"label": "<i>", "url": "/a?b=1&c=2", "icon": "<"}]}
    ]
    expected = reference(sections, path="/a", is_org_admin=True)
    assert nav_html(sections, path="/a", is_org_admin=True) == expected
    assert "<b>" not in expected


def test_pages_show_the_navigation(tenant_a: Any) -> None:
    client = Client()
    client.force_login(tenant_a.admin)
    html = client.get("/customers/").content.decode()
    assert 'class="nav-link active" href="/customers/"' in html
    assert 'data-module="platform"' in html and 'href="/audit/"' in html
    client.force_login(tenant_a.users["sales_rep"])
    html = client.get("/customers/").content.decode()
    assert 'data-module="customers"' in html and 'data-module="platform"' not in html


def test_navigation_follows_role_modules_and_language(tenant_a: Any) -> None:
    """The navigation is kept per everything it is made of: a role's new grants, the organisation's modules and
    the user's language show on the next page without any invalidation."""
    rep = tenant_a.users["sales_rep"]
    client = Client()
    client.force_login(rep)
    assert 'data-module="customers"' in client.get("/customers/").content.decode()
    role = tenant_a.role("sales_rep")
    role.permissions = {**role.permissions, "service": {"actions": ["view"], "scope": "own"}}
    role.save(update_fields=["permissions"])
    org = tenant_a.org
    if "service" not in org.enabled_modules:
        org.enabled_modules = [*org.enabled_modules, "service"]
        org.save(update_fields=["enabled_modules"])
    html = client.get("/customers/").content.decode()
    assert 'data-module="service"' in html
    org.enabled_modules = [m for m in org.enabled_modules if m != "service"]
    org.save(update_fields=["enabled_modules"])
    html = client.get("/customers/").content.decode()
    assert 'data-module="service"' not in html and 'data-module="customers"' in html
    rep.language = "en"
    rep.save(update_fields=["language"])
    english = client.get("/customers/").content.decode()
    rep.language = "zh-hans"
    rep.save(update_fields=["language"])
    chinese = client.get("/customers/").content.decode()
    assert english != chinese
    for html, language in ((english, "en"), (chinese, "zh-hans")):
        with translation.override(language):
            user = type(rep).objects.get(pk=rep.pk)
            expected = nav_html(navigation_for(user), path="/customers/", is_org_admin=False)
        assert expected in html
