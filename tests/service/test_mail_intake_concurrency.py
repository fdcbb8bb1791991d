"""E-mail intake by several processes at once (`kehu mail_smtpd --processes N`): what the database guarantees
when two messages are taken at the same moment. PostgreSQL only (SQLite serialises writers itself); threads
stand in for the worker processes, each with its own connection."""

from __future__ import annotations

import smtplib
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from kehu.service import mail_intake, ticket_hooks
from kehu.service.mail_smtpd import IntakeHandler
from kehu.service.ticket_models import Queue, Ticket, TicketMessage
from tests.service.ticket_factories import make_queue

pytestmark = pytest.mark.django_db(transaction=True)
build = mail_intake.build_message


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the races need PostgreSQL's row and advisory locks; SQLite serialises writers")


@pytest.fixture
def queue(tenant_a):
    queue = make_queue(
        tenant_a,
        email="support@a.test",
        members=[tenant_a.users["service_agent"], tenant_a.users["service_manager"]],
        assignment=Queue.Assignment.LEAST_OPEN,
    )
    # The organisation's first ticket creates its counter, audit chain head and calendar: not raced here.
    mail_intake.receive(build(From="first@example.com", To="support@a.test", Subject="第一封", body="x"))
    return queue


def in_threads(*jobs):
    """Run the jobs at the same moment, each in its own thread and connection; their results in order."""
    results: list = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(index, job):
        try:
            start.wait()
            results[index] = job()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_the_same_message_delivered_at_once_opens_one_ticket(tenant_a, queue):
    raw = build(From="li@example.com", To="support@a.test", Subject="发票", Message_ID="<same@example.com>", body="x")
    outcomes = in_threads(*[lambda: mail_intake.receive(raw).outcome] * 4)
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    assert Ticket.objects.filter(organization=tenant_a.org, subject="发票").count() == 1
    assert TicketMessage.objects.filter(message_id="<same@example.com>").count() == 1


def test_new_tickets_at_once_get_distinct_numbers_and_the_least_loaded_agent(tenant_a, queue):
    raws = [
        build(From=f"c{i}@example.com", To="support@a.test", Subject=f"问题 {i}", Message_ID=f"<n{i}@ex>", body="x")
        for i in range(6)
    ]
    outcomes = in_threads(*[lambda raw=raw: mail_intake.receive(raw).outcome for raw in raws])
    assert outcomes == ["created"] * 6
    tickets = Ticket.objects.filter(organization=tenant_a.org)
    assert sorted(t.number for t in tickets) == [1, 2, 3, 4, 5, 6, 7]
    owners = [t.owner_id for t in tickets]
    # Each choice counted the tickets given before it (the queue's row is locked to the commit): 4 and 3.
    assert sorted(owners.count(u.pk) for u in queue.members.all()) == [3, 4]


def test_a_reply_taken_while_its_opening_is_being_written_waits_and_is_threaded(tenant_a, queue):
    """The opening message is inside its transaction (ticket written, not committed) when its reply arrives in
    another process: the reply waits for the conversation's lock and lands on the opening's ticket, instead of
    finding nothing and opening a second ticket."""
    inside, release = threading.Event(), threading.Event()

    def hold(ticket, event, **info):
        if event == "created" and ticket.subject == "打印机卡纸":
            inside.set()
            release.wait(30)

    opening = build(From="li@example.com", To="support@a.test", Subject="打印机卡纸", Message_ID="<o@ex>", body="x")
    reply = build(
        From="li@example.com",
        To="support@a.test",
        Subject="Re: 打印机卡纸",
        Message_ID="<r@ex>",
        In_Reply_To="<o@ex>",
        References="<o@ex>",
        body="补充",
    )
    results: dict = {}

    def take(name, raw):
        try:
            results[name] = mail_intake.receive(raw)
        finally:
            connection.close()

    ticket_hooks.register(hold)
    try:
        first = threading.Thread(target=take, args=("opening", opening))
        first.start()
        assert inside.wait(30)
        second = threading.Thread(target=take, args=("reply", reply))
        second.start()
        time.sleep(0.5)
        assert second.is_alive()  # waiting for the conversation's lock
        release.set()
        first.join(30)
        second.join(30)
    finally:
        release.set()
        ticket_hooks.unregister(hold)
    assert results["opening"].outcome == "created"
    assert (results["reply"].outcome, results["reply"].ticket.pk) == ("appended", results["opening"].ticket.pk)
    assert Ticket.objects.filter(organization=tenant_a.org, subject="打印机卡纸").count() == 1


def test_other_conversations_are_not_held_up_by_a_message_being_written(tenant_a, queue):
    inside, release = threading.Event(), threading.Event()

    def hold(ticket, event, **info):
        if event == "customer_replied":
            inside.set()
            release.wait(30)

    first = mail_intake.receive(
        build(From="li@example.com", To="support@a.test", Subject="A", Message_ID="<a@ex>", body="x")
    )
    connection.close()
    ticket_hooks.register(hold)
    results: dict = {}

    def take(name, raw):
        try:
            results[name] = mail_intake.receive(raw).outcome
        finally:
            connection.close()

    try:
        reply = build(From="li@example.com", To="support@a.test", Subject="Re: A", In_Reply_To="<a@ex>", body="y")
        held = threading.Thread(target=take, args=("reply", reply))
        held.start()
        assert inside.wait(30)
        # A new conversation from a stranger: neither the reply's conversation lock nor its ticket's row.
        other = build(From="wang@example.com", To="support@a.test", Subject="B", Message_ID="<b@ex>", body="z")
        take("other", other)
        assert results["other"] == "created" and held.is_alive()
        release.set()
        held.join(30)
    finally:
        release.set()
        ticket_hooks.unregister(hold)
    assert results["reply"] == "appended"
    assert Ticket.objects.get(pk=first.ticket.pk).messages.count() == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_smtp_daemon_with_two_worker_processes_takes_mail_from_several_connections(tenant_a, queue):
    port = _free_port()
    handler = IntakeHandler(processes=2)
    assert len(set(handler.workers.pids())) >= 2
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:

        def send(i):
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                raw = build(From=f"p{i}@example.com", To="support@a.test", Subject=f"并行 {i}", body="x")
                client.sendmail(f"p{i}@example.com", ["support@a.test"], raw)
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    client.sendmail(f"p{i}@example.com", ["nobody@a.test"], raw)
            return True

        assert in_threads(*[lambda i=i: send(i) for i in range(4)]) == [True] * 4
    finally:
        controller.stop()
        handler.close()
    tickets = Ticket.objects.filter(organization=tenant_a.org).exclude(number=1)
    assert sorted(t.subject for t in tickets) == [f"并行 {i}" for i in range(4)]
    assert sorted(t.number for t in tickets) == [2, 3, 4, 5]


def test_a_worker_process_that_dies_fails_its_message_with_451_and_the_workers_start_again(tenant_a, queue):
    import os
    import signal

    port = _free_port()
    handler = IntakeHandler(processes=2)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        os.kill(handler.workers.pids()[0], signal.SIGKILL)
        raw = build(From="k@example.com", To="support@a.test", Subject="重启之后", Message_ID="<k@ex>", body="x")
        answers = []
        for _attempt in range(5):  # as a relay retries a 451
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                    client.sendmail("k@example.com", ["support@a.test"], raw)
                answers.append(250)
                break
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                code = exc.smtp_code if isinstance(exc, smtplib.SMTPDataError) else exc.recipients["support@a.test"][0]
                answers.append(code)
                time.sleep(0.5)
    finally:
        controller.stop()
        handler.close()
    assert answers[-1] == 250 and set(answers[:-1]) <= {451}
    assert Ticket.objects.filter(organization=tenant_a.org, subject="重启之后").count() == 1
