"""The database engine and its transactions; schema changes only through Alembic (migrations)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from incar import direct, exactjson, sqlite_driver

_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across a process crash
    # (the "restart mid-traffic" case), which is the guarantee the hub documents.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _one_hand_off(url: str) -> URL:
    """An aiosqlite URL as one for the dialect of incar.sqlite_driver (the same driver, one
    thread hand-off per statement instead of four)."""
    parsed = make_url(url)
    if parsed.get_driver_name() == "aiosqlite":
        return parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
    return parsed


def create_engine(url: str) -> AsyncEngine:
    # Every JSON column is written by the exact writer: a value parsed from a body (a command,
    # business details) keeps its numbers' literals, and one Python's json would write as
    # Infinity (1E400), which is not JSON, stays what was sent.
    json_serializer = exactjson.dumps_text
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(_one_hand_off(url), json_serializer=json_serializer)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # At most 30 connections, as before (10 kept + 20 overflow), but all of them are kept: under
    # load an overflow connection was closed on return and opened again for the next request
    # (a new PostgreSQL backend each time).
    engine = create_async_engine(url, pool_size=30, max_overflow=0, json_serializer=json_serializer)
    event.listen(engine.sync_engine, "checkout", _refuse_dead)
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    return engine


#: A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 10.0
_CHECKED_IN = "incar.db.checked_in"


def _refuse_dead(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Hands out no connection a PostgreSQL restart (or an idle timeout) closed, without the
    round trips of SQLAlchemy's ``pool_pre_ping`` (BEGIN, a ping, ROLLBACK: a quarter of a
    millisecond of CPU per checkout, at every transaction of the hot path). A backend ended by
    the server closes its socket, which the driver has seen by the time a busy connection is
    taken again; only a connection idle for a while, whose peer may have gone silently, is
    pinged. Raising ``DisconnectionError`` makes the pool open a new connection instead."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the pooled connection was closed")
    checked_in = record.info.get(_CHECKED_IN)
    if checked_in is not None and time.monotonic() - checked_in > PING_AFTER_IDLE_S:
        _ping(dbapi_connection)


def _ping(dbapi_connection: Any) -> None:
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError("the pooled connection does not answer") from error


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


class Database:
    """The engine plus a factory of transactions; one per process.

    A unit of work is called ``tx`` everywhere (SQLAlchemy's ``AsyncSession``): in this code
    base "session" means a charging session only."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.factory = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock() if is_sqlite(url) else None
        self._snapshot_begin = (
            "BEGIN"
            if is_sqlite(url)
            else "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        )

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = False, snapshot: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A ``tx`` whose work is committed on success and rolled back on any error.

        ``write`` is for a transaction that changes what it has read (a PATCH merged into a
        stored document): no other write may come in between. PostgreSQL gets that from the
        rows the services read ``FOR UPDATE``; SQLite has no row locks, so such a transaction
        takes the database's write lock before its first read (BEGIN IMMEDIATE). Writers of this
        process queue on a lock of their own first, rather than in SQLite's sleeping busy
        handler; other processes still wait through ``busy_timeout``.

        ``snapshot`` is for a read whose statements must agree with each other (figures taken
        from several tables): by default each statement sees what is committed when it runs
        (PostgreSQL's READ COMMITTED; SQLite's driver begins no transaction before a SELECT).
        """
        if self._sqlite_writer is None or not write:
            async with self.factory() as tx, tx.begin():
                if snapshot:
                    await tx.execute(text(self._snapshot_begin))
                yield tx
            return
        async with self._sqlite_writer, self.factory() as tx, tx.begin():
            await direct.execute(tx, _BEGIN_IMMEDIATE, {})
            yield tx

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Brings the database to the newest migration; creates a SQLite file if needed."""
    from alembic import command

    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


async def migrate_async(url: str) -> None:
    await asyncio.to_thread(migrate, url)
