import itertools

import pytest
from django.db import connection, transaction

from kehu.accounts import services
from kehu.core import audit
from kehu.core.models import AuditEntry


def test_it_chains_entries_per_organization(tenant_a, tenant_b):
    entries = list(AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == ""
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    assert {e.chain for e in entries} == {f"org:{tenant_a.org.pk}"}
    assert audit.verify() == []


def test_it_names_an_entry_edited_by_hand(tenant_a):
    victim = AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET target_label = %s WHERE id = %s", ["forged", victim.pk])
    problems = audit.verify()
    assert len(problems) == 1
    assert problems[0].entry_id == victim.pk
    assert "altered" in problems[0].reason


def test_it_detects_removed_entries_in_the_middle_and_at_the_end(tenant_a):
    entries = list(AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [entries[1].pk])
    [problem] = audit.verify()
    assert problem.seq == 2 and "removed" in problem.reason

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE organization_id = %s AND seq >= 2", [tenant_a.org.pk])
    [problem] = audit.verify()
    assert "end of the chain" in problem.reason


def test_entries_are_append_only(tenant_a):
    entry = AuditEntry.objects.filter(organization=tenant_a.org).first()
    entry.action = "changed"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_sensitive_values_never_enter_the_log(tenant_a):
    entry = audit.record(
        actor=tenant_a.admin, action="test", changes={"password": "hunter2", "api_token": "x", "name": "ok"}
    )
    assert entry.changes["password"] == {"before": "***", "after": "***"}
    assert entry.changes["api_token"] == {"before": "***", "after": "***"}
    assert entry.changes["name"] == "ok"
    assert "hunter2" not in str(AuditEntry.objects.values_list("changes", flat=True))


def test_a_rolled_back_change_leaves_no_entry(tenant_a):
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.team_create(actor=tenant_a.admin, name="Ghost team")
        raise RuntimeError("boom")
    assert AuditEntry.objects.count() == before
    assert audit.verify() == []


def test_the_actor_ip_is_recorded(tenant_a):
    admin = tenant_a.admin
    admin.request_ip = "203.0.113.7"
    entry = audit.record(actor=admin, action="test.ip", target=admin)
    assert entry.ip == "203.0.113.7"
    assert entry.target_type == "accounts.user" and entry.target_id == str(admin.pk)


def test_deferred_entries_are_written_together_in_order_on_one_chain(tenant_a, tenant_b, django_assert_num_queries):
    last = AuditEntry.objects.filter(organization=tenant_a.org).order_by("-seq").first().seq
    # The query count closes first: nothing is written before the deferred block ends.
    with transaction.atomic(), audit.deferred(), django_assert_num_queries(0):
        audit.record(actor=tenant_a.admin, action="test.first", target=tenant_a.admin, changes={"n": 1})
        audit.record(actor=tenant_b.admin, action="test.other", target=tenant_b.admin)
        audit.record(actor=tenant_a.admin, action="test.second", target=tenant_a.admin, changes={"n": 2})
    entries = list(AuditEntry.objects.filter(organization=tenant_a.org, seq__gt=last).order_by("seq"))
    assert [(e.action, e.seq, e.changes) for e in entries] == [
        ("test.first", last + 1, {"n": 1}),
        ("test.second", last + 2, {"n": 2}),
    ]
    assert AuditEntry.objects.filter(organization=tenant_b.org, action="test.other").count() == 1
    assert audit.verify() == []


def test_a_deferred_block_that_raises_writes_nothing(tenant_a):
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), audit.deferred():
        audit.record(actor=tenant_a.admin, action="test.lost", target=tenant_a.admin)
        raise RuntimeError("boom")
    assert AuditEntry.objects.count() == before
    audit.record(actor=tenant_a.admin, action="test.after", target=tenant_a.admin)  # written at once again
    assert AuditEntry.objects.filter(action="test.after").count() == 1
    assert audit.verify() == []
