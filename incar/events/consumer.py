"""A durable consumer of the log (a KPI, a projection): it applies each event exactly once,
across restarts and crashes, because a batch of events and the consumer's new position are
written in one transaction. Killed mid-batch, it rolls back both and applies that batch again
on restart; committed, neither is done twice.

Two instances of one consumer (two processes) cannot both apply a batch: the position only
moves from the value the batch was read after, and the second finds it moved and stops with
ConsumerConflict.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import utcnow
from incar.db import Database
from incar.events import log
from incar.events.bus import EventBus
from incar.events.event import Event
from incar.events.log import Position
from incar.events.models import ConsumerPosition

_log = logging.getLogger(__name__)

TABLE = ConsumerPosition.__table__  # type: ignore[attr-defined]

#: Applies a batch of events in the consumer's transaction ``tx``; must not commit it.
type Apply = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]


class ConsumerConflict(RuntimeError):
    """Another instance of the consumer moved its position first."""


async def stored_position(tx: AsyncSession, name: str) -> Position | None:
    row = (
        await tx.execute(sa.select(TABLE.c.txid, TABLE.c.seq).where(TABLE.c.name == name))
    ).first()
    return None if row is None else Position(row.txid, row.seq)


async def advance(tx: AsyncSession, name: str, read_after: Position | None, to: Position) -> None:
    """Moves the consumer's position from ``read_after`` (None: it had none) to ``to``."""
    if read_after is None:
        await tx.execute(
            sa.insert(TABLE).values(name=name, txid=to.txid, seq=to.seq, updated_at=utcnow())
        )
        return
    moved = await tx.execute(
        sa.update(TABLE)
        .where(TABLE.c.name == name, TABLE.c.txid == read_after.txid, TABLE.c.seq == read_after.seq)
        .values(txid=to.txid, seq=to.seq, updated_at=utcnow())
    )
    if cast(CursorResult[Any], moved).rowcount != 1:
        raise ConsumerConflict(f"consumer {name!r} was moved by another instance")


class Consumer:
    """Runs ``apply`` over the events of ``topics`` after the consumer's stored position.

    A consumer with no position yet starts at the oldest event the log keeps. One whose
    position is past retention stops with CursorExpired: what it missed cannot be applied, so
    it must be rebuilt (its rows recomputed) rather than carry on with a gap.
    """

    def __init__(
        self,
        name: str,
        db: Database,
        bus: EventBus,
        apply: Apply,
        *,
        topics: Collection[str] | None = None,
        batch: int = 100,
    ) -> None:
        self.name = name
        self.db = db
        self.bus = bus
        self.apply = apply
        self.topics = topics
        self.batch = batch

    async def run(self) -> None:
        """Applies events until cancelled."""
        async with self.db.transaction() as tx:
            stored = await stored_position(tx, self.name)
            after = stored if stored is not None else await log.horizon(tx)
        async with self.bus.subscribe(self.topics, after=after, capacity=self.batch) as events:
            async for first in events:
                batch = [first, *events.take_ready(self.batch - 1)]
                last = batch[-1].position
                assert last is not None
                async with self.db.transaction(write=True) as tx:
                    await self.apply(tx, batch)
                    await advance(tx, self.name, stored, last)
                stored = last
