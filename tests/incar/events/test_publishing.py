"""A service publishes with only its session: the bus is attached to the session factory."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from incar import events
from incar.db import Database
from incar.events import EventBus, MemoryBus, NoBusAttached, PostgresBus
from tests.support.statements import starting, statements


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


async def published_together(bus: EventBus, db: Database) -> None:
    """Five events published at once: one INSERT, delivered in their order."""
    events.attach_factory(db.factory, bus)
    async with bus.subscribe({"t"}) as received:
        with statements(db, starting("INSERT INTO event_log")) as inserts:
            async with db.transaction() as tx:
                published = await events.publish_all(tx, [("t", {"n": n}) for n in range(5)])
        assert [await anext(received) for _ in range(5)] == published
    assert [e.payload["n"] for e in published] == [0, 1, 2, 3, 4]
    assert len(inserts) == 1


async def test_events_published_together_memory_bus(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    await published_together(memory_bus, sqlite_db)


async def test_events_published_together_postgres_bus(pg_bus: PostgresBus, pg_db: Database) -> None:
    await published_together(pg_bus, pg_db)


async def test_a_bad_event_among_several_writes_none(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    events.attach_factory(sqlite_db.factory, memory_bus)
    async with sqlite_db.transaction() as tx:
        with pytest.raises(TypeError):
            await events.publish_all(tx, [("t", {"n": 1}), ("t", {"n": object()})])
        count = (await tx.execute(text("SELECT count(*) FROM event_log"))).scalar_one()
    assert count == 0
