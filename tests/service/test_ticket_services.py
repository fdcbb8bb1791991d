"""Ticket services: numbers, the status machine, replies and notes, assignment, visibility, hooks, merge,
canned replies. Mail goes to the real aiosmtpd server of the `smtp_server` fixture."""

from __future__ import annotations

import threading
from email.header import decode_header, make_header

import pytest
from django.db import connection
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEntry, Notification
from kehu.core.permissions import can
from kehu.customers import merge, timeline
from kehu.service import ticket_config_services, ticket_hooks, ticket_panels, ticket_selectors, ticket_services
from kehu.service.ticket_models import Queue, Ticket, TicketMessage
from kehu.service.ticket_visibility import forget_queues
from tests.customers.factories import make_contact, make_customer, make_tag
from tests.service.ticket_factories import make_canned, make_queue, make_ticket

pytestmark = pytest.mark.django_db
S = Ticket.Status


def header(value: str) -> str:
    return str(make_header(decode_header(value)))


@pytest.fixture
def agent(tenant_a):
    return tenant_a.users["service_agent"]


@pytest.fixture
def events():
    seen: list[tuple[int, str, dict]] = []

    def record(ticket, event, **info):
        seen.append((ticket.pk, event, info))

    ticket_hooks.register(record)
    yield seen
    ticket_hooks.unregister(record)


def test_numbers_count_per_organisation(tenant_a, tenant_b):
    first, second = make_ticket(tenant_a), make_ticket(tenant_a)
    other = make_ticket(tenant_b)
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.key == "[#1]"


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_share_a_number(tenant_a):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers itself; the race needs PostgreSQL's row locks")
    make_ticket(tenant_a)  # the counter row exists
    numbers, failures = [], []

    def create():
        try:
            numbers.append(make_ticket(tenant_a).number)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(numbers) == [2, 3, 4, 5, 6, 7]


def test_create_links_the_requester_to_the_contact_and_audits(tenant_a, agent, events):
    customer = make_customer(tenant_a, name="杭州青禾软件科技有限公司")
    contact = make_contact(tenant_a, customer, name="李雷", email="Li.Lei@Example.com")
    ticket = ticket_services.ticket_create(
        actor=agent, subject="  无法登录  ", body="登录提示密码错误", requester_email="li.lei@example.com"
    )
    assert ticket.subject == "无法登录"
    assert (ticket.customer, ticket.contact, ticket.requester_name) == (customer, contact, "")
    assert ticket.owner == agent and ticket.assignment_reason == "creator"
    assert ticket.channel == Ticket.Channel.PHONE
    message = ticket.messages.get()
    assert message.kind == TicketMessage.Kind.CUSTOMER and message.body == "登录提示密码错误"
    assert AuditEntry.objects.filter(action="ticket.create", target_id=str(ticket.pk)).exists()
    assert (ticket.pk, "created", {"channel": "phone"}) in events


def test_create_refuses_bad_input_with_field_names(tenant_a, agent, tenant_b):
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_create(actor=agent, subject="  ")
    assert "subject" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_create(actor=agent, subject="x", requester_email="not an email")
    assert "requester_email" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_create(actor=agent, subject="x", queue=make_queue(tenant_b))
    assert "queue" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_create(actor=agent, subject="x", number=5)
    assert "number" in exc.value.fields
    with pytest.raises(PermissionDenied):  # giving it to someone else needs assign
        ticket_services.ticket_create(actor=agent, subject="x", owner=tenant_a.users["service_manager"])
    with pytest.raises(PermissionDenied):
        ticket_services.ticket_create(actor=tenant_a.users["sales_rep"], subject="x")


def test_status_machine(tenant_a, agent, events):
    ticket = make_ticket(tenant_a, agent)
    ticket_services.ticket_set_status(actor=agent, ticket=ticket, status=S.RESOLVED)
    assert ticket.resolved_at is not None
    ticket_services.ticket_close(actor=agent, ticket=ticket)
    assert ticket.closed_at is not None
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_set_status(actor=agent, ticket=ticket, status=S.PENDING)
    assert "status" in exc.value.fields
    ticket_services.ticket_reopen(actor=agent, ticket=ticket)
    assert (ticket.status, ticket.resolved_at, ticket.closed_at) == (S.OPEN, None, None)
    changes = [(info["before"], info["after"]) for pk, event, info in events if event == "status_changed"]
    assert changes == [("new", "resolved"), ("resolved", "closed"), ("closed", "open")]
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.status == S.OPEN and fresh.version == ticket.version


def test_reply_is_emailed_with_the_key_and_a_message_id(
    tenant_a, agent, smtp_server, events, django_capture_on_commit_callbacks
):
    queue = make_queue(tenant_a, email="support@a.test")
    ticket = make_ticket(tenant_a, agent, queue=queue, requester_email="wang@example.com", requester_name="王先生")
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.ticket_reply(actor=agent, ticket=ticket, body="您好，已处理。", status=S.PENDING)
    (mail,) = smtp_server.wait_for(1)
    assert header(mail["Subject"]) == f"[#{ticket.number}] {ticket.subject}"
    assert mail["Message-ID"] == message.message_id
    assert mail["X-RcptTo"] == "wang@example.com"
    assert "support@a.test" in header(mail["From"]) and mail["Reply-To"] == "support@a.test"
    assert mail["In-Reply-To"] is None  # the phone call it answers had no Message-ID
    assert "您好，已处理。" in smtp_server.body(mail)
    message.refresh_from_db()
    ticket.refresh_from_db()
    assert message.sent_at is not None and message.send_error == ""
    assert ticket.first_responded_at == message.created_at
    assert ticket.status == S.PENDING
    assert [e for _pk, e, _i in events].count("first_response") == 1
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.ticket_reply(actor=agent, ticket=ticket, body="补充说明")
    smtp_server.wait_for(2)
    assert [e for _pk, e, _i in events].count("first_response") == 1  # only the first reply


def test_a_reply_needs_an_address_and_notes_are_never_sent(
    tenant_a, agent, smtp_server, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a, agent, requester_email="")
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_reply(actor=agent, ticket=ticket, body="您好")
    assert "requester_email" in exc.value.fields
    with django_capture_on_commit_callbacks(execute=True):
        note = ticket_services.ticket_note(actor=agent, ticket=ticket, body="内部：客户很着急")
    assert note.kind == TicketMessage.Kind.NOTE and note.message_id == ""
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN  # the first agent action opens a new ticket
    assert smtp_server.wait_for(1, timeout=0.5) == []


def test_a_failed_send_is_recorded_on_the_message(tenant_a, agent, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    ticket = make_ticket(tenant_a, agent)
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.ticket_reply(actor=agent, ticket=ticket, body="您好")
    message.refresh_from_db()
    assert message.sent_at is None and message.send_error


def test_a_customer_reply_reopens_pending_and_resolved_tickets(tenant_a, agent, events):
    ticket = make_ticket(tenant_a, agent)
    ticket_services.ticket_set_status(actor=agent, ticket=ticket, status=S.PENDING)
    message = ticket_services.ticket_log_customer_message(actor=agent, ticket=ticket, body="我又试了一次，还是不行")
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN and ticket.last_customer_message_at == message.created_at
    assert any(e == "customer_replied" and i["reopened"] for _pk, e, i in events)


def test_version_conflict_and_field_changes(tenant_a, agent, events):
    ticket = make_ticket(tenant_a, agent)
    tag = make_tag(tenant_a, name="VIP")
    stale = ticket.version
    ticket_services.ticket_update(
        actor=agent, ticket=ticket, expected_version=stale, data={"priority": "urgent", "tags": [tag]}
    )
    assert [t.name for t in ticket.tags.all()] == ["VIP"]
    assert any(e == "priority_changed" and i["after"] == "urgent" for _pk, e, i in events)
    with pytest.raises(VersionConflict):
        ticket_services.ticket_update(
            actor=agent, ticket=Ticket.objects.get(pk=ticket.pk), expected_version=stale, data={"subject": "x"}
        )
    with pytest.raises(ValidationFailed) as exc:
        ticket_services.ticket_update(actor=agent, ticket=ticket, expected_version=None, data={"status": "closed"})
    assert "status" in exc.value.fields


def test_delete_and_restore(tenant_a):
    manager = tenant_a.users["service_manager"]
    ticket = make_ticket(tenant_a)
    ticket_services.ticket_delete(actor=manager, ticket=ticket)
    assert not Ticket.objects.visible_to(manager).filter(pk=ticket.pk).exists()
    deleted = ticket_selectors.ticket_deleted_get_for(actor=manager, pk=ticket.pk)
    ticket_services.ticket_restore(actor=manager, ticket=deleted)
    assert Ticket.objects.visible_to(manager).filter(pk=ticket.pk).exists()
    with pytest.raises(PermissionDenied):
        ticket_services.ticket_delete(actor=tenant_a.users["service_agent"], ticket=ticket)


def test_agents_see_their_own_and_their_queues_unassigned_tickets(tenant_a):
    agent, admin = tenant_a.users["service_agent"], tenant_a.admin
    theirs = make_queue(tenant_a, members=[agent])
    other = make_queue(tenant_a, members=[admin])
    forget_queues(agent)
    unassigned_mine = ticket_services.ticket_create(actor=admin, subject="a", queue=theirs)
    unassigned_other = ticket_services.ticket_create(actor=admin, subject="b", queue=other)
    assigned_to_admin = make_ticket(tenant_a, admin, queue=theirs)
    own = make_ticket(tenant_a, agent, queue=other)
    for ticket in (unassigned_mine, unassigned_other):
        Ticket.objects.filter(pk=ticket.pk).update(owner=None)
        ticket.owner = None
    visible = set(Ticket.objects.visible_to(agent).values_list("pk", flat=True))
    assert visible == {unassigned_mine.pk, own.pk}
    for ticket in (unassigned_mine, unassigned_other, assigned_to_admin, own):
        assert can(agent, "view", Ticket.objects.get(pk=ticket.pk)) == (ticket.pk in visible)
    # The agent picks it up: it is theirs now, and open.
    ticket_services.ticket_take(actor=agent, ticket=unassigned_mine)
    assert (unassigned_mine.owner, unassigned_mine.status, unassigned_mine.assignment_reason) == (
        agent,
        S.OPEN,
        "taken",
    )
    with pytest.raises(NotFound):
        ticket_services.ticket_take(actor=agent, ticket=Ticket.objects.get(pk=unassigned_other.pk))


def test_a_queue_manager_sees_every_ticket_of_the_queue(tenant_a):
    agent = tenant_a.users["service_agent"]
    queue = make_queue(tenant_a, members=[], manager=agent)
    forget_queues(agent)
    ticket = make_ticket(tenant_a, tenant_a.admin, queue=queue)
    assert Ticket.objects.visible_to(agent).filter(pk=ticket.pk).exists()
    assert can(agent, "view", ticket)


def test_assign_records_why_and_notifies(tenant_a, events):
    manager, agent = tenant_a.users["service_manager"], tenant_a.users["service_agent"]
    ticket = make_ticket(tenant_a, manager)
    ticket_services.ticket_assign(actor=manager, ticket=ticket, owner=agent)
    assert (ticket.owner, ticket.assignment_reason) == (agent, "manual")
    note = Notification.objects.get(recipient=agent)
    assert f"#{ticket.number}" in note.title and note.url == ticket.get_absolute_url()
    entry = AuditEntry.objects.filter(action="ticket.assign", target_id=str(ticket.pk)).first()
    assert entry.changes["reason"] == "manual" and entry.changes["owner"]["after"] == agent.pk
    history = ticket_selectors.ticket_history_for(actor=manager, ticket=ticket)
    assert history[0].action == "ticket.assign" and str(agent) in history[0].text
    with pytest.raises(ValidationFailed):
        ticket_services.ticket_assign(actor=manager, ticket=ticket, owner=tenant_a.users["sales_rep"])
    ticket_services.ticket_assign(actor=manager, ticket=ticket, owner=None)
    assert ticket.owner_id is None
    with pytest.raises(PermissionDenied):
        ticket_services.ticket_assign(actor=agent, ticket=make_ticket(tenant_a, agent), owner=manager)


def test_bulk_assign_and_close(tenant_a):
    manager, agent = tenant_a.users["service_manager"], tenant_a.users["service_agent"]
    tickets = [make_ticket(tenant_a, manager) for _ in range(3)]
    moved = ticket_services.tickets_assign(actor=manager, tickets=tickets, owner=agent)
    assert len(moved) == 3
    assert Notification.objects.filter(recipient=agent).count() == 1  # one notification for the batch
    assert ticket_services.tickets_close(actor=manager, tickets=tickets) == 3
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("status", flat=True)) == {S.CLOSED}


def test_merging_customers_moves_their_tickets_and_tickets_show_on_the_timeline(tenant_a):
    survivor, other = make_customer(tenant_a, name="甲公司"), make_customer(tenant_a, name="甲公司（重复）")
    ticket = make_ticket(tenant_a, customer=other)
    merge.customer_merge(actor=tenant_a.admin, survivor=survivor, others=[other])
    ticket.refresh_from_db()
    assert ticket.customer == survivor
    items = timeline.collect(actor=tenant_a.admin, customer=survivor)
    assert any(item.kind == "ticket.create" and f"#{ticket.number}" in item.title for item in items)
    # A sales rep without service sees no tickets on the timeline.
    rep_items = timeline.collect(actor=tenant_a.users["sales_rep"], customer=survivor)
    assert not any(item.kind == "ticket.create" for item in rep_items)


def test_canned_replies_fill_placeholders_without_a_template_engine(tenant_a, agent):
    customer = make_customer(tenant_a, name="上海云帆贸易有限公司")
    ticket = make_ticket(tenant_a, agent, customer=customer)
    reply = make_canned(tenant_a, body="{{customer_name}} 您好，#{{ ticket_number }} 由 {{agent_name}} 处理。")
    text = ticket_config_services.render_canned(actor=agent, reply=reply, ticket=ticket)
    assert text == f"上海云帆贸易有限公司 您好，#{ticket.number} 由 {agent} 处理。"
    with pytest.raises(ValidationFailed) as exc:
        make_canned(tenant_a, body="{{ settings.SECRET_KEY }} {% debug %}")
    assert "body" in exc.value.fields
    # A customer name that looks like template syntax stays text.
    customer.name = "{{agent_name}}{% now 'Y' %}"
    customer.save(update_fields=["name"])
    ticket.customer = customer
    text = ticket_config_services.render_canned(actor=agent, reply=reply, ticket=ticket)
    assert text.startswith("{{agent_name}}{% now 'Y' %} 您好")
    with pytest.raises(PermissionDenied):
        ticket_config_services.canned_create(actor=agent, title="x", body="y")


def test_panels_show_beside_the_ticket(tenant_a, agent):
    ticket = make_ticket(tenant_a, agent)

    def suggestions(*, actor, ticket):
        return ("建议文章", "<ul><li>重置密码</li></ul>")

    ticket_panels.register(suggestions)
    try:
        (panel,) = [p for p in ticket_panels.panels_for(actor=agent, ticket=ticket) if p.key == "suggestions"]
        assert panel.title == "建议文章" and "重置密码" in panel.html
    finally:
        ticket_panels.unregister(suggestions)


def test_away_agents_are_passed_over(tenant_a):
    agent = tenant_a.users["service_agent"]
    status = ticket_config_services.agent_set_away(actor=agent, away=True, note="年假")
    assert status.away and status.away_since is not None
    with pytest.raises(PermissionDenied):  # someone else's status needs assign
        ticket_config_services.agent_set_away(actor=agent, user=tenant_a.users["service_manager"], away=True)
    queue = make_queue(tenant_a, members=[agent], assignment=Queue.Assignment.LEAST_OPEN)
    ticket = ticket_services.ticket_create(actor=tenant_a.admin, subject="x", queue=queue)
    assert ticket.owner_id != agent.pk


def test_my_tickets_are_what_visible_to_shows_me_as_assignee(tenant_a):
    """My tickets (assignee=me) read own_for, without the scope's OR branches; for one's own tickets the two
    agree whatever the role's scope and queues (a deleted ticket is in neither)."""
    from kehu.service import ticket_selectors

    agent, manager = tenant_a.users["service_agent"], tenant_a.users["service_manager"]
    queue = make_queue(tenant_a, members=[agent], manager=manager)
    for user in (agent, manager, tenant_a.admin):
        make_ticket(tenant_a, user, queue=queue)
        make_ticket(tenant_a, user)
        gone = make_ticket(tenant_a, user)
        Ticket.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    for user in (agent, manager, tenant_a.admin):
        expected = set(Ticket.objects.visible_to(user).filter(owner=user).values_list("pk", flat=True))
        mine = ticket_selectors.ticket_queryset_for(actor=user, filters={"assignee": "me"})
        assert set(mine.values_list("pk", flat=True)) == expected and len(expected) == 2, user
    assert not Ticket.objects.own_for(tenant_a.users["sales_rep"]).exists()  # no service grant: nothing
