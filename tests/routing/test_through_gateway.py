"""Routes and nearest stations through a real Hive Gateway composing the routing and
locations subgraphs: a station found by driving time is joined with its Location's details
from the locations subgraph, a Location of the locations subgraph gets its routeFrom from the
routing subgraph, and a refusal keeps its code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.process import GatewayProcess
from incar.maps import MapManifest
from incar_cli import platform
from subgraphs.catalog import subgraphs
from tests.gateway.clients import post
from tests.routing.graph import codes, served, until_ready
from tests.support.hub_process import free_port

ROUTE = """
query($departAt: DateTime) {
  routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}},
         to: {location: {countryCode: "LI", partyId: "LKW", id: "SCHAAN"}},
         modes: [ELECTRIC_CAR, BICYCLE], departAt: $departAt, optimizeFor: COST) {
    timeZone routes { mode departure durationSeconds cost { amount } geometry { polyline6 } }
  }
}
"""
NEAREST = """
{
  nearestStations(from: {coordinates: {latitude: 47.13, longitude: 9.52}}, limit: 2,
                  filter: {availableNow: true}) {
    durationSeconds location { id name city evses { uid status } }
  }
}
"""

ROUTE_FROM = """
query($from: PlaceInput!) {
  location(countryCode: "LI", partyId: "LKW", id: "SCHAAN") {
    name city
    routeFrom(from: $from, modes: [ELECTRIC_CAR], departAt: "2026-12-03T16:00:00Z") {
      timeZone routes { mode distanceMeters durationSeconds }
    }
  }
}
"""


@pytest.fixture(scope="module")
async def gateway(
    liechtenstein: tuple[Path, MapManifest], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    async with served(liechtenstein[0]) as graph:
        await until_ready(graph, "{ routingLanguages }")
        await graph.query(ROUTE)  # the engine opened the map
        catalog = subgraphs()
        at = [(catalog[name], f"{graph.url}/graphql/{name}") for name in ("routing", "locations")]
        folder = tmp_path_factory.mktemp("graph")
        supergraph = await asyncio.to_thread(platform.supergraph, at, folder)
        async with GatewayProcess(supergraph, port=free_port()) as running:
            yield running.url


async def test_a_route_to_a_station_through_the_gateway(gateway: str) -> None:
    result = await post(gateway, ROUTE, variables={"departAt": "2026-12-03T16:00:00Z"})
    assert "errors" not in result, result
    plan = result["data"]["routes"]
    assert plan["timeZone"] == "Europe/Vaduz"
    assert [r["mode"] for r in plan["routes"]] == ["BICYCLE", "ELECTRIC_CAR"]  # by cost
    assert all(r["departure"] == "2026-12-03T17:00:00+01:00" for r in plan["routes"])
    assert plan["routes"][1]["cost"]["amount"] > 0 and plan["routes"][1]["geometry"]["polyline6"]


async def test_nearest_free_stations_joined_with_their_details(gateway: str) -> None:
    result = await post(gateway, NEAREST)
    assert "errors" not in result, result
    found = result["data"]["nearestStations"]
    assert len(found) == 2
    assert [s["durationSeconds"] for s in found] == sorted(s["durationSeconds"] for s in found)
    for station in found:
        location = station["location"]
        assert location["city"] == "Vaduz"  # from the locations subgraph
        assert location["evses"][0]["status"] == "AVAILABLE"
        assert location["id"] != "PARK"


async def test_a_refusal_keeps_its_code_through_the_gateway(gateway: str) -> None:
    result = await post(gateway, ROUTE, variables={"departAt": "2036-12-03T16:00:00Z"})
    assert codes(result) == ["BAD_USER_INPUT"], result
    off = await post(gateway, NEAREST.replace("latitude: 47.13", "latitude: 60.17"))
    assert codes(off) == ["OFF_MAP"], off


async def test_a_location_gets_its_route_from_an_address_through_the_gateway(gateway: str) -> None:
    result = await post(gateway, ROUTE_FROM, variables={"from": {"address": "stadtle 32 vaduz"}})
    assert "errors" not in result, result
    location = result["data"]["location"]
    assert location["city"] == "Vaduz"  # from the locations subgraph
    plan = location["routeFrom"]  # from the routing subgraph
    assert plan["timeZone"] == "Europe/Vaduz"
    # The same route as the routes query gives from the address's point to the same station.
    direct = await post(
        gateway,
        ROUTE.replace("{coordinates: {latitude: 47.1396, longitude: 9.5226}}", "$from").replace(
            "query($departAt: DateTime)", "query($departAt: DateTime, $from: PlaceInput!)"
        ),
        variables={"departAt": "2026-12-03T16:00:00Z", "from": {"address": "Städtle 32, Vaduz"}},
    )
    assert "errors" not in direct, direct
    car = [r for r in direct["data"]["routes"]["routes"] if r["mode"] == "ELECTRIC_CAR"]
    assert [r["durationSeconds"] for r in plan["routes"]] == [car[0]["durationSeconds"]]
    assert plan["routes"][0]["distanceMeters"] > 1000


async def test_a_route_from_refusal_keeps_its_code_and_candidates(gateway: str) -> None:
    result = await post(gateway, ROUTE_FROM, variables={"from": {"address": "Landstrasse"}})
    assert codes(result) == ["PLACE_AMBIGUOUS"], result
    candidates = result["errors"][0]["extensions"]["candidates"]
    assert len(candidates) >= 2, result
    assert result["errors"][0]["path"] == ["location", "routeFrom"], result
