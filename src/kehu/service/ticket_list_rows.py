"""The rows of the ticket list, rendered in Python (the markup the list template had per row).

Why: a page of 50 tickets rendered through template includes, `{% blocktranslate %}` and a simple tag per
cell cost more than the queries behind it (bench_service.py); format_html over the same values is several
times cheaper, as customers/list_columns.cell_html is for the customer list. Escaping is format_html's.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kehu.customers.list_columns import tags_html
from kehu.service.templatetags.ticket_tags import DueText
from kehu.service.ticket_models import Ticket

CHANNEL_ICONS = {"email": "envelope", "phone": "telephone", "web": "globe"}


class _Labels:
    """The choices' labels of one page, translated once (not once per row and field)."""

    def __init__(self) -> None:
        self.status = {k: str(v) for k, v in Ticket.Status.choices}
        self.priority = {k: str(v) for k, v in Ticket.Priority.choices}
        # One reverse() for the page: the detail address with a marker where the id goes.
        self.detail = reverse("service:ticket_detail", args=[_MARKER])
        self.due = DueText()  # one clock, time zone and date format for the page

    def url(self, pk: int) -> str:
        return self.detail.replace(str(_MARKER), str(pk))


_MARKER = 987654321987


def badges_html(ticket: Any, labels: _Labels | None = None) -> SafeString:
    """Status and (when high or urgent) priority badges: service/ticket/_badges.html."""
    labels = labels or _Labels()
    status = format_html(
        '<span class="badge kehu-ticket-status kehu-ticket-status-{}" data-status="{}">{}</span>',
        ticket.status,
        ticket.status,
        labels.status.get(ticket.status, ticket.status),
    )
    if ticket.priority not in ("high", "urgent"):
        return status
    css = "text-bg-danger" if ticket.priority == "urgent" else "text-bg-warning"
    priority = format_html(
        ' <span class="badge {}" data-priority="{}">{}</span>', css, ticket.priority, labels.priority[ticket.priority]
    )
    return status + priority


def row_html(ticket: Any, *, bulk_enabled: bool, labels: _Labels | None = None) -> SafeString:
    """One <tr> of service/ticket/list.html."""
    labels = labels or _Labels()
    parts = [format_html('<tr data-ticket="{}">', ticket.pk)]
    if bulk_enabled:
        label = _("Select ticket #%(number)s") % {"number": ticket.number}
        parts.append(
            format_html(
                '<td><input type="checkbox" class="form-check-input" name="ids" value="{}" form="bulk-form" '
                'aria-label="{}"></td>',
                ticket.pk,
                label,
            )
        )
    requester = ticket.requester_name or ticket.requester_email
    parts.append(
        format_html(
            '<td class="text-nowrap">#{}</td><td><a href="{}" data-testid="ticket-link">{}</a>'
            '<span class="d-block small text-body-secondary"><i class="bi bi-{}"></i> {}{}</span>{}</td>',
            ticket.number,
            labels.url(ticket.pk),
            ticket.subject,
            CHANNEL_ICONS.get(ticket.channel, "code-slash"),
            ticket.kind_label,  # the organisation's list of ticket types (kehu.core.choice_lists)
            format_html(" · {}", requester) if requester else "",
            tags_html(ticket.tags.all()),
        )
    )
    owner = (
        format_html("{}", ticket.owner)
        if ticket.owner_id
        else format_html('<span class="text-body-secondary">{}</span>', _("Unassigned"))
    )
    if ticket.first_responded_at:
        first = format_html('<i class="bi bi-check2 text-success" title="{}"></i>', _("Answered"))
    else:
        first = mark_safe(labels.due(ticket, ticket.first_response_due_at))  # noqa: S308 - escaped markup
    parts.append(
        format_html(
            '<td>{}</td><td class="kehu-table-responsive-hide">{}</td><td class="kehu-table-responsive-hide">{}</td>'
            '<td class="kehu-table-responsive-hide">{}</td><td>{}</td>'
            '<td class="kehu-table-responsive-hide small">{}</td><td class="small">{}</td>'
            '<td class="kehu-table-responsive-hide small text-nowrap">{}</td>',
            badges_html(ticket, labels),
            labels.priority.get(ticket.priority, ticket.priority),
            (ticket.customer.name if ticket.customer_id and ticket.customer else "") or "—",
            (ticket.queue.name if ticket.queue_id and ticket.queue else "") or "—",
            owner,
            first,
            mark_safe(labels.due(ticket, ticket.resolution_due_at)),  # noqa: S308 - escaped markup
            dateformat.format(timezone.localtime(ticket.updated_at), "Y-m-d H:i") if ticket.updated_at else "",
        )
    )
    # One cell per active ticket custom field (ticket_views sets `custom_shown` for the page).
    for value in getattr(ticket, "custom_shown", ()):
        if value.is_link:
            cell = format_html('<a href="{}" rel="noopener">{}</a>', value.href, value.text)
        else:
            cell = value.text or "—"
        parts.append(format_html('<td class="kehu-table-responsive-hide small">{}</td>', cell))
    parts.append(mark_safe("</tr>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part is format_html output


def rows_html(tickets: Any, *, bulk_enabled: bool) -> SafeString:
    labels = _Labels()
    return mark_safe("".join(row_html(t, bulk_enabled=bulk_enabled, labels=labels) for t in tickets))  # noqa: S308
