"""What the log makes durable, on SQLite and PostgreSQL: a consumer killed and restarted
resumes with nothing missing or doubled, a subscriber resumes after a position, and one past
the retention is told so."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from incar.db import Database, is_sqlite
from incar.events import CursorExpired, Event, EventBus, MemoryBus, PostgresBus, Retention, log
from incar.events.consumer import ConsumerConflict, advance, stored_position

pytestmark = pytest.mark.timeout(90)

CONSUMER = Path(__file__).with_name("consumer_process.py")


@pytest.fixture(params=["sqlite_db", "pg_db"])
def any_db(request: pytest.FixtureRequest) -> Database:
    database: Database = request.getfixturevalue(request.param)
    return database


@pytest.fixture
async def db(any_db: Database) -> Database:
    async with any_db.transaction() as tx:
        await tx.execute(text("DROP TABLE IF EXISTS applied"))
        await tx.execute(text("CREATE TABLE applied (n INTEGER NOT NULL)"))
        await tx.execute(text("DELETE FROM event_consumer"))
        # The PostgreSQL database is shared by the session's tests: a consumer starting from
        # the log's beginning must not find other tests' events of its topic.
        await tx.execute(text("DELETE FROM event_log"))
    return any_db


@pytest.fixture
async def bus(db: Database) -> AsyncIterator[EventBus]:
    made: EventBus = MemoryBus(db.url, poll=0.05) if is_sqlite(db.url) else PostgresBus(db.url)
    await made.start()
    yield made
    await made.close()


async def publish(db: Database, bus: EventBus, seqs: range) -> None:
    for seq in seqs:
        async with db.transaction(write=True) as tx:
            await bus.publish(tx, Event("changes.created", {"seq": seq}))


async def applied(db: Database) -> list[int]:
    async with db.transaction() as tx:
        return [n for (n,) in (await tx.execute(text("SELECT n FROM applied ORDER BY n"))).all()]


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not await condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def prune_to(db: Database, retention: Retention, left: int) -> None:
    """Prunes until ``left`` events remain. On PostgreSQL only final events are pruned, and
    any transaction of the server (other databases too) may hold the newest back a while."""

    async def pruned() -> bool:
        async with db.transaction() as tx:
            await log.prune(tx, retention, datetime.now(UTC))
            remaining = (await tx.execute(text("SELECT count(*) FROM event_log"))).scalar_one()
        assert remaining >= left
        return bool(remaining == left)

    await until(pruned, f"{left} events left")


async def start_consumer(url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, str(CONSUMER), url)


async def test_a_killed_consumer_resumes_with_nothing_missing_or_doubled(
    db: Database, bus: EventBus
) -> None:
    count = 150
    consumer = await start_consumer(db.url)
    try:
        publishing = asyncio.create_task(publish(db, bus, range(count)))

        async def some_applied() -> bool:
            return len(await applied(db)) >= 20

        await until(some_applied, "the consumer applying some events")
        os.kill(consumer.pid, signal.SIGKILL)  # mid-batch, most likely: no cleanup at all
        await consumer.wait()
        halfway = await applied(db)
        assert len(halfway) < count
        await publishing
        consumer = await start_consumer(db.url)

        async def all_applied() -> bool:
            return len(await applied(db)) >= count

        await until(all_applied, "the restarted consumer catching up")
        await asyncio.sleep(0.3)  # nothing more arrives
        assert await applied(db) == list(range(count))
    finally:
        if consumer.returncode is None:
            consumer.kill()
            await consumer.wait()


async def test_a_consumer_position_moves_only_from_where_it_was_read(db: Database) -> None:
    async with db.transaction() as tx:
        await advance(tx, "kpi", None, log.Position(0, 5))
    with pytest.raises(ConsumerConflict):
        async with db.transaction() as tx:
            await advance(tx, "kpi", log.Position(0, 4), log.Position(0, 9))
    async with db.transaction() as tx:
        assert await stored_position(tx, "kpi") == log.Position(0, 5)


async def test_a_subscriber_resumes_after_its_position_then_goes_live(
    db: Database, bus: EventBus
) -> None:
    async with bus.subscribe(["changes.created"]) as events:
        await publish(db, bus, range(3))
        seen = [await anext(events) for _ in range(3)]
    resume_at = seen[0].position
    assert resume_at is not None
    await publish(db, bus, range(3, 5))
    async with bus.subscribe(["changes.created"], after=resume_at) as events:
        replayed = [(await anext(events)).payload["seq"] for _ in range(4)]
        await publish(db, bus, range(5, 6))
        assert (await anext(events)).payload["seq"] == 5
    assert replayed == [1, 2, 3, 4]


async def test_a_position_past_retention_is_refused_not_skipped(
    db: Database, bus: EventBus
) -> None:
    async with bus.subscribe(["changes.created"]) as events:
        await publish(db, bus, range(4))
        seen = [await anext(events) for _ in range(4)]
    first, kept_from = seen[0].position, seen[1].position
    assert first is not None and kept_from is not None
    # Keep the newest three: the first event goes, and the horizon moves past it.
    await prune_to(db, Retention(seconds=0, count=3), 3)
    with pytest.raises(CursorExpired):
        async with bus.subscribe(after=log.START):
            pass
    with pytest.raises(CursorExpired):
        async with bus.subscribe(after=first.__class__(first.txid, first.seq - 1)):
            pass
    # The newest kept stay resumable: from the first event on, three remain.
    async with bus.subscribe(["changes.created"], after=first) as events:
        assert [(await anext(events)).payload["seq"] for _ in range(3)] == [1, 2, 3]


async def test_retention_keeps_what_is_young_or_among_the_newest(
    db: Database, bus: EventBus
) -> None:
    await publish(db, bus, range(5))
    async with db.transaction() as tx:
        # Young events stay whatever the count.
        assert await log.prune(tx, Retention(seconds=3600, count=0), datetime.now(UTC)) == 0
    # Old events beyond the count go, oldest first.
    await prune_to(db, Retention(seconds=0, count=2), 2)
    async with db.transaction() as tx:
        kept = (await tx.execute(text("SELECT body FROM event_log"))).scalars().all()
        assert sorted(Event.from_json(body).payload["seq"] for body in kept) == [3, 4]


async def test_a_live_subscriber_whose_reader_fell_past_retention_is_told(
    sqlite_db: Database,
) -> None:
    # Two processes' buses on one file; the watcher's reader is woken only when asked.
    watcher = MemoryBus(sqlite_db.url, poll=60)
    writer = MemoryBus(sqlite_db.url, poll=60)
    await watcher.start()
    await writer.start()
    try:
        async with watcher.subscribe() as events:
            await publish(sqlite_db, writer, range(3))
            async with sqlite_db.transaction() as tx:
                assert await log.prune(tx, Retention(seconds=0, count=1), datetime.now(UTC)) == 2
            watcher.reader.wake()
            with pytest.raises(CursorExpired):
                await asyncio.wait_for(anext(events), 10)
    finally:
        await writer.close()
        await watcher.close()
