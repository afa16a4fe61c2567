"""GraphiQL as an analyst uses it, in a real headless Chromium against ``incar serve``.

The gateway's page is Hive Laboratory, Hive Gateway's GraphiQL, whose scripts, styles and
editor are inlined into the page. It must work where the platform runs, with no internet: it
may ask nothing of any host but the gateway's. The browser resolves no other name
(tests/support/browser.py), so a page that needs a CDN shows up here as a page that does not
work, and as the offsite requests it tried: with Hive's legacy GraphiQL
(``renderLegacyGraphiQL``) both tests fail, on a blank page that asked unpkg.com for its
scripts.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.browser import Tab, chromium, show_failure, tab
from tests.support.serve import Platform, platform

# The platform and the browser are shared by the module, and the first test pays for starting
# them (most of its time), on machines shared with other test runs.
pytestmark = pytest.mark.timeout(300)

QUERY = "{ stations(near: {latitude: 60.17, longitude: 24.94}) { totalCount } }"


@pytest.fixture(scope="module")
async def serving(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    async with platform(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


@pytest.fixture
async def graphiql(
    serving: Platform, browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Tab]:
    """GraphiQL opened at the gateway's address, as a browser asks for it; a screenshot in
    ``tmp_path`` if the test fails."""
    async with tab(browser) as opened:
        try:
            await opened.page.goto(serving.gateway)
            yield opened
        finally:
            await show_failure(opened, request.node, tmp_path / "page.png")


async def editor_text(editor: Locator) -> str:
    """The text a Monaco editor shows, line by line. Monaco reuses a line's element when it
    redraws, so the elements are in no particular order: each one's offset says where it is."""
    text: str = await editor.evaluate(
        """element => [...element.querySelectorAll('.view-line')]
            .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
            .map(line => line.textContent)
            .join('\\n')"""
    )
    return text.replace("\N{NO-BREAK SPACE}", " ")


async def documentation(page: Page) -> Locator:
    """Opens the documentation explorer; its search box. The sidebar's buttons have no
    accessible name (only a tooltip on hover); the explorer's is the open book."""
    await page.locator("button:has(svg.lucide-book-open)").click()
    search = page.get_by_placeholder("Search the schema")
    await expect(search).to_be_visible()
    return search


async def test_a_query_typed_in_graphiql_is_answered_through_the_gateway(graphiql: Tab) -> None:
    page = graphiql.page
    await page.get_by_role("button", name="Add operation").first.click()
    # The operation's editor comes first, the variables' below it.
    operation = page.locator(".monaco-editor").first
    await operation.click()
    await page.keyboard.press("ControlOrMeta+A")
    # Inserted as a paste is, not key by key: Monaco would close each bracket typed.
    await page.keyboard.insert_text(QUERY)
    await expect(operation.locator(".view-lines")).to_contain_text("totalCount")
    await page.get_by_role("button", name="Run", exact=True).click()

    response = page.get_by_role("tabpanel", name="Response")
    await expect(response.locator(".view-lines")).to_contain_text("totalCount")
    assert json.loads(await editor_text(response)) == {"data": {"stations": {"totalCount": 0}}}
    assert graphiql.requests.offsite() == []


async def test_the_documentation_explorer_shows_the_supergraph(graphiql: Tab) -> None:
    page = graphiql.page
    search = await documentation(page)
    await search.fill("Evse")
    await page.get_by_role("button", name="Evse", exact=True).click()
    # The explorer shows the chosen type once the search no longer covers it.
    await search.fill("")
    # Evse as the gateway composed it: no subgraph alone has all three of these fields.
    for field_name, of_type in (
        ("status", "EvseStatus!"),  # locations
        ("booked", "Boolean!"),  # bookings
        ("inUse", "Boolean!"),  # sessions
    ):
        named = re.compile(f"^{re.escape(f'{field_name} : {of_type}')} ")
        await expect(page.get_by_role("button", name=named)).to_be_visible()
    assert graphiql.requests.offsite() == []
