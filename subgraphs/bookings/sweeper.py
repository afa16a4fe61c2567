"""Ends bookings whose time is up, without waiting for a request to notice."""

from __future__ import annotations

import asyncio
import logging

from incar.runtime import Runtime
from subgraphs.bookings import service

log = logging.getLogger("incar.bookings")


async def sweep(runtime: Runtime) -> int:
    """One pass: every overdue booking ended, in one transaction."""
    async with runtime.db.transaction(write=True) as tx:
        return await service.expire_overdue(tx, runtime.clock())


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
