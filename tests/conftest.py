"""Fixtures every test shares: two organisations with one user per default role, a real SMTP server,
API clients. Modelled on the owner / teammate / outsider fixtures of healthchecks."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from rest_framework.test import APIClient

from kehu.accounts import services as account_services
from kehu.accounts.models import Organization, Role, Team, User
from kehu.accounts.roles import DEFAULT_ROLES

PASSWORD = "Kehu-test-pw-2026"
ROLE_KEYS = list(DEFAULT_ROLES)


@dataclass
class Tenant:
    """One organisation: a team tree (sales > sales east) and one user per default role."""

    org: Organization
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)

    @property
    def admin(self) -> User:
        return self.users["administrator"]

    def role(self, key: str) -> Role:
        return self.org.roles.get(key=key)


def make_tenant(name: str, slug: str, modules: list[str] | None = None) -> Tenant:
    org = account_services.organization_create(
        actor=None,
        name=name,
        admin_email=f"admin@{slug}.test",
        admin_password=PASSWORD,
        admin_name=f"{name} Admin",
        modules_enabled=modules,
    )
    tenant = Tenant(org=org)
    admin = User.objects.get(email=f"admin@{slug}.test")
    tenant.users["administrator"] = admin
    sales = account_services.team_create(actor=admin, name="Sales")
    east = account_services.team_create(actor=admin, name="Sales East", parent=sales)
    tenant.teams = {"sales": sales, "east": east}
    for key in ROLE_KEYS:
        if key == "administrator":
            continue
        team = east if key in ("sales_rep",) else sales
        tenant.users[key] = account_services.user_create(
            actor=admin,
            organization=org,
            email=f"{key}@{slug}.test",
            password=PASSWORD,
            role=tenant.role(key),
            name=f"{slug} {key}",
            team=team,
        )
    # A second rep in the same team: the "teammate" of healthchecks' fixtures.
    tenant.users["sales_rep_2"] = account_services.user_create(
        actor=admin,
        organization=org,
        email=f"sales_rep_2@{slug}.test",
        password=PASSWORD,
        role=tenant.role("sales_rep"),
        name=f"{slug} rep two",
        team=east,
    )
    admin.team = sales
    admin.save(update_fields=["team"])
    return tenant


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache: ids come back after a rolled-back test (SQLite), and an entry
    a test left (assignment rules, summaries) must not describe another test's rows."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("示例科技有限公司", "a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("Other Corp", "b")


@pytest.fixture
def api():
    """An API client factory: api(user) is authenticated as that user (session-less force auth)."""

    def make(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


def login_client(client, user: User):
    client.force_login(user)
    return client


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content)
        msg["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, collector: _Collector, port: int) -> None:
        self._collector = collector
        self.port = port

    @property
    def messages(self) -> list[Message]:
        return self._collector.messages

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    @staticmethod
    def body(msg: Message) -> str:
        if msg.is_multipart():
            return "".join(
                part.get_payload(decode=True).decode() for part in msg.walk() if part.get_content_type() == "text/plain"
            )
        return msg.get_payload(decode=True).decode()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 (aiosmtpd); Django's SMTP backend sends to it."""
    collector = _Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = False
    try:
        yield SmtpServer(collector, port)
    finally:
        controller.stop()
