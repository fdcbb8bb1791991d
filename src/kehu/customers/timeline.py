"""The customer timeline's one extension point.

A module that has something to show on a customer's timeline (activities, orders, payments, tickets,
emails) registers a provider once, in its AppConfig.ready():

    from kehu.customers import timeline
    timeline.register(my_provider, module="sales")

`my_provider(*, actor, customer, limit, before)` returns at most `limit` TimelineItems of that customer
that happened before `before` (a datetime, or None for "up to now"), newest first, and only what
`actor` may see. The timeline merges every provider whose module the actor may view.

Most customers have nothing of most modules (no quotes, no tickets, no imports), yet each provider costs a
query or three. So a provider may name its rows with `exists`, a function of (organization id, customer id)
that returns a queryset of rows, whatever their visibility, without which it has nothing to show:

    timeline.register(my_provider, module="sales",
                      exists=lambda org, customer: Order.objects.filter(organization_id=org, customer_id=customer))

The timeline asks all of them in one statement (an EXISTS each, folded into the customer's own query when
the view loaded it with `presence()`) and calls only the providers whose rows exist. The queryset only has
to be a superset of what the provider could show: the provider still applies visibility itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.db import connection
from django.db.models import BooleanField, Exists, QuerySet
from django.db.models.expressions import RawSQL
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from kehu.core.permissions import can


@dataclass(frozen=True)
class TimelineChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # a stable key, e.g. "customer.update", "activity.call", "order.paid"
    title: str
    actor: str = ""
    body: str = ""
    url: str = ""
    icon: str = "clock-history"
    changes: tuple[TimelineChange, ...] = field(default=())
    module: str = "customers"


Provider = Callable[..., Iterable[TimelineItem]]
Probe = Callable[[Any, Any], QuerySet]  # (organization id, customer id) -> the rows the provider needs


@dataclass(frozen=True)
class _Registration:
    key: str
    module: str
    provider: Provider
    exists: Probe | None = None
    flag: str = ""  # the name of its EXISTS on the customer's row (presence()): short, a column alias


_registry: dict[str, _Registration] = {}
_flags = itertools.count()


def register(provider: Provider, *, module: str, exists: Probe | None = None) -> Provider:
    """Add `provider` for records of `module`; registering the same function again replaces it. `exists`:
    see the module's docstring (without it the provider is always called)."""
    key = f"{provider.__module__}.{provider.__qualname__}"
    flag = _registry[key].flag if key in _registry else f"timeline_has_{next(_flags)}"
    for compiled in [k for k in _compiled if k[0] == key]:
        del _compiled[compiled]
    _registry[key] = _Registration(key=key, module=module, provider=provider, exists=exists, flag=flag)
    return provider


def providers() -> list[_Registration]:
    return list(_registry.values())


def _shown(actor: Any) -> list[_Registration]:
    return [registration for registration in _registry.values() if can(actor, "view", registration.module)]


# Stand-ins for the organisation and the customer while a probe's SQL is compiled (once per process): the
# ORM takes about as long to compile a subquery as PostgreSQL takes to answer it, so a page would otherwise
# pay a millisecond of Python per provider to learn that a customer has no tickets.
_ORG, _CUSTOMER = -7_000_001, -7_000_002
_compiled: dict[tuple[str, str], tuple[str, tuple[Any, ...]] | None] = {}


def _stand_in(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in (_ORG, _CUSTOMER)


def _probe_sql(registration: _Registration) -> tuple[str, tuple[Any, ...]] | None:
    """`EXISTS(<the provider's rows>)` with the stand-ins among its parameters, or None when they are not there
    as given (a probe whose lookups transform the values cannot be reused: it is compiled each time)."""
    key = (registration.key, connection.vendor)
    if key not in _compiled:
        assert registration.exists is not None
        rows = registration.exists(_ORG, _CUSTOMER).order_by().values("pk")
        sql, params = rows.query.sql_with_params()
        found = {int(p) for p in params if _stand_in(p)} == {_ORG, _CUSTOMER}
        _compiled[key] = (f"EXISTS({sql})", tuple(params)) if found else None
    return _compiled[key]


def _probe(registration: _Registration, organization_id: int, customer_id: int) -> RawSQL | Exists:
    compiled = _probe_sql(registration)
    if compiled is None:
        return Exists(registration.exists(organization_id, customer_id))  # type: ignore[misc]
    sql, params = compiled
    values = {_ORG: organization_id, _CUSTOMER: customer_id}
    # type(p): the backend may have wrapped the value (psycopg's Int8 for a BigIntegerField): keep its wrapper.
    params = tuple(type(p)(values[int(p)]) if _stand_in(p) else p for p in params)
    return RawSQL(sql, params, BooleanField())  # noqa: S611 - the ORM's SQL; every value a parameter


def presence(actor: Any, customer_id: Any) -> dict[str, RawSQL | Exists]:
    """Annotations for the query that reads the customer `customer_id` of the actor's organisation: whether
    each provider the actor may see has rows for it. A view that reads the customer anyway (its page, its
    timeline) adds them to that query, so the providers it skips cost no statement at all."""
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        return {}
    return {r.flag: _probe(r, actor.organization_id, customer_id) for r in _shown(actor) if r.exists is not None}


def _present(customer: Any, registrations: list[_Registration]) -> set[str]:
    """The keys of the `registrations` with rows for the customer: from the customer's annotations
    (presence()) when it was read with them, else in one statement."""
    probed = [r for r in registrations if r.exists is not None]
    if not probed:
        return set()
    values = customer.__dict__
    if not all(r.flag in values for r in probed):
        # Not kept on the customer: a caller may add rows and collect again with the same instance.
        annotations = {r.flag: _probe(r, customer.organization_id, customer.pk) for r in probed}
        values = type(customer)._base_manager.filter(pk=customer.pk).values(**annotations).first() or {}
    return {r.key for r in probed if values.get(r.flag)}


def collect(*, actor: Any, customer: Any, limit: int = 50, before: datetime | None = None) -> list[TimelineItem]:
    """The newest `limit` items of every provider the actor may see, merged newest first. A provider whose
    rows do not exist for the customer (`exists`) is not called."""
    registrations = _shown(actor)
    present = _present(customer, registrations)
    items: list[TimelineItem] = []
    for registration in registrations:
        if registration.exists is not None and registration.key not in present:
            continue
        items.extend(registration.provider(actor=actor, customer=customer, limit=limit, before=before))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def _item_html(item: TimelineItem, open_label: str) -> str:
    at = timezone.localtime(item.at) if timezone.is_aware(item.at) else item.at
    actor = format_html(' <span class="small text-body-secondary">· {}</span>', item.actor) if item.actor else ""
    body = format_html('\n      <div class="small mt-1">{}</div>', linebreaksbr(item.body)) if item.body else ""
    changes = ""
    if item.changes:
        lines = "".join(
            format_html(
                '<li><span class="text-body-secondary">{}:</span> <del>{}</del> → {}</li>', c.field, c.before, c.after
            )
            for c in item.changes
        )
        changes = f'\n      <ul class="kehu-changes mt-1">\n        {lines}\n      </ul>'
    link = format_html('\n      <a class="small" href="{}">{}</a>', item.url, open_label) if item.url else ""
    return (
        f'  <li class="d-flex gap-2 pb-3" data-kind="{escape(item.kind)}">\n'
        f'    <i class="bi bi-{escape(item.icon)} text-body-secondary"></i>\n'
        '    <div class="flex-grow-1 min-w-0">\n'
        f'      <div><span class="fw-medium">{conditional_escape(item.title)}</span>{actor}</div>\n'
        f'      <div class="small text-body-secondary"><time datetime="{at.isoformat()}">'
        f"{at.strftime('%Y-%m-%d %H:%M')}</time></div>{body}{changes}{link}\n"
        "    </div>\n"
        "  </li>\n"
    )


def items_html(items: list[TimelineItem], *, customer_pk: int, limit: int) -> SafeString:
    """The timeline's list and its "show older" button (a full page of `limit` items has one), as one string:
    a page of items through a template cost a lookup, an escape check and a localisation pass per value."""
    open_label = gettext("Open")
    rows = "".join(_item_html(item, open_label) for item in items) or (
        f'  <li class="text-body-secondary small">{escape(gettext("Nothing has happened yet."))}</li>\n'
    )
    html = f'<ol class="list-unstyled mb-0" data-testid="timeline">\n{rows}</ol>\n'
    if items and len(items) >= limit:
        url = escape(f"{reverse('customers:timeline', args=[customer_pk])}?before={quote(items[-1].at.isoformat())}")
        html += format_html(
            '<a class="btn btn-sm btn-outline-secondary" href="{}" hx-get="{}" hx-swap="outerHTML" hx-target="this">'
            "{}</a>\n",
            mark_safe(url),  # noqa: S308 - escaped above
            mark_safe(url),  # noqa: S308 - escaped above
            gettext("Show older"),
        )
    return mark_safe(html)  # noqa: S308 - every value above went through escape/format_html
