"""The rows of the ticket list, rendered in Python (the markup the list template had per row).

Why: a page of 50 tickets rendered through template includes, `{% blocktranslate %}` and a simple tag per
cell cost more than the queries behind it (bench_service.py). The rows are plain str built with f-strings,
every value through core/fast_html.esc (what format_html put in, at a fraction of its cost: the sales board's
cards are built the same way); tests/service/test_ticket_list_rows.py keeps the former format_html
implementation and compares the bytes.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kehu.core.fast_html import esc
from kehu.service.templatetags.ticket_tags import DueText, date_formatter
from kehu.service.ticket_models import Ticket

CHANNEL_ICONS = {"email": "envelope", "phone": "telephone", "web": "globe"}
_MARKER = 987654321987


class _Labels:
    """What one page's rows share, read and escaped once: the choices' labels, the detail address, the clock."""

    def __init__(self) -> None:
        self.status = {k: esc(str(v)) for k, v in Ticket.Status.choices}
        self.priority = {k: esc(str(v)) for k, v in Ticket.Priority.choices}
        # One reverse() for the page: the detail address with a marker where the id goes.
        self.detail = esc(reverse("service:ticket_detail", args=[_MARKER])).replace(str(_MARKER), "{}")
        self.due = DueText()  # one clock, time zone and date format for the page
        self.unassigned = f'<span class="text-body-secondary">{esc(_("Unassigned"))}</span>'
        self.answered = f'<i class="bi bi-check2 text-success" title="{esc(_("Answered"))}"></i>'
        self.select = _("Select ticket #%(number)s")
        self.zone = timezone.get_current_timezone()
        self.minute = date_formatter("Y-m-d H:i")
        self._kinds: dict[tuple[int, str], str] = {}

    def url(self, pk: int) -> str:
        return self.detail.format(pk)

    def kind(self, ticket: Any) -> str:
        key = (ticket.organization_id, ticket.kind)
        text = self._kinds.get(key)
        if text is None:
            # The organisation's list of ticket types (kehu.core.choice_lists), escaped once per type.
            text = self._kinds[key] = esc(ticket.kind_label)
        return text


def _badges(ticket: Any, labels: _Labels) -> str:
    status = esc(ticket.status)
    label = labels.status.get(ticket.status)
    html = (
        f'<span class="badge kehu-ticket-status kehu-ticket-status-{status}" data-status="{status}">'
        f"{status if label is None else label}</span>"
    )
    priority = ticket.priority
    if priority not in ("high", "urgent"):
        return html
    css = "text-bg-danger" if priority == "urgent" else "text-bg-warning"
    return f'{html} <span class="badge {css}" data-priority="{priority}">{labels.priority[priority]}</span>'


def badges_html(ticket: Any, labels: _Labels | None = None) -> SafeString:
    """Status and (when high or urgent) priority badges: service/ticket/_badges.html."""
    return mark_safe(_badges(ticket, labels or _Labels()))  # noqa: S308 - every value is escaped


def _tags(tags: Any) -> str:
    """The tag pills (customers/list_columns.tags_html's markup)."""
    return "".join(
        f'<span class="badge rounded-pill border text-body me-1" data-tag="{tag.pk}"><span class="d-inline-block '
        f'rounded-circle me-1 align-middle" style="width:.6em;height:.6em;background-color:{esc(tag.colour)}">'
        f"</span>{esc(tag.name)}</span>"
        for tag in tags
    )


def _row(ticket: Any, bulk_enabled: bool, labels: _Labels) -> str:
    pk = ticket.pk
    number = ticket.number
    parts = [f'<tr data-ticket="{pk}">']
    if bulk_enabled:
        label = esc(labels.select % {"number": number})
        parts.append(
            '<td><input type="checkbox" class="form-check-input" name="ids" value="'
            f'{pk}" form="bulk-form" aria-label="{label}"></td>'
        )
    requester = ticket.requester_name or ticket.requester_email
    priority = ticket.priority
    customer = ticket.customer.name if ticket.customer_id and ticket.customer else ""
    queue = ticket.queue.name if ticket.queue_id and ticket.queue else ""
    owner = esc(str(ticket.owner)) if ticket.owner_id else labels.unassigned
    first = labels.answered if ticket.first_responded_at else esc(labels.due(ticket, ticket.first_response_due_at))
    updated = ticket.updated_at
    updated = esc(labels.minute(updated.astimezone(labels.zone))) if updated else ""
    priority_label = labels.priority.get(priority)
    parts.append(
        f'<td class="text-nowrap">#{esc(number)}</td><td><a href="{labels.url(pk)}" data-testid="ticket-link">'
        f"{esc(ticket.subject)}</a>"
        f'<span class="d-block small text-body-secondary"><i class="bi bi-{CHANNEL_ICONS.get(ticket.channel, "code-slash")}">'
        f"</i> {labels.kind(ticket)}{f' · {esc(requester)}' if requester else ''}</span>{_tags(ticket.tags.all())}</td>"
        f"<td>{_badges(ticket, labels)}</td>"
        f'<td class="kehu-table-responsive-hide">{esc(priority) if priority_label is None else priority_label}</td>'
        f'<td class="kehu-table-responsive-hide">{esc(customer or "—")}</td>'
        f'<td class="kehu-table-responsive-hide">{esc(queue or "—")}</td><td>{owner}</td>'
        f'<td class="kehu-table-responsive-hide small">{first}</td>'
        f'<td class="small">{esc(labels.due(ticket, ticket.resolution_due_at))}</td>'
        f'<td class="kehu-table-responsive-hide small text-nowrap">{updated}</td>'
    )
    # One cell per active ticket custom field (ticket_views sets `custom_shown` for the page).
    for value in getattr(ticket, "custom_shown", ()):
        if value.is_link:
            cell = f'<a href="{esc(value.href)}" rel="noopener">{esc(value.text)}</a>'
        else:
            cell = esc(value.text or "—")
        parts.append(f'<td class="kehu-table-responsive-hide small">{cell}</td>')
    parts.append("</tr>")
    return "".join(parts)


def row_html(ticket: Any, *, bulk_enabled: bool, labels: _Labels | None = None) -> SafeString:
    """One <tr> of service/ticket/list.html."""
    return mark_safe(_row(ticket, bulk_enabled, labels or _Labels()))  # noqa: S308 - every value is escaped


def rows_html(tickets: Any, *, bulk_enabled: bool) -> SafeString:
    labels = _Labels()
    return mark_safe("".join(_row(t, bulk_enabled, labels) for t in tickets))  # noqa: S308 - escaped in _row
