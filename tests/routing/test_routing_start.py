"""The routing engine beside the other subgraphs: the default map builds on first use while
they answer (a route or a geocode meanwhile is ROUTING_NOT_READY), and a full queue is
ROUTING_BUSY."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from subgraphs.routing.engine import running
from subgraphs.routing.engine.build import import_map
from tests.gateway.clients import post
from tests.routing.conftest import extract
from tests.routing.graph import codes, served, until_ready

HELSINKI = """{ routes(from: {coordinates: {latitude: 60.1699, longitude: 24.9384}},
                       to: {coordinates: {latitude: 60.1750, longitude: 24.9500}}) {
  map timeZone country routes { durationSeconds departure } } }"""
GEOCODE = '{ geocode(text: "mannerheimintie", limit: 1) { label kind } }'
STATIONS = (
    "{ stations(near: {latitude: 47.14, longitude: 9.52, radiusMeters: 5000}) { totalCount } }"
)


async def test_the_default_map_builds_while_the_other_subgraphs_answer(tmp_path: Path) -> None:
    async with served(tmp_path) as graph:
        # The places of a map not yet built: asking starts the build, as a route does.
        places = await graph.query(GEOCODE)
        assert codes(places) == ["ROUTING_NOT_READY"], places
        first = await graph.query(HELSINKI)
        assert codes(first) == ["ROUTING_NOT_READY"], first
        # Bad input is refused as such even before the map is there.
        early = await graph.query(HELSINKI.replace("latitude: 60.1750", "latitude: 91"))
        assert codes(early) == ["BAD_USER_INPUT"], early
        many = await graph.query(HELSINKI.replace("24.9500}})", "24.9500}}, alternatives: 5)"))
        assert codes(many) == ["BAD_USER_INPUT"], many
        stations = await post(graph.locations, STATIONS)
        assert stations == {"data": {"stations": {"totalCount": 4}}}
        ready = await until_ready(graph, HELSINKI)
        named = await graph.query(GEOCODE)
    assert named["data"]["geocode"][0]["kind"] == "STREET", named
    plan = ready["data"]["routes"]
    assert (plan["map"], plan["timeZone"], plan["country"]) == ("helsinki", "Europe/Helsinki", "FI")
    assert plan["routes"][0]["durationSeconds"] > 0
    assert plan["routes"][0]["departure"].endswith("+02:00")  # EET in December
    assert (tmp_path / "maps" / "active.json").is_file()


ACROSS = """{ routes(from: {coordinates: {latitude: 47.0710, longitude: 9.6132}},
                     to: {coordinates: {latitude: 47.2227, longitude: 9.5328}},
                     modes: [WALKING], alternatives: 2) { routes { durationSeconds } } }"""


async def test_past_the_queue_a_route_is_routing_busy(tmp_path: Path) -> None:
    # A data directory of its own: the process keeps one engine per directory.
    await asyncio.to_thread(import_map, tmp_path, extract("liechtenstein.osm.pbf"))
    async with served(tmp_path, routing_workers=1, routing_queue=1) as graph:
        await until_ready(graph, ACROSS)
        results = await asyncio.gather(*(graph.query(ACROSS) for _ in range(10)))
    busy = [r for r in results if r.get("errors")]
    answered = [r for r in results if not r.get("errors")]
    assert busy and answered
    assert all(codes(r) == ["ROUTING_BUSY"] for r in busy)
    assert all(r["data"]["routes"]["routes"] for r in answered)


VADUZ = """{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}},
                    to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"""


async def test_an_unreadable_map_is_routing_unavailable_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "active.json").write_text("{ not json")
    async with served(tmp_path) as graph:
        for _ in range(100):
            result = await graph.query(HELSINKI)
            if codes(result) != ["ROUTING_NOT_READY"]:
                break
            await asyncio.sleep(0.05)
        assert codes(result) == ["ROUTING_UNAVAILABLE"], result
        assert "active.json: unreadable" in result["errors"][0]["message"]
        # The other subgraphs are unaffected.
        assert (await post(graph.locations, STATIONS))["data"]["stations"]["totalCount"] == 4
        # Once the map is imported, a request after the retry interval opens it.
        await asyncio.to_thread(import_map, tmp_path, extract("liechtenstein.osm.pbf"))
        monkeypatch.setattr(running, "RETRY", 0.0)
        ready = await until_ready(graph, VADUZ)
        assert ready["data"]["routes"]["map"] == "liechtenstein", ready
