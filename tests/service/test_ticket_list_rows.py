"""The ticket list's rows, built with f-strings over escaped values (service/ticket_list_rows.py), are byte for
byte what the former format_html implementation gave: the reference below is that implementation, kept here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kehu.core import custom_fields
from kehu.customers.list_columns import tags_html
from kehu.service import ticket_list_rows, ticket_selectors
from kehu.service.templatetags.ticket_tags import DueText
from kehu.service.ticket_models import Ticket
from kehu.service.ticket_services import TICKET_TYPE
from tests.customers.factories import make_contact, make_customer, make_tag
from tests.service.ticket_factories import make_queue, make_ticket

pytestmark = pytest.mark.django_db

TRICKY = [
    "<script>alert('x')</script>",
    'Tom & "Jerry" <b>',
    "发票开错了 & 要重开 <急>",
    "O'Brien's {} %(name)s",
    "&amp; already escaped",
]


class FormatHtmlRows:
    """The rows as ticket_list_rows.py built them before (format_html for every piece)."""

    CHANNEL_ICONS = {"email": "envelope", "phone": "telephone", "web": "globe"}

    def __init__(self) -> None:
        self.status = {k: str(v) for k, v in Ticket.Status.choices}
        self.priority = {k: str(v) for k, v in Ticket.Priority.choices}
        self.detail = reverse("service:ticket_detail", args=[987654321987])
        self.due = DueText()

    def url(self, pk: int) -> str:
        return self.detail.replace("987654321987", str(pk))

    def badges(self, ticket: Any) -> SafeString:
        status = format_html(
            '<span class="badge kehu-ticket-status kehu-ticket-status-{}" data-status="{}">{}</span>',
            ticket.status,
            ticket.status,
            self.status.get(ticket.status, ticket.status),
        )
        if ticket.priority not in ("high", "urgent"):
            return status
        css = "text-bg-danger" if ticket.priority == "urgent" else "text-bg-warning"
        priority = format_html(
            ' <span class="badge {}" data-priority="{}">{}</span>', css, ticket.priority, self.priority[ticket.priority]
        )
        return status + priority

    def row(self, ticket: Any, *, bulk_enabled: bool) -> SafeString:
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
                self.url(ticket.pk),
                ticket.subject,
                self.CHANNEL_ICONS.get(ticket.channel, "code-slash"),
                ticket.kind_label,
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
            first = mark_safe(self.due(ticket, ticket.first_response_due_at))
        parts.append(
            format_html(
                '<td>{}</td><td class="kehu-table-responsive-hide">{}</td><td class="kehu-table-responsive-hide">{}</td>'
                '<td class="kehu-table-responsive-hide">{}</td><td>{}</td>'
                '<td class="kehu-table-responsive-hide small">{}</td><td class="small">{}</td>'
                '<td class="kehu-table-responsive-hide small text-nowrap">{}</td>',
                self.badges(ticket),
                self.priority.get(ticket.priority, ticket.priority),
                (ticket.customer.name if ticket.customer_id and ticket.customer else "") or "—",
                (ticket.queue.name if ticket.queue_id and ticket.queue else "") or "—",
                owner,
                first,
                mark_safe(self.due(ticket, ticket.resolution_due_at)),
                dateformat.format(timezone.localtime(ticket.updated_at), "Y-m-d H:i") if ticket.updated_at else "",
            )
        )
        for value in getattr(ticket, "custom_shown", ()):
            if value.is_link:
                cell = format_html('<a href="{}" rel="noopener">{}</a>', value.href, value.text)
            else:
                cell = value.text or "—"
            parts.append(format_html('<td class="kehu-table-responsive-hide small">{}</td>', cell))
        parts.append(mark_safe("</tr>"))
        return mark_safe("".join(parts))


def _tickets(tenant: Any) -> list[Ticket]:
    agent = tenant.users["service_agent"]
    queue = make_queue(tenant, name=TRICKY[1], members=[agent])
    now = timezone.now()
    tags = {
        0: [make_tag(tenant, name=TRICKY[0], colour="#ff0000"), make_tag(tenant, name=TRICKY[2])],
        2: [make_tag(tenant, name="VIP", colour="#00aa00")],
    }
    made = []
    for i, text in enumerate(TRICKY):
        customer = make_customer(tenant, name=TRICKY[(i + 1) % len(TRICKY)]) if i % 2 == 0 else None
        contact = make_contact(tenant, customer, name=TRICKY[3]) if i == 0 else None
        ticket = make_ticket(
            tenant,
            agent if i != 1 else None,
            subject=text,
            requester_name=TRICKY[(i + 2) % len(TRICKY)] if i != 3 else "",
            requester_email="" if i == 4 else f"c{i}@example.com",
            queue=queue if i % 3 else None,
            customer=customer,
            contact=contact,
            priority=("low", "normal", "high", "urgent", "normal")[i],
            channel=("email", "phone", "web", "api", "email")[i],
            custom={"ref": TRICKY[i], "site": "https://example.com/?a=1&b=<2>"},
            tags=tags.get(i, []),
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            status=("new", "open", "pending", "resolved", "closed")[i],
            first_responded_at=now if i == 2 else None,
            first_response_due_at=None if i == 4 else now + timedelta(hours=i - 2, minutes=7),
            resolution_due_at=None if i == 3 else now + timedelta(days=i - 2, hours=3),
        )
        made.append(ticket)
    return made


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_rows_are_byte_identical_to_the_format_html_implementation(tenant_a, language):
    agent = tenant_a.users["service_agent"]
    manager = tenant_a.users["service_manager"]
    for key, kind in (("ref", "text"), ("site", "url")):
        custom_fields.definition_create(actor=manager, record_type=TICKET_TYPE, key=key, label=key, field_type=kind)
    _tickets(tenant_a)
    definitions = custom_fields.definitions_for(tenant_a.org.pk, TICKET_TYPE)
    with translation.override(language):
        page = ticket_selectors.ticket_list_for(actor=agent, ordering="resolution_due_at", limit=50)
        assert len(page.items) == len(TRICKY)
        # The reference renders Ticket models as the list read them before (with their relations); the list
        # now reads TicketRow values: the same bytes either way.
        models = ticket_selectors.tickets_with_relations_for(actor=agent).in_bulk([t.pk for t in page.items])
        tickets = [models[t.pk] for t in page.items]
        for items in (page.items, tickets):
            for ticket, shown in zip(items, custom_fields.shown_many(list(items), definitions), strict=True):
                ticket.custom_shown = shown
        reference = FormatHtmlRows()
        for bulk in (True, False):
            expected = "".join(reference.row(t, bulk_enabled=bulk) for t in tickets)
            got = ticket_list_rows.rows_html(page.items, bulk_enabled=bulk)
            assert str(got) == expected
            assert str(ticket_list_rows.rows_html(tickets, bulk_enabled=bulk)) == expected
            assert "<script>" not in got and "&lt;script&gt;" in got
        for row, ticket in zip(page.items, tickets, strict=True):
            assert str(ticket_list_rows.badges_html(row)) == str(reference.badges(ticket))
            assert str(ticket_list_rows.row_html(row, bulk_enabled=True)) == str(
                reference.row(ticket, bulk_enabled=True)
            )


def test_the_pickers_colleagues_are_assignee_choices_for_without_the_models(tenant_a):
    """assignee_refs_for (the list's and the ticket page's pickers) names the same colleagues, in the same
    order, as assignee_choices_for (the User models the forms assign): the roles that may not edit tickets
    (sales, for one) are left out, inactive colleagues too."""
    from kehu.accounts.models import User

    manager = tenant_a.users["service_manager"]
    User.objects.filter(pk=tenant_a.users["service_agent"].pk).update(name="Zed <b>")
    full = [(u.pk, str(u)) for u in ticket_selectors.assignee_choices_for(actor=manager)]
    refs = [(u.pk, str(u)) for u in ticket_selectors.assignee_refs_for(actor=manager)]
    assert refs == full
    names = {name for _pk, name in refs}
    assert "Zed <b>" in names
    assert set(tenant_a.users) - {"service_agent"}  # other roles exist: some can, some cannot edit tickets
    assert len(refs) < User.objects.filter(organization=tenant_a.org, is_active=True).count()


def test_the_api_list_writes_the_same_json_from_rows_as_from_models(tenant_a):
    """GET /api/v1/tickets/ writes ticket_data of TicketRow values: the same dict as of the Ticket models (every
    field of the documented shape, the assignee with e-mail, queue, customer, contact, tags, custom values)."""
    from kehu.service.ticket_api import TicketOutputSerializer, ticket_data

    manager = tenant_a.users["service_manager"]
    custom_fields.definition_create(actor=manager, record_type=TICKET_TYPE, key="ref", label="ref", field_type="text")
    custom_fields.definition_create(actor=manager, record_type=TICKET_TYPE, key="site", label="site", field_type="url")
    made = _tickets(tenant_a)
    agent = tenant_a.users["service_agent"]
    page = ticket_selectors.ticket_list_for(actor=agent, ordering="-updated_at", limit=50)
    assert {type(row) for row in page.items} == {ticket_selectors.TicketRow}
    models = ticket_selectors.tickets_with_relations_for(actor=agent).in_bulk([t.pk for t in made])
    assert len(page.items) == len(made)
    for row in page.items:
        data = ticket_data(row)
        assert data == ticket_data(models[row.pk])
        assert set(data) == set(TicketOutputSerializer().fields)
    assert any(ticket_data(row)["tags"] for row in page.items)
    assert any(ticket_data(row)["contact"] for row in page.items)
    assert any(ticket_data(row)["contact"] is None for row in page.items)


@pytest.mark.parametrize(
    "format_string", ["Y-m-d H:i", "Y-m-d H:i:s", "Y年n月j日 H:i", "m/d/Y P", "G:i", r"\Y Y \\ d", "j. n. Y", "c", ""]
)
def test_date_formatter_writes_what_dateformat_writes(format_string):
    from datetime import datetime as dt

    from django.utils import dateformat

    from kehu.service.templatetags.ticket_tags import date_formatter

    write = date_formatter(format_string)
    zone = timezone.get_current_timezone()
    for value in (
        dt(2026, 1, 2, 3, 4, 5, tzinfo=zone),
        dt(2026, 12, 31, 23, 59, 59, 999999, tzinfo=zone),
        dt(2026, 11, 27, 0, 0, tzinfo=zone),
        dt(2026, 6, 9, 12, 0, tzinfo=zone),
        dt(5, 3, 7, 9, 8, tzinfo=zone),
    ):
        assert write(value) == dateformat.format(value, format_string)
