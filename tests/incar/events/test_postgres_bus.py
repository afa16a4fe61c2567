from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database
from incar.events import (
    BusNotRunning,
    Event,
    EventBus,
    EventTooLarge,
    NotInTransaction,
    PostgresBus,
)
from incar.events.event import MAX_EVENT_BYTES, encode
from incar.events.postgres import asyncpg_dsn

pytestmark = pytest.mark.timeout(30)

PUBLISHER = Path(__file__).with_name("publisher_process.py")


class Boom(Exception):
    pass


async def change(tx: AsyncSession, seq: int) -> None:
    await tx.execute(text("INSERT INTO changes (seq, note) VALUES (:seq, 'x')"), {"seq": seq})


async def commit_change(db: Database, bus: EventBus, seq: int, event: Event) -> None:
    async with db.transaction() as tx:
        await change(tx, seq)
        await bus.publish(tx, event)


async def gone(admin: asyncpg.Connection, pid: int) -> None:
    """Waits until the backend ``pid`` has exited: pg_terminate_backend only signals it, and
    until it exits it still relays the NOTIFYs of commits to its client."""
    for _ in range(1000):
        if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} still runs 10 s after it was terminated")


async def change_then_fail(tx: AsyncSession, bus: EventBus, seq: int, event: Event) -> None:
    await change(tx, seq)
    await bus.publish(tx, event)
    raise Boom


async def test_delivers_after_commit_only_and_never_skips_a_late_commit(
    pg_bus: PostgresBus, pg_db: Database
) -> None:
    async with pg_bus.subscribe() as events:
        event = Event("changes.created", {"seq": 1})
        marker = Event("test.marker", {})
        async with pg_db.transaction() as tx:
            await change(tx, 1)
            await pg_bus.publish(tx, event)
            # Committed on another connection while the older transaction is still open, with
            # a higher seq: handing it out now would let the reader's position pass the
            # older transaction's event, which commits later. It waits for it instead.
            await pg_bus.publish_now(marker)
            await asyncio.sleep(0.3)
            assert events.pending == 0

        first, second = await anext(events), await anext(events)
        assert [first, second] == [event, marker]
        assert first.position is not None and second.position is not None
        # The event's seq is the lower, yet it committed last: a reader of seq > last would
        # have skipped it once it had handed out the marker.
        assert first.position.seq < second.position.seq
        assert first.position < second.position


async def test_rolled_back_changes_publish_nothing(pg_bus: PostgresBus, pg_db: Database) -> None:
    async with pg_bus.subscribe() as events:
        with pytest.raises(Boom):
            async with pg_db.transaction() as tx:
                await change_then_fail(tx, pg_bus, 1, Event("changes.created", {"seq": 1}))
        async with pg_db.transaction() as tx:
            with pytest.raises(Boom):
                async with tx.begin_nested():
                    await change_then_fail(tx, pg_bus, 2, Event("changes.created", {"seq": 2}))
            await change(tx, 3)
            await pg_bus.publish(tx, Event("changes.created", {"seq": 3}))

        # Commit order is delivery order: had either rolled-back event been sent, it would
        # arrive before this one.
        assert (await anext(events)).payload == {"seq": 3}


async def test_order_and_topics_across_subscribers(pg_bus: PostgresBus, pg_db: Database) -> None:
    async with (
        pg_bus.subscribe() as everything,
        pg_bus.subscribe({"evse.status"}) as statuses,
    ):
        for batch in range(5):
            async with pg_db.transaction() as tx:
                for n in range(batch * 4, batch * 4 + 4):
                    topic = "evse.status" if n % 2 else "changes.created"
                    await pg_bus.publish(tx, Event(topic, {"n": n}))

        assert [(await anext(everything)).payload["n"] for _ in range(20)] == list(range(20))
        assert [(await anext(statuses)).payload["n"] for _ in range(10)] == list(range(1, 20, 2))


async def test_publish_now(pg_bus: PostgresBus) -> None:
    async with pg_bus.subscribe() as events:
        event = Event("simulator.tick", {"n": 1})
        await pg_bus.publish_now(event)

        assert await anext(events) == event


async def test_event_at_the_limit_passes_postgresql(pg_bus: PostgresBus, pg_url: str) -> None:
    probe = Event("t", {"pad": ""})
    padding = MAX_EVENT_BYTES - len(probe.to_json())
    largest = Event("t", {"pad": "x" * padding}, id=probe.id, occurred_at=probe.occurred_at)
    assert len(encode(largest)) == MAX_EVENT_BYTES

    async with pg_bus.subscribe() as events:
        await pg_bus.publish_now(largest)
        assert await anext(events) == largest

    # The limit is PostgreSQL's, not an invention: one byte more and the server refuses it.
    connection = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        with pytest.raises(asyncpg.InvalidParameterValueError, match="payload string too long"):
            await connection.execute("SELECT pg_notify('incar_events', $1)", "x" * 8000)
    finally:
        await connection.close()


async def test_too_large_event_fails_at_publish(pg_bus: PostgresBus, pg_db: Database) -> None:
    with pytest.raises(EventTooLarge):
        await commit_change(pg_db, pg_bus, 1, Event("t", {"document": "x" * MAX_EVENT_BYTES}))

    async with pg_db.transaction() as tx:
        assert (await tx.execute(text("SELECT count(*) FROM changes"))).scalar_one() == 0


async def test_refuses_a_sqlite_session(pg_bus: PostgresBus, sqlite_db: Database) -> None:
    with pytest.raises(TypeError, match="not sqlite"):
        async with sqlite_db.transaction() as tx:
            await pg_bus.publish(tx, Event("t", {}))


async def test_publish_needs_a_transaction(pg_bus: PostgresBus, pg_db: Database) -> None:
    async with pg_db.factory() as tx:
        with pytest.raises(NotInTransaction):
            await pg_bus.publish(tx, Event("t", {}))


async def test_unstarted_bus_refuses_work(pg_url: str) -> None:
    bus = PostgresBus(pg_url)
    with pytest.raises(BusNotRunning):
        await bus.publish_now(Event("t", {}))
    with pytest.raises(BusNotRunning):
        async with bus.subscribe():
            pass


async def test_events_of_another_process_arrive_all_and_in_order(
    pg_bus: PostgresBus, pg_db: Database, pg_url: str
) -> None:
    count = 40
    async with pg_bus.subscribe() as events:
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, str(PUBLISHER), pg_url, str(count)
        )
        received = [await anext(events) for _ in range(count)]
        assert await publisher.wait() == 0

        assert [event.payload["seq"] for event in received] == list(range(count))
        assert {event.topic for event in received} == {"changes.created"}
        assert {event.payload["pid"] for event in received} == {publisher.pid}
        assert publisher.pid != os.getpid()

        # None of the publisher's rolled-back events may still be on the way.
        marker = Event("test.marker", {})
        await pg_bus.publish_now(marker)
        assert await anext(events) == marker

    async with pg_db.transaction() as tx:
        stored = (await tx.execute(text("SELECT count(*) FROM changes"))).scalar_one()
    assert stored == count


async def test_listener_reconnects_after_its_connection_is_killed(
    pg_bus: PostgresBus, pg_db: Database, pg_url: str
) -> None:
    async with pg_bus.subscribe() as events:
        killed = await pg_bus.wait_listening()
        admin = await asyncpg.connect(asyncpg_dsn(pg_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed) is True
        finally:
            await admin.close()
        assert await pg_bus.wait_listening(replacing=killed) != killed

        event = Event("changes.created", {"seq": 1})
        await commit_change(pg_db, pg_bus, 1, event)

        assert await anext(events) == event
        assert pg_bus.reconnects == 1


class _Signal(logging.Handler):
    """Sets an asyncio.Event when a log record containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_listener_keeps_retrying_while_the_database_refuses_it(
    pg_db: Database, pg_url: str
) -> None:
    url = make_url(pg_url)
    database = url.database
    bus = PostgresBus(pg_url, reconnect_delay=0.01, reconnect_delay_max=0.05)
    await bus.start()
    failed = _Signal("reconnect failed")
    logger = logging.getLogger("incar.events.postgres")
    logger.addHandler(failed)
    # Connections to a database can only be disallowed from another one.
    admin = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres").render_as_string()))
    try:
        async with bus.subscribe() as events:
            killed = await bus.wait_listening()
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            try:
                await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
                await failed.seen.wait()
            finally:
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await bus.wait_listening(replacing=killed)

            event = Event("changes.created", {"seq": 1})
            await commit_change(pg_db, bus, 1, event)
            assert await anext(events) == event
    finally:
        logger.removeHandler(failed)
        await admin.close()
        await bus.close()


async def test_events_committed_while_the_listener_is_down_arrive_after_it_reconnects(
    pg_db: Database, pg_url: str
) -> None:
    # No polling to speak of: only the reconnect's read of the log can bring them.
    bus = PostgresBus(pg_url, poll=60, reconnect_delay=0.05, reconnect_delay_max=0.05)
    await bus.start()
    url = make_url(pg_url)
    admin = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres").render_as_string()))
    sent = [Event("changes.created", {"seq": n}) for n in range(3)]
    try:
        async with bus.subscribe(["changes.created"]) as events:
            killed = await bus.wait_listening()
            # The listener cannot come back until allowed; the tests' pool keeps its connection.
            await admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
            try:
                await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
                await gone(admin, killed)
                # Committed while no listener is connected: their NOTIFYs reach no one.
                for n, event in enumerate(sent):
                    await commit_change(pg_db, bus, 100 + n, event)
                await asyncio.sleep(0.3)
                assert bus.reconnects == 0
                assert events.pending == 0
            finally:
                await admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')
            received = [await asyncio.wait_for(anext(events), 10) for _ in sent]
            assert received == sent
            assert bus.reconnects == 1
    finally:
        await admin.close()
        await bus.close()


async def test_a_new_subscriber_gets_what_commits_after_it_enters_and_nothing_before(
    pg_bus: PostgresBus, pg_db: Database
) -> None:
    late = Event("changes.created", {"seq": "late"})
    before = Event("changes.created", {"seq": "before"})
    after = Event("changes.created", {"seq": "after"})
    async with pg_db.transaction() as tx:
        await change(tx, 1)
        await pg_bus.publish(tx, late)  # lower position, commits last
        await pg_bus.publish_now(before)  # committed, but held back behind tx
        async with pg_bus.subscribe(["changes.created"]) as events:
            await tx.commit()
            await pg_bus.publish_now(after)
            received = [await anext(events), await anext(events)]
            await asyncio.sleep(0.2)
            assert events.pending == 0
    assert received == [late, after]
