"""The in-process bus of the embedded deployment (one process, SQLite).

Events published in a transaction wait in the tx until it commits (see ``aftercommit``),
then fan out to this process's subscribers. Each event travels as the same JSON the PostgreSQL
bus sends, so subscribers receive identical values on both and a payload too large or not
JSON-safe fails here as it would there, at publish time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from incar.events.aftercommit import after_commit
from incar.events.bus import BusNotRunning, require_transaction
from incar.events.event import Event, encode
from incar.events.fanout import Fanout, Subscription

log = logging.getLogger(__name__)


class MemoryBus:
    """Fan-out within one process; ``dropped`` counts events lost by slow subscribers."""

    def __init__(self, *, capacity: int = 1024) -> None:
        self._fanout = Fanout(capacity)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def dropped(self) -> int:
        return self._fanout.dropped

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._loop = None
        self._fanout.end_all()

    @asynccontextmanager
    async def subscribe(
        self, topics: Collection[str] | None = None, *, capacity: int | None = None
    ) -> AsyncIterator[Subscription]:
        self._running_loop()
        subscription = self._fanout.add(topics, capacity)
        try:
            yield subscription
        finally:
            self._fanout.discard(subscription)

    async def publish(self, tx: AsyncSession, event: Event) -> None:
        self._running_loop()
        require_transaction(tx)
        after_commit(tx, partial(self._hand_over, encode(event)))

    async def publish_now(self, event: Event) -> None:
        self._running_loop()
        self._hand_over(encode(event))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise BusNotRunning("the memory event bus is not started")
        return self._loop

    def _hand_over(self, data: bytes) -> None:
        # Subscriptions belong to the loop that started the bus; a commit made on another
        # thread or loop hands its events over to that loop rather than touching them directly.
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("event committed after the memory bus closed; not delivered")
            return
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._deliver(data)
        else:
            loop.call_soon_threadsafe(self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if self._loop is not None:
            self._fanout.deliver(Event.from_json(data))
