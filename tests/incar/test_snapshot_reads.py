"""A snapshot read: every statement of it sees the state of its first one, so figures taken
from several tables (``incar hub owed``, /metrics) agree with each other while writers commit
between its statements."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database
from tests.support.databases import fresh_database


async def _count(tx: AsyncSession) -> int:
    return int((await tx.execute(text("SELECT count(*) FROM probe"))).scalar_one())


async def _insert_one(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        await tx.execute(text("INSERT INTO probe (n) VALUES (1)"))


async def test_a_snapshot_read_does_not_see_what_commits_between_its_statements() -> None:
    async with fresh_database() as url:
        db = Database(url)
        try:
            async with db.transaction(write=True) as tx:
                await tx.execute(text("CREATE TABLE probe (n INTEGER)"))
            async with db.transaction(snapshot=True) as tx:
                assert await _count(tx) == 0
                await _insert_one(db)
                assert await _count(tx) == 0
            async with db.transaction() as tx:
                assert await _count(tx) == 1
            # A default read sees each commit as it comes: why the figures need the snapshot.
            async with db.transaction() as tx:
                await _count(tx)
                await _insert_one(db)
                assert await _count(tx) == 2
        finally:
            await db.dispose()
