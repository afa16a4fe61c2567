"""The PostgreSQL LISTEN/NOTIFY bus of the distributed deployment (several processes).

Publishing runs ``SELECT pg_notify(channel, event)`` through the publisher's own transaction, so
PostgreSQL itself keeps the delivery rule: a NOTIFY is sent only when its transaction commits
(and dropped with a rolled-back savepoint), notifications of one transaction arrive in order, and
those of different transactions in commit order. Each process keeps one listening connection and
fans the events out to its subscribers.

NOTIFY is not durable: a process receives only what is committed while its listener is
connected. If the listener connection drops, it is reopened with exponential backoff; events
committed during the gap are not received by that process (``reconnects`` counts the gaps), and
consumers that must not miss a state re-read it from its service. A payload must stay under 8000
bytes (see ``event.MAX_EVENT_BYTES``); a larger event is refused at publish time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from incar.events.bus import BusNotRunning, require_transaction
from incar.events.event import Event, encode
from incar.events.fanout import Fanout, Subscription

log = logging.getLogger(__name__)

CHANNEL = "incar_events"

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class _Connection(Protocol):
    """The part of asyncpg.Connection this bus uses (asyncpg ships no type information)."""

    async def add_listener(self, channel: str, callback: Any) -> None: ...
    def add_termination_listener(self, callback: Any) -> None: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...
    async def close(self) -> None: ...
    def terminate(self) -> None: ...
    def get_server_pid(self) -> int: ...


class _Pool(Protocol):
    async def execute(self, query: str, *args: Any) -> str: ...
    async def close(self) -> None: ...


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy URL such as postgresql+asyncpg://."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"the postgres event bus needs a PostgreSQL URL, got {url.drivername!r}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBus:
    """Events through LISTEN/NOTIFY on one channel of the hub's PostgreSQL database."""

    def __init__(
        self,
        database_url: str,
        *,
        channel: str = CHANNEL,
        capacity: int = 1024,
        reconnect_delay: float = 0.1,
        reconnect_delay_max: float = 5.0,
        health_interval: float = 30.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.channel = channel
        self.reconnects = 0
        self._fanout = Fanout(capacity)
        self._reconnect_delay = reconnect_delay
        self._reconnect_delay_max = reconnect_delay_max
        self._health_interval = health_interval
        self._pool: _Pool | None = None
        self._listener: _Connection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._listen_lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()

    @property
    def dropped(self) -> int:
        return self._fanout.dropped

    async def start(self) -> None:
        """Opens the pool for ``publish_now``; fails here if the database cannot be reached."""
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=2)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        self._fanout.end_all()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        listener, self._listener = self._listener, None
        # Wake whoever waits on the old listener (they find the bus closed); a restart begins
        # from fresh state.
        self._connected.set()
        self._lost.set()
        self._connected, self._lost = asyncio.Event(), asyncio.Event()
        if listener is not None:
            await _close_quietly(listener)
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def subscribe(
        self, topics: Collection[str] | None = None, *, capacity: int | None = None
    ) -> AsyncIterator[Subscription]:
        """Entered once the listener is connected (waiting out a reconnect, if one is under way).

        The listener connection opens with the first subscription: publishers need none.
        """
        await self._ensure_listening()
        await self._connected.wait()
        self._running_pool()
        subscription = self._fanout.add(topics, capacity)
        try:
            yield subscription
        finally:
            self._fanout.discard(subscription)

    async def publish(self, tx: AsyncSession, event: Event) -> None:
        self._running_pool()
        dialect = tx.get_bind().dialect.name
        if dialect != "postgresql":
            raise TypeError(f"the postgres event bus publishes through PostgreSQL, not {dialect}")
        require_transaction(tx)
        payload = encode(event).decode()
        await tx.execute(_NOTIFY, {"channel": self.channel, "payload": payload})

    async def publish_now(self, event: Event) -> None:
        payload = encode(event).decode()
        await self._running_pool().execute("SELECT pg_notify($1, $2)", self.channel, payload)

    async def wait_listening(self, *, replacing: int | None = None) -> int:
        """Waits until the listener is connected and returns its server process id.

        With ``replacing`` (a process id this returned before), waits for a listener other
        than that one: the one reconnected after it was lost. For readiness checks and tests.
        """
        await self._ensure_listening()
        while True:
            self._running_pool()
            await self._connected.wait()
            listener = self._listener
            if listener is None:
                raise BusNotRunning("the postgres event bus was closed")
            pid = listener.get_server_pid()
            if pid != replacing:
                return pid
            await self._lost.wait()

    def _running_pool(self) -> _Pool:
        if self._pool is None:
            raise BusNotRunning("the postgres event bus is not started")
        return self._pool

    async def _ensure_listening(self) -> None:
        self._running_pool()
        async with self._listen_lock:
            if self._supervisor is None:
                self._listening_on(await self._connect())
                self._supervisor = asyncio.create_task(self._supervise())

    async def _connect(self) -> _Connection:
        connection: _Connection = await asyncpg.connect(self._dsn)
        try:
            await connection.add_listener(self.channel, self._on_notification)
        except BaseException:
            await _close_quietly(connection)
            raise
        connection.add_termination_listener(self._on_terminated)
        return connection

    def _listening_on(self, connection: _Connection) -> None:
        self._listener = connection
        self._connected.set()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = Event.from_json(payload)
        except ValueError:
            log.warning("ignored a notification on %r that is not an event", self.channel)
            return
        self._fanout.deliver(event)

    def _on_terminated(self, connection: Any) -> None:
        if connection is self._listener:
            self._declare_lost()

    def _declare_lost(self) -> None:
        self._connected.clear()
        self._lost.set()

    async def _supervise(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self._health_interval)
            except TimeoutError:
                if await self._listener_healthy():
                    continue
                self._declare_lost()
            self._lost.clear()
            broken, self._listener = self._listener, None
            if broken is not None:
                broken.terminate()
            log.warning("event bus listener lost; reconnecting")
            self._listening_on(await self._reconnect())
            self.reconnects += 1

    async def _listener_healthy(self) -> bool:
        # A silently dead peer (network partition) sends no close; a query notices it.
        listener = self._listener
        if listener is None:
            return False
        try:
            await asyncio.wait_for(listener.fetchval("SELECT 1"), self._health_interval)
        except Exception:
            return False
        return True

    async def _reconnect(self) -> _Connection:
        delay = self._reconnect_delay
        while True:
            try:
                return await self._connect()
            except Exception as exc:  # whatever the cause, the listener must come back
                log.warning("event bus listener reconnect failed (%s); next in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_delay_max)


async def _close_quietly(connection: _Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), 5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()
