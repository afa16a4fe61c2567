"""A durable consumer in a process of its own, for the kill/restart test.

Usage: python consumer_process.py DATABASE_URL

Applies every ``changes.created`` event by inserting its ``seq`` into ``applied`` (a table with
no key, so that an event applied twice shows as a duplicate rather than an error), slowly
enough that a kill lands mid-way.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database, is_sqlite
from incar.events import Event, EventBus, MemoryBus, PostgresBus
from incar.events.consumer import Consumer


async def apply(tx: AsyncSession, events: Sequence[Event]) -> None:
    for event in events:
        await tx.execute(text("INSERT INTO applied (n) VALUES (:n)"), {"n": event.payload["seq"]})
    await asyncio.sleep(0.02)


async def main(url: str) -> None:
    db = Database(url)
    # A MemoryBus is woken by its own process's commits only: the publisher's come by polling.
    bus: EventBus = MemoryBus(url, poll=0.05) if is_sqlite(url) else PostgresBus(url)
    await bus.start()
    consumer = Consumer("test.applied", db, bus, apply, topics=["changes.created"], batch=7)
    try:
        await consumer.run()
    finally:
        await bus.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
