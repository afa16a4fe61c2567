"""incar.direct: Core statements on the driver connection give what SQLAlchemy's execute gives
(the column types' processing included) and stay inside the ``tx``'s transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from incar import direct, exactjson
from incar.columns import ExactJson, UtcDateTime
from incar.db import Database
from tests.support.databases import fresh_database

METADATA = sa.MetaData()
PROBE = sa.Table(
    "direct_probe",
    METADATA,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("data", ExactJson, nullable=False),
)
INSERT = sa.insert(PROBE)
SELECT = sa.select(PROBE.c.pk, PROBE.c.name, PROBE.c.at, PROBE.c.data).order_by(PROBE.c.pk)
LOCKED = (
    sa.select(PROBE.c.pk, PROBE.c.data)
    .where(PROBE.c.name == sa.bindparam("k_name"))
    .with_for_update()
)
RENAME = (
    sa.update(PROBE).where(PROBE.c.name == sa.bindparam("k_name")).returning(PROBE.c.pk, PROBE.c.at)
)
TOUCH = sa.update(PROBE).where(PROBE.c.name == sa.bindparam("k_name"))
AT = datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    async with fresh_database() as url:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(METADATA.create_all)
        try:
            yield database
        finally:
            await database.dispose()


def row(name: str, text: str, at: datetime = AT) -> dict[str, object]:
    return {"name": name, "at": at, "data": exactjson.parse_stored(text)}


async def test_rows_written_and_read_directly_match_sqlalchemys(db: Database) -> None:
    # A number's literal and the keys' order survive only if the exact writer and reader run.
    texts = ['{"b":1.50,"a":[1E400]}', '{"z":{"y":null}}']
    async with db.transaction(write=True) as tx:
        written = await direct.execute(tx, INSERT, [row("one", texts[0]), row("two", texts[1])])
        assert written.rowcount == 2
    async with db.transaction() as tx:
        ours = (await direct.execute(tx, SELECT, {})).rows
        theirs = [tuple(r) for r in (await tx.execute(SELECT)).all()]
    assert ours == theirs
    assert [r[1] for r in ours] == ["one", "two"]
    assert all(r[2] == AT and r[2].tzinfo is not None for r in ours)
    assert [exactjson.dumps_text(r[3]) for r in ours] == texts


async def test_counts_returning_and_locks(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        await direct.execute(tx, INSERT, row("one", "{}"))
    later = AT + timedelta(hours=1)
    async with db.transaction(write=True) as tx:
        locked = await direct.execute(tx, LOCKED, {"k_name": "one"})
        assert [r[1] for r in locked.rows] == [{}]
        renamed = await direct.execute(tx, RENAME, {"k_name": "one", "name": "uno", "at": later})
        assert renamed.rows == [(locked.rows[0][0], later)]
        assert (await direct.execute(tx, TOUCH, {"k_name": "one", "at": later})).rowcount == 0
        assert (await direct.execute(tx, TOUCH, {"k_name": "uno", "at": later})).rowcount == 1


async def _write_then_fail(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        await direct.execute(tx, INSERT, row("one", "{}"))
        await direct.execute(tx, INSERT, [row("two", "{}"), row("three", "{}")])
        raise RuntimeError("rolled back")


async def test_a_direct_statement_is_rolled_back_with_its_transaction(db: Database) -> None:
    """The first statement of a transaction run directly still runs inside it (asyncpg's
    adapter would otherwise send no BEGIN before it: it would commit on its own)."""
    with pytest.raises(RuntimeError, match="rolled back"):
        await _write_then_fail(db)
    async with db.transaction() as tx:
        assert (await direct.execute(tx, SELECT, {})).rows == []
        assert (await tx.execute(sa.select(sa.func.count()).select_from(PROBE))).scalar() == 0


async def test_what_the_column_types_refuse_is_refused(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        with pytest.raises(ValueError, match="naive datetime"):
            await direct.execute(tx, INSERT, row("one", "{}", at=datetime(2026, 12, 4)))
        many = sa.select(PROBE.c.pk).where(PROBE.c.name.in_(sa.bindparam("names", expanding=True)))
        with pytest.raises(ValueError, match="text depends on its values"):
            await direct.execute(tx, many, {"names": ["a", "b"]})
        with pytest.raises(ValueError, match="returns rows"):
            await direct.execute(tx, SELECT, [{}, {}])


class Base(DeclarativeBase):
    metadata = METADATA


class PendingProbe(Base):
    __table__ = PROBE


async def test_rows_the_orm_holds_pending_are_written_first(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        tx.add(PendingProbe(name="pending", at=AT, data={}))
        assert [r[1] for r in (await direct.execute(tx, SELECT, {})).rows] == ["pending"]
