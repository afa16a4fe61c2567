"""Ends bookings whose time is up, without waiting for a request to notice."""

from __future__ import annotations

import asyncio
import logging

from incar.runtime import Runtime
from subgraphs.bookings import service

log = logging.getLogger("incar.bookings")


async def sweep(runtime: Runtime) -> int:
    """One pass: every overdue booking ended, in one transaction. A read comes first, so an
    idle pass takes no write lock (on SQLite, the hub's writers would wait for it)."""
    now = runtime.clock()
    async with runtime.db.transaction() as tx:
        if not await service.any_overdue(tx, now):
            return 0
    async with runtime.db.transaction(write=True) as tx:
        return await service.expire_overdue(tx, now)


async def run(runtime: Runtime, *, period: float = 5.0) -> None:
    """Sweeps every ``period`` seconds until cancelled; a failed pass is logged and retried."""
    while True:
        try:
            changed = await sweep(runtime)
            if changed:
                log.info("%d booking(s) ended by time", changed)
        except Exception:
            log.exception("the bookings sweep failed; retrying")
        await asyncio.sleep(period)
