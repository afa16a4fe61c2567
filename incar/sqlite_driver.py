"""SQLite under asyncio with one thread hand-off per statement.

aiosqlite runs sqlite3 in a thread of its own and every call is a hand-off to it and back.
SQLAlchemy's aiosqlite adapter makes four per statement (make a cursor, execute, fetch the
rows or close, close), so the hub's write transactions, which SQLite runs one at a time, were
held open mostly by hand-offs. Measured on these machines (a loop of UPDATE and SELECT pairs
through SQLAlchemy Core): 480 us of CPU per statement with SQLAlchemy's adapter, 200 us with
this one (bare aiosqlite: 285 us with its four hand-offs, 90 us with one).

This dialect is SQLAlchemy's aiosqlite dialect with one change: a statement runs in the
aiosqlite thread as one call (cursor, execute, rows, close) and its rows come back at once,
which is what SQLAlchemy's buffered cursor did anyway. Server-side cursors (streamed results)
are SQLAlchemy's own. ``create_engine`` (incar.db) uses it for every ``sqlite+aiosqlite`` URL.

It reaches into aiosqlite's ``Connection._execute`` (queue a call for its thread) and ``_conn``
(the sqlite3 connection, used only in that thread); aiosqlite is pinned in uv.lock, and
tests/incar/test_sqlite_driver.py checks the behaviour this relies on.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

#: The driver name ``create_engine`` puts in SQLite URLs (``sqlite+incar_aiosqlite``).
DRIVER = "incar_aiosqlite"

Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """One statement, in the aiosqlite thread: its description, rows, rowcount, lastrowid."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


async def run(adapt_connection: Any, operation: str, parameters: Any, many: bool) -> Outcome:
    """One statement on the connection of ``adapt_connection`` (SQLAlchemy's adapter), in one
    hand-off to its aiosqlite thread: the cursor's way, and ``incar.direct``'s."""
    connection: Any = adapt_connection._connection  # an aiosqlite.Connection
    async with adapt_connection._execute_mutex:
        outcome: Outcome = await connection._execute(
            _run, connection._conn, operation, parameters, many
        )
    return outcome


class OneHandOffCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Not the base's __init__: it makes an aiosqlite cursor, a hand-off of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        """Nothing to close: the rows are here already."""

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._hand_off(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._hand_off(operation, seq_of_parameters, many=True)

    async def _hand_off(self, operation: str, parameters: Any, *, many: bool) -> None:
        outcome = await run(self._adapt_connection, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def setinputsizes(self, *inputsizes: Sequence[Any]) -> None:
        pass


class OneHandOffConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHandOffCursor


class OneHandOffDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHandOffConnection:
        adapted = super().connect(*arg, **kw)
        return OneHandOffConnection(self, adapted._connection)


class OneHandOffDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHandOffDbapi:
        return OneHandOffDbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHandOffDialect")
