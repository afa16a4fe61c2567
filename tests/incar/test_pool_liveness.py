"""The PostgreSQL pool hands out no dead connection: after the server ends every backend of
the pool (as a restart does), the next transactions run on new ones; a connection idle for
long is pinged first. Without a per-checkout ping (incar/db.py, ``_refuse_dead``)."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import text

from incar import db as incar_db
from incar.db import Database

ADMIN_DSN = os.environ.get(
    "INCAR_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
URL = ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _backend(db: Database) -> int:
    async with db.transaction() as tx:
        return int((await tx.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _backends(db: Database, n: int) -> set[int]:
    return set(await asyncio.gather(*(_backend(db) for _ in range(n))))


async def _terminate(pids: set[int]) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    finally:
        await admin.close()


async def test_connections_the_server_ended_are_replaced_not_handed_out() -> None:
    db = Database(URL)
    try:
        before = await _backends(db, 4)
        await _terminate(before)
        await asyncio.sleep(0.2)  # the sockets' end reaches the event loop
        # Every one of the pool's connections is dead: each transaction must get a new one.
        after = await _backends(db, 4)
        assert after.isdisjoint(before)
    finally:
        await db.dispose()


async def test_a_connection_idle_for_long_is_pinged_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = Database(URL)
    pings = 0
    ping = incar_db._ping

    def counted(dbapi_connection: object) -> None:
        nonlocal pings
        pings += 1
        ping(dbapi_connection)

    monkeypatch.setattr(incar_db, "_ping", counted)
    try:
        await _backend(db)
        await _backend(db)
        assert pings == 0  # busy connections are not pinged
        monkeypatch.setattr(incar_db, "PING_AFTER_IDLE_S", 0.05)
        await asyncio.sleep(0.1)
        await _backend(db)
        assert pings == 1
    finally:
        await db.dispose()
