"""The ledger's outbox to a BigchainDB node (``INCAR_BIGCHAINDB_URL``).

``owe`` writes a row beside each entry, in the entry's transaction, so an acknowledged CDR's
transaction is owed to the node even if the hub stops right after: a crash delays it, never
drops it. ``OutboxSender`` (one task in each hub process, started with the hub) posts what is
owed, oldest entry first, and records the outcome on the row:

- delivered: the node holds the transaction (also when it was there already: a post whose
  answer was lost, or another hub process's);
- refused: the node answered 400 (an invalid transaction); no retry changes that, so it is not
  retried, and is logged as an error and kept with the node's message (``incar ledger
  outbox`` lists it);
- anything else (no connection, a timeout, a 5xx): tried again after a backoff that doubles
  from ``INCAR_BIGCHAINDB_RETRY_FIRST`` up to ``INCAR_BIGCHAINDB_RETRY_LONGEST`` seconds, each
  wait a random 50-100% of that (so hub processes do not retry in step). The round stops after
  the first posts with such a failure: a node that is down is not asked once per row.

The sender never holds a transaction open while it waits for the node, and the hub's answers
never wait for the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.columns import utcnow
from incar.db import Database
from incar.ledger_node import node_of
from incar.settings import Settings
from subgraphs.accounting.ledger.bigchaindb import Delivered, Failed, NodeClient, Refused, Result
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerOutbox

log = logging.getLogger("incar.ledger.outbox")

PENDING, DELIVERED, REFUSED = "pending", "delivered", "refused"
ROUND = 100  # rows one round reads; a full round goes on with the next at once
# Posts at once: a node answers mode=commit once the transaction is in a block (about a second
# on BigchainDB 2), so one at a time would cap the outbox near one CDR a second.
IN_FLIGHT = 8


async def owe(tx: AsyncSession, indices: Sequence[int]) -> None:
    """Owes the entries ``indices`` (written already in ``tx``) to the node, in their
    transaction; nothing when the ledger is embedded (no node configured)."""
    if node_of(tx) and indices:
        now = utcnow()
        await tx.execute(
            sa.insert(LedgerOutbox),
            [
                {"idx": idx, "state": PENDING, "attempts": 0, "next_attempt_at": now}
                for idx in indices
            ],
        )


def backoff(
    failures: int, *, first: float, longest: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (1, 2, ...)."""
    delay: float = min(longest, first * 2.0 ** min(failures - 1, 64))
    return delay * (0.5 + rng() / 2)


async def counts(tx: AsyncSession) -> dict[str, int]:
    """Rows by state (pending, delivered, refused)."""
    query = sa.select(col(LedgerOutbox.state), sa.func.count()).group_by(col(LedgerOutbox.state))
    found = {state: int(n) for state, n in (await tx.execute(query)).all()}
    return {state: found.get(state, 0) for state in (PENDING, DELIVERED, REFUSED)}


async def refused(tx: AsyncSession) -> list[LedgerOutbox]:
    query = (
        sa.select(LedgerOutbox)
        .where(col(LedgerOutbox.state) == REFUSED)
        .order_by(col(LedgerOutbox.idx))
    )
    return list((await tx.execute(query)).scalars())


class OutboxSender:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.node = NodeClient(settings.bigchaindb_url, timeout=settings.bigchaindb_timeout)
        self._task: asyncio.Task[None] | None = None
        self._failures = 0  # rounds in a row that ended in a failure, for the backoff

    @classmethod
    def of(cls, db: Database, settings: Settings) -> OutboxSender | None:
        return cls(db, settings) if settings.bigchaindb_url else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="ledger-outbox")

    async def stop(self) -> None:
        # A post cut off here leaves its row pending: sent again at the next start, where the
        # node's "duplicate" answer and the lookup make it delivered, not twice.
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.node.close()

    async def _loop(self) -> None:
        while True:
            try:
                wait = await self.send_due()
            except Exception:
                log.exception("a round of the ledger's outbox failed")
                wait = self.settings.bigchaindb_poll_interval
            if wait > 0:
                await asyncio.sleep(wait)

    async def send_due(self) -> float:
        """Posts what is due, oldest entry first, ``IN_FLIGHT`` at a time; the seconds until
        the next round."""
        async with self.db.transaction() as tx:
            rows = (
                await tx.execute(
                    sa.select(
                        col(LedgerOutbox.idx),
                        col(LedgerOutbox.attempts),
                        col(LedgerEntry.tx_id),
                        col(LedgerEntry.tx),
                    )
                    .join(LedgerEntry, col(LedgerEntry.idx) == col(LedgerOutbox.idx))
                    .where(
                        col(LedgerOutbox.state) == PENDING,
                        col(LedgerOutbox.next_attempt_at) <= utcnow(),
                    )
                    .order_by(col(LedgerOutbox.idx))
                    .limit(ROUND)
                )
            ).all()
        for start in range(0, len(rows), IN_FLIGHT):
            chunk = [_Owed(*row) for row in rows[start : start + IN_FLIGHT]]
            results = await asyncio.gather(*(self.node.post(o.tx_id, bytes(o.tx)) for o in chunk))
            wait = await self._record(chunk, results)
            if wait is not None:
                return wait
        return 0.0 if len(rows) == ROUND else self.settings.bigchaindb_poll_interval

    async def _record(self, chunk: list[_Owed], results: list[Result]) -> float | None:
        """Keeps each result on its row; after a failure, the backoff before the next round
        (a chunk with failures is one failure more: the node, not each row, is in trouble)."""
        now = utcnow()
        failures = [(o, r) for o, r in zip(chunk, results, strict=True) if isinstance(r, Failed)]
        wait: float | None = None
        if failures:
            self._failures += 1
            wait = backoff(
                self._failures,
                first=self.settings.bigchaindb_retry_first,
                longest=self.settings.bigchaindb_retry_longest,
            )
            first, failed = failures[0]
            log.warning(
                "%d ledger entries not posted to the BigchainDB node (entry %d, attempt %d: %s);"
                " trying again in %.1f s",
                len(failures),
                first.idx,
                first.attempts + 1,
                failed.reason,
                wait,
            )
        else:
            self._failures = 0
        async with self.db.transaction(write=True) as tx:
            for owed, result in zip(chunk, results, strict=True):
                changes: dict[str, object] = {"attempts": owed.attempts + 1}
                match result:
                    case Delivered():
                        changes.update(state=DELIVERED, delivered_at=now, last_error=None)
                    case Refused(reason):
                        changes.update(state=REFUSED, last_error=reason)
                        log.error(
                            "the BigchainDB node refused ledger entry %d (transaction %s): %s; "
                            "not sent again (incar ledger outbox lists it)",
                            owed.idx,
                            owed.tx_id,
                            reason,
                        )
                    case Failed(reason):
                        retry_at = now + timedelta(seconds=wait or 0.0)
                        changes.update(last_error=reason, next_attempt_at=retry_at)
                await tx.execute(
                    sa.update(LedgerOutbox)
                    .where(col(LedgerOutbox.idx) == owed.idx, col(LedgerOutbox.state) == PENDING)
                    .values(**changes)
                )
        return wait


@dataclass(frozen=True, slots=True)
class _Owed:
    idx: int
    attempts: int
    tx_id: str
    tx: bytes
