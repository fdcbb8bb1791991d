"""`kehu seed_sales`: sales benchmark data on top of `kehu seed`, as an operator runs it (a real process on
an SQLite file of its own)."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KEHU = str(Path(sys.executable).with_name("kehu"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([KEHU, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[dict[str, str], Path]:
    path = tmp_path_factory.mktemp("seed") / "bench.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="kehu.settings.test", DATABASE_URL=f"sqlite:///{path}")
    for args in (("migrate", "--noinput", "-v", "0"), ("seed", "--customers", "300")):
        result = run(*args, env=env)
        assert result.returncode == 0, result.stderr
    return env, path


def test_opportunities_and_leads_for_the_seeded_customers(seeded):
    env, path = seeded
    result = run("seed_sales", "--opportunities", "3000", "--leads", "800", "--batch", "500", env=env)
    assert result.returncode == 0, result.stderr
    assert "Seeded 3,000 opportunities" in result.stdout and "Seeded 800 leads" in result.stdout

    db = sqlite3.connect(path)
    statuses = dict(db.execute("SELECT status, count(*) FROM sales_opportunity GROUP BY status"))
    assert sum(statuses.values()) == 3000 and set(statuses) == {"open", "won", "lost"}
    assert statuses["lost"] > statuses["won"]
    # Each deal belongs to its customer's owner, in the default pipeline, at a stage of the right kind.
    assert not db.execute(
        "SELECT count(*) FROM sales_opportunity o JOIN customers_customer c ON c.id = o.customer_id "
        "WHERE c.owner_id IS NOT NULL AND c.owner_id != o.owner_id"
    ).fetchone()[0]
    mismatched = db.execute(
        "SELECT count(*) FROM sales_opportunity o JOIN sales_stage s ON s.id = o.stage_id "
        "WHERE s.kind != o.status OR s.pipeline_id != o.pipeline_id"
    ).fetchone()[0]
    assert mismatched == 0
    assert not db.execute(
        "SELECT count(*) FROM sales_opportunity WHERE status != 'open' AND closed_at IS NULL"
    ).fetchone()[0]
    assert not db.execute(
        "SELECT count(*) FROM sales_opportunity WHERE status = 'open' AND closed_at IS NOT NULL"
    ).fetchone()[0]
    assert db.execute("SELECT count(*) FROM sales_lead").fetchone()[0] == 800
    assert db.execute("SELECT count(*) FROM core_auditentry WHERE action = 'sales.seed'").fetchone()[0] == 1


def test_activities_point_at_seeded_records_of_their_owners(seeded):
    env, path = seeded
    result = run("seed_sales", "--opportunities", "500", "--leads", "200", "--activities", "4000", env=env)
    assert result.returncode == 0, result.stderr
    assert "Seeded 4,000 activities" in result.stdout

    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sales_activity").fetchone()[0] == 4000
    kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM sales_activity")}
    assert kinds == {"call", "visit", "meeting", "email", "task"}
    statuses = dict(db.execute("SELECT status, count(*) FROM sales_activity GROUP BY status"))
    assert set(statuses) == {"planned", "done", "cancelled"} and statuses["done"] > statuses["planned"]
    # Planned ones both overdue and upcoming, so "my day" has all its buckets.
    now = "strftime('%Y-%m-%d %H:%M:%S', 'now')"
    assert db.execute(
        f"SELECT count(*) FROM sales_activity WHERE status = 'planned' AND scheduled_at < {now}"
    ).fetchone()[0]
    assert db.execute(
        f"SELECT count(*) FROM sales_activity WHERE status = 'planned' AND scheduled_at > {now}"
    ).fetchone()[0]
    assert not db.execute(
        "SELECT count(*) FROM sales_activity WHERE (status = 'done') != (done_at IS NOT NULL) "
        "OR (customer_id IS NULL AND lead_id IS NULL) OR scheduled_at IS NULL"
    ).fetchone()[0]
    # An opportunity's activity is about its customer and belongs to the opportunity's owner.
    assert db.execute("SELECT count(*) FROM sales_activity WHERE opportunity_id IS NOT NULL").fetchone()[0]
    assert not db.execute(
        "SELECT count(*) FROM sales_activity a JOIN sales_opportunity o ON o.id = a.opportunity_id "
        "WHERE a.customer_id != o.customer_id OR a.owner_id != o.owner_id"
    ).fetchone()[0]
    assert not db.execute(
        "SELECT count(*) FROM sales_activity a LEFT JOIN sales_lead l ON l.id = a.lead_id "
        "WHERE a.lead_id IS NOT NULL AND l.id IS NULL"
    ).fetchone()[0]


def test_nothing_to_seed_is_a_clear_error(seeded):
    env, _path = seeded
    nothing = run("seed_sales", env=env)
    assert nothing.returncode == 1 and "--opportunities N" in nothing.stderr
    assert "Traceback" not in nothing.stderr
