"""One import through a real Celery worker process and Redis (redis://127.0.0.1:6379/12).

The worker and the web side must share a database and a file store, which the in-memory test database
cannot be; so this test builds its own file-based SQLite database and media folder in a temporary
directory, runs `kehu migrate`, starts `celery worker` on a queue of its own, and drives the import from a
separate process exactly as a view does (upload, mapping, start in a transaction: the task is sent on
commit). Skipped when Redis is not reachable.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

REDIS = ("127.0.0.1", 6379)
BIN = Path(sys.executable).parent


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="Redis is not running on 127.0.0.1:6379")

DRIVER = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from django.core.files.base import ContentFile
    from django.db import transaction
    from kehu.celery import app
    from kehu.accounts import services
    from kehu.accounts.models import User
    from kehu.core import imports
    from kehu.customers.models import Customer

    app.conf.task_default_queue = sys.argv[1]
    services.organization_create(actor=None, name="Worker Co", admin_email="admin@worker.test",
                                 admin_password="Worker-pw-2026", admin_name="Admin")
    admin = User.objects.get(email="admin@worker.test")
    lines = ["客户名称,电话,城市"] + [f"工人公司{i},138{i:08d},杭州" for i in range(2500)] + [",123,坏行"]
    upload = ContentFile("\\n".join(lines).encode("gb18030"), name="worker.csv")
    job = imports.import_job_create(actor=admin, record_type="customers", upload=upload)
    job = imports.import_job_update(actor=admin, job=job, policy="skip")
    with transaction.atomic():
        imports.import_job_start(actor=admin, job=job)
    deadline = time.monotonic() + 180
    seen = set()
    while time.monotonic() < deadline:
        job.refresh_from_db()
        seen.add(job.processed_rows)
        if job.status not in ("running",):
            break
        time.sleep(0.2)
    print(json.dumps({"status": job.status, "created": job.created_count, "errors": job.error_count,
                      "customers": Customer.objects.filter(organization=admin.organization).count(),
                      "progress_steps": len(seen), "message": job.message}))
    """
)


def test_an_import_runs_in_a_real_celery_worker(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kehu.settings.base",
        "KEHU_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kehu.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/12",
    }
    subprocess.run([str(BIN / "kehu"), "migrate", "-v", "0"], env=env, check=True, timeout=300)
    queue = f"kehu-test-{uuid.uuid4().hex[:8]}"  # our own queue: no other worker on db 12 takes the task
    command = [str(BIN / "celery"), "-A", "kehu", "worker", "--pool=solo", "-Q", queue, "-l", "warning"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        driver = subprocess.run(
            [sys.executable, "-c", DRIVER, queue], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        worker.terminate()  # only the worker this test started, by its own handle
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert driver.returncode == 0, driver.stderr[-3000:]
    result = json.loads(driver.stdout.strip().splitlines()[-1])
    assert result["status"] == "done", result
    assert (result["created"], result["errors"], result["customers"]) == (2500, 1, 2500)
