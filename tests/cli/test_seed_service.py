"""`kehu seed_service`: service benchmark data on top of `kehu seed`, as an operator runs it (a real process on
an SQLite file of its own)."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

KEHU = str(Path(sys.executable).with_name("kehu"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([KEHU, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_tickets_conversations_and_sla_clocks(tmp_path):
    path = tmp_path / "bench.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="kehu.settings.test", DATABASE_URL=f"sqlite:///{path}")
    for args in (("migrate", "--noinput", "-v", "0"), ("seed", "--customers", "200")):
        result = run(*args, env=env)
        assert result.returncode == 0, result.stderr
    result = run("seed_service", "--tickets", "1500", "--messages", "6000", "--batch", "500", env=env)
    assert result.returncode == 0, result.stderr
    assert "Seeded 1,500 tickets and 6,000 messages" in result.stdout

    db = sqlite3.connect(path)
    statuses = dict(db.execute("SELECT status, count(*) FROM service_ticket GROUP BY status"))
    assert sum(statuses.values()) == 1500 and statuses["closed"] > 1000
    # Numbers follow the counter; every ticket has its SLA row and its opening message from the customer.
    assert db.execute("SELECT min(number), max(number), count(DISTINCT number) FROM service_ticket").fetchone() == (
        1,
        1500,
        1500,
    )
    assert db.execute("SELECT last_number FROM service_ticketcounter").fetchone()[0] == 1500
    assert db.execute("SELECT count(*) FROM service_ticketsla").fetchone()[0] == 1500
    assert not db.execute(
        "SELECT count(*) FROM service_ticket t WHERE NOT EXISTS (SELECT 1 FROM service_ticketmessage m "
        "WHERE m.ticket_id = t.id AND m.kind = 'customer')"
    ).fetchone()[0]
    # Assignees are members of the ticket's queue; answered tickets record their first response.
    assert not db.execute(
        "SELECT count(*) FROM service_ticket t WHERE t.owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "service_queue_members qm WHERE qm.queue_id = t.queue_id AND qm.user_id = t.owner_id)"
    ).fetchone()[0]
    assert not db.execute(
        "SELECT count(*) FROM service_ticket t WHERE t.first_responded_at IS NULL AND EXISTS (SELECT 1 FROM "
        "service_ticketmessage m WHERE m.ticket_id = t.id AND m.kind = 'reply')"
    ).fetchone()[0]
    # Only running clocks have a next check, and closed tickets none.
    assert not db.execute(
        "SELECT count(*) FROM service_ticketsla s JOIN service_ticket t ON t.id = s.ticket_id "
        "WHERE t.status IN ('resolved', 'closed') AND s.next_check_at IS NOT NULL"
    ).fetchone()[0]
    assert db.execute("SELECT count(*) FROM core_auditentry WHERE action = 'service.seed'").fetchone()[0] == 1
