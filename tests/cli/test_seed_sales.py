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


def test_activities_wait_for_their_topic_and_nothing_is_a_clear_error(seeded):
    env, _path = seeded
    activities = run("seed_sales", "--activities", "10", env=env)
    assert activities.returncode == 1 and "activity topic has not registered" in activities.stderr
    nothing = run("seed_sales", env=env)
    assert nothing.returncode == 1 and "--opportunities N" in nothing.stderr
    assert "Traceback" not in activities.stderr + nothing.stderr
