"""The SLA panel of the ticket page (registered with ticket_panels in apps.py): time left or overdue for
the first response and the resolution, in business time, and a paused badge while the ticket waits on the
customer."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from kehu.core.permissions import can
from kehu.service import sla_selectors


def sla_panel(*, actor: Any, ticket: Any, **kwargs: Any) -> tuple[str, str] | None:
    """ticket_panels: (title, html), or None for someone who cannot see the ticket."""
    if not can(actor, "view", ticket):
        return None
    clocks = sla_selectors.ticket_clocks(ticket)
    return _("SLA"), render_to_string("service/sla/_panel.html", {"sla": clocks, "ticket": ticket})
