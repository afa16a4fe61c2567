"""A service publishes with only its session: the bus is attached to the session factory."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from incar import events
from incar.db import Database
from incar.events import MemoryBus, NoBusAttached


async def test_service_publishes_through_the_session(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    sqlite_db.factory.configure(info={"request_id": "r-1"})
    events.attach_factory(sqlite_db.factory, memory_bus)

    async with memory_bus.subscribe({"changes.created"}) as received:
        async with sqlite_db.transaction() as tx:
            await tx.execute(text("INSERT INTO changes (seq, note) VALUES (1, 'x')"))
            published = await events.publish(tx, "changes.created", {"seq": 1})
            assert tx.info["request_id"] == "r-1"

        assert await anext(received) == published


async def test_attach_to_one_session(memory_bus: MemoryBus, sqlite_db: Database) -> None:
    async with memory_bus.subscribe() as received:
        async with sqlite_db.transaction() as tx:
            events.attach(tx, memory_bus)
            assert events.bus_of(tx) is memory_bus
            published = await events.publish(tx, "t", {"n": 1})

        assert await anext(received) == published


async def test_publishing_without_a_bus_fails_loudly(sqlite_db: Database) -> None:
    with pytest.raises(NoBusAttached):
        async with sqlite_db.transaction() as tx:
            await events.publish(tx, "t", {})
