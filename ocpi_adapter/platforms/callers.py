"""A short-lived cache of authenticated callers, so hot paths skip a registry query per request.

Changes made by this process (registration, update, unregister, status) clear it at once; other
processes of a distributed deployment see a change within ``ttl`` seconds.
"""

from __future__ import annotations

import time

from incar.columns import utcnow
from incar.db import Database
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.service import Caller


class CallerCache:
    def __init__(self, db: Database, *, ttl: float = 2.0) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Caller]] = {}
        self.last_seen: dict[int, float] = {}

    async def lookup(self, authorization: str | None) -> Caller | None:
        if not authorization:
            return None
        now = time.monotonic()
        hit = self._entries.get(authorization)
        if hit is not None and hit[0] > now:
            caller = hit[1]
        else:
            async with self._db.transaction() as session:
                found = await platforms.authenticate(session, authorization=authorization)
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

    def clear(self) -> None:
        self._entries.clear()
