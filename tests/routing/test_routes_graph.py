"""The routing subgraph over real HTTP, on the Liechtenstein map: routes with their times,
costs, geometry and directions, our order, arrive-by alternatives, nearest stations by
driving time, and every kind of bad input refused with a code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from incar.maps import MapManifest
from subgraphs.routing import factors, geometry, service
from subgraphs.routing.engine.running import engine_for
from subgraphs.routing.service import Point
from tests.routing.graph import Served, codes, served, until_ready

ROUTES = """
query Routes($from: PlaceInput!, $to: PlaceInput!, $departAt: DateTime, $arriveBy: DateTime,
             $modes: [TravelMode!]! = [ELECTRIC_CAR], $optimizeFor: RouteCriterion! = DURATION,
             $alternatives: Int! = 0, $language: String! = "en-US") {
  routes(from: $from, to: $to, departAt: $departAt, arriveBy: $arriveBy, modes: $modes,
         optimizeFor: $optimizeFor, alternatives: $alternatives, language: $language) {
    map timeZone country language optimizedFor
    routes {
      rank engineRank mode departure arrival durationSeconds distanceMeters
      cost { amount currency } co2Grams energyKwh fuelLitres language
      geometry { polyline6 geoJson }
      directions { instruction kind distanceMeters durationSeconds streetNames beginShapeIndex }
    }
  }
}
"""
NEAREST = """
query Nearest($from: PlaceInput!, $mode: TravelMode! = ELECTRIC_CAR, $limit: Int! = 5,
              $radius: Float! = 6000, $filter: StationFilter) {
  nearestStations(from: $from, mode: $mode, limit: $limit, radiusMeters: $radius,
                  filter: $filter) {
    location { countryCode partyId id } evseUids durationSeconds distanceMeters
    straightLineMeters
  }
}
"""
TOWN_HALL = {"coordinates": {"latitude": 47.1396, "longitude": 9.5226}}
STADIUM = {"coordinates": {"latitude": 47.1406, "longitude": 9.5120}}
#: Two pairs where Valhalla's alternates disagree with its own first route: from Schaan's
#: north to Vaduz its first is the fastest but not the shortest; from the Malbun valley its
#: first is neither.
SCHAAN = (
    {"coordinates": {"latitude": 47.22266, "longitude": 9.53281}},
    {"coordinates": {"latitude": 47.17534, "longitude": 9.50862}},
)
MALBUN = (
    {"coordinates": {"latitude": 47.07098, "longitude": 9.61323}},
    {"coordinates": {"latitude": 47.17515, "longitude": 9.50375}},
)
SOUTH_VADUZ = {"coordinates": {"latitude": 47.1300, "longitude": 9.5200}}


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        probe = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"  # noqa: E501
        assert (await until_ready(running, probe))["data"]["routes"]["map"] == "liechtenstein"
        yield running


async def routes(graph: Served, origin: Any, destination: Any, **variables: Any) -> Any:
    result = await graph.query(ROUTES, **{"from": origin, "to": destination, **variables})
    assert "errors" not in result, result
    return result["data"]["routes"]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_car_route_with_its_times_costs_geometry_and_directions(graph: Served) -> None:
    plan = await routes(graph, TOWN_HALL, STADIUM, departAt="2026-12-03T07:30:00Z")
    assert (plan["map"], plan["timeZone"], plan["country"]) == (
        "liechtenstein",
        "Europe/Vaduz",
        "LI",
    )
    [route] = plan["routes"]
    assert (route["rank"], route["engineRank"], route["mode"]) == (1, 0, "ELECTRIC_CAR")
    # Local time of the map's zone (CET in December), with its offset.
    assert route["departure"] == "2026-12-03T08:30:00+01:00"
    arrival = moment(route["arrival"])
    assert arrival.utcoffset() == timedelta(hours=1)
    assert (arrival - moment(route["departure"])).total_seconds() == pytest.approx(
        route["durationSeconds"], abs=0.5
    )
    km = route["distanceMeters"] / 1000
    assert 0.5 < km < 5  # the two points are 0.8 km apart
    assert route["energyKwh"] == pytest.approx(km * factors.EV_KWH_PER_KM, abs=0.001)
    assert route["cost"] == {
        "amount": round(km * factors.EV_KWH_PER_KM * factors.ELECTRICITY_EUR_PER_KWH, 2),
        "currency": "EUR",
    }
    assert route["co2Grams"] == pytest.approx(km * 0.21 * 34.843, abs=0.2)
    assert route["fuelLitres"] is None
    points = geometry.decode(route["geometry"]["polyline6"])
    assert route["geometry"]["geoJson"] == {
        "type": "LineString",
        "coordinates": [[lon, lat] for lat, lon in points],
    }
    assert points[0] == pytest.approx((47.1396, 9.5226), abs=0.002)
    assert points[-1] == pytest.approx((47.1406, 9.5120), abs=0.002)
    steps = route["directions"]
    assert steps[0]["kind"] in (1, 2, 3) and steps[-1]["kind"] in (4, 5, 6)  # start, destination
    assert all(step["instruction"] for step in steps)
    assert [s["beginShapeIndex"] for s in steps] == sorted(s["beginShapeIndex"] for s in steps)
    assert sum(s["distanceMeters"] for s in steps) == pytest.approx(
        route["distanceMeters"], rel=0.01
    )


async def test_without_a_time_the_trip_leaves_now(graph: Served) -> None:
    before = datetime.now().astimezone()
    [route] = (await routes(graph, TOWN_HALL, STADIUM))["routes"]
    assert (
        before - timedelta(seconds=1) <= moment(route["departure"]) <= datetime.now().astimezone()
    )


async def test_routes_are_ordered_by_duration_by_default(graph: Served) -> None:
    plan = await routes(graph, *MALBUN, alternatives=2)
    durations = [r["durationSeconds"] for r in plan["routes"]]
    assert len(durations) >= 2
    assert durations == sorted(durations)
    # The engine's first route is not the fastest here: the order is ours.
    assert plan["routes"][0]["engineRank"] != 0
    assert [r["rank"] for r in plan["routes"]] == list(range(1, len(durations) + 1))


async def test_by_cost_and_co2_the_shortest_drive_comes_first(graph: Served) -> None:
    by_time = await routes(graph, *SCHAAN, alternatives=2)
    by_cost = await routes(graph, *SCHAAN, alternatives=2, optimizeFor="COST")
    by_co2 = await routes(graph, *SCHAAN, alternatives=2, optimizeFor="CO2")
    assert by_cost["optimizedFor"] == "COST"
    costs = [r["cost"]["amount"] for r in by_cost["routes"]]
    assert costs == sorted(costs)
    assert [r["co2Grams"] for r in by_co2["routes"]] == sorted(
        r["co2Grams"] for r in by_co2["routes"]
    )
    time_order = [r["engineRank"] for r in by_time["routes"]]
    cost_order = [r["engineRank"] for r in by_cost["routes"]]
    assert time_order != cost_order  # the fastest is not the cheapest
    assert [r["engineRank"] for r in by_co2["routes"]] == cost_order


async def test_modes_side_by_side_in_one_order(graph: Served) -> None:
    plan = await routes(
        graph,
        *SCHAAN,
        modes=["ELECTRIC_CAR", "COMBUSTION_CAR", "BICYCLE", "WALKING"],
        optimizeFor="CO2",
    )
    by_mode = {r["mode"]: r for r in plan["routes"]}
    assert set(by_mode) == {"ELECTRIC_CAR", "COMBUSTION_CAR", "BICYCLE", "WALKING"}
    # Nothing emitted on foot or by bicycle (the faster first), then the electric car.
    assert [r["mode"] for r in plan["routes"]] == [
        "BICYCLE",
        "WALKING",
        "ELECTRIC_CAR",
        "COMBUSTION_CAR",
    ]
    ev, petrol = by_mode["ELECTRIC_CAR"], by_mode["COMBUSTION_CAR"]
    assert ev["distanceMeters"] == petrol["distanceMeters"]  # the same roads
    km = petrol["distanceMeters"] / 1000
    assert petrol["co2Grams"] == pytest.approx(km * factors.COMBUSTION_G_CO2_PER_KM, abs=0.1)
    assert petrol["fuelLitres"] == pytest.approx(km * 121.6 / 2360, abs=0.001)
    assert ev["co2Grams"] < petrol["co2Grams"] and ev["cost"]["amount"] < petrol["cost"]["amount"]
    for mode in ("BICYCLE", "WALKING"):
        assert by_mode[mode]["cost"]["amount"] == 0 and by_mode[mode]["co2Grams"] == 0
    assert by_mode["WALKING"]["durationSeconds"] > by_mode["BICYCLE"]["durationSeconds"]


async def test_valhalla_gives_no_alternates_arriving_by_so_the_subgraph_asks_otherwise(
    graph: Served,
) -> None:
    pool = engine_for(graph.runtime.settings).ready()
    locations = [
        {"lat": p["coordinates"]["latitude"], "lon": p["coordinates"]["longitude"]} for p in MALBUN
    ]
    request = {
        "locations": locations,
        "costing": "auto",
        "alternates": 2,
        "directions_type": "none",
    }
    arriving = {**request, "date_time": {"type": 2, "value": "2026-12-03T09:00"}}
    leaving = {**request, "date_time": {"type": 1, "value": "2026-12-03T09:00"}}
    assert "alternates" not in await pool.route(arriving)
    assert "alternates" not in await pool.route(leaving)
    assert (await pool.route({**leaving, "prioritize_bidirectional": True}))["alternates"]

    plan = await routes(graph, *MALBUN, arriveBy="2026-12-03T08:00:00Z", alternatives=2)
    assert len(plan["routes"]) >= 2
    for route in plan["routes"]:
        assert route["arrival"] == "2026-12-03T09:00:00+01:00"
        leaves = moment(route["arrival"]) - timedelta(seconds=route["durationSeconds"])
        assert moment(route["departure"]) == pytest.approx(leaves, abs=timedelta(seconds=1))
    # Without alternatives, Valhalla's own arrive-by search.
    [only] = (await routes(graph, *MALBUN, arriveBy="2026-12-03T08:00:00Z"))["routes"]
    assert only["arrival"] == "2026-12-03T09:00:00+01:00"


async def test_directions_in_the_language_asked(graph: Served) -> None:
    finnish = await routes(graph, TOWN_HALL, STADIUM, language="fi")
    assert finnish["language"] == "fi-FI"
    [route] = finnish["routes"]
    assert route["language"] == "fi-FI"
    assert route["directions"][0]["instruction"].startswith("Aja ")  # "Drive ..."
    german = (await routes(graph, TOWN_HALL, STADIUM, language="de-LI"))["routes"][0]
    assert german["language"] == "de-DE"
    assert "fahren" in german["directions"][0]["instruction"]
    english = (await routes(graph, TOWN_HALL, STADIUM))["routes"][0]
    assert english["directions"][0]["instruction"].startswith("Drive ")


async def test_languages_are_listed(graph: Served) -> None:
    result = await graph.query("{ routingLanguages }")
    assert {"en-US", "fi-FI", "pt-PT", "de-DE"} <= set(result["data"]["routingLanguages"])


async def test_a_station_is_a_place(graph: Served) -> None:
    hall = {"location": {"countryCode": "LI", "partyId": "LKW", "id": "HALL"}}
    evse = {"evse": {"countryCode": "li", "partyId": "lkw", "locationId": "PARK", "uid": "park-1"}}
    [route] = (await routes(graph, hall, evse))["routes"]
    points = geometry.decode(route["geometry"]["polyline6"])
    assert points[0] == pytest.approx((47.13955, 9.5225), abs=0.002)
    assert points[-1] == pytest.approx((47.1406, 9.5122), abs=0.002)


async def test_nearest_stations_by_driving_time(graph: Served) -> None:
    result = await graph.query(NEAREST, **{"from": SOUTH_VADUZ})
    assert "errors" not in result, result
    found = result["data"]["nearestStations"]
    ids = [s["location"]["id"] for s in found]
    assert set(ids) == {"HALL", "PARK", "SCHAAN", "TRIESEN"}  # Balzers lies beyond 6 km
    durations = [s["durationSeconds"] for s in found]
    assert durations == sorted(durations) and durations[0] > 0
    assert all(
        s["location"]["countryCode"] == "LI" and s["location"]["partyId"] == "LKW" for s in found
    )
    assert found[ids.index("HALL")]["evseUids"] == ["HALL-1"]
    for entry in found:  # the road is never shorter than the straight line
        assert entry["distanceMeters"] >= 0.9 * entry["straightLineMeters"]
    # A matrix cell is the route's time from the same point.
    hall = found[ids.index("HALL")]
    [route] = (
        await routes(
            graph, SOUTH_VADUZ, {"location": {"countryCode": "LI", "partyId": "LKW", "id": "HALL"}}
        )
    )["routes"]
    assert hall["durationSeconds"] == pytest.approx(route["durationSeconds"], rel=0.25)


async def test_closest_free_chargers_and_a_limit(graph: Served) -> None:
    free = await graph.query(
        NEAREST, **{"from": SOUTH_VADUZ, "limit": 2, "filter": {"availableNow": True}}
    )
    assert "errors" not in free, free
    ids = [s["location"]["id"] for s in free["data"]["nearestStations"]]
    assert len(ids) == 2 and "PARK" not in ids  # the stadium's charger is in use
    walking = await graph.query(NEAREST, **{"from": SOUTH_VADUZ, "mode": "WALKING", "limit": 1})
    assert len(walking["data"]["nearestStations"]) == 1
    nothing = await graph.query(NEAREST, **{"from": SOUTH_VADUZ, "radius": 50.0})
    assert nothing["data"]["nearestStations"] == []


def at(lat: float, lon: float) -> dict[str, Any]:
    return {"coordinates": {"latitude": lat, "longitude": lon}}


BAD = "BAD_USER_INPUT"
OWNER = {"countryCode": "LI", "partyId": "LKW"}
HALL = {**OWNER, "id": "HALL"}
BAD_ROUTES = [
    ("both times", {"departAt": "2026-12-03T08:00:00Z", "arriveBy": "2026-12-03T09:00Z"}, BAD),
    ("no offset", {"departAt": "2026-12-03T08:00:00"}, BAD),
    ("years away", {"departAt": "2031-12-03T08:00:00Z"}, BAD),
    ("long ago", {"arriveBy": "2020-12-03T08:00:00Z"}, BAD),
    ("too many alternatives", {"alternatives": 3}, BAD),
    ("negative alternatives", {"alternatives": -1}, BAD),
    ("no mode", {"modes": []}, BAD),
    ("a mode twice", {"modes": ["BICYCLE", "BICYCLE"]}, BAD),
    ("unknown language", {"language": "xx-YY"}, BAD),
    ("malformed language", {"language": "fi_FI"}, BAD),
    ("off the map", {"to": at(60.17, 24.94)}, "OFF_MAP"),
    ("not on Earth", {"to": at(95.0, 9.5)}, BAD),
    ("two kinds of place", {"to": {**STADIUM, "location": HALL}}, BAD),
    ("no place", {"to": {}}, BAD),
    ("unknown station", {"to": {"location": {**HALL, "id": "NOPE"}}}, "NOT_FOUND"),
    ("unknown EVSE", {"to": {"evse": {**OWNER, "locationId": "HALL", "uid": "NOPE"}}}, "NOT_FOUND"),
    ("the same point", {"to": TOWN_HALL}, BAD),
    # In the map's box, below the Grauspitz: no road within a kilometre.
    ("no road near", {"to": at(47.0547, 9.5813)}, "NO_ROUTE"),
    # Near a way that joins no road network of the extract: Valhalla finds no path.
    ("no path", {"to": at(47.06, 9.56)}, "NO_ROUTE"),
]


@pytest.mark.parametrize(("what", "change", "code"), BAD_ROUTES, ids=[b[0] for b in BAD_ROUTES])
async def test_bad_route_requests_are_refused_with_a_code(
    graph: Served, what: str, change: dict[str, Any], code: str
) -> None:
    variables = {"from": TOWN_HALL, "to": STADIUM, **change}
    result = await graph.query(ROUTES, **variables)
    assert result.get("data") is None, result
    assert codes(result) == [code], result
    assert "Unexpected" not in result["errors"][0]["message"]


BAD_NEAREST = [
    ("a combustion car does not charge", {"mode": "COMBUSTION_CAR"}, "BAD_USER_INPUT"),
    ("no stations", {"limit": 0}, "BAD_USER_INPUT"),
    ("too many stations", {"limit": 51}, "BAD_USER_INPUT"),
    ("a radius too wide", {"radius": 500_000.0}, "BAD_USER_INPUT"),
    ("off the map", {"from": {"coordinates": {"latitude": 41.15, "longitude": -8.61}}}, "OFF_MAP"),
]


@pytest.mark.parametrize(("what", "change", "code"), BAD_NEAREST, ids=[b[0] for b in BAD_NEAREST])
async def test_bad_nearest_requests_are_refused_with_a_code(
    graph: Served, what: str, change: dict[str, Any], code: str
) -> None:
    result = await graph.query(NEAREST, **{"from": SOUTH_VADUZ, **change})
    assert result.get("data") is None, result
    assert codes(result) == [code], result


async def test_directions_are_written_only_when_asked_for(graph: Served) -> None:
    bare = """query($from: PlaceInput!, $to: PlaceInput!) {
      routes(from: $from, to: $to) { routes { durationSeconds } } }"""
    with_fragment = """query($from: PlaceInput!, $to: PlaceInput!) {
      routes(from: $from, to: $to) { routes { ...Steps } } }
      fragment Steps on Route { durationSeconds directions { instruction } }"""
    alone = await graph.query(bare, **{"from": TOWN_HALL, "to": STADIUM})
    steps = await graph.query(with_fragment, **{"from": TOWN_HALL, "to": STADIUM})
    assert alone["data"]["routes"]["routes"][0]["durationSeconds"] > 0
    [route] = steps["data"]["routes"]["routes"]
    assert route["directions"] and all(step["instruction"] for step in route["directions"])
    assert route["durationSeconds"] == alone["data"]["routes"]["routes"][0]["durationSeconds"]
    # Without directions, Valhalla writes none (the service's answer carries no maneuvers).
    pool = engine_for(graph.runtime.settings).ready()
    hall, stadium = (
        Point(p["coordinates"]["latitude"], p["coordinates"]["longitude"])
        for p in (TOWN_HALL, STADIUM)
    )
    now = datetime.now(UTC)
    without = await service.plan(pool, service.RouteQuery(hall, stadium, directions=False), now=now)
    with_them = await service.plan(pool, service.RouteQuery(hall, stadium), now=now)
    assert without.routes[0].maneuvers == () and with_them.routes[0].maneuvers
    assert without.routes[0].polyline6 == with_them.routes[0].polyline6
