"""The durable event log: every event is one row, written in the transaction of its change.

Position. Each event's position is ``(txid, seq)``, compared as a pair, and a reader hands out
events in that order only once no event can ever come before them:

- SQLite has one writer at a time, so ``seq`` (AUTOINCREMENT, taken inside the write
  transaction) already grows in commit order; ``txid`` is 0.
- On PostgreSQL, ``seq`` comes from a sequence, and two transactions may commit in the opposite
  order of their ``seq``: reading ``seq > last`` would skip the one that commits later with the
  lower ``seq``. So each row also holds its transaction's id (``pg_current_xact_id()``), and a
  reader takes only rows whose transaction id is below its snapshot's ``xmin``: every such
  transaction has ended, and every transaction still to commit has an id at or above ``xmin``,
  so nothing can appear later below what was read. Rows held back (committed, but behind an
  older transaction still running) are read once that one ends.

Retention (``Retention``) deletes a prefix of the log, never a hole, and records the newest
position it deleted in ``event_log_horizon``: a cursor before it cannot be resumed
(``CursorExpired``), which is how a reader learns it would otherwise have a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from incar import direct
from incar.events.event import Event, encode
from incar.events.models import EventLogHorizon, EventRecord

LOG = EventRecord.__table__  # type: ignore[attr-defined]
HORIZON = EventLogHorizon.__table__  # type: ignore[attr-defined]

_TXID: sa.ColumnElement[int] = sa.literal_column(
    "pg_current_xact_id()::text::bigint", sa.BigInteger
)
_XMIN: sa.ColumnElement[int] = sa.literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", sa.BigInteger
)
#: On SQLite every committed row is final (one writer): no transaction id reaches this.
_NO_XMIN = sa.literal(2**62, sa.BigInteger)


class CursorExpired(LookupError):
    """The position asked to resume after is older than what retention keeps."""


class Position(NamedTuple):
    txid: int
    seq: int

    def cursor(self) -> str:
        """The position as a client holds it (a subscription's ``cursor``)."""
        return f"{self.txid}.{self.seq}"

    @classmethod
    def parse(cls, cursor: str) -> Position:
        """Raises ValueError if ``cursor`` is not one ``cursor()`` wrote."""
        txid, dot, seq = cursor.partition(".")
        if not (dot and txid.isdigit() and seq.isdigit() and txid.isascii() and seq.isascii()):
            raise ValueError(f"not an event cursor: {cursor!r}")
        return cls(int(txid), int(seq))


START = Position(0, 0)


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of the log is kept: the newest ``count`` events always; the cut is the newest
    event older than ``seconds``, and everything up to it goes (a prefix, see the module). An
    event's age is its ``occurred_at`` by its process's clock, so one younger than ``seconds``
    but positioned before an older one (clocks apart) goes with the prefix."""

    seconds: float = 7 * 24 * 3600.0
    count: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    events: list[Event]
    #: Committed events past the page that are not final yet (PostgreSQL, see the module).
    held_back: bool


def _postgres(tx: AsyncSession) -> bool:
    return tx.get_bind().dialect.name == "postgresql"


def _key() -> sa.Tuple:
    return sa.tuple_(LOG.c.txid, LOG.c.seq)


_APPEND_POSTGRES = sa.insert(LOG).values(txid=_TXID)
_APPEND_SQLITE = sa.insert(LOG).values(txid=0)


async def append(tx: AsyncSession, *events: Event) -> None:
    """The one statement that puts ``events`` in the log, in this order, in ``tx``'s
    transaction. Raises EventTooLarge or TypeError (payload not JSON-safe) at once, before
    anything is written."""
    rows = [
        {"topic": event.topic, "occurred_at": event.occurred_at, "body": encode(event).decode()}
        for event in events
    ]
    if rows:
        # On the driver connection, in one round trip: every change publishes (incar.direct).
        await direct.execute(tx, _APPEND_POSTGRES if _postgres(tx) else _APPEND_SQLITE, rows)


def _read_statement(xmin: sa.ColumnElement[int]) -> sa.CompoundSelect[Any]:
    """The page after a position and the horizon, in one statement: one snapshot for both (a
    prune committed before it shows in both), one round trip per read of the log."""
    after = sa.tuple_(
        sa.bindparam("a_txid", type_=sa.BigInteger), sa.bindparam("a_seq", type_=sa.BigInteger)
    )
    page = (
        sa.select(
            sa.literal(1, sa.Integer).label("part"),
            LOG.c.txid,
            LOG.c.seq,
            LOG.c.body,
            (LOG.c.txid < xmin).label("final"),
        )
        .where(_key() > after)
        .order_by(LOG.c.txid, LOG.c.seq)
        .limit(sa.bindparam("n", type_=sa.Integer))
        .subquery()
    )
    edge = sa.select(sa.literal(0, sa.Integer), HORIZON.c.txid, HORIZON.c.seq, sa.null(), sa.null())
    return sa.union_all(sa.select(page), edge).order_by("part", "txid", "seq")


_READ_POSTGRES = _read_statement(_XMIN)
_READ_SQLITE = _read_statement(_NO_XMIN)


async def read_after(tx: AsyncSession, after: Position, limit: int) -> Page:
    """The final events after ``after``, in position order, at most ``limit``.

    Raises CursorExpired if retention has deleted events after ``after``: the horizon and the
    rows come from one statement's snapshot, so a prune is never taken for a quiet log. So do
    the rows and xmin, as the rule of the module needs.
    """
    statement = _READ_POSTGRES if _postgres(tx) else _READ_SQLITE
    values = {"a_txid": after.txid, "a_seq": after.seq, "n": limit + 1}
    edge, rows = START, []
    for part, txid, seq, body, final in (await direct.execute(tx, statement, values)).rows:
        if part == 0:
            edge = Position(txid, seq)
        else:
            rows.append((txid, seq, body, final))
    if after < edge:
        raise CursorExpired(f"events after {after.cursor()} are past the log's retention")
    events: list[Event] = []
    held_back = False
    for txid, seq, body, final in rows[:limit]:
        if not final:
            held_back = True
            break
        events.append(Event.from_json(body).at(Position(txid, seq)))
    return Page(events, held_back)


async def horizon(tx: AsyncSession) -> Position:
    row = (await tx.execute(sa.select(HORIZON.c.txid, HORIZON.c.seq))).first()
    return START if row is None else Position(row.txid, row.seq)


async def head(tx: AsyncSession) -> Position:
    """The newest final position: a reader starting here misses nothing committed later."""
    xmin = _XMIN if _postgres(tx) else _NO_XMIN
    row = (
        await tx.execute(
            sa.select(LOG.c.txid, LOG.c.seq)
            .where(LOG.c.txid < xmin)
            .order_by(LOG.c.txid.desc(), LOG.c.seq.desc())
            .limit(1)
        )
    ).first()
    return max(await horizon(tx), START if row is None else Position(row.txid, row.seq))


async def committed_after(tx: AsyncSession, position: Position) -> frozenset[Position]:
    """The events after ``position`` already committed: after the head, those are the ones
    held back (PostgreSQL), which a subscriber entering now must not be handed as new."""
    rows = await tx.execute(
        sa.select(LOG.c.txid, LOG.c.seq).where(
            _key() > sa.tuple_(sa.literal(position.txid), sa.literal(position.seq))
        )
    )
    return frozenset(Position(txid, seq) for txid, seq in rows)


async def prune(tx: AsyncSession, retention: Retention, now: datetime) -> int:
    """Deletes the prefix of final events that are both older than ``retention.seconds`` and
    not among the newest ``retention.count``; returns how many. Safe to run in every process
    at once (each deletes the same prefix; the horizon only moves forward)."""
    xmin = _XMIN if _postgres(tx) else _NO_XMIN
    final = LOG.c.txid < xmin
    newest = sa.select(LOG.c.txid, LOG.c.seq).where(final)
    newest = newest.order_by(LOG.c.txid.desc(), LOG.c.seq.desc())
    # The newest event beyond the kept count, and the newest one past the kept age: the cut
    # is the older of the two, so that both rules keep what they promise.
    beyond_count = (await tx.execute(newest.offset(retention.count).limit(1))).first()
    if beyond_count is None:
        return 0
    cutoff = now - timedelta(seconds=retention.seconds)
    too_old = (await tx.execute(newest.where(LOG.c.occurred_at < cutoff).limit(1))).first()
    if too_old is None:
        return 0
    cut = min(Position(*beyond_count), Position(*too_old))
    deleted = await tx.execute(
        sa.delete(LOG).where(_key() <= sa.tuple_(sa.literal(cut.txid), sa.literal(cut.seq)))
    )
    # The horizon's one row is made by migration 0014.
    await tx.execute(
        sa.update(HORIZON)
        .where(
            sa.tuple_(HORIZON.c.txid, HORIZON.c.seq)
            < sa.tuple_(sa.literal(cut.txid), sa.literal(cut.seq))
        )
        .values(txid=cut.txid, seq=cut.seq)
    )
    return int(cast(CursorResult[Any], deleted).rowcount or 0)
