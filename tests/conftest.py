"""Fixtures shared by the whole suite: the hub under test and strict peers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.hub import HubUnderTest, running_hub

pytest_plugins = ["tests.peers.extrawest.fixtures"]


@pytest.fixture
async def hub() -> AsyncIterator[HubUnderTest]:
    """A fresh hub (own database, own server) for one test."""
    async with running_hub() as running:
        yield running
