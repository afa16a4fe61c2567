"""Real databases for the event bus tests: a SQLite file and a scratch PostgreSQL database, both
migrated (the event log and its trigger), with a ``changes`` table of their own."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from incar.db import Database, migrate_async
from incar.events import MemoryBus, PostgresBus

# The server every PostgreSQL test uses; the tests create and drop their own database on it.
ADMIN_DSN = os.environ.get(
    "INCAR_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)

CHANGES_DDL = "CREATE TABLE changes (seq INTEGER PRIMARY KEY, note TEXT NOT NULL)"


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    name = f"incar_events_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    await migrate_async(url)
    setup = Database(url)
    async with setup.transaction() as tx:
        await tx.execute(text(CHANGES_DDL))
    await setup.dispose()
    yield url
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    async with db.transaction() as tx:
        await tx.execute(text("DELETE FROM changes"))
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating takes a second)."""
    path = tmp_path_factory.mktemp("events") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate_async(url)
    setup = Database(url)
    async with setup.transaction() as tx:
        await tx.execute(text(CHANGES_DDL))
        await tx.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    await setup.dispose()
    return path


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    path = tmp_path / "events.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db
    await db.dispose()


@pytest.fixture
async def memory_bus(sqlite_db: Database) -> AsyncIterator[MemoryBus]:
    bus = MemoryBus(sqlite_db.url)
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def pg_bus(pg_url: str) -> AsyncIterator[PostgresBus]:
    bus = PostgresBus(pg_url)
    await bus.start()
    yield bus
    await bus.close()
