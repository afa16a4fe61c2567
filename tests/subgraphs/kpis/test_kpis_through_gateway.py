"""The kpis subgraph through the Hive Gateway, in the platform every subgraph runs in (the
accounting's: a Session and three CDRs pushed over OCPI, each of 10 kWh): the CPO reads its
numbers, a driver with a real login is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.subgraphs.accounting.platform import Accounting, accounting_platform

TOTALS = """
query ($from: DateTime!, $to: DateTime!) {
  kpis(countryCode: "FI", partyId: "CPA", from: $from, to: $to) {
    totals { sessionsStarted cdrs energyKwh }
  }
}
"""
WANT = {"sessionsStarted": 1, "cdrs": 3, "energyKwh": 30.0}


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Accounting]:
    async with accounting_platform(tmp_path_factory.mktemp("kpis")) as running:
        yield running


async def ask(platform: Accounting, token: str) -> Any:
    now = datetime.now(UTC)
    two = timedelta(hours=2)
    span = {"from": (now - two).isoformat(), "to": (now + two).isoformat()}
    return await platform.graph(TOTALS, token, **span)


async def test_the_cpo_reads_its_kpis_through_the_gateway(platform: Accounting) -> None:
    answer: Any = None
    for _ in range(100):  # the consumer runs behind the commits
        answer = await ask(platform, platform.party(platform.cpo))
        assert "errors" not in answer, answer
        if answer["data"]["kpis"]["totals"] == WANT:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(answer)


async def test_a_driver_is_refused(platform: Accounting) -> None:
    answer = await ask(platform, await platform.driver("alice"))
    assert answer["data"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
