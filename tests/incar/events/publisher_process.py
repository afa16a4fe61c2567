"""A second process for the cross-process test: publishes events in its own transactions.

Usage: python publisher_process.py DATABASE_URL COUNT

Commits COUNT changes, each with its event (payload ``seq`` 0..COUNT-1 and this process's
``pid``), and between them transactions that roll back after publishing, whose events must
never arrive.
"""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text

from incar.db import Database
from incar.events import Event, PostgresBus


class Abandoned(Exception):
    pass


async def main(url: str, count: int) -> None:
    db = Database(url)
    bus = PostgresBus(url)
    await bus.start()
    try:
        for seq in range(count):
            async with db.transaction() as tx:
                await tx.execute(
                    text("INSERT INTO changes (seq, note) VALUES (:seq, 'from publisher')"),
                    {"seq": seq},
                )
                await bus.publish(tx, Event("changes.created", {"seq": seq, "pid": os.getpid()}))
            try:
                async with db.transaction() as tx:
                    await bus.publish(tx, Event("changes.abandoned", {"seq": seq}))
                    raise Abandoned
            except Abandoned:
                pass
    finally:
        await bus.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
