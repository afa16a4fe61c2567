"""What the hub's price check costs a CDR (``bench.price_check``).

Two parts, each beside an anchor measured in the same run:

- **calculation**: ``price_check.check`` of a CDR of P periods (two tariffs, one restricted by
  the local time of day), against ``json.loads`` of the same CDR's text;
- **in the database**: ``price_check.of`` as ``add_cdr`` calls it (a savepoint, the stored
  tariff the CDR names, the stored Location's time_zone, the calculation), against one indexed
  read of a stored CDR (``documents.find``) in the same transaction.

    .venv/bin/python -m bench.price_check                       # both databases
    .venv/bin/python -m bench.price_check --database sqlite --cdrs 500 --periods 1 10 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import percentile
from bench.evse_status import database
from incar import documents
from incar.db import Database, migrate_async
from subgraphs.accounting import price_check
from subgraphs.accounting.models import Cdr, PriceCheckStatus
from subgraphs.locations.models import Location, Tariff

ZONE = "Europe/Helsinki"
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TARIFFS: list[dict[str, Any]] = [
    {
        "country_code": "NL",
        "party_id": "CPL",
        "id": "PEAK",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": 0.4, "vat": 25.5, "step_size": 1}],
                "restrictions": {"start_time": "17:00", "end_time": "20:00"},
            },
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.2, "vat": 25.5, "step_size": 1},
                    {"type": "TIME", "price": 1.2, "vat": 25.5, "step_size": 60},
                ]
            },
        ],
        "last_updated": "2026-01-01T00:00:00Z",
    },
    {
        "country_code": "NL",
        "party_id": "CPL",
        "id": "FLAT",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "FLAT", "price": 1.0, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    },
]


def cdr(cdr_id: str, periods: int, *, carried: bool) -> dict[str, Any]:
    """A CDR of ``periods`` ten-minute periods from 15:00Z (17:00 in Helsinki, where the peak
    price starts), each 1 kWh and 1/6 h charging, alternating between the two tariffs."""
    minutes = [10 * n for n in range(periods + 1)]

    def at(minute: int) -> str:
        return (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")

    body: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "CPL",
        "id": cdr_id,
        "start_date_time": at(0),
        "end_date_time": at(minutes[-1]),
        "cdr_location": {"id": "L1"},
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": at(m),
                "dimensions": [
                    {"type": "ENERGY", "volume": 1.0},
                    {"type": "TIME", "volume": 1 / 6},
                ],
                "tariff_id": "PEAK" if n % 2 == 0 else "FLAT",
            }
            for n, m in enumerate(minutes[:-1])
        ],
        "total_cost": {"excl_vat": 0.0},
        "last_updated": at(minutes[-1]),
    }
    if carried:
        body["tariffs"] = TARIFFS
    return body


def _timed(samples: list[float], work: Callable[[], Any]) -> Any:
    start = time.perf_counter_ns()
    result = work()
    samples.append((time.perf_counter_ns() - start) / 1000)
    return result


def _summary(name: str, samples: list[float], anchor: list[float]) -> dict[str, Any]:
    ordered, anchored = sorted(samples), sorted(anchor)
    p50, anchor_p50 = percentile(ordered, 0.5), percentile(anchored, 0.5)
    return {
        "case": name,
        "n": len(samples),
        "p50_us": round(p50, 1),
        "p99_us": round(percentile(ordered, 0.99), 1),
        "anchor_p50_us": round(anchor_p50, 1),
        "ratio_p50": round(p50 / anchor_p50, 1) if anchor_p50 else None,
    }


def calculation(periods: int, repeats: int) -> dict[str, Any]:
    body = cdr("C", periods, carried=True)
    text = json.dumps(body)
    tariffs = price_check.carried_tariffs(body)
    zone = ZoneInfo(ZONE)
    checks: list[float] = []
    parses: list[float] = []
    for _ in range(repeats):
        result = _timed(checks, lambda: price_check.check(body, tariffs, zone=zone))
        _timed(parses, lambda: json.loads(text))
    assert result.result.status is not PriceCheckStatus.UNPRICEABLE, result.result.reason
    return _summary(f"check, {periods} periods (anchor: json.loads)", checks, parses)


async def in_database(kind: str, admin_url: str, periods: int, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="incar-bench-") as folder:
        async with database(kind, Path(folder), admin_url) as (url, version):
            await migrate_async(url)
            db = Database(url)
            try:
                async with db.transaction() as tx:
                    # The documents alone (the services would also publish their events).
                    for data in TARIFFS:
                        await _store(tx, Tariff, data)
                    await _store(tx, Location, _location())
                    tx.add(
                        Cdr(
                            country_code="NL",
                            party_id="CPL",
                            object_id="STORED",
                            last_updated=T0,
                            data=cdr("STORED", 1, carried=False),
                        )
                    )
                checks: list[float] = []
                reads: list[float] = []
                key = documents.key("NL", "CPL", "STORED")
                for n in range(count):
                    body = cdr(f"B{n}", periods, carried=False)
                    async with db.transaction() as tx:
                        start = time.perf_counter_ns()
                        checked = await price_check.of(tx, body)
                        checks.append((time.perf_counter_ns() - start) / 1000)
                        start = time.perf_counter_ns()
                        await documents.find(tx, Cdr, key=key)
                        reads.append((time.perf_counter_ns() - start) / 1000)
                    assert checked.status is not PriceCheckStatus.UNPRICEABLE, checked.reason
            finally:
                await db.dispose()
    name = f"of() in {version}, {periods} periods (anchor: one indexed read)"
    return _summary(name, checks, reads)


async def _store(tx: Any, table: type[Tariff] | type[Location], data: dict[str, Any]) -> None:
    key = documents.key(data["country_code"], data["party_id"], data["id"])
    await documents.upsert(tx, table, key=key, last_updated=T0, data=dict(data))


def _location() -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPL",
        "id": "L1",
        "publish": True,
        "address": "Mannerheimintie 1",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
        "time_zone": ZONE,
        "last_updated": "2026-01-01T00:00:00Z",
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.price_check")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--cdrs", type=int, default=300, help="CDRs per case (default 300)")
    parser.add_argument("--periods", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    rows = [calculation(p, args.cdrs) for p in args.periods]
    for kind in kinds:
        rows += [
            asyncio.run(in_database(kind, args.postgres_url, p, args.cdrs)) for p in args.periods
        ]
    print(f"{'case':<68} {'p50 us':>9} {'p99 us':>9} {'anchor':>9} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['case']:<68} {row['p50_us']:>9} {row['p99_us']:>9} "
            f"{row['anchor_p50_us']:>9} {row['ratio_p50']:>6}"
        )


if __name__ == "__main__":
    main()
