"""Fixtures shared by the whole suite: the hub under test and strict peers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import pytest

from tests.support.hub import HubUnderTest, running_hub
from tests.support.reports import REPORTS

pytest_plugins = ["tests.peers.extrawest.fixtures", "tests.support.ledger"]


@pytest.fixture
async def hub() -> AsyncIterator[HubUnderTest]:
    """A fresh hub (own database, own server) for one test."""
    async with running_hub() as running:
        yield running


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the item, where a fixture's teardown can see whether its
    test failed (pytest does not tell fixtures otherwise)."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report
