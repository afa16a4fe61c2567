"""The map's places in the routing subgraph over real HTTP, on the Liechtenstein map: routes
from an address (and its variants: case, accents, a typo) to a station, geocode and reverse
geocode, points of interest of the classes the extract has and the empty answer for those it
lacks (taxi stands, loading zones), and every bad input refused with its code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from incar.maps import MapManifest
from tests.routing.graph import Served, served, until_ready

ROUTE = """
query($from: PlaceInput!) {
  routes(from: $from, to: {location: {countryCode: "LI", partyId: "LKW", id: "SCHAAN"}},
         departAt: "2026-12-03T16:00:00Z") {
    routes { distanceMeters durationSeconds }
  }
}
"""
GEOCODE = """
query($text: String!, $near: CoordinatesInput, $limit: Int! = 5) {
  geocode(text: $text, near: $near, limit: $limit) {
    label kind score match name housenumber postcode city category osm explanation
    distanceMeters coordinates { latitude longitude }
  }
}
"""
REVERSE = """
query($latitude: Float!, $longitude: Float!) {
  reverseGeocode(coordinates: {latitude: $latitude, longitude: $longitude}) {
    label kind match distanceMeters housenumber coordinates { latitude longitude }
  }
}
"""
POIS = """
query($bbox: BoundingBoxInput!, $classes: [PoiClass!], $limit: Int! = 200) {
  pointsOfInterest(bbox: $bbox, classes: $classes, limit: $limit) {
    class name category osm routes tags operator distanceMeters
    coordinates { latitude longitude }
  }
}
"""
#: A real address of the extract: a house on Vaduz's main street, beside the town hall.
ADDRESS = "Städtle 32, Vaduz"
AT_ADDRESS = (47.1395, 9.5221)
VARIANTS = {
    "Städtle 32, Vaduz": "EXACT",
    "städtle 32 vaduz": "EXACT",
    "STADTLE 32, VADUZ": "FOLDED",
    "Stätdle 32, Vaduz": "FUZZY",
}
CENTRAL_VADUZ = {"west": 9.50, "south": 47.12, "east": 9.54, "north": 47.15}


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        # A route from the address: ready once the tiles and the places both answer.
        probe = ROUTE.replace("query($from: PlaceInput!)", "query").replace(
            "$from", f'{{address: "{ADDRESS}"}}'
        )
        ready = await until_ready(running, probe)
        assert "errors" not in ready, ready
        yield running


async def data(graph: Served, query: str, **variables: Any) -> Any:
    result = await graph.query(query, **variables)
    assert "errors" not in result, result
    return result["data"]


def refused(result: dict[str, Any]) -> dict[str, Any]:
    """The one error's extensions."""
    assert result.get("data") in (None, {}) or all(
        v is None for v in (result.get("data") or {}).values()
    ), result
    assert len(result["errors"]) == 1, result
    extensions: dict[str, Any] = result["errors"][0]["extensions"]
    return extensions


async def test_a_route_from_an_address_and_its_variants_to_a_station(graph: Served) -> None:
    at = {"coordinates": {"latitude": AT_ADDRESS[0], "longitude": AT_ADDRESS[1]}}
    expected = (await data(graph, ROUTE, **{"from": at}))["routes"]["routes"][0]
    assert expected["distanceMeters"] > 1000  # Vaduz to Schaan
    for text in VARIANTS:
        found = (await data(graph, ROUTE, **{"from": {"address": text}}))["routes"]["routes"]
        assert found[0] == expected, text


async def test_geocode_names_the_address_whatever_its_spelling(graph: Served) -> None:
    for text, match in VARIANTS.items():
        places = (await data(graph, GEOCODE, text=text, limit=3))["geocode"]
        best = places[0]
        assert best["label"] == "Städtle 32, 9490 Vaduz", (text, places)
        assert (best["kind"], best["match"]) == ("ADDRESS", match), text
        assert (best["housenumber"], best["postcode"], best["city"]) == ("32", "9490", "Vaduz")
        point = best["coordinates"]
        assert abs(point["latitude"] - AT_ADDRESS[0]) < 1e-3
        assert abs(point["longitude"] - AT_ADDRESS[1]) < 1e-3
        assert best["distanceMeters"] is None  # no near point given
        assert [p["score"] for p in places] == sorted((p["score"] for p in places), reverse=True)
        assert len(places) <= 3


async def test_geocode_near_a_point_prefers_the_nearer_street(graph: Served) -> None:
    # Kirchstrasse is in several villages: near Schaan's church, Schaan's comes first.
    near = {"latitude": 47.1663, "longitude": 9.5103}
    places = (await data(graph, GEOCODE, text="Kirchstrasse", near=near))["geocode"]
    assert places[0]["label"] == "Kirchstrasse, Schaan", places
    assert places[0]["kind"] == "STREET" and places[0]["distanceMeters"] < 1000
    assert (await data(graph, GEOCODE, text="xyzzy qwerty"))["geocode"] == []


async def test_reverse_geocode_names_the_nearest_house(graph: Served) -> None:
    found = (await data(graph, REVERSE, latitude=47.1396, longitude=9.5226))["reverseGeocode"]
    assert found["label"] == "Städtle 32, 9490 Vaduz"
    assert (found["kind"], found["match"]) == ("ADDRESS", "NEAREST")
    assert 0 < found["distanceMeters"] < 100


async def test_points_of_interest_of_the_classes_the_extract_has(graph: Served) -> None:
    for poi_class, category in (("PARKING", "parking"), ("PUBLIC_TRANSPORT", "")):
        pois = (await data(graph, POIS, bbox=CENTRAL_VADUZ, classes=[poi_class]))[
            "pointsOfInterest"
        ]
        assert pois, poi_class
        assert {p["class"] for p in pois} == {poi_class}
        assert all(category in p["category"] for p in pois)
        for p in pois:
            point = p["coordinates"]
            assert CENTRAL_VADUZ["south"] <= point["latitude"] <= CENTRAL_VADUZ["north"]
            assert CENTRAL_VADUZ["west"] <= point["longitude"] <= CENTRAL_VADUZ["east"]
        distances = [p["distanceMeters"] for p in pois]
        assert distances == sorted(distances)
    stops = (await data(graph, POIS, bbox=CENTRAL_VADUZ, classes=["PUBLIC_TRANSPORT"]))[
        "pointsOfInterest"
    ]
    spital = next(p for p in stops if p["name"] == "Spital")
    assert spital["category"] == "highway=bus_stop" and "11" in spital["routes"]
    assert spital["tags"]["highway"] == "bus_stop" and spital["operator"] == "LBA"
    every = (await data(graph, POIS, bbox=CENTRAL_VADUZ, limit=5))["pointsOfInterest"]
    assert len(every) == 5


async def test_classes_the_extract_lacks_answer_empty(graph: Served) -> None:
    whole = {"west": 9.48, "south": 47.05, "east": 9.63, "north": 47.27}
    for poi_class in ("TAXI", "LOADING_ZONE"):
        found = await data(graph, POIS, bbox=whole, classes=[poi_class])
        assert found["pointsOfInterest"] == [], poi_class


async def test_an_address_no_place_matches_is_place_not_found(graph: Served) -> None:
    result = await graph.query(ROUTE, **{"from": {"address": "xyzzy qwerty"}})
    extensions = refused(result)
    assert extensions["code"] == "PLACE_NOT_FOUND" and extensions["candidates"] == []
    assert result["errors"][0]["message"].startswith("from: ")


async def test_an_ambiguous_address_is_refused_with_its_candidates(graph: Served) -> None:
    result = await graph.query(ROUTE, **{"from": {"address": "Landstrasse"}})
    extensions = refused(result)
    assert extensions["code"] == "PLACE_AMBIGUOUS", result
    labels = [c["label"] for c in extensions["candidates"]]
    assert len(labels) >= 2 and all(label.startswith("Landstras") for label in labels)
    assert all(
        {"latitude", "longitude", "score", "kind"} <= set(c) for c in extensions["candidates"]
    )
    # Once it says which, it routes.
    found = await data(graph, ROUTE, **{"from": {"address": "Landstrasse 10, Triesenberg"}})
    assert found["routes"]["routes"]


async def test_bad_place_input_is_refused_with_its_code(graph: Served) -> None:
    cases: list[tuple[str, dict[str, Any], str, str | None]] = [
        (
            ROUTE,
            {"from": {"address": ADDRESS, "coordinates": {"latitude": 47.1, "longitude": 9.5}}},
            "BAD_USER_INPUT",
            None,
        ),
        (ROUTE, {"from": {"address": "   "}}, "BAD_USER_INPUT", "EMPTY_QUERY"),
        (ROUTE, {"from": {"address": "x" * 500}}, "BAD_USER_INPUT", "QUERY_TOO_LONG"),
        (GEOCODE, {"text": ""}, "BAD_USER_INPUT", "EMPTY_QUERY"),
        (GEOCODE, {"text": ADDRESS, "limit": 0}, "BAD_USER_INPUT", "INVALID_LIMIT"),
        (
            GEOCODE,
            {"text": ADDRESS, "near": {"latitude": 91, "longitude": 9.5}},
            "BAD_USER_INPUT",
            "INVALID_COORDINATES",
        ),
        (REVERSE, {"latitude": 95.0, "longitude": 9.5}, "BAD_USER_INPUT", "INVALID_COORDINATES"),
        (REVERSE, {"latitude": 60.17, "longitude": 24.94}, "OFF_MAP", "OFF_MAP"),
        (
            POIS,
            {"bbox": {**CENTRAL_VADUZ, "west": 9.6, "east": 9.5}},
            "BAD_USER_INPUT",
            "INVALID_BBOX",
        ),
        (
            POIS,
            {"bbox": {"west": 24.9, "south": 60.1, "east": 25.0, "north": 60.2}},
            "OFF_MAP",
            "OFF_MAP",
        ),
        (POIS, {"bbox": CENTRAL_VADUZ, "limit": 0}, "BAD_USER_INPUT", "INVALID_LIMIT"),
    ]
    for query, variables, code, reason in cases:
        result = await graph.query(query, **variables)
        extensions = refused(result)
        assert extensions["code"] == code, (variables, result)
        assert extensions.get("reason") == reason, (variables, result)
    unknown = await graph.query(POIS, bbox=CENTRAL_VADUZ, classes=["CHARGING"])
    # An unknown class is not a value of the enum: the request is not run at all.
    assert unknown.get("data") is None and "CHARGING" in unknown["errors"][0]["message"]


ENTITY_ROUTE = """
query($id: String!) {
  _entities(representations: [{__typename: "Location", countryCode: "LI", partyId: "LKW",
                                id: $id}]) {
    ... on Location { routeFrom(from: {address: "Städtle 32, Vaduz"}) { routes { mode } } }
  }
}
"""


async def test_route_from_an_entity_the_locations_subgraph_lacks_is_not_found(
    graph: Served,
) -> None:
    found = await data(graph, ENTITY_ROUTE, id="SCHAAN")
    assert found["_entities"][0]["routeFrom"]["routes"][0]["mode"] == "ELECTRIC_CAR"
    result = await graph.query(ENTITY_ROUTE, id="NOWHERE")
    assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"], result
