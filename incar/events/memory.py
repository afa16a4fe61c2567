"""The bus of the embedded deployment (one process, SQLite).

Publishing writes the event to the log in the publisher's transaction (``log.append``); once
that commits, the process's log reader is woken and hands the event to subscribers. On
SQLite, ``seq`` order is commit order, so the reader reads every event exactly once and in
order. Every event is read back from the same JSON the PostgreSQL bus stores, so subscribers
receive identical values on both, and a payload too large or not JSON-safe fails here as it
would there, at publish time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from incar.events import log
from incar.events.aftercommit import after_commit
from incar.events.bus import BusNotRunning, require_transaction
from incar.events.event import Event
from incar.events.fanout import Subscription
from incar.events.log import Position, Retention
from incar.events.reader import LogReader


class MemoryBus:
    """The log of ``database_url``, read by this process and fanned out within it."""

    def __init__(
        self,
        database_url: str,
        *,
        capacity: int = 1024,
        retention: Retention | None = None,
        poll: float = 1.0,
    ) -> None:
        self.reader = LogReader(database_url, capacity=capacity, retention=retention, poll=poll)

    @property
    def overflows(self) -> int:
        return self.reader.fanout.overflows

    async def start(self) -> None:
        await self.reader.start()

    async def close(self) -> None:
        await self.reader.close()

    @asynccontextmanager
    async def subscribe(
        self,
        topics: Collection[str] | None = None,
        *,
        capacity: int | None = None,
        after: Position | None = None,
    ) -> AsyncIterator[Subscription]:
        async with self.reader.subscribe(topics, capacity, after) as subscription:
            yield subscription

    async def publish(self, tx: AsyncSession, *events: Event) -> None:
        self._running()
        require_transaction(tx)
        await log.append(tx, *events)
        after_commit(tx, self.reader.wake)

    async def publish_now(self, event: Event) -> None:
        async with self.reader.db().transaction(write=True) as tx:
            await log.append(tx, event)
        self.reader.wake()

    def _running(self) -> None:
        if not self.reader.running:
            raise BusNotRunning("the memory event bus is not started")
