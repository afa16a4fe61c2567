"""The running platform's context: what every door of one process shares.

The OCPI hub, the subgraphs and the demo of one process use one ``Runtime``: the settings, the
database engine, the event bus, the platform's clock and the background work. A door adds what
is its own (the hub: its outbound client and caller cache) around it, never a second engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incar.columns import utcnow
from incar.db import Database
from incar.events import EventBus, Retention, attach_factory, create_bus
from incar.hub_key import HubKey, attach_key
from incar.ledger_node import attach_node
from incar.settings import Settings

log = logging.getLogger("incar.runtime")


def attach_ledger(db: Database, settings: Settings) -> None:
    """What appending to the CDR ledger needs of ``db``'s transactions: the hub's key to sign
    with, and whether a BigchainDB node is owed each entry."""
    attach_key(db.factory, HubKey(path=settings.ledger_key_path, name=settings.ledger_name))
    attach_node(db.factory, settings.bigchaindb_url)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    #: The platform's clock: the wall clock, or a simulated one in the demo (whose parties'
    #: clock runs ahead by design).
    clock: Callable[[], datetime] = utcnow
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    def create(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
        """The engine and the bus of ``settings``; events publish with their transactions, and
        what is signed in them is signed with the hub's key (read or made on first use)."""
        db = Database(settings.database_url)
        retention = Retention(
            seconds=settings.event_log_keep_seconds, count=settings.event_log_keep_count
        )
        bus = create_bus(settings.event_bus, settings.database_url, retention)
        attach_factory(db.factory, bus)
        attach_ledger(db, settings)
        return cls(settings=settings, db=db, bus=bus, clock=clock)

    async def start(self) -> None:
        await self.bus.start()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Runs work after a response (fan-out, ClientInfo pushes); failures are logged."""
        task = asyncio.create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Waits for background work; used at shutdown and by tests that need quiescence."""
        # Finished tasks leave the set in a done callback; wait only for unfinished ones, and
        # again for any they spawned.
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.wait(pending)

    async def close(self) -> None:
        await self.drain()
        await self.bus.close()
        await self.db.dispose()
