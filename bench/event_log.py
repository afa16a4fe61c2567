"""What writing an event to the durable log adds to a change's transaction, and how soon a
subscriber of the same process has it.

Usage: python -m bench.event_log [sqlite|postgres] [ROUNDS]

Interleaves, round by round, the anchor (a transaction that inserts one row of its own) with
the same transaction publishing one event (the log's one INSERT, plus on PostgreSQL the
trigger's NOTIFY), and times each; then times commit-to-delivery of published events to a
live subscriber. Prints percentiles and the p50 ratio to the anchor, with the load average.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench.common import emit, latency_summary, now_ns
from bench.evse_status import database
from incar.db import Database, migrate_async
from incar.events import Event, EventBus, create_bus


async def run(kind: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="incar-bench-") as folder:
        admin = os.environ.get(
            "INCAR_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
        async with database(kind, Path(folder), admin) as (url, version):
            await migrate_async(url)
            db = Database(url)
            bus: EventBus = create_bus("postgres" if kind == "postgres" else "memory", url)
            await bus.start()
            async with db.transaction() as tx:
                await tx.execute(text("CREATE TABLE changes (n INTEGER NOT NULL)"))
            anchor: list[int] = []
            publishing: list[int] = []
            delivered: list[int] = []
            try:
                async with bus.subscribe(["bench"]) as events:
                    for n in range(rounds):
                        for times, publish in ((anchor, False), (publishing, True)):
                            began = now_ns()
                            async with db.transaction(write=True) as tx:
                                await tx.execute(text("INSERT INTO changes VALUES (:n)"), {"n": n})
                                if publish:
                                    await bus.publish(tx, Event("bench", {"n": n}))
                            committed = now_ns()
                            times.append(committed - began)
                        await anext(events)
                        delivered.append(now_ns() - committed)
            finally:
                await bus.close()
                await db.dispose()
    a, p = latency_summary(anchor), latency_summary(publishing)
    emit(
        "event_log",
        database=version,
        rounds=rounds,
        load_average=os.getloadavg(),
        anchor_tx=a,
        publishing_tx=p,
        p50_ratio=round(p["p50_ms"] / a["p50_ms"], 2) if a["p50_ms"] else None,
        commit_to_delivery=latency_summary(delivered),
    )


if __name__ == "__main__":
    asyncio.run(
        run(
            sys.argv[1] if len(sys.argv) > 1 else "sqlite",
            int(sys.argv[2]) if len(sys.argv) > 2 else 300,
        )
    )
