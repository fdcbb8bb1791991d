"""The SLA panel of the ticket page (registered with ticket_panels in apps.py): time left or overdue for
the first response and the resolution, and a paused badge while the ticket waits on the customer."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from kehu.core.permissions import can
from kehu.service import sla_selectors


def sla_panel(request: Any, ticket: Any, **kwargs: Any) -> str:
    if not can(request.user, "view", ticket):
        return ""
    clocks = sla_selectors.ticket_clocks(ticket)
    return render_to_string("service/sla/_panel.html", {"sla": clocks, "ticket": ticket}, request=request)
