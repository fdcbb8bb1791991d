"""The activity panel of sales pages: `{% load activity_tags %}{% activity_panel lead=lead %}` (or
`opportunity=opportunity`); the customer's page gets the same panel through kehu.customers.panels
(activity_views.customer_panel, registered in apps.py). It shows the record's planned activities with quick complete,
the latest done ones, a quick log form and links to plan one or see all; it renders nothing for a user
without sales (or without `view` on activities).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from kehu.core.permissions import can
from kehu.sales import activity_selectors as selectors
from kehu.sales.activity_models import Activity

register = template.Library()

PANEL_OPEN_LIMIT = 10
PANEL_RECENT_LIMIT = 5


def panel_context(
    request: Any, *, customer: Any = None, lead: Any = None, opportunity: Any = None, here: str = ""
) -> dict[str, Any]:
    """`here`: the page the panel is on (where its forms return), when it is not the request's own path (a
    panel loaded by htmx after its page)."""
    from kehu.sales.activity_forms import QuickLogForm
    from kehu.sales.activity_views import _mark

    actor = request.user
    if not can(actor, "view", Activity):
        return {"show": False}
    links = {k: v for k, v in (("customer", customer), ("lead", lead), ("opportunity", opportunity)) if v is not None}
    # One record per panel: the most specific one (an opportunity's panel is not its customer's).
    name, record = next(((k, links[k]) for k in ("opportunity", "lead", "customer") if k in links), (None, None))
    if record is None:
        return {"show": False}
    # A customer as its page read it: visibility asked of its row once (ActivityQuerySet.visible_on_customer).
    activities = selectors.activities_for(actor=actor, **{name: record})
    planned = activities.filter(status=Activity.Status.PLANNED).order_by("scheduled_at", "pk")
    open_activities = _mark(actor, _rows(planned[:PANEL_OPEN_LIMIT], name, record))
    recent = _rows(
        activities.exclude(status=Activity.Status.PLANNED).order_by("-done_at", "-scheduled_at", "-pk")[
            :PANEL_RECENT_LIMIT
        ],
        name,
        record,
    )
    can_create = can(actor, "create", Activity) and can(actor, "view", record)
    if not here:
        here = request.get_full_path() if request.method == "GET" else request.POST.get("next", "")
    query = urlencode({name: record.pk, "next": here})
    return {
        "show": True,
        "panel_name": name,
        "panel_record": record,
        "open_activities": open_activities,
        "recent_activities": recent,
        "can_create": can_create,
        "log_form": QuickLogForm(actor=actor, fixed={name: record}, initial={name: record.pk, "next": here})
        if can_create
        else None,
        "plan_url": f"{reverse('sales:activity_create')}?{query}",
        "all_url": f"{reverse('sales:activity_list')}?{urlencode({name: record.pk})}",
        "request": request,
        "here": here,
        "org_tz": selectors.org_timezone(actor.organization),
    }


# What a compact row (kehu.sales.activity_rows) and the edit policy read of an activity, besides its links: every
# column of five tables cost more Python, and more PostgreSQL planning, than the rows themselves.
_ROW_FIELDS = ("organization_id", "kind", "subject", "status", "scheduled_at", "outcome", "owner__team__path")
_LINK_FIELDS = {"customer": "deleted_at", "lead": "deleted_at", "opportunity": "deleted_at", "contact": "name"}


def _rows(qs: Any, name: str, record: Any) -> list[Activity]:
    """The panel's activities with what their rows and the policy read: the owner's team (scope "team and
    sub-teams"), without a query per owner; whether each linked record is live; the contact's name. The record
    of the panel is at hand, not joined again."""
    related = [r for r in selectors.RELATED if r != name and r != "owner"]
    fields = [*_ROW_FIELDS, *(f"{r}__{_LINK_FIELDS[r]}" for r in related)]
    rows = list(qs.select_related(None).select_related("owner__team", *related).only(*fields))
    for activity in rows:
        setattr(activity, name, record)
    return rows


@register.inclusion_tag("sales/activity/_panel.html", takes_context=True)
def activity_panel(context: template.Context, customer: Any = None, lead: Any = None, opportunity: Any = None) -> dict:
    request = context.get("request")
    if request is None:
        return {"show": False}
    result = panel_context(request, customer=customer, lead=lead, opportunity=opportunity)
    result["csrf_token"] = context.get("csrf_token")
    return result


@register.inclusion_tag("sales/activity/_log_button.html", takes_context=True)
def activity_log_button(
    context: template.Context, customer: Any = None, lead: Any = None, opportunity: Any = None
) -> dict:
    """A "Log activity" button for a record page's header (nothing for users who may not create one)."""
    request = context.get("request")
    if request is None:
        return {"url": ""}
    return {"url": log_button_url(request, customer=customer, lead=lead, opportunity=opportunity)}


def log_button_url(request: Any, *, customer: Any = None, lead: Any = None, opportunity: Any = None) -> str:
    """The URL of the "Log activity" form for the record, or "" for a user who may not create one."""
    record = opportunity or lead or customer
    if record is None or not can(request.user, "create", Activity):
        return ""
    name = "opportunity" if opportunity else "lead" if lead else "customer"
    query = urlencode({name: record.pk, "status": Activity.Status.DONE, "next": request.get_full_path()})
    return f"{reverse('sales:activity_create')}?{query}"


@register.simple_tag(takes_context=True)
def activity_rows(context: template.Context, activities: Any) -> str:
    """The rows of a list of activities (sales/activity/_list.html), built in Python: kehu.sales.activity_rows."""
    from kehu.sales.activity_rows import renderer_from_context

    return renderer_from_context(context).rows(list(activities))


@register.simple_tag(takes_context=True)
def activity_row(context: template.Context, activity: Any) -> str:
    """One row (sales/activity/_row.html: the answer to a quick complete), with the context's `note`."""
    from kehu.sales.activity_rows import renderer_from_context

    return renderer_from_context(context).row(activity, note=context.get("note") or "")
