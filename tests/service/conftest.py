"""A real IMAP server for the mailbox tests: Debian's Dovecot (dovecot-imapd; .ci/run installs it), started
as the current user with a generated configuration in a temporary folder and stopped after the test.

Dovecot refuses to run its login processes as root: run as root (CI), the login and internal processes use
the package's dovenull and dovecot users, and the mail is stored with the dovecot user's id; run as anyone
else, everything runs as that user.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = Path("/usr/sbin/dovecot")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    base: Path

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def unseen(self, folder: str = "INBOX") -> list[bytes]:
        client = self.client()
        try:
            client.select(folder)
            return client.uid("SEARCH", None, "UNSEEN")[1][0].split()
        finally:
            client.logout()

    @property
    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def imap_server():
    if not DOVECOT.exists():
        pytest.skip(f"{DOVECOT} is missing (apt-get install dovecot-imapd; .ci/run installs it)")
    base = Path(tempfile.mkdtemp(prefix="kehu-dovecot-"))
    base.chmod(0o755)  # the mail processes (another user when we are root) must reach their maildir
    port = _free_port()
    if os.geteuid() == 0:
        login_user, internal_user = "dovenull", "dovecot"
        mail_uid, mail_gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
    else:
        login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
        mail_uid, mail_gid = os.geteuid(), os.getegid()
    internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
    for name in ("run", "state", "mail", "home"):
        (base / name).mkdir()
    for name in ("mail", "home"):
        os.chown(base / name, mail_uid, mail_gid)
    user, password = "support@kehu.test", "imap-test-pw"
    (base / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n")
    (base / "dovecot.conf").write_text(
        f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    # The master daemonises; its children would hold captured pipes open, so its output goes to the log file.
    subprocess.run(
        [str(DOVECOT), "-c", str(base / "dovecot.conf")],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    server = ImapServer("127.0.0.1", port, user, password, base)
    deadline = time.monotonic() + 10
    while True:
        try:
            server.client().logout()
            break
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start:\n{server.log}") from None
            time.sleep(0.1)
    try:
        yield server
    finally:
        pid_file = base / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)
