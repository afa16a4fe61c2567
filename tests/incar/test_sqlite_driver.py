"""The SQLite dialect of incar.sqlite_driver: each statement is one hand-off to aiosqlite's
thread, and what SQLAlchemy reads back (rows, rowcount, RETURNING, errors, streamed results)
is as with its own aiosqlite dialect."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError

from incar import sqlite_driver
from incar.db import Database

ITEM = Table("item", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'driver.db'}")
        async with database.transaction(write=True) as tx:
            await tx.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        try:
            yield database
        finally:
            await database.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call queued for an aiosqlite thread."""
    queued: list[Any] = []
    original: Any = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        queued.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return queued


async def test_sqlite_urls_get_the_one_hand_off_dialect(db: Database) -> None:
    assert db.engine.dialect.driver == sqlite_driver.DRIVER
    assert db.engine.dialect.name == "sqlite"


async def test_a_statement_is_one_hand_off(db: Database, hand_offs: list[Any]) -> None:
    async with db.transaction(write=True) as tx:
        hand_offs.clear()
        await tx.execute(text("INSERT INTO item (name) VALUES ('a')"))
        assert len(hand_offs) == 1
        rows = (await tx.execute(text("SELECT id, name FROM item"))).all()
        assert len(hand_offs) == 2
    assert [tuple(r) for r in rows] == [(1, "a")]


async def test_rows_rowcount_returning_and_executemany(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        # Several rows with RETURNING: SQLAlchemy's insertmanyvalues, one statement.
        many = await tx.execute(
            insert(ITEM).returning(ITEM.c.id), [{"name": "a"}, {"name": "b"}, {"name": "c"}]
        )
        assert sorted(many.scalars().all()) == [1, 2, 3]
        plain = await tx.execute(text("INSERT INTO item (name) VALUES (:n)"), [{"n": "e"}])
        assert plain.rowcount == 1  # type: ignore[attr-defined]  # an executemany
        await tx.execute(text("DELETE FROM item WHERE name = 'e'"))
        updated = await tx.execute(text("UPDATE item SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]
        one = await tx.execute(text("INSERT INTO item (name) VALUES ('d')"))
        assert one.lastrowid == 4  # type: ignore[attr-defined]
    async with db.transaction() as tx:
        names = (await tx.execute(text("SELECT name FROM item ORDER BY id"))).scalars().all()
        assert names == ["a", "b!", "c!", "d"]
        streamed = await tx.stream(text("SELECT id FROM item ORDER BY id"))
        assert [row[0] async for row in streamed] == [1, 2, 3, 4]


async def _twice(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        await tx.execute(text("INSERT INTO item (name) VALUES ('x')"))
        await tx.execute(text("INSERT INTO item (name) VALUES ('x')"))


async def _no_table(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(text("SELECT nothing FROM nowhere"))


async def test_errors_are_sqlalchemys_and_roll_back(db: Database) -> None:
    with pytest.raises(IntegrityError):
        await _twice(db)
    with pytest.raises(OperationalError):
        await _no_table(db)
    async with db.transaction() as tx:
        assert (await tx.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0
