"""The `kehu` console script as an operator runs it: a real process, exit codes, stdout vs stderr."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

KEHU = str(Path(sys.executable).with_name("kehu"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([KEHU, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory) -> dict[str, str]:
    """The embedded settings on a fresh SQLite file of our own (never the suite's database)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="kehu.settings.embedded", KEHU_DATA_DIR=str(tmp_path_factory.mktemp("kehu")))
    result = run("migrate", "--noinput", "-v", "0", env=env)
    assert result.returncode == 0, result.stderr
    return env


def test_the_commands_work_end_to_end_with_exit_codes(embedded_env):
    env = embedded_env
    ok = run(
        "createorg", "--name", "Script Co", "--admin-email", "ops@script.test", "--password", "Script-pw-2026", env=env
    )
    assert ok.returncode == 0, ok.stderr

    again = run(
        "createorg", "--name", "Script Co", "--admin-email", "x@script.test", "--password", "Script-pw-2026", env=env
    )
    assert again.returncode == 1
    assert "CommandError" in again.stderr and "Traceback" not in again.stderr

    token = run("createtoken", "--email", "ops@script.test", "--scope", "write", env=env)
    assert token.returncode == 0, token.stderr
    assert token.stdout.count("\n") == 1 and token.stdout.startswith("kehu_")  # capturable with $(...)

    user = run(
        "createuser", "--org", "Script Co", "--email", "rep@script.test", "--password", "Script-pw-2026",
        "--role", "sales_rep", env=env,
    )  # fmt: skip
    assert user.returncode == 0, user.stderr

    verified = run("audit", "verify", env=env)
    # organisation, its administrator, the token, the user: four entries in the organisation's chain
    assert verified.returncode == 0, verified.stderr
    assert "4" in verified.stdout and "1" in verified.stdout  # the words are translated, the numbers not


def test_seed_demo_prints_the_login_and_is_idempotent(embedded_env):
    first = run("seed_demo", env=embedded_env)
    second = run("seed_demo", env=embedded_env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "admin@demo.kehu.cn" in first.stdout and "Kehu-demo-2026" in first.stdout
    # Only the first line (what was created) may differ.
    assert first.stdout.splitlines()[1:] == second.stdout.splitlines()[1:]


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="kehu.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50)[:50],
        ALLOWED_HOSTS="crm.example.com",
        CSRF_TRUSTED_ORIGINS="https://crm.example.com",
        REDIS_URL="redis://127.0.0.1:6379/0",
        # `check` does not connect to the database; the URL only has to be a PostgreSQL one.
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        KEHU_DATA_DIR=str(tmp_path),
    )
    return env


def test_the_production_settings_pass_the_deployment_checks(tmp_path):
    result = run("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_the_production_settings_refuse_to_start_without(tmp_path, variable):
    env = production_env(tmp_path)
    del env[variable]
    result = run("check", env=env)
    assert result.returncode != 0
    assert f"Set the environment variable {variable}" in result.stderr
