from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from kehu.core import audit
from kehu.core.models import AuditChainHead, AuditEntry


def verify(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("audit", "verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_fails(*args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", *args, stdout=StringIO(), stderr=err)
    assert exc.value.returncode == 1
    return err.getvalue()


def test_an_untouched_log_is_ok(tenant_a, tenant_b):
    out, _ = verify()
    entries, chains = AuditEntry.objects.count(), AuditChainHead.objects.count()
    assert chains == 2 and entries > 10
    assert out.strip() == f"OK: {entries} entries in {chains} chains"


def test_it_verifies_one_organisation(tenant_a, tenant_b):
    out, _ = verify("--org", tenant_b.org.name)
    entries = AuditEntry.objects.filter(organization=tenant_b.org).count()
    assert out.strip() == f"OK: {entries} entries in 1 chains"


def test_an_entry_edited_by_hand_is_named(tenant_a, tenant_b):
    victim = AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq")[3]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET target_label = %s WHERE id = %s", ["nothing to see", victim.pk])
    err = verify_fails()
    assert f"entry id {victim.pk} " in err and "altered" in err
    assert tenant_a.org.name in err
    assert tenant_b.org.name not in err  # the other organisation's chain is intact
    out, _ = verify("--org", tenant_b.org.name)
    assert out.startswith("OK:")


def test_a_relinked_entry_is_named(tenant_a):
    victim = AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET prev_hash = %s WHERE id = %s", ["0" * 64, victim.pk])
    assert f"entry id {victim.pk} " in verify_fails("--org", tenant_a.org.name)


def test_the_last_entry_deleted_by_hand_is_detected(tenant_a):
    last = AuditEntry.objects.filter(organization=tenant_a.org).order_by("-seq").first()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [last.pk])
    err = verify_fails("--org", tenant_a.org.name)
    assert f"seq {last.seq})" in err and "removed" in err


def test_an_entry_deleted_from_the_middle_is_detected(tenant_a):
    middle = AuditEntry.objects.filter(organization=tenant_a.org).order_by("seq")[4]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [middle.pk])
    err = verify_fails()
    assert f"seq {middle.seq})" in err and "removed" in err


def test_it_reports_every_broken_chain(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        entry = AuditEntry.objects.filter(organization=tenant.org).order_by("seq").first()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditentry SET action = 'x' WHERE id = %s", [entry.pk])
    err = verify_fails()
    assert tenant_a.org.name in err and tenant_b.org.name in err
    assert len(audit.verify()) == 2


def test_an_unknown_organisation_fails(db):
    with pytest.raises(CommandError, match="Nobody"):
        verify("--org", "Nobody")
