"""The bus of the distributed deployment (several processes on one PostgreSQL database).

Publishing writes the event to the log in the publisher's transaction (``log.append``); a
trigger on the log (migration 0014) sends an empty NOTIFY on ``incar_events`` with it, which
PostgreSQL delivers only if the transaction commits. Each process keeps one listening
connection, and a notification only wakes its log reader, which reads the log after the last
position it handed out (``incar.events.log`` says why that order misses no event of a
transaction committing late).

NOTIFY is not durable, and need not be: if the listener connection drops, it is reopened with
exponential backoff (``reconnects`` counts the gaps) and the reader then reads whatever was
committed meanwhile from the log; without any notification it still reads every ``poll``
seconds. A listening process therefore loses nothing across a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from incar.events import log
from incar.events.bus import BusNotRunning, require_transaction
from incar.events.event import Event
from incar.events.fanout import Subscription
from incar.events.log import Position, Retention
from incar.events.reader import LogReader

_log = logging.getLogger(__name__)

#: The channel the log's trigger notifies (migration 0014).
CHANNEL = "incar_events"


class _Connection(Protocol):
    """The part of asyncpg.Connection this bus uses (asyncpg ships no type information)."""

    async def add_listener(self, channel: str, callback: Any) -> None: ...
    def add_termination_listener(self, callback: Any) -> None: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...
    async def close(self) -> None: ...
    def terminate(self) -> None: ...
    def get_server_pid(self) -> int: ...


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy URL such as postgresql+asyncpg://."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"the postgres event bus needs a PostgreSQL URL, got {url.drivername!r}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBus:
    """The log of the hub's PostgreSQL database, woken by LISTEN/NOTIFY on one channel."""

    def __init__(
        self,
        database_url: str,
        *,
        capacity: int = 1024,
        retention: Retention | None = None,
        poll: float = 1.0,
        reconnect_delay: float = 0.1,
        reconnect_delay_max: float = 5.0,
        health_interval: float = 30.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.channel = CHANNEL
        self.reconnects = 0
        self.reader = LogReader(database_url, capacity=capacity, retention=retention, poll=poll)
        self._reconnect_delay = reconnect_delay
        self._reconnect_delay_max = reconnect_delay_max
        self._health_interval = health_interval
        self._listener: _Connection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._listen_lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()

    @property
    def overflows(self) -> int:
        return self.reader.fanout.overflows

    async def start(self) -> None:
        """Starts the log reader; fails here if the database cannot be reached."""
        await self.reader.start()

    async def close(self) -> None:
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
        await self.reader.close()

    @asynccontextmanager
    async def subscribe(
        self,
        topics: Collection[str] | None = None,
        *,
        capacity: int | None = None,
        after: Position | None = None,
    ) -> AsyncIterator[Subscription]:
        """Entered once the listener is connected (waiting out a reconnect, if one is under way),
        so live events come at once rather than at the next poll.

        The listener connection opens with the first subscription: publishers need none.
        """
        await self._ensure_listening()
        await self._connected.wait()
        self._running()
        async with self.reader.subscribe(topics, capacity, after) as subscription:
            yield subscription

    async def publish(self, tx: AsyncSession, *events: Event) -> None:
        self._running()
        dialect = tx.get_bind().dialect.name
        if dialect != "postgresql":
            raise TypeError(f"the postgres event bus publishes through PostgreSQL, not {dialect}")
        require_transaction(tx)
        await log.append(tx, *events)

    async def publish_now(self, event: Event) -> None:
        self._running()
        async with self.reader.db().transaction() as tx:
            await log.append(tx, event)

    async def wait_listening(self, *, replacing: int | None = None) -> int:
        """Waits until the listener is connected and returns its server process id.

        With ``replacing`` (a process id this returned before), waits for a listener other
        than that one: the one reconnected after it was lost. For readiness checks and tests.
        """
        await self._ensure_listening()
        while True:
            self._running()
            await self._connected.wait()
            listener = self._listener
            if listener is None:
                raise BusNotRunning("the postgres event bus was closed")
            pid = listener.get_server_pid()
            if pid != replacing:
                return pid
            await self._lost.wait()

    def _running(self) -> None:
        if not self.reader.running:
            raise BusNotRunning("the postgres event bus is not started")

    async def _ensure_listening(self) -> None:
        self._running()
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
        # What was committed while no listener was connected is in the log: read it now.
        self.reader.wake()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.reader.wake()

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
            _log.warning("event bus listener lost; reconnecting")
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
                _log.warning("event bus listener reconnect failed (%s); next in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_delay_max)


async def _close_quietly(connection: _Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), 5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()
