"""A short-lived cache of authenticated callers and of the platform registry, so hot paths (every
request, every broadcast) skip registry queries.

Coherent across the hub processes that share a database: a change (registration, update,
unregister, status) clears this process's cache and is announced on the event bus
(``changed``); every process following the bus (``follow``) clears its own on the announcement.
With the PostgreSQL bus the change's author waits (bounded) until its own listener has the
announcement back, so PostgreSQL has sent it to every listener before the change is answered.
A process that follows no bus (a command of the CLI) announces its changes too, in the
change's own transaction (``announce``) or right after it: serving hubs clear at once on
PostgreSQL (the log's NOTIFY) and within the log reader's poll on SQLite. Should an
announcement be lost (a listener reconnecting), an entry lives ``ttl`` seconds at most
(INCAR_REGISTRY_CACHE_TTL); a reconnected listener clears the cache too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import utcnow
from incar.db import Database
from incar.events import Event, EventBus, Subscription
from incar.events import log as event_log
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.platforms.service import Caller

log = logging.getLogger("incar.hub.callers")

Registry = list[tuple[Platform, list[Party]]]

#: The bus topic announcing a change of the platform registry (payload: nothing).
CHANGED = "hub.registry_changed"
#: How long the author of a change waits for its announcement to come back.
ECHO_WAIT = 1.0


async def announce(tx: AsyncSession) -> None:
    """Announces a change of the registry made in ``tx`` to every serving process, once ``tx``
    commits; for a process with no bus (``incar platform add``)."""
    await event_log.append(tx, Event(CHANGED, {}))


class CallerCache:
    def __init__(self, db: Database, *, bus: EventBus | None = None, ttl: float = 2.0) -> None:
        self._db = db
        self._bus = bus
        self._ttl = ttl
        self._follower: asyncio.Task[None] | None = None
        self._echoes: dict[str, asyncio.Future[None]] = {}
        self._reconnects = 0
        self._subscription: Subscription | None = None
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._registry: tuple[float, Registry] | None = None
        self._generation = 0
        # Reads in flight, by what they read and the generation they started in: when an
        # entry expires under load, the requests and copies waiting for it share one read.
        self._reads: dict[tuple[str | None, int], asyncio.Future[Any]] = {}
        self.last_seen: dict[int, float] = {}

    async def lookup(self, authorization: str | None) -> Caller | None:
        if not authorization:
            return None
        self._fresh()
        now = time.monotonic()
        hit = self._entries.get(authorization)
        if hit is not None and hit[0] > now:
            caller = hit[1]
        else:
            found = await self._shared(authorization, lambda: self._authenticate(authorization))
            if found is None:
                return None
            caller = found
        if caller.platform.id is not None:
            self.last_seen[caller.platform.id] = utcnow().timestamp()
        return caller

    async def registry(self) -> Registry:
        """Every platform with its parties, as ``platforms.list_all`` gives them (read-only)."""
        self._fresh()
        now = time.monotonic()
        if self._registry is not None and self._registry[0] > now:
            return self._registry[1]
        return await self._shared(None, self._list_all)

    async def _shared[T](self, what: str | None, read: Callable[[], Awaitable[T]]) -> T:
        """The result of ``read``, or of the same read already in flight in this generation
        (one begun before a change is not shared with those who come after it)."""
        key = (what, self._generation)
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._reads[key] = pending
            pending.add_done_callback(lambda done: self._read_done(key, done))
        # Shielded: a waiter cancelled (its client gone) does not cancel the others' read.
        return await asyncio.shield(pending)

    def _read_done(self, key: tuple[str | None, int], done: asyncio.Future[Any]) -> None:
        if self._reads.get(key) is done:
            del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved here: a read nobody waits for any more logs nothing

    async def _authenticate(self, authorization: str) -> Caller | None:
        generation, now = self._generation, time.monotonic()
        async with self._db.transaction() as tx:
            found = await platforms.authenticate(tx, authorization=authorization)
        if found is None:
            self._entries.pop(authorization, None)
        elif generation == self._generation:  # no change while reading: safe to keep
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[authorization] = (now + self._ttl, found)
        return found

    async def _list_all(self) -> Registry:
        generation, now = self._generation, time.monotonic()
        async with self._db.transaction() as tx:
            found = await platforms.list_all(tx)
        if generation == self._generation:  # no change while reading: safe to keep
            self._registry = (now + self._ttl, found)
        return found

    async def parties_of(self, platform_id: int) -> list[Party]:
        """A platform's own parties, from the registry (every request checks its OCPI-from)."""
        for platform, parties in await self.registry():
            if platform.id == platform_id:
                return parties
        return []

    def clear(self) -> None:
        self._entries.clear()
        self._registry = None
        self._generation += 1

    async def changed(self) -> None:
        """After a committed change of the registry: cleared here and in every process."""
        self.clear()
        if self._bus is None:
            return
        event = Event(CHANGED, {})
        if self._follower is None:  # a CLI command's hub: nothing here to echo it back
            await self._bus.publish_now(event)
            return
        echo: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._echoes[event.id] = echo
        try:
            await self._bus.publish_now(event)
            await asyncio.wait_for(echo, ECHO_WAIT)
        except TimeoutError:
            log.warning("the registry change was not echoed in %ss; others rely on ttl", ECHO_WAIT)
        finally:
            self._echoes.pop(event.id, None)

    async def follow(self) -> None:
        """Clears on every announced change, until ``stop_following``; returns once listening."""
        if self._bus is None or self._follower is not None:
            return
        listening = asyncio.get_running_loop().create_future()
        self._follower = asyncio.create_task(self._follow(listening), name="callers-follow")
        await listening

    async def stop_following(self) -> None:
        follower, self._follower = self._follower, None
        self._subscription = None
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    async def _follow(self, listening: asyncio.Future[None]) -> None:
        assert self._bus is not None
        async with self._bus.subscribe([CHANGED]) as subscription:
            self._subscription = subscription
            listening.set_result(None)
            async for event in subscription:
                self.clear()
                echo = self._echoes.get(event.id)
                if echo is not None and not echo.done():
                    echo.set_result(None)

    def _fresh(self) -> None:
        """Clears now if an announcement is delivered but not yet read by ``_follow``, or if
        the listener reconnected (it may have missed announcements)."""
        if self._subscription is not None and self._subscription.pending:
            self.clear()
        reconnects = getattr(self._bus, "reconnects", 0)
        if reconnects != self._reconnects:
            self._reconnects = reconnects
            self.clear()
