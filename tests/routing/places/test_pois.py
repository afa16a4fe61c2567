"""Points of interest of each class on an extract that has them, counted against the
extract's own tags; an extract without a class says so by its tag count being zero.

What the extracts hold (counted here, nodes and ways):

| class            | Helsinki | Liechtenstein | Porto |
|------------------|----------|---------------|-------|
| PARKING          | 43       | 158           | 27    |
| TAXI             | 17       | none          | 2     |
| LOADING_ZONE     | 4        | none          | none  |
| PUBLIC_TRANSPORT | 295      | 360           | 200   |
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import osmium
import pytest

from subgraphs.routing.places import PlaceError, PlaceErrorCode, PlaceIndex, Poi, PoiClass
from tests.routing.conftest import extract
from tests.routing.places.conftest import helsinki_source

#: Loading zones as the OSM wiki's street parking pages tag them (see poi_tags), written here
#: as patterns over keys and values, independently of the index's own reading.
_LOADING = (
    (re.compile(r"^amenity$"), re.compile(r"^loading_dock$")),
    (
        re.compile(r"^parking:(left|right|both):restriction(:conditional)?$"),
        re.compile("loading_only"),
    ),
    (re.compile(r"^parking:condition:(left|right|both)(:conditional)?$"), re.compile(r"^loading")),
)


def _tag_counts(source: Path) -> Counter[str]:
    """Nodes, ways and multipolygons of each tagging (no relation of another type is an area)."""
    counts: Counter[str] = Counter()
    kinds = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
    for element in osmium.FileProcessor(str(source), kinds):
        tags = dict(element.tags)
        if isinstance(element, osmium.osm.Relation) and tags.get("type") not in _AREAS:
            continue
        if tags.get("amenity") == "taxi":
            counts["taxi"] += 1
        elif any(
            k.match(key) and v.search(value) for key, value in tags.items() for k, v in _LOADING
        ):
            counts["loading"] += 1
        elif tags.get("amenity") == "parking":
            counts["parking"] += 1
    return counts


_AREAS = ("multipolygon", "boundary")


def _everything(places: PlaceIndex, poi_class: PoiClass) -> list[Poi]:
    return places.pois_now(places.bbox, classes={poi_class}, limit=1000)


@pytest.mark.parametrize("name", ["helsinki", "liechtenstein", "porto"])
def test_each_class_matches_the_extracts_tags(
    name: str,
    helsinki_places: PlaceIndex,
    liechtenstein_places: PlaceIndex,
    porto_places: PlaceIndex,
) -> None:
    places, source = {
        "helsinki": (helsinki_places, helsinki_source()),
        "liechtenstein": (liechtenstein_places, extract("liechtenstein.osm.pbf")),
        "porto": (porto_places, extract("porto_portugal.osm.pbf")),
    }[name]
    counts = _tag_counts(source)
    assert len(_everything(places, PoiClass.TAXI)) == counts["taxi"]
    assert len(_everything(places, PoiClass.LOADING_ZONE)) == counts["loading"]
    assert len(_everything(places, PoiClass.PARKING)) == counts["parking"]
    # Which classes each extract lacks, from its tags (the table above).
    lacking = {"helsinki": set(), "liechtenstein": {"taxi", "loading"}, "porto": {"loading"}}
    assert {what for what in ("taxi", "loading", "parking") if counts[what] == 0} == lacking[name]


def test_car_parks_with_capacity_fee_and_kind(liechtenstein_places: PlaceIndex) -> None:
    parks = {poi.name: poi for poi in _everything(liechtenstein_places, PoiClass.PARKING)}
    garage = parks["Tiefgarage SAL / Lindaplatz"]
    assert (garage.capacity, garage.fee, garage.tags["parking"]) == (123, "yes", "underground")
    assert garage.osm == "node/1001399875" and garage.category == "amenity=parking"


def test_taxi_stands_in_helsinki(helsinki_places: PlaceIndex) -> None:
    taxis = _everything(helsinki_places, PoiClass.TAXI)
    assert len(taxis) == 17 and all(poi.category == "amenity=taxi" for poi in taxis)
    assert "node/316428915" in {poi.osm for poi in taxis}  # in front of the Grand Casino


def test_loading_zones_on_helsinki_streets(helsinki_places: PlaceIndex) -> None:
    zones = _everything(helsinki_places, PoiClass.LOADING_ZONE)
    fabianinkatu = [poi for poi in zones if poi.osm == "way/74307851"]
    assert len(fabianinkatu) == 1
    zone = fabianinkatu[0]
    assert (zone.name, zone.category) == ("Fabianinkatu", "parking:condition:left=loading")
    assert zone.tags["parking:condition:left"] == "loading"
    # Its point is on the street (the middle of the way), inside the map.
    assert 60.168 < zone.lat < 60.170 and 24.948 < zone.lon < 24.951


def test_public_transport_stops_with_their_lines(
    liechtenstein_places: PlaceIndex, helsinki_places: PlaceIndex
) -> None:
    for places in (liechtenstein_places, helsinki_places):
        stops = _everything(places, PoiClass.PUBLIC_TRANSPORT)
        assert stops and all(poi.poi_class is PoiClass.PUBLIC_TRANSPORT for poi in stops)
        assert sum(1 for poi in stops if poi.routes) > len(stops) / 3
    stop = {poi.osm: poi for poi in _everything(liechtenstein_places, PoiClass.PUBLIC_TRANSPORT)}
    assert stop["node/32011279"].routes == ("70",)
    assert stop["node/32011279"].category == "public_transport=stop_position"


def test_a_box_and_a_limit_nearest_the_centre_first(helsinki_places: PlaceIndex) -> None:
    box = (24.940, 60.168, 24.950, 60.172)
    found = helsinki_places.pois_now(box, limit=1000)
    assert found and all(24.940 <= p.lon <= 24.950 and 60.168 <= p.lat <= 60.172 for p in found)
    assert {p.poi_class for p in found} == set(PoiClass)
    distances = [p.distance_m or 0.0 for p in found]
    assert distances == sorted(distances)
    assert helsinki_places.pois_now(box, limit=3) == found[:3]
    taxis = helsinki_places.pois_now(box, classes=[PoiClass.TAXI])
    assert taxis == [p for p in found if p.poi_class is PoiClass.TAXI]


@pytest.mark.parametrize(
    ("bbox", "classes", "limit", "code"),
    [
        ((24.95, 60.17, 24.94, 60.18), None, 10, PlaceErrorCode.INVALID_BBOX),  # min > max
        ((2.3, 48.8, 2.4, 48.9), None, 10, PlaceErrorCode.OFF_MAP),  # Paris
        ((24.94, 60.17, 24.95, 91.0), None, 10, PlaceErrorCode.INVALID_COORDINATES),
        ((24.94, 60.17, 24.95, 60.18), None, 0, PlaceErrorCode.INVALID_LIMIT),
        ((24.94, 60.17, 24.95, 60.18), None, 1001, PlaceErrorCode.INVALID_LIMIT),
        ((24.94, 60.17, 24.95, 60.18), ["CHARGING"], 10, PlaceErrorCode.UNKNOWN_POI_CLASS),
    ],
)
def test_bad_boxes_limits_and_classes_are_typed_errors(
    helsinki_places: PlaceIndex,
    bbox: tuple[float, float, float, float],
    classes: list[PoiClass] | None,
    limit: int,
    code: PlaceErrorCode,
) -> None:
    with pytest.raises(PlaceError) as raised:
        helsinki_places.pois_now(bbox, classes=classes, limit=limit)
    assert raised.value.code is code


async def test_the_async_form_answers_the_same(helsinki_places: PlaceIndex) -> None:
    box = (24.940, 60.168, 24.950, 60.172)
    assert await helsinki_places.pois(box, limit=20) == helsinki_places.pois_now(box, limit=20)
