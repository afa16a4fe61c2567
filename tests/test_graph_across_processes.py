"""Events cross processes through the event bus: with ``INCAR_EVENT_BUS=postgres``, a CPO's
status PATCH received by a hub process reaches a subscriber of the locations subgraph served
by another process (this test's), on one PostgreSQL database. Run on PostgreSQL whatever the
suite's database: the embedded default has one process only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from incar.db import migrate_async
from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.common.context import GraphContext
from subgraphs.locations.graph.schema import schema
from tests.conformance.support import location
from tests.peers.strict.peer import running_peer
from tests.support.hub_process import free_port, hub_process, incar_env, onboard, register_at

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CPO = ("FI", "CPX")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name = f"incar_x_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    await migrate_async(url)
    try:
        yield url
    finally:
        connection = await asyncpg.connect(ADMIN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


SUBSCRIPTION = """
subscription { evseStatusChanged(locations: [{countryCode: "FI", partyId: "CPX", id: "X1"}]) {
  status evseUid evse { status }
} }
"""


async def test_a_status_patch_at_one_process_reaches_a_subscriber_in_another(
    pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = incar_env(pg_url, tmp_path, port, INCAR_EVENT_BUS="postgres")
    runtime = Runtime.create(Settings(database_url=pg_url, event_bus="postgres"))
    await runtime.start()
    try:
        async with (
            hub_process(env, port, tmp_path / "hub.log") as hub,
            running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        ):
            await register_at(cpo, hub.url, await onboard(pg_url, "CPO", CPO))
            url = f"{hub.url}/ocpi/2.2.1/locations/receiver/FI/CPX/X1"
            put = await cpo.call("PUT", url, to=cpo.hub_party, json=location(*CPO, "X1"))
            assert put.json()["status_code"] == 1000, put.text

            stream = await schema.subscribe(SUBSCRIPTION, context_value=GraphContext(runtime))
            assert isinstance(stream, AsyncGenerator)
            first = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(1.0)  # the subscriber's LISTEN is in place
            patch = await cpo.call(
                "PATCH",
                f"{url}/X1-E1",
                to=cpo.hub_party,
                json={"status": "CHARGING", "last_updated": "2026-06-01T00:00:00Z"},
            )
            assert patch.json()["status_code"] == 1000, patch.text
            result = await asyncio.wait_for(first, 20)
            await stream.aclose()
    finally:
        await runtime.close()
    assert result.errors is None, result.errors
    assert result.data == {
        "evseStatusChanged": {
            "status": "CHARGING",
            "evseUid": "X1-E1",
            "evse": {"status": "CHARGING"},
        }
    }
