"""The CDR export's memory and speed: ``incar cdrs export`` of 1,000,000 CDRs beside the
same export of 10,000 (the anchor, same run, same database), each in a process of its own
whose peak resident memory the kernel reports (``wait4``'s ``ru_maxrss``).

    .venv/bin/python -m bench.cdr_export                        # both databases
    .venv/bin/python -m bench.cdr_export --database sqlite --rows 200000

The CDRs (and their ledger entries, which the export joins) are bulk-inserted in batches of
10,000 through each database's own bulk path (``executemany`` on SQLite, ``COPY`` on
PostgreSQL); each is a full OCPI CDR document of some 1.3 KB. The export is the
operator's (every CDR), written to /dev/null: what is measured is reading, formatting and
writing, not a disk. Flat memory means the 1,000,000-row peak is within a few MiB of the
10,000-row one; rows/s is the big export's rows over its wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine.url import make_url

from bench.evse_status import database
from bench.machine import describe
from incar.db import migrate_async

INCAR = str(Path(sys.executable).with_name("incar"))
BATCH = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)

CDR_COLUMNS = (
    "country_code", "party_id", "object_id", "last_updated", "data", "emsp_country_code",
    "emsp_party_id", "token_uid", "location_id", "evse_uid", "session_id", "start_date_time",
    "end_date_time", "currency", "total_energy", "total_time", "total_parking_time",
    "cost_excl_vat", "cost_incl_vat",
)  # fmt: skip
ENTRY_COLUMNS = (
    "idx", "tx_id", "tx", "country_code", "party_id", "cdr_id", "leaf_hash", "appended_at",
)  # fmt: skip


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def document(n: int, start: datetime) -> dict[str, Any]:
    end = start + timedelta(hours=1)
    location = f"L{n % 500}"
    return {
        "country_code": "FI",
        "party_id": "CP1",
        "id": f"CDR{n:09d}",
        "start_date_time": stamp(start),
        "end_date_time": stamp(end),
        "session_id": f"S{n:09d}",
        "cdr_token": {
            "country_code": "DE",
            "party_id": "EM1",
            "uid": f"TOKEN{n % 5000:05d}",
            "type": "RFID",
            "contract_id": f"DE-EM1-C{n % 5000:05d}",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": location,
            "address": "Mannerheimintie 1",
            "city": "Helsinki",
            "country": "FIN",
            "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
            "evse_uid": f"{location}-E1",
            "evse_id": "FI*CP1*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "tariffs": [],
        "charging_periods": [
            {
                "start_date_time": stamp(start),
                "dimensions": [{"type": "ENERGY", "volume": 10.5}, {"type": "TIME", "volume": 1}],
                "tariff_id": "T1",
            }
        ],
        "total_cost": {"excl_vat": 3.1, "incl_vat": 3.89},
        "total_energy": 10.5,
        "total_energy_cost": {"excl_vat": 2.6, "incl_vat": 3.26},
        "total_time": 1.0,
        "total_time_cost": {"excl_vat": 0.5, "incl_vat": 0.63},
        "total_parking_time": 0.0,
        "last_updated": stamp(end),
    }


type Row = tuple[Any, ...]


def rows(first: int, count: int) -> tuple[list[Row], list[Row]]:
    """CDR rows (their query columns as the service derives them) and ledger entry rows, in
    the order of CDR_COLUMNS and ENTRY_COLUMNS; times as aware datetimes."""
    cdrs, entries = [], []
    for n in range(first, first + count):
        start = START + timedelta(minutes=n)
        end = start + timedelta(hours=1)
        data = document(n, start)
        token, place = data["cdr_token"], data["cdr_location"]
        cdrs.append(
            ("FI", "CP1", data["id"], end, orjson.dumps(data).decode(), "DE", "EM1",
             token["uid"], place["id"], place["evse_uid"], data["session_id"], start, end,
             "EUR", 10.5, 1.0, 0.0, 3.1, 3.89)
        )  # fmt: skip
        entries.append((n, f"{n:064x}", b"{}", "FI", "CP1", data["id"], n.to_bytes(32), start))
    return cdrs, entries


def sqlite_time(moment: datetime) -> str:
    """As SQLAlchemy's SQLite DATETIME stores a UTC moment."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: str, total: int) -> None:
    connection = sqlite3.connect(path)
    try:
        marks = ", ".join("?" * len(CDR_COLUMNS))
        entry_marks = ", ".join("?" * len(ENTRY_COLUMNS))
        for start in range(0, total, BATCH):
            cdrs, entries = rows(start, min(BATCH, total - start))
            with connection:
                connection.executemany(
                    f"INSERT INTO cdr ({', '.join(CDR_COLUMNS)}) VALUES ({marks})",
                    [
                        (*r[:3], sqlite_time(r[3]), *r[4:11], sqlite_time(r[11]),
                         sqlite_time(r[12]), *r[13:])
                        for r in cdrs
                    ],
                )  # fmt: skip
                connection.executemany(
                    f"INSERT INTO ledger_entry ({', '.join(ENTRY_COLUMNS)}) VALUES ({entry_marks})",
                    [(*e[:7], sqlite_time(e[7])) for e in entries],
                )
    finally:
        connection.close()


async def fill_postgres(url: str, total: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        for start in range(0, total, BATCH):
            cdrs, entries = rows(start, min(BATCH, total - start))
            async with connection.transaction():
                await connection.copy_records_to_table("cdr", records=cdrs, columns=CDR_COLUMNS)
                await connection.copy_records_to_table(
                    "ledger_entry", records=entries, columns=ENTRY_COLUMNS
                )
        await connection.execute("ANALYZE cdr")
        await connection.execute("ANALYZE ledger_entry")
    finally:
        await connection.close()


async def fill(url: str, total: int) -> float:
    """Inserts ``total`` CDRs with their ledger entries, a batch of 10,000 per transaction,
    through the database's own bulk path (COPY on PostgreSQL); the seconds it took."""
    began = time.perf_counter()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        await asyncio.to_thread(fill_sqlite, parsed.database, total)
    else:
        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        await fill_postgres(plain, total)
    return time.perf_counter() - began


def export(url: str, folder: Path, *args: str) -> dict[str, Any]:
    """One ``incar cdrs export`` to /dev/null: its wall time, peak RSS and output size."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCAR_")}
    env.update(INCAR_DATABASE_URL=url, INCAR_DATA_DIR=str(folder))
    out = folder / "export.csv"
    began = time.perf_counter()
    with out.open("wb") as sink:
        child = subprocess.Popen(
            [INCAR, "cdrs", "export", *args], stdout=sink, stderr=subprocess.PIPE, env=env
        )
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - began
    assert child.stderr is not None
    problem = child.stderr.read().decode()
    if status != 0:
        raise SystemExit(f"export failed ({status}): {problem}")
    lines = sum(1 for _ in out.open("rb"))
    size = out.stat().st_size
    out.unlink()
    return {
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "bytes": size,
    }


async def run(kind: str, rows_big: int, rows_small: int, admin_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="incar-bench-export-") as tmp:
        folder = Path(tmp)
        async with database(kind, folder, admin_url) as (url, version):
            await migrate_async(url)
            filled = await fill(url, rows_big)
            # The anchor exports the first rows_small CDRs of the same table, with a filter
            # on start (the same query shape, an index range of the same index).
            small_to = stamp(START + timedelta(minutes=rows_small))
            anchor = export(url, folder, "--start-to", small_to)
            big = export(url, folder)
            base = export(url, folder, "--start-to", stamp(START))  # no rows: the process alone
    return {
        "database": version,
        "fill_seconds": round(filled, 1),
        "fill_rows_per_s": round(rows_big / filled),
        "empty": base,
        "anchor": anchor,
        "big": big,
        "rss_ratio": round(big["peak_rss_mib"] / anchor["peak_rss_mib"], 3),
        "rss_growth_mib": round(big["peak_rss_mib"] - anchor["peak_rss_mib"], 1),
        # The rows beyond the anchor's over the time beyond the anchor's: the process's start
        # (imports, connecting) is in both and drops out.
        "rows_per_s": round(
            (big["rows"] - anchor["rows"]) / max(big["seconds"] - anchor["seconds"], 1e-9)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--anchor-rows", type=int, default=10_000)
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--json", help="also write the results here")
    options = parser.parse_args()
    kinds = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    results: dict[str, Any] = {"machine": describe(), "runs": []}
    for kind in kinds:
        found = asyncio.run(run(kind, options.rows, options.anchor_rows, options.postgres_url))
        results["runs"].append(found)
        print(json.dumps(found, indent=2), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
