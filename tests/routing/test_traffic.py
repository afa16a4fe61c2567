"""Live traffic from probe traces, end to end over real HTTP on the Liechtenstein map: cars
crawling along the fastest route make it slower and another route the fastest, and once the
reports' time to live has passed the answer is the engine's again."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from incar.maps import MapManifest
from subgraphs.routing.engine.pool import RoutePool
from subgraphs.routing.engine.running import engine_for
from subgraphs.routing.traffic.matching import EdgeSpeed
from tests.routing.graph import until_ready
from tests.routing.traffic_support import Served, drive, served, stretches

TOWN_HALL = {"coordinates": {"latitude": 47.1396, "longitude": 9.5226}}
TRIESEN = {"coordinates": {"latitude": 47.1079, "longitude": 9.5277}}
ROUTES = """
query Routes($from: PlaceInput!, $to: PlaceInput!, $departAt: DateTime,
             $alternatives: Int! = 2) {
  routes(from: $from, to: $to, departAt: $departAt, alternatives: $alternatives) {
    routes { engineRank durationSeconds arrival departure geometry { polyline6 } }
  }
}
"""


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        probe = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"  # noqa: E501
        result = await until_ready(running, probe)
        assert result["data"]["routes"]["map"] == "liechtenstein"
        yield running


async def plan(graph: Served, **variables: Any) -> list[dict[str, Any]]:
    result = await graph.query(ROUTES, **{"from": TOWN_HALL, "to": TRIESEN, **variables})
    assert "errors" not in result, result
    routes: list[dict[str, Any]] = result["data"]["routes"]["routes"]
    return routes


async def test_a_jam_on_the_fastest_route_changes_the_answer_and_expires(graph: Served) -> None:
    store = engine_for(graph.runtime.settings).pool.traffic
    before = await plan(graph)
    assert len(before) == 3, before  # Valhalla gives two alternates here
    fastest = before[0]
    shape = fastest["geometry"]["polyline6"]

    # Eight cars crawl along the fastest route at 6 km/h, each over an eighth of it.
    points = drive(shape)
    for trace in stretches(points, kmh=6, ending=time.time() - 5, vehicles=8):
        answer = await graph.send(json.dumps(trace), "application/json")
        assert answer.status_code == 202, answer.text
        assert answer.json()["kept"] > 0, answer.json()

    # Valhalla routes on the live speeds: the jammed way is no longer the answer, and the
    # best way left is slower than the jammed one was before (it shares some of its roads,
    # or it was the second best).
    during = await plan(graph)
    assert during[0]["geometry"]["polyline6"] != shape, during
    assert during[0]["durationSeconds"] > fastest["durationSeconds"] + 30, (fastest, during)
    jammed = [r for r in during if r["geometry"]["polyline6"] == shape]
    assert all(r["durationSeconds"] > fastest["durationSeconds"] + 300 for r in jammed)

    # Leaving in ten minutes (past the five that are "now": date_time type 1, a local time,
    # and Valhalla's forward search, which fades live speeds over the first hour ahead): the
    # jam is 600 s ahead, five sixths of its speed still count, and the answer avoids it.
    # Tiles without the map's zone read that local time as UTC, an hour more ahead in
    # Vaduz's winter: the live speeds had faded out and the answer was the jammed way.
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    [ahead] = await plan(graph, departAt=soon, alternatives=0)
    assert ahead["geometry"]["polyline6"] != shape, ahead
    assert ahead["durationSeconds"] > fastest["durationSeconds"] + 30, (fastest, ahead)

    # A trip next week meets the usual roads.
    later = await plan(graph, departAt="2026-12-09T08:00:00Z")
    assert later[0]["geometry"]["polyline6"] == shape

    # Past the time to live the jam is gone (the store's clock moved on), and so is its
    # effect: the engine's answer is back.
    ttl = store.ttl
    real = store.clock
    store.clock = lambda: real() + ttl + 1
    try:
        after = await plan(graph)
    finally:
        store.clock = real
    assert [(r["geometry"]["polyline6"], r["durationSeconds"]) for r in after] == [
        (r["geometry"]["polyline6"], r["durationSeconds"]) for r in before
    ]


HALL_TO_TRIESEN = {
    "locations": [{"lat": 47.1396, "lon": 9.5226}, {"lat": 47.1079, "lon": 9.5277}],
    "costing": "auto",
    "directions_type": "none",
    "date_time": {"type": 0},
}


async def test_a_new_process_starts_without_the_last_ones_jam(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    """The extract lives on disk beside the tiles; the speeds in it belong to the process
    that wrote them, so a pool opening the map clears what an earlier one left."""
    data_dir, manifest = liechtenstein
    first = RoutePool(data_dir, workers=1)
    await first.start(progress=None)
    try:
        usual = await first.route(HALL_TO_TRIESEN)
        edges = await first.trace_attributes(
            {
                "encoded_polyline": usual["trip"]["legs"][0]["shape"],
                "costing": "auto",
                "shape_match": "edge_walk",
                "filters": {"attributes": ["edge.id", "edge.way_id", "edge.length"],
                            "action": "include"},
            }
        )  # fmt: skip
        now = first.traffic.clock()
        kept = first.traffic.report(
            manifest.id,
            [
                EdgeSpeed(int(e["id"]), int(e["way_id"]), e["length"] * 1000, 5.0, now)
                for e in edges["edges"]
            ],
        )
        assert kept == len(edges["edges"])
        jammed = await first.route(HALL_TO_TRIESEN)
        assert jammed["trip"]["summary"]["time"] > usual["trip"]["summary"]["time"] + 60
    finally:
        await first.close()  # as a process ends: the speeds stay written in the file
    second = RoutePool(data_dir, workers=1)
    await second.start(progress=None)
    try:
        again = await second.route(HALL_TO_TRIESEN)
    finally:
        await second.close()
    assert again["trip"]["summary"]["time"] == usual["trip"]["summary"]["time"]
