from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database
from incar.events import (
    BusNotRunning,
    Event,
    EventBus,
    EventTooLarge,
    MemoryBus,
    NotInTransaction,
    Position,
)

pytestmark = pytest.mark.timeout(30)


class Boom(Exception):
    pass


async def change(tx: AsyncSession, seq: int) -> None:
    await tx.execute(text("INSERT INTO changes (seq, note) VALUES (:seq, 'x')"), {"seq": seq})


async def commit_change(db: Database, bus: EventBus, seq: int, event: Event) -> None:
    async with db.transaction() as tx:
        await change(tx, seq)
        await bus.publish(tx, event)


async def change_then_fail(tx: AsyncSession, bus: EventBus, seq: int, event: Event) -> None:
    await change(tx, seq)
    await bus.publish(tx, event)
    raise Boom


async def test_delivers_after_commit_only(memory_bus: MemoryBus, sqlite_db: Database) -> None:
    async with memory_bus.subscribe() as events:
        async with sqlite_db.transaction() as tx:
            await change(tx, 1)
            event = Event("changes.created", {"seq": 1})
            await memory_bus.publish(tx, event)
            await asyncio.sleep(0.05)
            assert events.pending == 0

        received = await anext(events)
        assert received == event
        assert received.position is not None and received.position > Position(0, 0)


async def test_rolled_back_change_publishes_nothing(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    async with memory_bus.subscribe() as events:
        with pytest.raises(Boom):
            async with sqlite_db.transaction() as tx:
                await change_then_fail(tx, memory_bus, 1, Event("changes.created", {"seq": 1}))
        await commit_change(sqlite_db, memory_bus, 2, Event("changes.created", {"seq": 2}))

        assert (await anext(events)).payload == {"seq": 2}
        assert events.pending == 0


async def test_order_is_kept_within_and_across_transactions(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    async with memory_bus.subscribe() as events:
        for batch in range(10):
            async with sqlite_db.transaction() as tx:
                for n in range(batch * 10, batch * 10 + 10):
                    await change(tx, n)
                    await memory_bus.publish(tx, Event("changes.created", {"seq": n}))

        assert [(await anext(events)).payload["seq"] for _ in range(100)] == list(range(100))


async def test_every_subscriber_gets_its_topics(memory_bus: MemoryBus) -> None:
    async with (
        memory_bus.subscribe() as everything,
        memory_bus.subscribe({"evse.status"}) as statuses,
    ):
        await memory_bus.publish_now(Event("session.updated", {"n": 1}))
        await memory_bus.publish_now(Event("evse.status", {"n": 2}))

        assert [(await anext(everything)).payload["n"] for _ in range(2)] == [1, 2]
        assert (await anext(statuses)).payload == {"n": 2}
        assert statuses.pending == 0


async def test_slow_subscriber_reads_the_log_instead_and_loses_nothing(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    async with (
        memory_bus.subscribe(capacity=4) as slow,
        memory_bus.subscribe(capacity=100) as fast,
    ):
        for n in range(20):
            await commit_change(sqlite_db, memory_bus, n, Event("changes.created", {"seq": n}))

        assert [(await anext(fast)).payload["seq"] for _ in range(20)] == list(range(20))
        assert fast.overflows == 0
        assert slow.overflows >= 1
        assert memory_bus.overflows == slow.overflows
        assert not slow.live
        assert [(await anext(slow)).payload["seq"] for _ in range(20)] == list(range(20))
        await commit_change(sqlite_db, memory_bus, 20, Event("changes.created", {"seq": 20}))
        assert (await anext(slow)).payload["seq"] == 20


async def test_commit_on_another_thread_wakes_the_bus_loop(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    url = sqlite_db.url
    received = threading.Event()

    async def publish_elsewhere() -> None:
        other = Database(url)
        async with other.transaction() as tx:
            await change(tx, 1)
            await memory_bus.publish(tx, Event("changes.created", {"seq": 1}))
        await other.dispose()
        # Stay alive until the subscriber has the event, so that nothing but the hand-over
        # itself can wake the subscriber's loop.
        received.wait()

    async with memory_bus.subscribe() as events:
        elsewhere = asyncio.ensure_future(asyncio.to_thread(asyncio.run, publish_elsewhere()))
        try:
            assert (await anext(events)).payload == {"seq": 1}
        finally:
            received.set()
            await elsewhere


async def test_subscribers_receive_the_json_form(memory_bus: MemoryBus) -> None:
    async with memory_bus.subscribe() as events:
        await memory_bus.publish_now(Event("t", {"ids": ("a", "b")}))

        assert (await anext(events)).payload == {"ids": ["a", "b"]}


async def test_too_large_event_fails_at_publish_and_rolls_back(
    memory_bus: MemoryBus, sqlite_db: Database
) -> None:
    with pytest.raises(EventTooLarge):
        await commit_change(sqlite_db, memory_bus, 1, Event("t", {"document": "x" * 10_000}))

    async with sqlite_db.transaction() as tx:
        assert (await tx.execute(text("SELECT count(*) FROM changes"))).scalar_one() == 0


async def test_publish_needs_a_transaction(memory_bus: MemoryBus, sqlite_db: Database) -> None:
    async with sqlite_db.factory() as tx:
        with pytest.raises(NotInTransaction):
            await memory_bus.publish(tx, Event("t", {}))


async def test_unstarted_bus_refuses_work(sqlite_db: Database) -> None:
    bus = MemoryBus(sqlite_db.url)
    with pytest.raises(BusNotRunning):
        await bus.publish_now(Event("t", {}))
    with pytest.raises(BusNotRunning):
        async with bus.subscribe():
            pass


async def test_close_ends_subscriptions_after_draining_them(sqlite_db: Database) -> None:
    bus = MemoryBus(sqlite_db.url)
    await bus.start()
    async with bus.subscribe() as events:
        await bus.publish_now(Event("t", {"n": 1}))
        await bus.close()

        assert [event.payload async for event in events] == [{"n": 1}]
    with pytest.raises(BusNotRunning):
        await bus.publish_now(Event("t", {}))
