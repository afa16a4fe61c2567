"""A short-lived cache of authenticated callers and of the platform registry, so hot paths (every
request, every broadcast) skip registry queries.

Changes made by this process (registration, update, unregister, status) clear it at once; other
processes of a distributed deployment see a change within ``ttl`` seconds.
"""

from __future__ import annotations

import time

from incar.columns import utcnow
from incar.db import Database
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.platforms.service import Caller

Registry = list[tuple[Platform, list[Party]]]


class CallerCache:
    def __init__(self, db: Database, *, ttl: float = 2.0) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._registry: tuple[float, Registry] | None = None
        self._generation = 0
        self.last_seen: dict[int, float] = {}

    async def lookup(self, authorization: str | None) -> Caller | None:
        if not authorization:
            return None
        now = time.monotonic()
        hit = self._entries.get(authorization)
        if hit is not None and hit[0] > now:
            caller = hit[1]
        else:
            async with self._db.transaction() as tx:
                found = await platforms.authenticate(tx, authorization=authorization)
            if found is None:
                self._entries.pop(authorization, None)
                return None
            caller = found
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[authorization] = (now + self._ttl, caller)
        if caller.platform.id is not None:
            self.last_seen[caller.platform.id] = utcnow().timestamp()
        return caller

    async def registry(self) -> Registry:
        """Every platform with its parties, as ``platforms.list_all`` gives them (read-only)."""
        now = time.monotonic()
        if self._registry is not None and self._registry[0] > now:
            return self._registry[1]
        generation = self._generation
        async with self._db.transaction() as tx:
            found = await platforms.list_all(tx)
        if generation == self._generation:  # no change while reading: safe to keep
            self._registry = (now + self._ttl, found)
        return found

    async def parties_of(self, platform_id: int) -> list[Party]:
        """A platform's own parties, from the registry (every request checks its OCPI-from)."""
        for platform, parties in await self.registry():
            if platform.id == platform_id:
                return parties
        return []

    def clear(self) -> None:
        self._entries.clear()
        self._registry = None
        self._generation += 1
