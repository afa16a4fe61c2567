"""The one reader of the log in each process: woken when events may have been committed, it
reads the log after the last position it handed out and fans the events out to live
subscribers. The wake-up (an in-process commit, a NOTIFY) is only a hint: the log is the truth,
so a lost wake-up delays events by at most ``poll`` seconds and loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection

from incar.columns import utcnow
from incar.db import Database
from incar.events import log
from incar.events.bus import BusNotRunning
from incar.events.fanout import Fanout, Subscription
from incar.events.log import Page, Position, Retention

_log = logging.getLogger(__name__)

#: Events read from the log per query.
PAGE = 500
#: Seconds before reading again events held back behind an older transaction (PostgreSQL),
#: doubling up to the most: older transactions rarely last long, and the read is one query.
HELD_BACK_FIRST = 0.005
HELD_BACK_MOST = 0.1


class LogReader:
    def __init__(
        self,
        database_url: str,
        *,
        capacity: int = 1024,
        retention: Retention | None = None,
        poll: float = 1.0,
        prune_every: float = 60.0,
    ) -> None:
        self.database_url = database_url
        self.retention = retention or Retention()
        self.poll = poll
        self.prune_every = prune_every
        self.fanout = Fanout(capacity)
        self.position = log.START
        self._db: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._read = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._db is not None

    def db(self) -> Database:
        if self._db is None:
            raise BusNotRunning("the event bus is not started")
        return self._db

    async def start(self) -> None:
        if self._db is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._db = Database(self.database_url)
        async with self._db.transaction() as tx:
            self.position = await log.head(tx)
        self._wake, self._read = asyncio.Event(), asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="event log reader")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # What committed before closing reaches the live subscribers, who drain it.
            try:
                await self._read_all()
            except Exception:
                _log.exception("the event log's last read before closing failed")
        self.fanout.end_all()
        self._read.set()
        db, self._db = self._db, None
        self._loop = None
        if db is not None:
            await db.dispose()

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        topics: Collection[str] | None,
        capacity: int | None,
        after: Position | None,
    ) -> AsyncIterator[Subscription]:
        earlier: frozenset[Position] = frozenset()
        async with self.db().transaction() as tx:
            if after is None:
                # Live from the log's head, which this process's reader may not have reached
                # yet (it is woken at most ``poll`` late), less what was committed before
                # entering but is held back: nothing committed before entering, all after.
                start = max(await log.head(tx), self.position)
                earlier = await log.committed_after(tx, start)
            elif after < await log.horizon(tx):
                # Refused at once, not at the first event.
                raise log.CursorExpired(
                    f"events after {after.cursor()} are past the log's retention"
                )
            else:
                start = after
        subscription = Subscription(
            self, topics, self.fanout.capacity if capacity is None else capacity, start, earlier
        )
        self.fanout.add(subscription)
        if after is None:
            self.fanout.go_live(subscription)
        try:
            yield subscription
        finally:
            self.fanout.discard(subscription)

    def wake(self) -> None:
        """Asks the reader to read the log; safe from any thread (a commit made elsewhere)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def read(self, after: Position, limit: int) -> Page:
        async with self.db().transaction() as tx:
            return await log.read_after(tx, after, limit)

    async def changed(self) -> None:
        self._read.clear()
        await self._read.wait()

    def go_live(self, subscription: Subscription) -> None:
        self.fanout.go_live(subscription)

    def leave_live(self, subscription: Subscription) -> None:
        self.fanout.leave_live(subscription)

    async def _run(self) -> None:
        last_prune = -self.prune_every
        loop = asyncio.get_running_loop()
        wait = self.poll
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                held_back = await self._read_all()
            except log.CursorExpired as expired:
                # This process fell behind retention: its live subscribers would have a gap.
                self.fanout.fail_live(expired)
                async with self.db().transaction() as tx:
                    self.position = await log.head(tx)
                held_back = False
            except Exception:  # the reader must outlive a database hiccup
                _log.exception("reading the event log failed; trying again")
                held_back = True
            try:
                if loop.time() - last_prune >= self.prune_every:
                    last_prune = loop.time()
                    await self._prune()
            except Exception:
                _log.exception("pruning the event log failed; trying again later")
            # Events held behind an older transaction are final once it ends, which may send
            # no wake-up (it published nothing): look again soon, then every 100 ms at most.
            wait = (
                (HELD_BACK_FIRST if wait >= self.poll else min(wait * 2, HELD_BACK_MOST))
                if held_back
                else self.poll
            )

    async def _read_all(self) -> bool:
        while True:
            page = await self.read(self.position, PAGE)
            for event in page.events:
                assert event.position is not None
                self.position = event.position
                self.fanout.deliver(event)
            if page.events:
                self._read.set()
            if len(page.events) < PAGE:
                return page.held_back

    async def _prune(self) -> None:
        async with self.db().transaction() as tx:
            deleted = await log.prune(tx, self.retention, utcnow())
        if deleted:
            _log.info("event log retention deleted %d events", deleted)
