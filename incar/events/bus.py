"""The contract every event bus keeps, whatever carries the events.

Delivery rule ("nothing acknowledged is ever lost"): an event published through ``publish`` is
written to the durable log (``incar.events.log``) in the transaction it was published in, so it
is delivered if and only if that transaction commits; an event published inside a savepoint
that rolls back is discarded with it. Subscribers see events in position order: those of one
transaction in publish order, those of different transactions in an order no later commit can
come before. A subscriber resumes ``after`` a position it was given; one that cannot be resumed
(retention deleted what follows) gets ``CursorExpired``, never a gap.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from incar.events.event import Event
from incar.events.fanout import Subscription
from incar.events.log import Position


class BusNotRunning(RuntimeError):
    """The bus was used before ``start()`` or after ``close()``."""


class NotInTransaction(RuntimeError):
    """``publish`` was given a database unit (``tx``) with no transaction to tie the event to."""


class EventBus(Protocol):
    @property
    def overflows(self) -> int:
        """Times a subscriber of this process read too slowly for its buffer and went back to
        reading the log, in total (nothing is lost by it)."""

    async def start(self) -> None:
        """Acquires what the bus needs; publishing and subscribing fail loudly before this."""

    async def close(self) -> None:
        """Ends every subscription (their iterators stop once drained) and frees resources."""

    def subscribe(
        self,
        topics: Collection[str] | None = None,
        *,
        capacity: int | None = None,
        after: Position | None = None,
    ) -> AbstractAsyncContextManager[Subscription]:
        """Events of the given topics (all if None): those after ``after``, then live; without
        ``after``, those committed from entering on. Until exit.

        ``capacity`` bounds this subscriber's buffer (the bus's default if None); past it the
        subscriber reads the log instead (counted in ``Subscription.overflows``). Raises
        CursorExpired, on entering or while iterating, once retention has deleted events it
        has not read.
        """

    async def publish(self, tx: AsyncSession, *events: Event) -> None:
        """Writes ``events`` to the log in ``tx``'s transaction (in one statement, in this
        order), delivered once it commits.

        Raises EventTooLarge or TypeError (payload not JSON-safe) at once, not at commit, and
        NotInTransaction if ``tx`` has not begun a transaction.
        """

    async def publish_now(self, event: Event) -> None:
        """Writes ``event`` to the log in a transaction of its own, for changes made outside
        any database transaction."""


def require_transaction(tx: AsyncSession) -> None:
    if not tx.in_transaction():
        raise NotInTransaction(
            "publish needs a tx inside a transaction (async with db.transaction() as tx)"
        )
