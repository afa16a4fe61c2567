"""The contract every event bus keeps, whatever carries the events.

Delivery rule ("nothing acknowledged is ever lost"): an event published through ``publish`` is
delivered if and only if the transaction it was published in commits; an event
published inside a savepoint that rolls back is discarded with it. Subscribers see the events of
one publisher in publish order, and those of different transactions in commit order.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from incar.events.event import Event
from incar.events.fanout import Subscription


class BusNotRunning(RuntimeError):
    """The bus was used before ``start()`` or after ``close()``."""


class NotInTransaction(RuntimeError):
    """``publish`` was given a database unit (``tx``) with no transaction to tie the event to."""


class EventBus(Protocol):
    @property
    def dropped(self) -> int:
        """Events lost by subscribers of this process that read too slowly, in total."""

    async def start(self) -> None:
        """Acquires what the bus needs; publishing and subscribing fail loudly before this."""

    async def close(self) -> None:
        """Ends every subscription (their iterators stop once drained) and frees resources."""

    def subscribe(
        self, topics: Collection[str] | None = None, *, capacity: int | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Events of the given topics (all if None) delivered after entering, until exit.

        ``capacity`` bounds this subscriber's buffer (the bus's default if None); past it the
        subscriber's oldest events are dropped and counted in ``Subscription.dropped``.
        """

    async def publish(self, tx: AsyncSession, event: Event) -> None:
        """Queues ``event`` to be delivered once ``tx``'s transaction commits.

        Raises EventTooLarge or TypeError (payload not JSON-safe) at once, not at commit, and
        NotInTransaction if ``tx`` has not begun a transaction.
        """

    async def publish_now(self, event: Event) -> None:
        """Delivers ``event`` now, for changes made outside any database transaction."""


def require_transaction(tx: AsyncSession) -> None:
    if not tx.in_transaction():
        raise NotInTransaction(
            "publish needs a tx inside a transaction (async with db.transaction() as tx)"
        )
