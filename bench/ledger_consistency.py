"""The hub's consistency proofs (``GET /ledger/consistency``): the time of one proof on a ledger
of N entries, beside its anchor measured in the same run, the time to read the N leaf hashes
alone (the floor of a proof made from the leaves).

The ledger is filled with synthetic entries (random leaf hashes, one signed-size head at N):
the proof reads only leaf hashes and sizes, never a signature, so real entries would measure
the same. Run:

    .venv/bin/python -m bench.ledger_consistency --sizes 10000 100000 --database both
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from bench.evse_status import database
from incar.columns import utcnow
from incar.db import Database, migrate_async
from subgraphs.accounting.ledger import heads
from subgraphs.accounting.ledger.merkle import CompactRange
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead

ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CHUNK = 5000


async def fill(db: Database, size: int) -> None:
    edge = CompactRange.empty()
    for start in range(0, size, CHUNK):
        rows = []
        for idx in range(start, min(size, start + CHUNK)):
            leaf = os.urandom(32)
            edge = edge.append(leaf)
            rows.append(
                {
                    "idx": idx,
                    "tx_id": f"{idx:064x}",
                    "tx": b"{}",
                    "country_code": "NL",
                    "party_id": "CPO",
                    "cdr_id": f"C{idx}",
                    "leaf_hash": leaf,
                    "appended_at": utcnow(),
                }
            )
        async with db.transaction() as tx:
            await tx.execute(sa.insert(LedgerEntry), rows)
    async with db.transaction() as tx:
        tx.add(
            LedgerTreeHead(
                size=size, root_hash=edge.root(), compact_range=edge.encode(), checkpoint="-"
            )
        )


async def timed(runs: int, work: object) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await work()  # type: ignore[operator]
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


async def measure(kind: str, size: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="incar-bench-ledger-") as folder:
        async with database(kind, Path(folder), ADMIN) as (url, version):
            await migrate_async(url)
            db = Database(url)
            try:
                await fill(db, size)

                async def leaves() -> None:
                    async with db.transaction() as tx:
                        await tx.execute(
                            sa.select(col(LedgerEntry.leaf_hash)).order_by(col(LedgerEntry.idx))
                        )

                async def proof() -> None:
                    async with db.transaction() as tx:
                        await heads.consistency_path(tx, size // 2 + 1, size)

                floor = await timed(runs, leaves)
                taken = await timed(runs, proof)
            finally:
                await db.dispose()
    print(
        f"{version:>18}  N={size:>8}  proof {taken * 1000:9.1f} ms  "
        f"read leaves {floor * 1000:9.1f} ms  ratio {taken / floor:5.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="median of so many (default 5)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for kind in kinds:
        for size in args.sizes:
            asyncio.run(measure(kind, size, args.runs))


if __name__ == "__main__":
    main()
