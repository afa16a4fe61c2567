"""The CDR ledger's costs: appends, inclusion proofs and full verification, on both databases.

    .venv/bin/python -m bench.ledger [--database sqlite|postgres|both] [--sizes 100000,1000000]
        [--batch 1000] [--single 2000] [--proofs 2000] [--jobs N] [--json FILE]

For each database: a fresh one, migrated, with an in-memory hub key. First the anchor, in the
same run: bigchaindb-driver's prepare+fulfil and its from_dict check of one transaction beside
ours (``transactions.create``, ``verify_fast``) and a bare Ed25519 verification. Then appends,
one CDR per transaction (``log.append`` as the hub's store path calls it, without the CDR
document), then the ledger filled to each size with ``log.append_many`` (one signed head per
batch), and at each size: inclusion proofs of random entries (``proofs.inclusion_proof`` and
by CDR id, each a call in its own read transaction, as the graph would make it; beside them a
transaction of one primary-key query, the floor of any call: a proof is two queries) and the whole
ledger verified (``verifier.verify_ledger``, without the CDR documents, which the bench does not
store) with one process and with ``--jobs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from bench.common import percentile
from bench.evse_status import DEFAULT_POSTGRES, database
from incar.db import Database, migrate_async
from incar.hub_key import HubKey, attach_key
from subgraphs.accounting.ledger import log, proofs, transactions
from subgraphs.accounting.ledger.verifier import verify_ledger

NAME = "incar/BE-NCH/cdrs"


def cdr_text(cdr_id: str) -> str:
    """A CDR as a CPO sends one (some 1 KB, the size of the tests' CDRs)."""
    return json.dumps(
        {
            "country_code": "NL",
            "party_id": "CPL",
            "id": cdr_id,
            "start_date_time": "2026-01-01T00:00:00Z",
            "end_date_time": "2026-01-01T01:00:00Z",
            "cdr_token": {
                "country_code": "DE",
                "party_id": "EML",
                "uid": "T1",
                "type": "RFID",
                "contract_id": "DE-EML-CT1",
            },
            "auth_method": "WHITELIST",
            "cdr_location": {
                "id": "L1",
                "address": "Mannerheimintie 1",
                "city": "Helsinki",
                "country": "FIN",
                "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
                "evse_uid": "L1-E1",
                "evse_id": "NL*CPL*E1",
                "connector_id": "1",
                "connector_standard": "IEC_62196_T2",
                "connector_format": "SOCKET",
                "connector_power_type": "AC_3_PHASE",
            },
            "currency": "EUR",
            "charging_periods": [
                {
                    "start_date_time": "2026-01-01T00:00:00Z",
                    "dimensions": [{"type": "ENERGY", "volume": 10.0}],
                }
            ],
            "total_cost": {"excl_vat": 4.0, "incl_vat": 4.96},
            "total_energy": 10.0,
            "total_time": 1.0,
            "last_updated": "2026-01-01T02:00:00Z",
        }
    )


def per_call_us(function: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        function()
    return round((time.perf_counter() - started) / count * 1e6, 1)


def anchor(key: HubKey) -> dict[str, float]:
    """Per-transaction costs of the driver's path and ours, in microseconds."""
    text = cdr_text("ANCHOR")
    body = transactions.create(text, key).body
    public = key.public_bytes
    signature = key.sign(b"x" * 32)
    public_key = key.private.public_key()
    transactions.create_with_driver(text, key)  # imports the driver outside the timing
    return {
        "driver_prepare_fulfil_us": per_call_us(
            lambda: transactions.create_with_driver(text, key), 300
        ),
        "driver_from_dict_verify_us": per_call_us(
            lambda: transactions.verify(body, public=public), 300
        ),
        "ours_create_us": per_call_us(lambda: transactions.create(text, key), 3000),
        "ours_verify_fast_us": per_call_us(
            lambda: transactions.verify_fast(body, public=public), 3000
        ),
        "ed25519_verify_us": per_call_us(lambda: public_key.verify(signature, b"x" * 32), 3000),
        "tx_bytes": len(body),
    }


async def single_appends(db: Database, count: int) -> float:
    """Appends a second, one CDR per transaction."""
    started = time.perf_counter()
    for i in range(count):
        async with db.transaction(write=True) as tx:
            await log.lock(tx)
            await log.append(tx, key=log.CdrKey("NL", "CPL", f"S{i}"), cdr=cdr_text(f"S{i}"))
    return round(count / (time.perf_counter() - started))


async def fill(db: Database, start: int, end: int, batch: int) -> float:
    """Appends ``start`` to ``end`` in batches; appends a second."""
    started = time.perf_counter()
    for first in range(start, end, batch):
        items = [
            (log.CdrKey("NL", "CPL", f"B{i}"), cdr_text(f"B{i}"))
            for i in range(first, min(first + batch, end))
        ]
        async with db.transaction(write=True) as tx:
            await log.lock(tx)
            await log.append_many(tx, items)
    return round((end - start) / (time.perf_counter() - started))


async def proof_times(db: Database, size: int, count: int, single: int) -> dict[str, float]:
    rng = random.Random(size)
    by_index: list[float] = []
    by_cdr: list[float] = []
    for _ in range(count):
        index = rng.randrange(size)
        started = time.perf_counter()
        async with db.transaction() as tx:
            proof = await proofs.inclusion_proof(tx, index)
        by_index.append(time.perf_counter() - started)
        assert proof.index == index
        cdr_id = f"S{index}" if index < single else f"B{index}"
        started = time.perf_counter()
        async with db.transaction() as tx:
            await proofs.cdr_inclusion_proof(tx, cdr_id)
        by_cdr.append(time.perf_counter() - started)
    floor: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        async with db.transaction() as tx:
            await tx.execute(text("SELECT size FROM ledger_tree_head WHERE size = 1"))
        floor.append(time.perf_counter() - started)
    floor.sort()
    by_index.sort()
    by_cdr.sort()
    return {
        "one_query_tx_p50_ms": round(percentile(floor, 0.5) * 1e3, 3),
        "proof_p50_ms": round(percentile(by_index, 0.5) * 1e3, 3),
        "proof_p99_ms": round(percentile(by_index, 0.99) * 1e3, 3),
        "proof_by_cdr_p50_ms": round(percentile(by_cdr, 0.5) * 1e3, 3),
        "proof_by_cdr_p99_ms": round(percentile(by_cdr, 0.99) * 1e3, 3),
    }


async def verification(db: Database, key: HubKey, jobs: int) -> float:
    started = time.perf_counter()
    report = await verify_ledger(
        db, public=key.public_bytes, name=key.name, jobs=jobs, documents=False
    )
    elapsed = time.perf_counter() - started
    assert report.sound, report.findings[:5]
    return round(elapsed, 1)


async def run(kind: str, options: argparse.Namespace) -> dict[str, Any]:
    key = HubKey.of(Ed25519PrivateKey.generate(), NAME)
    results: dict[str, Any] = {"database": kind, "anchor": anchor(key), "sizes": {}}
    print(json.dumps(results["anchor"]), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="incar-bench-ledger-") as folder:
        async with database(kind, Path(folder), options.postgres_url) as (url, version):
            results["version"] = version
            await migrate_async(url)
            db = Database(url)
            attach_key(db.factory, key)
            try:
                results["single_appends_per_s"] = await single_appends(db, options.single)
                print(json.dumps({kind: results["single_appends_per_s"]}), file=sys.stderr)
                size = options.single
                for target in options.sizes:
                    rate = await fill(db, size, target, options.batch)
                    size = target
                    figures: dict[str, Any] = {"batched_appends_per_s": rate}
                    figures.update(await proof_times(db, size, options.proofs, options.single))
                    print(json.dumps({kind: {size: figures}}), file=sys.stderr)  # before verifying
                    if size <= options.one_job_up_to:
                        figures["verify_1_job_s"] = await verification(db, key, 1)
                    if options.jobs > 1:
                        figures[f"verify_{options.jobs}_jobs_s"] = await verification(
                            db, key, options.jobs
                        )
                    results["sizes"][size] = figures
                    print(json.dumps({kind: {size: figures}}), file=sys.stderr)
            finally:
                await db.dispose()
    return results


async def main_async(options: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    results = [await run(kind, options) for kind in kinds]
    text = json.dumps(results, indent=2)
    print(text)
    if options.json:
        options.json.write_text(text + "\n")
    return 0


def _sizes(value: str) -> list[int]:
    sizes = sorted(int(part.replace("_", "")) for part in value.split(","))
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive numbers, comma-separated")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("INCAR_BENCH_POSTGRES", DEFAULT_POSTGRES)
    )
    parser.add_argument("--sizes", type=_sizes, default=[100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=1000, help="CDRs per batched append")
    parser.add_argument("--single", type=int, default=2000, help="appends one per transaction")
    parser.add_argument("--proofs", type=int, default=2000, help="proofs timed at each size")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--one-job-up-to",
        type=int,
        default=100_000,
        help="verify with one process too up to this size (100000)",
    )
    parser.add_argument("--json", type=Path, help="write the results to this file")
    options = parser.parse_args(argv)
    if options.single >= options.sizes[0]:
        parser.error("--single must be below the smallest size")
    return asyncio.run(main_async(options))


if __name__ == "__main__":
    sys.exit(main())
