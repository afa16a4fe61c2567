"""Where one station search's time goes, in process: parse, validation, the SQL, the documents,
Strawberry's resolution, JSON, HTTP. No gateway, no sockets, no other clients: each phase is
timed alone, query after query, so the figures do not include queueing.

    .venv/bin/python -m bench.search_profile --database-url URL [--fill N] [--queries N]
        [--explain] [--pyinstrument FILE]

The database is one ``bench.graph`` fills (``--fill N`` fills it first, when it holds no
Location yet). Every phase runs the bench's own query (``bench.graph.SEARCH``) at the same
random points (one seed). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from graphql import parse, validate
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import ExecutionResult

from bench.graph import SEARCH, fill, random_point
from gateway.limits import limits
from incar.db import is_sqlite
from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.common.app import SubgraphSchema
from subgraphs.common.context import GraphContext
from subgraphs.locations import search as searching
from subgraphs.locations.graph.loaders import locations_of

FILTERS = searching.Filters(standards=("IEC_62196_T2_COMBO",), min_power_kw=50, available_now=True)
RADIUS_M = 2000.0


class Statements:
    """Wall time of every SQL statement (the driver's execute and fetch), by its first words."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.times: dict[str, list[float]] = {}
        self._started: list[float] = []
        self.recording = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        if self.recording:
            self.times.setdefault(_label(statement), []).append(elapsed)


def _label(statement: str) -> str:
    words = " ".join(statement.split())
    table = words.split(" FROM ", 1)[1].split(" ", 1)[0] if " FROM " in words else words[:20]
    return f"{words.split(' ', 1)[0]} {table}"


def ms(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return (
        f"median {statistics.median(ordered) * 1000:7.2f} ms, "
        f"p90 {ordered[int(len(ordered) * 0.9)] * 1000:7.2f}, min {ordered[0] * 1000:6.2f}"
    )


async def timed(
    name: str, runs: int, step: Callable[[int], Awaitable[Any]], report: dict[str, Any]
) -> list[float]:
    times = []
    cpu = time.process_time()  # all the process's threads: the SQLite driver's included
    for n in range(runs):
        started = time.perf_counter()
        await step(n)
        times.append(time.perf_counter() - started)
    cpu_ms = (time.process_time() - cpu) / runs * 1000
    report[name] = {
        "cpu_ms": round(cpu_ms, 3),
        "median_ms": round(statistics.median(times) * 1000, 3),
        "min_ms": round(min(times) * 1000, 3),
    }
    print(f"  {name:<34} CPU {cpu_ms:6.2f} ms; wall {ms(times)}", flush=True)
    return times


def variables(point: tuple[float, float]) -> dict[str, Any]:
    return {"near": {"latitude": point[0], "longitude": point[1], "radiusMeters": RADIUS_M}}


async def explain(runtime: Runtime, point: tuple[float, float]) -> None:
    """The plan of the search's own statement, literal values in place."""
    area = searching.Near(point[0], point[1], RADIUS_M).box()
    statement = searching._query(area, FILTERS)
    engine = runtime.db.engine
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if is_sqlite(runtime.db.url) else "EXPLAIN (ANALYZE, BUFFERS) "
    async with engine.connect() as connection:
        rows = (await connection.exec_driver_sql(prefix + sql)).all()
    print("\n" + " ".join(sql.split()))
    for row in rows:
        print("  " + " | ".join(str(v) for v in row))


class Phases:
    """Each phase of a search as a step over the n-th point, on one runtime."""

    def __init__(
        self, runtime: Runtime, schema: SubgraphSchema, points: list[tuple[float, float]]
    ) -> None:
        self.runtime = runtime
        self.schema = schema
        self.points = points
        self.pages: list[searching.SearchPage] = []
        self.results: list[dict[str, Any]] = []
        self.document = parse(SEARCH)

    def execute(self, n: int) -> Awaitable[ExecutionResult]:
        return self.schema.execute(
            SEARCH,
            variable_values=variables(self.points[n]),
            context_value=GraphContext(self.runtime),
        )

    async def parse(self, _n: int) -> None:
        parse(SEARCH, max_tokens=limits().max_tokens)

    async def validate(self, _n: int) -> None:
        # graphql-core's standard rules: what every uncached operation goes through.
        errors = validate(self.schema._schema, self.document)
        assert not errors, errors

    async def search(self, n: int) -> None:
        async with self.runtime.db.transaction() as tx:
            page = await searching.search(
                tx,
                near=searching.Near(self.points[n][0], self.points[n][1], RADIUS_M),
                filters=FILTERS,
                first=20,
                now=self.runtime.clock(),
            )
        if len(self.pages) < len(self.points):
            self.pages.append(page)

    async def documents(self, n: int) -> None:
        pks = [hit.location_pk for hit in self.pages[n].hits]
        async with self.runtime.db.transaction() as tx:
            await locations_of(tx, pks)

    async def whole(self, n: int) -> None:
        result = await self.execute(n)
        assert not result.errors, result.errors
        if len(self.results) < len(self.points):
            self.results.append({"data": result.data})

    async def json(self, n: int) -> None:
        json.dumps(self.results[n], separators=(",", ":"))

    async def orjson(self, n: int) -> None:
        orjson.dumps(self.results[n])


def statement_report(statements: Statements, report: dict[str, Any], name: str) -> None:
    report[name] = {k: round(statistics.median(v) * 1000, 3) for k, v in statements.times.items()}
    for label, values in statements.times.items():
        print(f"    statement {label:<26} wall {ms(values)} (x{len(values)})")
    statements.times.clear()


async def over_http(runtime: Runtime, phases: Phases, report: dict[str, Any]) -> None:
    from subgraphs.catalog import subgraphs
    from subgraphs.common.auth import Authenticator
    from subgraphs.server import create_app

    app = create_app(runtime, [subgraphs()["locations"]], authenticator=Authenticator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def http(n: int) -> None:
            answer = await client.post(
                "/graphql/locations",
                content=orjson.dumps({"query": SEARCH, "variables": variables(phases.points[n])}),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200 and b'"errors"' not in answer.content

        await timed("HTTP through the ASGI app", len(phases.points), http, report)


async def profile(options: argparse.Namespace) -> dict[str, Any]:
    from subgraphs.catalog import subgraphs

    runtime = Runtime.create(Settings(database_url=options.database_url))
    await runtime.start()
    rng = random.Random(42)
    phases = Phases(
        runtime,
        subgraphs()["locations"].schema,
        [random_point(rng) for _ in range(options.queries)],
    )
    statements = Statements(runtime.db.engine)
    runs = options.queries
    report: dict[str, Any] = {"queries": runs}
    try:
        async with runtime.db.transaction() as tx:
            for table in ("location", "location_evse"):
                count = text(f"SELECT count(*) FROM {table}")
                report[table] = (await tx.execute(count)).scalar_one()
        print(f"{report['location_evse']} EVSEs, {report['location']} Locations; {runs} queries")
        if options.explain:
            await explain(runtime, phases.points[0])
        for n in range(min(20, runs)):  # warm: statement caches, pages, the document cache
            await phases.execute(n)
        print("phases, each alone (one query at a time):")
        await timed("parse (graphql-core)", runs, phases.parse, report)
        await timed("validate (graphql-core)", runs, phases.validate, report)
        statements.recording = True
        await timed("search() (SQL + Python)", runs, phases.search, report)
        report["median_total_count"] = statistics.median(p.total for p in phases.pages)
        statement_report(statements, report, "statements_in_search")
        await timed("documents of a page (SQL + JSON)", runs, phases.documents, report)
        statements.times.clear()
        await timed("schema.execute (all of it)", runs, phases.whole, report)
        statement_report(statements, report, "statements_in_execute")
        statements.recording = False
        await timed("json.dumps of the result", runs, phases.json, report)
        await timed("orjson.dumps of the result", runs, phases.orjson, report)
        await over_http(runtime, phases, report)
        cache = getattr(phases.schema, "documents", None)
        if cache is not None:
            print(f"  document cache: {cache.hits} hits, {cache.misses} misses")
        if options.pyinstrument:
            await pyinstrument(phases, options.pyinstrument)
    finally:
        await runtime.close()
    return report


async def pyinstrument(phases: Phases, path: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="enabled")
    with profiler:
        for n in range(len(phases.points)):
            await phases.execute(n)
    report = (
        profiler.output_text(unicode=True)
        + "\n\nInclusive time by function:\n"
        + profiler.output_text(unicode=True, flat=True, flat_time="total")
    )
    await asyncio.to_thread(path.write_text, report)
    print(f"pyinstrument profile of schema.execute written to {path}")


async def main_async(options: argparse.Namespace) -> int:
    if options.fill:
        runtime = Runtime.create(Settings(database_url=options.database_url))
        await runtime.start()
        try:
            async with runtime.db.transaction() as tx:
                present = (await tx.execute(text("SELECT count(*) FROM location"))).scalar_one()
        except Exception:  # not migrated yet: fill migrates
            present = 0
        finally:
            await runtime.close()
        if not present:
            filled = await fill(options.database_url, options.fill)
            print(f"filled {filled['evses']} EVSEs in {filled['fill_s']:.0f} s", flush=True)
    report = await profile(options)
    if options.json:
        options.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_profile")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--fill", type=int, default=0, help="fill N EVSEs first if empty")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print the search's plan")
    parser.add_argument("--pyinstrument", type=Path, help="write a profile of execute here")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    if not 1 <= options.queries <= 100_000:
        parser.error("--queries must be 1..100000")
    return asyncio.run(main_async(options))


if __name__ == "__main__":
    sys.exit(main())
