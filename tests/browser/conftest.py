"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

`playwright install` cannot download a browser here, so the tests use /usr/bin/chromium (.ci/run
installs it with `apt-get install chromium fonts-noto-cjk`) and skip only when it is missing.
"""

from __future__ import annotations

import os
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop running in this thread; the test's own database access
# (fixtures, assertions) is still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
# As root on a closed network: no sandbox, no GPU, and no background calls to Google's servers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--headless",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk; .ci/run does)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(locale=...) -> a page in a fresh context (own cookies) on the live server."""
    contexts = []

    def make(locale: str = "zh-CN"):
        context = browser.new_context(
            base_url=live_server.url, locale=locale, viewport={"width": 1280, "height": 860}, device_scale_factor=1
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def support_inbox():
    """The SMTP daemon's handler on 127.0.0.1: send(raw) delivers a customer's mail to it."""
    from aiosmtpd.controller import Controller

    from kehu.service.mail_smtpd import IntakeHandler

    port = _free_port()
    handler = IntakeHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()

    def send(raw: bytes, sender: str = "wang@hengtong.cn", to: str = "support@a.test") -> None:
        # A 451 ("try again later") is retried as a sending mail server would: on SQLite the live server's
        # thread can hold a table lock of the shared in-memory test database for a moment.
        for attempt in range(5):
            try:
                with smtplib.SMTP("127.0.0.1", port) as client:
                    client.sendmail(sender, [to], raw)
                return
            except smtplib.SMTPDataError as error:
                if error.smtp_code != 451 or attempt == 4:
                    raise
                time.sleep(0.5)

    yield send
    controller.stop()
    handler.close()
