"""Reads what the index needs out of an OpenStreetMap extract, in one pass of pyosmium.

pyosmium (libosmium's bindings) keeps the nodes' locations while it reads, so a way arrives
with its coordinates: a building outline gives its address at its centroid, a street its line.
Multipolygons (a building with a courtyard, a car park drawn as a relation) are assembled by
libosmium's area handler and give theirs at the centroid of their largest outer ring. The
extract was checked by ``engine.pbf`` before this runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from subgraphs.routing.engine.pbf import MapInputError
from subgraphs.routing.places import poi_tags
from subgraphs.routing.places.geometry import Point, centre
from subgraphs.routing.places.types import PoiClass

#: highway=* values whose name is not a street's.
_NOT_STREETS = frozenset(
    {"platform", "bus_stop", "elevator", "proposed", "construction", "abandoned", "razed"}
)
#: Keys whose named elements can be looked up by name (a café, a station, a school).
_NAMED_KEYS = (
    "amenity", "shop", "tourism", "office", "leisure", "historic", "craft", "healthcare",
    "aeroway", "public_transport", "railway",
)  # fmt: skip
_ROUTE_TYPES = frozenset(
    {"bus", "tram", "train", "subway", "light_rail", "trolleybus", "ferry", "monorail",
     "share_taxi", "funicular", "aerialway", "coach"}
)  # fmt: skip
#: Longer values than these are not an address (OSM has a few notes typed into addr:*).
_MAX_NAME = 120
_MAX_NUMBER = 20


@dataclass(slots=True)
class Address:
    street: str
    housenumber: str
    postcode: str | None
    city: str | None
    point: Point
    osm: str


@dataclass(slots=True)
class Named:
    name: str
    #: "LOCALITY" for place=*, else "POI".
    kind: str
    category: str
    point: Point
    osm: str
    postcode: str | None = None
    city: str | None = None


@dataclass(slots=True)
class StreetWay:
    name: str
    category: str
    osm_id: int
    refs: list[int]
    line: list[Point]


@dataclass(slots=True)
class PoiRecord:
    poi_class: PoiClass
    category: str
    point: Point
    osm: str
    tags: dict[str, str]
    routes: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Extract:
    addresses: list[Address] = field(default_factory=list)
    named: list[Named] = field(default_factory=list)
    streets: list[StreetWay] = field(default_factory=list)
    pois: list[PoiRecord] = field(default_factory=list)


def read(path: Path) -> Extract:
    """Addresses, named places, named streets and POIs of the extract at ``path``;
    MapInputError when a block cannot be decoded (``engine.pbf`` checks the framing only)."""
    try:
        return _read(path)
    except RuntimeError as error:  # libosmium's: "failed to uncompress data: data error"
        raise MapInputError(f"{path}: damaged ({error})") from None


def _read(path: Path) -> Extract:
    out = Extract()
    pois: dict[str, PoiRecord] = {}
    routes: dict[str, set[str]] = defaultdict(set)
    for element in osmium.FileProcessor(str(path)).with_locations().with_areas():
        if not element.tags:
            continue
        tags = {tag.k: tag.v for tag in element.tags}
        if isinstance(element, osmium.osm.Area):
            if not element.from_way():  # a closed way came as a way already
                rings = [[(n.lat, n.lon) for n in ring] for ring in element.outer_rings()]
                if rings:
                    largest = max(rings, key=len)
                    _take(out, pois, tags, f"relation/{element.orig_id()}", centre(largest))
        elif isinstance(element, osmium.osm.Node):
            location = element.location
            if not location.valid():
                continue
            _take(out, pois, tags, f"node/{element.id}", (location.lat, location.lon))
        elif isinstance(element, osmium.osm.Way):
            refs, line = [], []
            for node in element.nodes:
                if node.location.valid():
                    refs.append(node.ref)
                    line.append((node.location.lat, node.location.lon))
            if not line:
                continue
            _take(out, pois, tags, f"way/{element.id}", centre(line))
            highway, name = tags.get("highway"), _fit(tags.get("name"), _MAX_NAME)
            if highway and name and highway not in _NOT_STREETS and len(line) > 1:
                out.streets.append(StreetWay(name, f"highway={highway}", element.id, refs, line))
        elif isinstance(element, osmium.osm.Relation) and tags.get("route") in _ROUTE_TYPES:
            line_name = tags.get("ref") or tags.get("name")
            if line_name:
                for member in element.members:
                    kind = {"n": "node", "w": "way"}.get(member.type)
                    if kind:
                        routes[f"{kind}/{member.ref}"].add(line_name)
    for osm, poi in pois.items():
        poi.routes = routes.get(osm) or set(_split(poi.tags.get("route_ref")))
        out.pois.append(poi)
    return out


def _take(
    out: Extract, pois: dict[str, PoiRecord], tags: Mapping[str, str], osm: str, point: Point
) -> None:
    street = _fit(tags.get("addr:street") or tags.get("addr:place"), _MAX_NAME)
    number = _fit(tags.get("addr:housenumber"), _MAX_NUMBER)
    postcode = _fit(tags.get("addr:postcode"), _MAX_NUMBER)
    city = _fit(tags.get("addr:city"), _MAX_NAME)
    if street and number:
        out.addresses.append(Address(street, number, postcode, city, point, osm))
    name = _fit(tags.get("name"), _MAX_NAME)
    if name:
        if "place" in tags:
            out.named.append(Named(name, "LOCALITY", f"place={tags['place']}", point, osm))
        else:
            for key in _NAMED_KEYS:
                if key in tags:
                    category = f"{key}={tags[key]}"
                    out.named.append(Named(name, "POI", category, point, osm, postcode, city))
                    break
    classified = poi_tags.classify(tags)
    if classified is not None:
        poi_class, category = classified
        pois[osm] = PoiRecord(poi_class, category, point, osm, dict(tags))


def _fit(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= limit else None


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]
