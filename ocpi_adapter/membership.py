"""Which hub processes share the database, which of them is alive, and which one leads.

Several hub processes (``incar serve --workers N``, or several machines) may serve one
PostgreSQL database. Each holds, on a connection of its own, a session advisory lock on its
member id for as long as it lives: PostgreSQL releases it when the process dies or its
connection is cut, so ``pg_locks`` is the list of the living. Work that must run in one process
at a time (the still-alive check) goes to the holder of a leader lock, taken the same way; when
the leader dies the lock is free and the next process that tries takes it over.

On SQLite the hub is one process (``incar serve`` refuses ``--workers`` there): ``Local`` is
that single member, alive and always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine.url import make_url

from incar.events.postgres import asyncpg_dsn

log = logging.getLogger("incar.hub.membership")

# The first key of the two-key advisory locks: member ids, and the leader locks by task.
MEMBERS = 0x1CA2
LEADERS = 0x1CA3

#: The leader lock of the still-alive check.
STILL_ALIVE = 1


class Membership(Protocol):
    #: This process's member id (the ``claimed_by`` of the owed copies it attempts).
    member_id: int
    #: Whether other processes may share the database (the owed sender claims copies then).
    shared: bool

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def alive(self) -> set[int]:
        """The ids of the members alive now (this one included)."""
        ...

    async def lead(self, task: int) -> bool:
        """Whether this process leads ``task`` now (taking the lead if nobody has it)."""
        ...


class Local:
    """The one process of an embedded (SQLite) hub."""

    member_id = 0
    shared = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def alive(self) -> set[int]:
        return {self.member_id}

    async def lead(self, task: int) -> bool:
        return True


class Shared:
    """A member of the processes sharing one PostgreSQL database."""

    shared = True

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        # 31 bits: advisory lock keys are int4, and 0 is the embedded hub's.
        self.member_id = secrets.randbelow(2**31 - 1) + 1
        self._connection: Any = None
        self._lock = asyncio.Lock()
        self._leading: set[int] = set()

    async def start(self) -> None:
        await self._connection_held()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._leading.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)

    async def alive(self) -> set[int]:
        connection = await self._connection_held()
        async with self._lock:
            rows = await connection.fetch(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1"
                " AND objsubid = 2 AND granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                MEMBERS,
            )
        return {int(row["objid"]) for row in rows} | {self.member_id}

    async def lead(self, task: int) -> bool:
        try:
            connection = await self._connection_held()
            if task in self._leading:
                return True
            async with self._lock:
                taken = bool(
                    await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", LEADERS, task)
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as problem:
            log.warning("membership: cannot reach the database (%s)", problem)
            return False
        if taken:
            self._leading.add(task)
            log.info("member %s leads task %s", self.member_id, task)
        return taken

    async def _connection_held(self) -> Any:
        """The connection holding this member's lock; reopened (a new id) if it was lost."""
        connection = self._connection
        if connection is not None and not connection.is_closed():
            return connection
        # A lost connection released our locks: another process may lead or have taken our
        # claims over by now, so we start again as a new member.
        self._leading.clear()
        if connection is not None:
            self.member_id = secrets.randbelow(2**31 - 1) + 1
        connection = await asyncpg.connect(self._dsn)
        await connection.execute("SELECT pg_advisory_lock($1, $2)", MEMBERS, self.member_id)
        self._connection = connection
        return connection


def membership_of(database_url: str) -> Membership:
    if make_url(database_url).get_backend_name() == "postgresql":
        return Shared(database_url)
    return Local()
