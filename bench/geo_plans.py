"""Ways to find the bench's stations by position, timed on one filled database.

    .venv/bin/python -m bench.geo_plans --database-url URL [--queries N] [--rounds R]

Each way answers the statement of ``subgraphs.locations.search`` for ``bench.graph``'s query
(CCS of 50 kW or more, available, within 2 km; the box around the circle, the exact distance
is applied afterwards in Python by every way alike) at the same random points, and must return
the same rows as the first; each is timed at the database (one statement at a time, rounds
interleaved so that a noisy machine hurts all alike) and its plan printed.

- SQLite: the planner's own choice; the (latitude, longitude) B-tree named with INDEXED BY;
  an R*Tree of the EVSEs' points joined first (CROSS JOIN keeps the order); a grid cell
  column (about 1 km square) with an index, looked up with IN.
- PostgreSQL: the planner's own choice; the B-tree alone (status not offered as an index);
  a GiST index on the built-in ``point`` (no extension); PostGIS (``geography`` and
  ``ST_DWithin``) when the extension is installed (Debian: ``postgresql-15-postgis-3``).

It ADDS the structures it compares to the database (an index, a virtual table, a column):
point it at a scratch copy. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.graph import random_point
from incar.db import is_sqlite
from subgraphs.locations.search import Box, Near, distance_m

COLUMNS = (
    "e.evse_key, e.location_pk, e.latitude, e.longitude, e.always_open, e.time_zone, "
    "e.country_code, e.party_id, e.location_id"
)
FILTERS = (
    "e.published IS TRUE AND e.status != 'REMOVED' AND {status} = 'AVAILABLE' "
    "AND e.max_power_kw >= 50 AND EXISTS (SELECT 1 FROM location_connector c "
    "WHERE c.evse_pk = e.pk AND c.standard IN ('IEC_62196_T2_COMBO') AND c.max_power_kw >= 50)"
)
BOX = "e.latitude BETWEEN :s AND :n AND e.longitude BETWEEN :w AND :e"
CELL_LAT, CELL_LON = 100, 50  # cells per degree: 0.01 x 0.02 degrees, ~1.1 km at 60 N


@dataclass(frozen=True)
class Way:
    name: str
    sql: Statement


def box_params(b: Box) -> dict[str, Any]:
    return {"s": b.south, "n": b.north, "w": b.west, "e": b.east}


type Statement = Callable[[Box], tuple[str, dict[str, Any]]]


def plain(source: str, status: str = "e.status", extra: str = "") -> Statement:
    def sql(b: Box) -> tuple[str, dict[str, Any]]:
        where = " AND ".join(x for x in (extra, BOX, FILTERS.format(status=status)) if x)
        return f"SELECT {COLUMNS} FROM {source} WHERE {where}", box_params(b)

    return sql


def cells(b: Box) -> list[int]:
    return [
        lat * 100_000 + lon
        for lat in range(int((b.south + 90) * CELL_LAT), int((b.north + 90) * CELL_LAT) + 1)
        for lon in range(int((b.west + 180) * CELL_LON), int((b.east + 180) * CELL_LON) + 1)
    ]


def by_cell(b: Box) -> tuple[str, dict[str, Any]]:
    found = cells(b)
    names = ", ".join(f":c{n}" for n in range(len(found)))
    sql, params = plain("location_evse e INDEXED BY ix_bench_cell", extra=f"e.cell IN ({names})")(b)
    return sql, {**params, **{f"c{n}": cell for n, cell in enumerate(found)}}


def by_rtree(b: Box) -> tuple[str, dict[str, Any]]:
    # The R*Tree keeps 32-bit floats, rounded outwards: a margin, then the exact box.
    sql, params = plain(
        "bench_evse_rtree r CROSS JOIN location_evse e ON e.pk = r.id",
        extra="r.min_lat >= :rs AND r.max_lat <= :rn AND r.min_lon >= :rw AND r.max_lon <= :re",
    )(b)
    margin = 1e-5
    return sql, {
        **params,
        "rs": b.south - margin,
        "rn": b.north + margin,
        "rw": b.west - margin,
        "re": b.east + margin,
    }


def by_gist(b: Box) -> tuple[str, dict[str, Any]]:
    return plain(
        "location_evse e",
        extra="point(e.longitude, e.latitude) <@ box(point(:w, :s), point(:e, :n))",
    )(b)


def by_postgis(near: Near) -> Statement:
    def sql(b: Box) -> tuple[str, dict[str, Any]]:
        query, params = plain(
            "location_evse e",
            extra="ST_DWithin(geography(ST_MakePoint(e.longitude, e.latitude)), "
            "geography(ST_MakePoint(:lon, :lat)), :radius)",
        )(b)
        return query, {**params, "lon": near.longitude, "lat": near.latitude, "radius": 2000.0}

    return sql


async def prepare_sqlite(connection: AsyncConnection) -> list[str]:
    await connection.execute(
        text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS bench_evse_rtree "
            "USING rtree(id, min_lat, max_lat, min_lon, max_lon)"
        )
    )
    if not (await connection.execute(text("SELECT count(*) FROM bench_evse_rtree"))).scalar():
        await connection.execute(
            text(
                "INSERT INTO bench_evse_rtree "
                "SELECT pk, latitude, latitude, longitude, longitude FROM location_evse"
            )
        )
    columns = [r[1] for r in await connection.execute(text("PRAGMA table_info(location_evse)"))]
    if "cell" not in columns:
        await connection.execute(text("ALTER TABLE location_evse ADD COLUMN cell INTEGER"))
        await connection.execute(
            text(
                f"UPDATE location_evse SET cell = CAST((latitude + 90) * {CELL_LAT} AS INTEGER) "
                f"* 100000 + CAST((longitude + 180) * {CELL_LON} AS INTEGER)"
            )
        )
        await connection.execute(text("CREATE INDEX ix_bench_cell ON location_evse (cell)"))
    return []


async def prepare_postgres(connection: AsyncConnection) -> list[str]:
    await connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_bench_point ON location_evse "
            "USING gist (point(longitude, latitude))"
        )
    )
    have = (
        await connection.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
        )
    ).scalar()
    if not have:
        return ["postgis: not installed (Debian: postgresql-15-postgis-3)"]
    await connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    await connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_bench_geography ON location_evse "
            "USING gist (geography(ST_MakePoint(longitude, latitude)))"
        )
    )
    await connection.execute(text("ANALYZE location_evse"))
    return []


def ways(sqlite: bool, postgis: bool, near: Near) -> list[Way]:
    if sqlite:
        return [
            Way("planner's choice", plain("location_evse e")),
            Way(
                "(lat, lon) B-tree, INDEXED BY",
                plain("location_evse e INDEXED BY ix_location_evse_position"),
            ),
            Way("R*Tree, joined first", by_rtree),
            Way("grid cell IN (...)", by_cell),
        ]
    found = [
        Way("planner's choice", plain("location_evse e")),
        Way("(lat, lon) B-tree alone", plain("location_evse e", status="(e.status || '')")),
        Way("GiST on point (built in)", by_gist),
    ]
    if postgis:
        found.append(Way("PostGIS geography ST_DWithin", by_postgis(near)))
    return found


async def compare(options: argparse.Namespace) -> int:
    sqlite = is_sqlite(options.database_url)
    engine = create_async_engine(options.database_url)
    rng = random.Random(42)
    points = [random_point(rng) for _ in range(options.queries)]
    try:
        async with engine.begin() as connection:
            notes = await (prepare_sqlite if sqlite else prepare_postgres)(connection)
        for note in notes:
            print(note)
        postgis = not sqlite and not notes
        times: dict[str, list[float]] = {}
        rows: dict[str, list[frozenset[Any]]] = {}
        async with engine.connect() as connection:
            for _ in range(options.rounds):
                for n, (lat, lon) in enumerate(points):
                    near = Near(lat, lon, 2000.0)
                    for way in ways(sqlite, postgis, near):
                        sql, params = way.sql(near.box())
                        started = time.perf_counter()
                        found = (await connection.execute(text(sql), params)).all()
                        times.setdefault(way.name, []).append(time.perf_counter() - started)
                        if len(rows.setdefault(way.name, [])) <= n:
                            # Compared after the distance refinement every way gets.
                            inside = (
                                tuple(r)
                                for r in found
                                if distance_m(lat, lon, r.latitude, r.longitude) <= 2000.0
                            )
                            rows[way.name].append(frozenset(inside))
            near = Near(*points[0], 2000.0)
            for way in ways(sqlite, postgis, near):
                sql, params = way.sql(near.box())
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
                plan = (await connection.execute(text(prefix + sql), params)).all()
                print(f"\n{way.name}:")
                for row in plan:
                    print("    " + str(row[-1] if sqlite else row[0]))
    finally:
        await engine.dispose()
    first = next(iter(rows.values()))
    print(
        f"\n{options.queries} points x {options.rounds} rounds; median rows "
        f"{statistics.median(len(r) for r in first)}"
    )
    for name, values in times.items():
        ordered = sorted(values)
        same = "same rows" if rows[name] == first else "ROWS DIFFER"
        print(
            f"  {name:<34} median {statistics.median(ordered) * 1000:6.2f} ms, "
            f"p90 {ordered[int(len(ordered) * 0.9)] * 1000:6.2f}, "
            f"min {ordered[0] * 1000:5.2f}; {same}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.geo_plans")
    parser.add_argument("--database-url", required=True, help="a filled scratch database")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    if not 1 <= options.queries <= 10_000 or not 1 <= options.rounds <= 20:
        parser.error("--queries must be 1..10000 and --rounds 1..20")
    return asyncio.run(compare(options))


if __name__ == "__main__":
    sys.exit(main())
