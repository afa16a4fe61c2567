from __future__ import annotations

import gc
import sqlite3
import weakref
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database
from incar.events.aftercommit import after_commit
from incar.events.bus import NotInTransaction


class Boom(Exception):
    pass


@pytest.fixture(params=["sqlite_db", "pg_db"])
def db(request: pytest.FixtureRequest) -> Database:
    database: Database = request.getfixturevalue(request.param)
    return database


async def change(tx: AsyncSession, seq: int) -> None:
    await tx.execute(text("INSERT INTO changes (seq, note) VALUES (:seq, 'x')"), {"seq": seq})


async def stored(db: Database) -> list[int]:
    async with db.transaction() as tx:
        return list((await tx.execute(text("SELECT seq FROM changes ORDER BY seq"))).scalars())


async def test_runs_after_commit_in_registration_order(db: Database) -> None:
    ran: list[int] = []
    async with db.transaction() as tx:
        for seq in range(3):
            await change(tx, seq)
            after_commit(tx, lambda seq=seq: ran.append(seq))  # type: ignore[misc]
        assert ran == []

    assert ran == [0, 1, 2]
    assert await stored(db) == [0, 1, 2]


async def change_then_fail(tx: AsyncSession, seq: int, callback: Callable[[], None]) -> None:
    await change(tx, seq)
    after_commit(tx, callback)
    raise Boom


async def test_never_runs_for_a_rolled_back_transaction(db: Database) -> None:
    ran: list[str] = []
    with pytest.raises(Boom):
        async with db.transaction() as tx:
            await change_then_fail(tx, 1, lambda: ran.append("rolled back"))

    async with db.transaction() as tx:
        await change(tx, 2)
        after_commit(tx, lambda: ran.append("committed"))

    assert ran == ["committed"]
    assert await stored(db) == [2]


async def test_follows_savepoints(db: Database) -> None:
    ran: list[str] = []
    async with db.transaction() as tx:
        after_commit(tx, lambda: ran.append("before"))
        async with tx.begin_nested():
            await change(tx, 1)
            after_commit(tx, lambda: ran.append("released savepoint"))
        with pytest.raises(Boom):
            async with tx.begin_nested():
                await change_then_fail(tx, 2, lambda: ran.append("rolled-back savepoint"))
        after_commit(tx, lambda: ran.append("after"))
        assert ran == []

    assert ran == ["before", "released savepoint", "after"]
    assert await stored(db) == [1]


async def test_session_closed_without_commit_forgets_callbacks(db: Database) -> None:
    ran: list[str] = []
    async with db.factory() as tx:
        await change(tx, 1)
        after_commit(tx, lambda: ran.append("never"))
    async with db.factory() as tx:
        await change(tx, 2)
        after_commit(tx, lambda: ran.append("committed"))
        await tx.commit()

    assert ran == ["committed"]
    assert await stored(db) == [2]


async def test_a_failing_callback_leaves_the_commit_and_the_others_alone(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("subscriber bug")

    async with db.transaction() as tx:
        await change(tx, 1)
        after_commit(tx, fail)
        after_commit(tx, lambda: ran.append("second"))

    assert ran == ["second"]
    assert await stored(db) == [1]
    assert "after-commit callback failed" in caplog.text


async def test_refuses_a_session_outside_a_transaction(db: Database) -> None:
    async with db.factory() as tx:
        with pytest.raises(NotInTransaction):
            after_commit(tx, lambda: None)


async def test_the_change_is_durable_when_the_callback_runs(sqlite_db: Database) -> None:
    database = sqlite_db.engine.url.database
    assert database is not None
    seen: list[list[int]] = []

    def look_from_another_connection() -> None:
        with sqlite3.connect(database) as other:
            seen.append([row[0] for row in other.execute("SELECT seq FROM changes")])

    async with sqlite_db.transaction() as tx:
        await change(tx, 7)
        after_commit(tx, look_from_another_connection)

    assert seen == [[7]]


class _Callback:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


async def test_a_long_lived_session_lets_go_of_uncommitted_callbacks(db: Database) -> None:
    async with db.factory() as tx:
        callback = _Callback()
        gone = weakref.ref(callback)
        async with tx.begin(), tx.begin_nested() as savepoint:
            after_commit(tx, callback)
            await savepoint.rollback()
        for _ in range(3):
            await tx.begin()
            after_commit(tx, callback)
            await tx.rollback()
        assert callback.calls == 0
        del callback
        gc.collect()

        assert gone() is None
