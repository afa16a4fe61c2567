"""The hub's per-process context: settings, database, outbound client, background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incar.columns import utcnow
from incar.db import Database
from incar.events import EventBus
from incar.settings import Settings
from ocpi_adapter.client import PeerClient
from ocpi_adapter.platforms.callers import CallerCache

log = logging.getLogger("incar.hub")


@dataclass
class Hub:
    settings: Settings
    db: Database
    client: PeerClient
    callers: CallerCache
    bus: EventBus
    #: The hub's clock: the wall clock, or a simulated one in the demo (whose parties' clock
    #: runs ahead by design). It bounds the last_updated the hub accepts.
    clock: Callable[[], datetime] = utcnow
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def horizon(self) -> datetime:
        """The latest last_updated the hub accepts now (INCAR_MAX_CLOCK_SKEW ahead)."""
        return self.clock() + timedelta(seconds=self.settings.max_clock_skew)

    @property
    def base_url(self) -> str:
        return f"{self.settings.base_url}/ocpi/2.2.1"

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Runs work after the response (fan-out, ClientInfo pushes); failures are logged."""
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
        await self.client.aclose()
        await self.bus.close()
        await self.db.dispose()
