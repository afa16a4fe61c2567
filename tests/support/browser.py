"""A real headless Chromium for the tests of pages: Debian's, driven by Playwright.

Playwright's own browser builds are downloaded from a host these machines cannot reach, so the
tests use ``/usr/bin/chromium`` (``./dev test`` installs it). The browser resolves no host
name but the loopback ones, as on an air-gapped deployment: a page that needs anything from
the internet breaks at once instead of waiting for a timeout, and every request it tries is
recorded all the same (``Requests``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Request, WebSocket, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from tests.support.reports import failed

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
# Pages of the platform are large (GraphiQL is about 21 MB) and the machines are shared:
# Playwright's defaults (30 s for an action, 5 s for an expectation) are too tight under load.
ACTION_TIMEOUT_MS = 60_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)
HOSTLESS_SCHEMES = {"data", "about"}


def on_loopback(url: str) -> bool:
    """Whether fetching ``url`` stays on this machine: a loopback host, a blob made by a page
    of a loopback origin, or a URL that names no host at all (``data:``, ``about:``)."""
    parts = urlsplit(url)
    if parts.scheme == "blob":
        return on_loopback(parts.path)
    if parts.scheme in HOSTLESS_SCHEMES:
        return True
    host = parts.hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Requests:
    """Every URL a page asked for (HTTP and WebSocket), in order."""

    urls: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", self.request)
        page.on("websocket", self.websocket)

    def request(self, request: Request) -> None:
        self.urls.append(request.url)

    def websocket(self, socket: WebSocket) -> None:
        self.urls.append(socket.url)

    def offsite(self) -> list[str]:
        return [url for url in self.urls if not on_loopback(url)]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not await asyncio.to_thread(CHROMIUM.exists):
        pytest.fail(
            f"{CHROMIUM} is missing: ./dev test installs it (apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tab:
    page: Page
    requests: Requests


@contextlib.asynccontextmanager
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    """A page in a context of its own (no cookies or storage from another test)."""
    context = await browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = await context.new_page()
        requests = Requests()
        requests.watch(page)
        yield Tab(page, requests)
    finally:
        await context.close()


async def show_failure(opened: Tab, item: pytest.Item, path: Path) -> None:
    """After a failed test: a screenshot of the page at ``path`` and the requests it made off
    this machine, both named in the failure's report."""
    call = failed(item)
    if call is None:
        return
    with contextlib.suppress(PlaywrightError):
        await opened.page.screenshot(path=path, full_page=True)
    call.sections.append(
        ("page", f"screenshot: {path}\nrequests off this machine: {opened.requests.offsite()}")
    )
