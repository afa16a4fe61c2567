"""Routing beside OSRM, on two cores, and through the gateway (issue 8's routing benchmark).

    .venv/bin/python -m bench.routing_reference [--part all|compare|rate|gateway]
        [--region porto|liechtenstein] [--routes 200] [--seed 8] [--matrices 20]
        [--traces 40] [--seconds 20] [--data var/bench/routing] [--json FILE]

Builds (once, cached under ``--data``) the region's Valhalla tiles with ``incar map import``'s
code and OSRM's car data with the ``bench`` extra's own tools (``bench.osrm_reference``: CH
and MLD from one osrm-extract). Then on the same seeded point pairs of the region's bbox
that Valhalla routes with two alternates (``bench.routing.with_alternates``, the subgraph's
request, ends within 1 km of a road):

- ``compare``: one at a time, pair by pair in turn on each engine: a route with 2
  alternatives (geometry only, and with Valhalla's directions / OSRM's steps), a plain
  route, 1-to-100 tables (``bench.routing.matrix_targets``) and the map matching of probe
  traces along the pairs' routes (``bench.routing.probe_trace``); each engine's p50/p99,
  OSRM's beside Valhalla's with the ratio, and how far their answers agree (distance of the
  best route, table cells, matched length).
- ``rate``: routes with 2 alternatives per second on two cores, each engine in 2 worker
  processes routing the pairs over and over for ``--seconds``; beside them Valhalla through
  our RoutePool (2 worker threads in one process, as the subgraph runs it).
- ``gateway``: a real ``incar serve`` on the region's tiles; ``routes(alternatives: 2)``
  over HTTP to the gateway and to the routing subgraph's own endpoint, beside the same
  query executed by the schema in this process and Valhalla's request on an Actor directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import SHARED_OSM, latency_summary
from bench.machine import describe
from bench.osrm_reference import ALGORITHMS, Algorithm, Osrm, OsrmError, Prepared, prepare
from bench.routing import (
    SUBGRAPH_ROUTES,
    SUBGRAPH_ROUTES_BARE,
    matrix_targets,
    place,
    probe_trace,
    seeded_requests,
    with_alternates,
)
from incar import maps
from subgraphs.routing.engine.build import import_map
from subgraphs.routing.engine.tileset import config_file

REGIONS = {
    "porto": SHARED_OSM / "porto_portugal.osm.pbf",
    "liechtenstein": SHARED_OSM / "liechtenstein.osm.pbf",
}
#: Answers are compared only where OSRM moved neither end further to reach a road.
NEAR_ROAD_M = 50.0
MIN_TRIP_KM = 0.2
DEFAULT_DATA = Path(__file__).resolve().parent.parent / "var" / "bench" / "routing"
Point = dict[str, float]


@dataclass(frozen=True)
class Maps:
    """One region's data for both engines."""

    region: str
    valhalla_config: Path
    data_dir: Path  # INCAR_DATA_DIR with the region's tiles active
    bbox: maps.BBox
    osrm: Prepared
    build: dict[str, Any]


def prepared_maps(region: str, data: Path) -> Maps:
    source = REGIONS[region]
    data_dir = data / f"valhalla-{region}"
    started = time.perf_counter()
    manifest = import_map(data_dir, source)
    valhalla_s = round(time.perf_counter() - started, 2)
    osrm = prepare(source, data / "osrm")
    return Maps(
        region=region,
        valhalla_config=config_file(maps.tileset_dir(data_dir, manifest.id)),
        data_dir=data_dir,
        bbox=manifest.bbox,
        osrm=osrm,
        build={
            "source_bytes": manifest.source_bytes,
            "valhalla_tiles_bytes": manifest.tiles_bytes,
            "valhalla_build_s": manifest.build_seconds,
            "valhalla_open_or_build_s_this_run": valhalla_s,
            "osrm_version": osrm.version,
            "osrm_prepare_s_this_run": osrm.seconds or "cached",
        },
    )


def actor_of(config: Path) -> Any:
    import valhalla

    return valhalla.Actor(str(config))


def routable_pairs(
    actor: Any, snapper: Osrm, bbox: maps.BBox, count: int, seed: int
) -> list[list[Point]]:
    """The seeded pairs, each point moved onto its nearest road first (so both engines start
    from the same street rather than each snapping a point in a field its own way), for
    which Valhalla finds a route with alternates (the subgraph's request)."""
    pairs = []
    for request in seeded_requests(bbox, count, seed):
        ends = [snapper.snapped(point) for point in request["locations"]]
        with contextlib.suppress(RuntimeError):  # unconnected (an island, a closed area)
            answer = actor.route(with_alternates({**request, "locations": ends}, directions=False))
            # Two points off the map can snap to one road: no trip worth comparing.
            if answer["trip"]["summary"]["length"] >= MIN_TRIP_KM:
                pairs.append(ends)
    return pairs


def pairs_of(the_maps: Maps, args: argparse.Namespace) -> list[list[Point]]:
    actor = actor_of(the_maps.valhalla_config)
    pairs = routable_pairs(actor, Osrm(the_maps.osrm, "CH"), the_maps.bbox, args.routes, args.seed)
    if not pairs:
        raise SystemExit(f"no seeded pair of {the_maps.region} has a Valhalla route")
    return pairs


def _timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, Any]:
    started = time.perf_counter_ns()
    answer = call(*args, **kwargs)
    return time.perf_counter_ns() - started, answer


def _valhalla_routes(answer: dict[str, Any]) -> list[tuple[float, float]]:
    """(metres, seconds) of each route of a Valhalla answer, the best first."""
    trips = [answer, *answer.get("alternates", [])]
    return [(t["trip"]["summary"]["length"] * 1000, t["trip"]["summary"]["time"]) for t in trips]


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def _spread(values: Sequence[float]) -> dict[str, float]:
    """Median and the 10th/90th percentiles of ratios (how far two engines' answers agree)."""
    if not values:
        return {}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 3)

    return {"p10": at(0.1), "median": round(statistics.median(ordered), 3), "p90": at(0.9)}


def _side_by_side(times: dict[str, list[int]]) -> dict[str, Any]:
    """Each engine's latency summary, and each OSRM's p50/p99 as a share of Valhalla's."""
    summaries = {name: latency_summary(values) for name, values in times.items()}
    valhalla = summaries["valhalla"]
    for name, summary in summaries.items():
        if name != "valhalla":
            summary["p50_vs_valhalla"] = _ratio(summary["p50_ms"], valhalla["p50_ms"]) or 0.0
            summary["p99_vs_valhalla"] = _ratio(summary["p99_ms"], valhalla["p99_ms"]) or 0.0
    return summaries


def compare_routes(
    actor: Any, engines: dict[Algorithm, Osrm], pairs: list[list[Point]]
) -> dict[str, Any]:
    """Each pair on Valhalla and on each OSRM in turn: with alternatives, with directions,
    plain; with the agreement of the best routes' distances and times."""
    cases: dict[str, dict[str, list[int]]] = {
        "route_2_alternatives": {},
        "route_2_alternatives_with_directions": {},
        "route_plain": {},
    }
    for case in cases.values():
        for name in ("valhalla", *engines):
            case[name] = []
    counts: dict[str, list[int]] = {name: [] for name in ("valhalla", *engines)}
    distance: dict[str, list[float]] = {name: [] for name in engines}
    duration: dict[str, list[float]] = {name: [] for name in engines}
    no_route: dict[str, int] = dict.fromkeys(engines, 0)
    for origin, destination in pairs:
        request = {"locations": [origin, destination], "costing": "auto"}
        spent, answer = _timed(actor.route, with_alternates(request, directions=False))
        cases["route_2_alternatives"]["valhalla"].append(spent)
        best = _valhalla_routes(answer)
        counts["valhalla"].append(len(best))
        spent, _ = _timed(actor.route, with_alternates(request))
        cases["route_2_alternatives_with_directions"]["valhalla"].append(spent)
        spent, _ = _timed(actor.route, {**request, "directions_type": "none"})
        cases["route_plain"]["valhalla"].append(spent)
        for name, engine in engines.items():
            try:
                spent, legs = _timed(engine.route, origin, destination, alternatives=2)
                cases["route_2_alternatives"][name].append(spent)
                counts[name].append(len(legs))
                if legs[0].snap_m <= NEAR_ROAD_M:
                    distance[name].append(legs[0].distance_m / best[0][0])
                    duration[name].append(legs[0].duration_s / best[0][1])
                spent, _ = _timed(engine.route, origin, destination, alternatives=2, steps=True)
                cases["route_2_alternatives_with_directions"][name].append(spent)
                spent, _ = _timed(engine.route, origin, destination)
                cases["route_plain"][name].append(spent)
            except OsrmError:
                no_route[name] += 1
    return {
        **{case: _side_by_side(times) for case, times in cases.items()},
        "routes_per_answer": {
            name: round(sum(found) / max(1, len(found)), 2) for name, found in counts.items()
        },
        "osrm_no_route": no_route,
        "compared_near_roads": {name: len(values) for name, values in distance.items()},
        "best_route_distance_osrm_over_valhalla": {n: _spread(v) for n, v in distance.items()},
        "best_route_time_osrm_over_valhalla": {n: _spread(v) for n, v in duration.items()},
    }


def compare_tables(
    actor: Any, engines: dict[Algorithm, Osrm], origin: Point, matrices: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    times: dict[str, list[int]] = {name: [] for name in ("valhalla", *engines)}
    found: dict[str, int] = dict.fromkeys(times, 0)
    agree: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(matrices):
        targets = [engines["CH"].snapped(target) for target in matrix_targets(origin, rng)]
        request = {"sources": [origin], "targets": targets, "costing": "auto"}
        spent, answer = _timed(actor.matrix, request)
        times["valhalla"].append(spent)
        cells = [c.get("time") for c in answer["sources_to_targets"][0]]
        found["valhalla"] += sum(time_s is not None for time_s in cells)
        for name, engine in engines.items():
            spent, legs = _timed(engine.table, origin, targets)
            times[name].append(spent)
            found[name] += sum(leg is not None for leg in legs)
            agree[name].extend(
                leg.duration_s / cell
                for leg, cell in zip(legs, cells, strict=True)
                if leg and cell and leg.snap_m <= NEAR_ROAD_M
            )
    return {
        "matrix_1_to_100": _side_by_side(times),
        "cells_found": found,
        "cells_compared_near_roads": {name: len(values) for name, values in agree.items()},
        "cell_time_osrm_over_valhalla": {name: _spread(v) for name, v in agree.items()},
    }


def compare_matching(
    actor: Any, engines: dict[Algorithm, Osrm], pairs: list[list[Point]], count: int
) -> dict[str, Any]:
    from subgraphs.routing.traffic import matching, probes

    times: dict[str, list[int]] = {name: [] for name in ("valhalla", *engines)}
    # Each engine's matched length over the trace's own (fix to fix): a neutral yardstick.
    # Valhalla's is its edges' lengths less the parts before the first and after the last
    # matched fix (trace_attributes lists whole edges).
    over_trace: dict[str, list[float]] = {name: [] for name in times}
    fixes = []
    for origin, destination in pairs[:count]:
        shape = actor.route(
            {"locations": [origin, destination], "costing": "auto", "directions_type": "none"}
        )["trip"]["legs"][0]["shape"]
        trace = probes.parse(probe_trace(shape), "application/json")
        fixes.append(len(trace.points))
        driven = sum(probes.metres(a, b) for a, b in itertools.pairwise(trace.points))
        spent, answer = _timed(actor.trace_attributes, matching.request(trace))
        times["valhalla"].append(spent)
        if driven:
            over_trace["valhalla"].append(_valhalla_matched_m(answer) / driven)
        points = [(p.lat, p.lon, int(p.time)) for p in trace.points]
        for name, engine in engines.items():
            spent, length = _timed(engine.match, points)
            times[name].append(spent)
            if driven:
                over_trace[name].append(length / driven)
    return {
        "traces": len(fixes),
        "fixes_p50": sorted(fixes)[len(fixes) // 2] if fixes else 0,
        "map_matching": _side_by_side(times),
        "matched_length_over_trace_length": {n: _spread(v) for n, v in over_trace.items()},
    }


def _valhalla_matched_m(answer: dict[str, Any]) -> float:
    edges = [1000 * float(edge["length"]) for edge in answer.get("edges", [])]
    matched = [
        m for m in answer.get("matched_points", [])
        if m.get("type") != "unmatched" and m.get("edge_index") is not None
    ]  # fmt: skip
    if not edges or not matched:
        return 0.0
    first, last = matched[0], matched[-1]
    before = edges[int(first["edge_index"])] * float(first.get("distance_along_edge", 0.0))
    after = edges[int(last["edge_index"])] * (1 - float(last.get("distance_along_edge", 1.0)))
    return sum(edges) - before - after


def compare(the_maps: Maps, args: argparse.Namespace) -> dict[str, Any]:
    actor = actor_of(the_maps.valhalla_config)
    engines = {algorithm: Osrm(the_maps.osrm, algorithm) for algorithm in ALGORITHMS}
    pairs = pairs_of(the_maps, args)
    # Warm-up: each engine's first reads of its tiles or files, not measured.
    compare_routes(actor, engines, pairs[:10])
    return {
        "pairs": len(pairs),
        **compare_routes(actor, engines, pairs),
        **compare_tables(actor, engines, pairs[0][0], args.matrices, args.seed),
        **compare_matching(actor, engines, pairs, args.traces),
    }


# --- routes per second on two cores ------------------------------------------------------------
def _rate_worker(
    job: tuple[str, str, list[list[Point]], float], barrier: Any, results: Any
) -> None:
    """One process: routes ``pairs`` (2 alternatives) round and round for ``seconds``."""
    engine, config, pairs, seconds = job
    if engine == "valhalla":
        actor = actor_of(Path(config))

        def route(origin: Point, destination: Point) -> None:
            request = {"locations": [origin, destination], "costing": "auto"}
            actor.route(with_alternates(request, directions=False))
    else:
        algorithm: Algorithm = "CH" if engine == "CH" else "MLD"
        osrm = Osrm(Prepared(Path(config), {}, ""), algorithm)

        def route(origin: Point, destination: Point) -> None:
            with contextlib.suppress(OsrmError):
                osrm.route(origin, destination, alternatives=2)

    # One whole round unmeasured: the share's tiles or files read and cached first.
    for origin, destination in pairs:
        route(origin, destination)
    barrier.wait()
    done, started = 0, time.monotonic()
    for origin, destination in itertools.cycle(pairs):
        if time.monotonic() - started >= seconds:
            break
        route(origin, destination)
        done += 1
    results.put((done, time.monotonic() - started, time.process_time()))


def processes_rate(
    engine: str, config: Path, pairs: list[list[Point]], seconds: float, workers: int = 2
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    # Each worker starts at its own place in the pairs, so they do not walk the same tiles.
    shares = [pairs[n::workers] + pairs[:n:workers] for n in range(workers)]
    children = [
        context.Process(
            target=_rate_worker,
            args=((engine, str(config), shares[n], seconds), barrier, results),
        )
        for n in range(workers)
    ]
    for child in children:
        child.start()
    answers = [results.get(timeout=seconds + 300) for _ in children]
    for child in children:
        child.join()
    routes = sum(done for done, _, _ in answers)
    wall = max(elapsed for _, elapsed, _ in answers)
    return {"workers": workers, "routes": routes, "routes_per_s": round(routes / wall, 1)}


async def pool_rate(data_dir: Path, pairs: list[list[Point]], seconds: float) -> dict[str, Any]:
    """Valhalla through our RoutePool (2 threads), kept full for ``seconds``."""
    from subgraphs.routing.engine.pool import RoutePool

    pool = RoutePool(data_dir, workers=2, queue_size=64)
    await pool.start(progress=None)
    done = 0
    try:
        requests = [
            with_alternates({"locations": pair, "costing": "auto"}, directions=False)
            for pair in pairs
        ]
        await asyncio.gather(*(pool.route(r) for r in requests[:10]))
        started = time.monotonic()

        async def client(offset: int) -> None:
            nonlocal done
            while time.monotonic() - started < seconds:
                await pool.route(requests[(offset + done) % len(requests)])
                done += 1

        # Four callers keep both workers busy (two waiting while two are served).
        await asyncio.gather(*(client(n) for n in range(4)))
        wall = time.monotonic() - started
    finally:
        await pool.close()
    return {"workers": 2, "routes": done, "routes_per_s": round(done / wall, 1)}


def rate(the_maps: Maps, args: argparse.Namespace) -> dict[str, Any]:
    pairs = pairs_of(the_maps, args)
    results: dict[str, Any] = {
        "valhalla_2_processes": processes_rate(
            "valhalla", the_maps.valhalla_config, pairs, args.seconds
        ),
        **{
            f"osrm_{algorithm.lower()}_2_processes": processes_rate(
                algorithm, the_maps.osrm.base, pairs, args.seconds
            )
            for algorithm in ALGORITHMS
        },
        "valhalla_route_pool": asyncio.run(pool_rate(the_maps.data_dir, pairs, args.seconds)),
    }
    anchor = results["valhalla_2_processes"]["routes_per_s"]
    for result in results.values():
        result["vs_valhalla_processes"] = _ratio(result["routes_per_s"], anchor)
    return results


# --- through the gateway -----------------------------------------------------------------------
Call = Callable[[str, list[Point]], Awaitable[None]]


async def _time_paths(
    actor: Any, paths: dict[str, Call], pairs: list[list[Point]], *, directions: bool
) -> dict[str, Any]:
    """Each pair through Valhalla directly, then each path in turn, one at a time."""
    query = SUBGRAPH_ROUTES if directions else SUBGRAPH_ROUTES_BARE
    for pair in pairs[:10]:  # warm-up of every path
        for call in paths.values():
            await call(query, pair)
    times: dict[str, list[int]] = {"valhalla": [], **{name: [] for name in paths}}
    for pair in pairs:
        request = with_alternates({"locations": pair, "costing": "auto"}, directions=directions)
        started = time.perf_counter_ns()
        actor.route(request)
        times["valhalla"].append(time.perf_counter_ns() - started)
        for name, call in paths.items():
            started = time.perf_counter_ns()
            await call(query, pair)
            times[name].append(time.perf_counter_ns() - started)
    return _side_by_side(times)


def _over_http(client: Any, endpoint: str) -> Call:
    async def call(query: str, pair: list[Point]) -> None:
        variables = {"from": place(pair[0]), "to": place(pair[1])}
        answer = await client.post(endpoint, json={"query": query, "variables": variables})
        if answer.status_code != 200 or answer.json().get("errors"):
            raise RuntimeError(f"{endpoint}: {answer.status_code} {answer.text[:300]}")

    return call


def _in_process(runtime: Any) -> Call:
    from subgraphs.common.context import GraphContext
    from subgraphs.routing.graph.schema import schema

    async def call(query: str, pair: list[Point]) -> None:
        variables = {"from": place(pair[0]), "to": place(pair[1])}
        result = await schema.execute(
            query, variable_values=variables, context_value=GraphContext(runtime=runtime)
        )
        if result.errors:
            raise RuntimeError(str(result.errors))

    return call


async def _until_routing(call: Call, pair: list[Point], within: float = 180) -> None:
    """The serve opens the map in the background: ROUTING_NOT_READY until it routes."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call(SUBGRAPH_ROUTES, pair)
        except RuntimeError as problem:
            if "ROUTING_NOT_READY" not in str(problem) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def gateway(the_maps: Maps, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from bench.graph import environment, start_platform
    from incar.db import migrate_async
    from incar.runtime import Runtime
    from incar.settings import Settings
    from subgraphs.routing.engine.running import engine_for

    actor = actor_of(the_maps.valhalla_config)
    pairs = pairs_of(the_maps, args)
    results: dict[str, Any] = {"pairs": len(pairs)}
    with tempfile.TemporaryDirectory(prefix="incar-routing-") as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'incar.db'}"
        await migrate_async(url)
        env = environment(url, folder) | {"INCAR_DATA_DIR": str(the_maps.data_dir)}
        subgraph_url = f"http://127.0.0.1:{env['INCAR_SUBGRAPHS_PORT']}/graphql/routing"
        platform = await start_platform(env, folder, within=180)
        runtime = Runtime.create(Settings(database_url=url, data_dir=the_maps.data_dir))
        engine = engine_for(runtime.settings)
        await engine.start()
        try:
            async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
                paths = {
                    "gateway_http": _over_http(client, platform.gateway_url),
                    "subgraph_http": _over_http(client, subgraph_url),
                    "subgraph_in_process": _in_process(runtime),
                }
                await _until_routing(paths["gateway_http"], pairs[0])
                for directions in (True, False):
                    name = "with_directions" if directions else "no_directions"
                    results[f"routes_2_alternatives_{name}"] = await _time_paths(
                        actor, paths, pairs, directions=directions
                    )
        finally:
            await engine.close()
            await runtime.close()
            await platform.child.stop()
    return results


# --- report ------------------------------------------------------------------------------------
def table(results: dict[str, Any]) -> str:
    """The side-by-side rows of every latency block: name, then p50 / p99 (ratio)."""
    lines = []
    for part in ("compare", "gateway"):
        for block, summaries in results.get(part, {}).items():
            if not isinstance(summaries, dict) or "valhalla" not in summaries:
                continue
            anchor = summaries["valhalla"]
            if not isinstance(anchor, dict) or "p50_ms" not in anchor:
                continue
            lines.append(f"{part}: {block}")
            for name, s in summaries.items():
                ratio = ""
                if "p50_vs_valhalla" in s:
                    ratio = f"  ({s['p50_vs_valhalla']}x / {s['p99_vs_valhalla']}x of Valhalla)"
                lines.append(
                    f"  {name:22} p50 {s['p50_ms']:8.2f} ms  p99 {s['p99_ms']:8.2f} ms{ratio}"
                )
    for name, result in results.get("rate", {}).items():
        lines.append(
            f"rate: {name:26} {result['routes_per_s']:8.1f} routes/s "
            f"({result['vs_valhalla_processes']}x)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.routing_reference")
    parser.add_argument("--part", choices=("all", "compare", "rate", "gateway"), default="all")
    parser.add_argument("--region", choices=tuple(REGIONS), default="porto")
    parser.add_argument("--routes", type=int, default=200, help="seeded pairs drawn")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--matrices", type=int, default=20)
    parser.add_argument("--traces", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0, help="per engine in --part rate")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="cached maps")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    the_maps = prepared_maps(args.region, args.data)
    results: dict[str, Any] = {
        "machine": describe(),
        "region": args.region,
        "build": the_maps.build,
    }
    if args.part in ("all", "compare"):
        results["compare"] = compare(the_maps, args)
    if args.part in ("all", "rate"):
        results["rate"] = rate(the_maps, args)
    if args.part in ("all", "gateway"):
        results["gateway"] = asyncio.run(gateway(the_maps, args))
    results["loadavg_at_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
