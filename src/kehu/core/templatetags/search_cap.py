"""The notice of a searched list that shows only its capped matches, one implementation for every list page with
a search (customers, opportunities, leads): `{% load search_cap %}` then `{% search_cap_notice page "sales.lead" %}`
where the list's rows begin. It shows when the selector capped the page (Page.capped_at: sorted by anything but
last updated, the search matched more than core.search_backends.LIST_LIMIT records) and says how to see them all.
The API says the same in its `capped_at` field (core.api.searched_list_envelope)."""

from __future__ import annotations

from typing import Any

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist

register = template.Library()


@register.inclusion_tag("core/_search_cap.html", takes_context=True)
def search_cap_notice(context: template.Context, page: Any, model: str) -> dict[str, Any]:
    """`model` ("app_label.Model") names the sort column's label; the link keeps the filters and drops the cursor."""
    capped_at = getattr(page, "capped_at", None)
    if not capped_at:
        return {"capped_at": None}
    name = (page.ordering or "").lstrip("-")
    try:
        label = apps.get_model(model)._meta.get_field(name).verbose_name
    except (LookupError, FieldDoesNotExist):
        label = name
    request = context.get("request")
    query = request.GET.copy() if request is not None else None
    recent = ""
    if query is not None:
        query.pop("cursor", None)
        query["ordering"] = "-updated_at"
        recent = f"?{query.urlencode()}"
    return {"capped_at": capped_at, "field": label, "recent": recent}
