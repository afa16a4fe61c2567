"""The hub's context: the platform's runtime, with the hub's outbound client and caller cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incar.db import Database
from incar.events import EventBus
from incar.runtime import Runtime
from incar.settings import Settings
from ocpi_adapter.client import PeerClient
from ocpi_adapter.membership import Local, Membership
from ocpi_adapter.platforms.callers import CallerCache

if TYPE_CHECKING:
    from ocpi_adapter.owed.sender import OwedSender


@dataclass
class Hub:
    runtime: Runtime
    client: PeerClient
    callers: CallerCache
    #: This process's sender of owed copies (None where no hub serves: a command of the CLI
    #: writes owed rows, which the serving hub's sender finds by its poll).
    owed: OwedSender | None = None
    #: The hub processes sharing the database: who is alive, who leads (membership.py).
    membership: Membership = field(default_factory=Local)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def bus(self) -> EventBus:
        return self.runtime.bus

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.runtime.clock

    def horizon(self) -> datetime:
        """The latest last_updated the hub accepts now (INCAR_MAX_CLOCK_SKEW ahead)."""
        return self.clock() + timedelta(seconds=self.settings.max_clock_skew)

    @property
    def base_url(self) -> str:
        return f"{self.settings.base_url}/ocpi/2.2.1"

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        return self.runtime.spawn(coroutine, name=name)

    async def drain(self) -> None:
        await self.runtime.drain()

    async def close(self) -> None:
        """Ends the hub's own part (its background work, its connections to peers); the
        runtime is closed by whoever created it."""
        await self.drain()
        await self.client.aclose()
