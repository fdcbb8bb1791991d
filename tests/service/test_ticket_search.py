"""The ticket search for 1-2 characters walks each part of the actor's scope by itself
(TicketQuerySet.visible_parts, ticket_parts_for, newest_search_ids): it must return exactly what the one
general statement over visible_to returns, in the same order and pages, whoever asks (every role, a queue's
member and manager) and whatever the search and sort."""

from __future__ import annotations

import operator
from datetime import timedelta
from functools import reduce

import pytest
from django.db import connection
from django.utils import timezone

from kehu.service import ticket_selectors
from kehu.service.ticket_models import Ticket, search_grams_sql
from kehu.service.ticket_visibility import forget_queues, queue_ids_for, ticket_scope_branches, ticket_scope_q
from tests.conftest import ROLE_KEYS
from tests.service.ticket_factories import make_queue, make_ticket

pytestmark = pytest.mark.django_db

ASKING = (*ROLE_KEYS, "sales_rep_2")
# Walked (1-2 characters: common, rare, absent, digits, a requester's rare name and email in other cases) and
# not (longer, a ticket key).
SEARCHES = (
    "发票",
    "抬头",
    "王",
    "开错",
    "zz",
    "12",
    "饕",
    "饕餮",
    "qZ",
    "Q",
    "e.",
    "%",
    "²",
    "#²",
    "example.com",
    "王先生",
    "#1",
)
ORDERINGS = ("-updated_at", "updated_at", "-priority", "number", "resolution_due_at", "-created_at")


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


@pytest.fixture
def tickets(tenant_a, tenant_b):
    """Tickets of every assignee (and none) in a queue the agent works in and the manager manages, in one the
    manager works in, and in none; half of them about an invoice; some in the recycle bin; some with the same
    update time (the pages' tie on the id); and another organisation's, which no one here may see."""
    users = tenant_a.users
    agent, manager = users["service_agent"], users["service_manager"]
    worked = make_queue(tenant_a, members=[agent], manager=manager)
    other = make_queue(tenant_a, members=[manager])
    owners = [agent, manager, tenant_a.admin, users["sales_rep"], None]
    made = []
    for n, (owner, queue) in enumerate((o, q) for o in owners for q in (worked, other, None)):
        for subject in (f"发票抬头开错了 {n}", f"打印机无法连接 {n}"):
            ticket = make_ticket(
                tenant_a, owner or tenant_a.admin, queue=queue, subject=subject, priority=("low", "high")[n % 2]
            )
            if owner is None:
                Ticket.objects.filter(pk=ticket.pk).update(owner=None)
            made.append(ticket)
    # Rare: a requester's name and an upper-case email (icontains ignores the case; so must the grams).
    for owner in (agent, None):
        ticket = make_ticket(
            tenant_a, agent, queue=worked, subject="100% OK Qz", requester_name="饕餮", requester_email="QZ@Mail.CN"
        )
        if owner is None:
            Ticket.objects.filter(pk=ticket.pk).update(owner=None)
        made.append(ticket)
    same_time = timezone.now() - timedelta(hours=1)
    Ticket.objects.filter(pk__in=[t.pk for t in made[::5]]).update(updated_at=same_time)
    Ticket.objects.filter(pk__in=[t.pk for t in made[1::7]]).update(deleted_at=timezone.now())
    elsewhere = make_queue(tenant_b, members=[tenant_b.users["service_agent"]])
    make_ticket(tenant_b, tenant_b.users["service_agent"], queue=elsewhere, subject="发票 b")
    for key in ASKING:
        forget_queues(users[key])
    return made


def _general_pages(actor, search: str, ordering: str) -> list[int]:
    """Every id of the general statement's list in the page order, the way the list read it before parts."""
    name = ordering.lstrip("-")
    qs = ticket_selectors.ticket_queryset_for(actor=actor, filters={"search": search})
    qs = qs.annotate(sort_key=ticket_selectors.ORDERINGS[name]())
    order = ("-sort_key", "-pk") if ordering.startswith("-") else ("sort_key", "pk")
    return list(qs.order_by(*order).values_list("pk", flat=True))


def _paged(actor, search: str, ordering: str, limit: int) -> list[int]:
    """Every id of ticket_list_for's pages, following the next links; and the previous link of the second
    page must give the first page again."""
    seen, cursor, first = [], None, None
    for _ in range(100):
        page = ticket_selectors.ticket_list_for(
            actor=actor, filters={"search": search}, ordering=ordering, cursor=cursor, limit=limit
        )
        ids = [row.pk for row in page.items]
        if first is None:
            first = ids
        elif cursor is not None and len(seen) == len(first):
            back = ticket_selectors.ticket_list_for(
                actor=actor, filters={"search": search}, ordering=ordering, cursor=page.previous_cursor, limit=limit
            )
            assert [row.pk for row in back.items] == first
        seen += ids
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    raise AssertionError("more pages than tickets")


def test_the_parts_of_the_scope_are_visible_to_for_every_role(tenant_a, tickets):
    checked = 0
    for key in ASKING:
        actor = tenant_a.users[key]
        expected = _ids(Ticket.objects.visible_to(actor))
        parts = Ticket.objects.visible_parts(actor)
        union = set().union(*(_ids(part) for part in parts))
        assert union == expected, key
        if parts:
            # visible_to's condition is the OR of the branches the parts are read by: one rule.
            branches = ticket_scope_branches(actor)
            assert len(parts) == len(branches), key
            assert ticket_scope_q(actor) == reduce(operator.or_, branches), key
        checked += len(parts) > 1
    # The agent (own + queue) and the manager (team + queue member + queue manager) have several parts.
    assert checked >= 2
    assert Ticket.objects.visible_parts(None) == []


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("walks", ("as they go", "undecided"))
def test_a_searched_list_pages_as_the_general_statement_for_every_role(tenant_a, tickets, ordering, walks, request):
    """ "undecided": every walk that does not see its whole part takes the index step (the rare fragments')."""
    if walks == "undecided":
        request.getfixturevalue("undecided")
    nonempty = 0
    for key in ASKING:
        actor = tenant_a.users[key]
        for search in SEARCHES:
            expected = _general_pages(actor, search, ordering)
            assert _paged(actor, search, ordering, limit=4) == expected, (key, search)
            nonempty += bool(expected)
    assert nonempty >= 10  # not a matrix of empty lists


def test_the_search_box_finds_what_the_general_statement_finds_for_every_role(tenant_a, tickets):
    for key in ASKING:
        actor = tenant_a.users[key]
        for search in SEARCHES:
            qs = ticket_selectors.ticket_queryset_for(actor=actor, filters={"search": search})
            expected = [t.get_absolute_url() for t in qs.order_by("-updated_at", "-pk")[:4]]
            hits = ticket_selectors.search_provider(actor=actor, query=search, limit=4)
            assert [hit.url for hit in hits] == expected, (key, search)


def test_an_agents_short_search_walks_each_part_once(tenant_a, tickets, django_assert_num_queries):
    agent = tenant_a.users["service_agent"]
    assert len(Ticket.objects.visible_parts(agent)) == 2  # their own; their queue's unassigned
    # A walk per part (each saw every row of its part here; together they give the page's ids), then the
    # page's rows and tags.
    with django_assert_num_queries(4):
        page = ticket_selectors.ticket_list_for(actor=agent, filters={"search": "发票"}, limit=50)
    assert page.items and all("发票" in row.subject for row in page.items)
    # Longer fragments and lists without a search: one statement for the ids, as before.
    with django_assert_num_queries(3):
        ticket_selectors.ticket_list_for(actor=agent, filters={"search": "发票抬头"}, limit=50)
    with django_assert_num_queries(3):
        ticket_selectors.ticket_list_for(actor=agent, filters={}, limit=50)


@pytest.fixture
def undecided(monkeypatch):
    """Walks of one row first: too few matches to go on, so every part that has more rows takes the index step
    (what a rare fragment does at scale)."""
    from kehu.core import search_backends

    walk_then_index = search_backends.walk_then_index
    monkeypatch.setattr(search_backends, "walk_then_index", lambda *a, **kw: walk_then_index(*a, **kw, walk_rows=1))


def test_a_rare_fragment_takes_the_index_step(tenant_a, tickets, undecided, django_assert_num_queries):
    """When a part's walk cannot decide (it saw too few matches to trust, and the part goes on), PostgreSQL asks
    the planner how many of the part's tickets hold the gram, then the grams' GIN index for the part's newest
    matches; SQLite runs one statement for the part. The same ids as the general statement."""
    agent = tenant_a.users["service_agent"]
    queue_ids_for(agent)  # read once per actor (their queues)
    filters = ticket_selectors.TicketFilters(search="发票")
    # Per part: the walk, then on PostgreSQL the estimate and the index step (a savepoint, its two local
    # settings, the statement, the release), on SQLite the part's statement.
    with django_assert_num_queries(12 if connection.vendor == "postgresql" else 4):
        ids = ticket_selectors.newest_search_ids(actor=agent, filters=filters, limit=2)
    assert len(ids) == 2
    general = ticket_selectors.ticket_queryset_for(actor=agent, filters=filters)
    assert ids == list(general.order_by("-updated_at", "-pk").values_list("pk", flat=True)[:2])


def test_a_fragment_too_common_for_the_index_step_reads_the_part_by_recency(tenant_a, tickets, undecided, monkeypatch):
    """PostgreSQL's planner expects more tickets of the part to hold the gram than the index step may read (0
    here): one statement for the part's newest matches instead, the same pages."""
    monkeypatch.setattr(ticket_selectors, "GRAM_STEP_MOST", 0)
    for key in ASKING:
        actor = tenant_a.users[key]
        for search in ("发票", "饕", "qZ"):
            assert _paged(actor, search, "-updated_at", limit=3) == _general_pages(actor, search, "-updated_at")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
def test_the_index_step_finds_what_any_write_stored(tenant_a, tickets):
    """The step's condition is the expression of ticket_search_grams, which finds what every write path stored,
    QuerySet.update included: no trigger or service keeps the index, the database does."""
    from kehu.core.search_backends import get_backend

    ticket = tickets[0]
    Ticket.objects.filter(pk=ticket.pk).update(requester_name="靐齉")
    filters = ticket_selectors.TicketFilters(search="齉")
    matching = Ticket.objects.visible_to(tenant_a.admin).filter(ticket_selectors._search_q(filters))
    rows = get_backend().gram_matches(
        matching,
        search_grams_sql("service_ticket"),
        "齉",
        fold="upper",
        limit=5,
        exact=ticket_selectors._search_q(filters),
    )
    assert [pk for pk, _ in rows] == [ticket.pk]
    # Whether the planner reads it is a question of scale (this table's few rows go by any B-tree): the
    # EXPLAIN at 1,000,000 tickets is in benchmarks/RESULTS.md, ticketgrams.


def test_a_whole_organisation_scope_and_my_tickets_have_one_part(tenant_a, tickets):
    admin, agent = tenant_a.admin, tenant_a.users["service_agent"]
    assert len(Ticket.objects.visible_parts(admin)) == 1
    assert len(ticket_selectors.ticket_parts_for(actor=admin, filters={"search": "发票"})) == 1
    mine = ticket_selectors.ticket_parts_for(actor=agent, filters={"search": "发票", "assignee": "me"})
    assert len(mine) == 1
    assert _ids(mine[0]) == _ids(
        ticket_selectors.ticket_queryset_for(actor=agent, filters={"search": "发票", "assignee": "me"})
    )
    assert Ticket.objects.visible_parts(tenant_a.users["sales_rep"]) == []  # no service grant: nothing


def test_the_search_box_walks_the_newest_tickets_only_and_links_to_the_list(
    tenant_a, tickets, monkeypatch, django_assert_num_queries
):
    """A rare fragment must not make the box read every ticket (the general statement): each part is walked
    among its newest rows, and when that did not see them all, the group links to the list's search."""
    from kehu.core import search_backends

    agent = tenant_a.users["service_agent"]
    queue_ids_for(agent)
    complete = ticket_selectors.search_provider(actor=agent, query="发票", limit=4)
    assert complete and not complete.more_url  # the walks saw every ticket here
    monkeypatch.setattr(search_backends, "BOX_WALK_ROWS", 2)
    with django_assert_num_queries(3):  # a walk per part (own, queue's unassigned), then the hits' rows
        hits = ticket_selectors.search_provider(actor=agent, query="发票", limit=4)
    assert hits.more_url == "/service/tickets/?search=%E5%8F%91%E7%A5%A8"
    newest_two = {
        pk
        for part in Ticket.objects.visible_parts(agent)
        for pk in part.order_by("-updated_at", "-pk").values_list("pk", flat=True)[:2]
    }
    found = {int(hit.url.rstrip("/").rsplit("/", 1)[1]) for hit in hits}
    assert found and found <= newest_two
    assert all("发票" in hit.title for hit in hits)
