"""A fresh, migrated database per hub under test: SQLite by default, PostgreSQL when
``INCAR_DATABASE_URL`` points at one (the test runner runs the suite on both)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine.url import make_url

from incar.db import is_sqlite, migrate_async


def configured_url() -> str | None:
    return os.environ.get("INCAR_DATABASE_URL") or None


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    base = configured_url()
    if base is None or is_sqlite(base):
        with tempfile.TemporaryDirectory(prefix="incar-test-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'incar.db'}"
            await migrate_async(url)
            yield url
        return
    parsed = make_url(base)
    name = f"incar_test_{uuid.uuid4().hex[:12]}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = parsed.set(database=name).render_as_string(hide_password=False)
    try:
        await migrate_async(url)
        yield url
    finally:
        connection = await asyncpg.connect(admin)
        try:
            # Pools of the hub under test may still hold connections for a moment.
            for _ in range(50):
                try:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except asyncpg.ObjectInUseError:
                    await asyncio.sleep(0.1)
        finally:
            await connection.close()
