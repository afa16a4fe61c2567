"""The map's places in the graph: geocoding, reverse geocoding, points of interest, and the
address of a ``PlaceInput``, over the places library (subgraphs/routing/places/).

One ``MapPlaces`` per data directory, following the active map as the route pool does. The
library's ``PlaceError`` codes become the graph's codes here (``graph_errors``), with the
library's own code kept as ``extensions.reason``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import cast

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from incar.settings import Settings
from subgraphs.common.errors import Code, error
from subgraphs.routing.graph import engine
from subgraphs.routing.places import MapPlaces
from subgraphs.routing.places import types as places
from subgraphs.routing.places.geometry import distance_m
from subgraphs.routing.places.types import PlaceError, PlaceErrorCode

#: The best match is ambiguous when the runner-up scores within this of it and lies farther
#: than ``AMBIGUOUS_APART_M`` from it ("Landstrasse": one in each of several villages).
AMBIGUOUS_MARGIN = 0.05
AMBIGUOUS_APART_M = 300.0
#: How many candidates an unresolved address's error carries.
CANDIDATES = 5

_GRAPH_CODE = {
    # Every code of the library is the caller's doing except these two.
    PlaceErrorCode.OFF_MAP: Code.OFF_MAP,
    PlaceErrorCode.INDEX_UNAVAILABLE: Code.ROUTING_UNAVAILABLE,
}

_places: dict[Path, MapPlaces] = {}


def places_for(settings: Settings) -> MapPlaces:
    """The process's places of the active map under ``settings.data_dir``."""
    key = settings.data_dir.resolve()
    found = _places.get(key)
    if found is None:
        found = _places[key] = MapPlaces(settings.data_dir)
    return found


def graph_error(problem: PlaceError, settings: Settings, what: str | None = None) -> GraphQLError:
    if problem.code is PlaceErrorCode.INDEX_UNAVAILABLE:
        # No map yet is the engine's to tell: it builds the default map on first use (then
        # ROUTING_NOT_READY), or says why it has none; an index missing beside a working
        # map is ROUTING_UNAVAILABLE with the index's own reason.
        engine.pool(settings)
    code = _GRAPH_CODE.get(problem.code, Code.BAD_USER_INPUT)
    message = f"{what}: {problem.message}" if what else problem.message
    return error(code, message, reason=problem.code.value)


@contextmanager
def graph_errors(settings: Settings, what: str | None = None) -> Iterator[None]:
    try:
        yield
    except PlaceError as problem:
        raise graph_error(problem, settings, what) from None


@strawberry.enum(description="What a place is.")
class PlaceKind(Enum):
    ADDRESS = strawberry.enum_value("ADDRESS", description="A house: street and number.")
    STREET = strawberry.enum_value("STREET", description="A named street.")
    LOCALITY = strawberry.enum_value(
        "LOCALITY", description="A settlement or area (town, village, suburb...)."
    )
    POI = strawberry.enum_value("POI", description="A named amenity, shop, station or the like.")


@strawberry.enum(description="How the text asked for met the place's name.")
class MatchKind(Enum):
    EXACT = strawberry.enum_value("EXACT", description="The same letters, case aside.")
    FOLDED = strawberry.enum_value(
        "FOLDED", description="The same once accents are folded (Toolo for Töölö)."
    )
    FUZZY = strawberry.enum_value("FUZZY", description="Within one or two typos.")
    NEAREST = strawberry.enum_value(
        "NEAREST", description="Found by its position (reverse geocoding)."
    )


@strawberry.enum(description="A class of points of interest of the map.")
class PoiClass(Enum):
    PARKING = strawberry.enum_value("PARKING", description="Car parks and parking lanes.")
    TAXI = strawberry.enum_value("TAXI", description="Taxi stands.")
    LOADING_ZONE = strawberry.enum_value("LOADING_ZONE", description="Loading and unloading zones.")
    PUBLIC_TRANSPORT = strawberry.enum_value(
        "PUBLIC_TRANSPORT", description="Bus, tram and train stops and stations."
    )


@strawberry.type(description="A point in WGS 84 degrees.")
class Coordinates:
    latitude: float = strawberry.field(description="Degrees north.")
    longitude: float = strawberry.field(description="Degrees east.")


@strawberry.type(description="A place of the map's own OpenStreetMap data.")
class Place:
    label: str = strawberry.field(description='One line: "Städtle 32, 9490 Vaduz".')
    coordinates: Coordinates = strawberry.field(description="Where it is.")
    kind: PlaceKind = strawberry.field(description="What it is.")
    name: str = strawberry.field(
        description="The street's, locality's or POI's own name (an address's street)."
    )
    housenumber: str | None = strawberry.field(description="An address's house number.")
    postcode: str | None = strawberry.field(description="Its postcode, where known.")
    city: str | None = strawberry.field(description="Its town or city, where known.")
    category: str | None = strawberry.field(
        description='The OSM tag that makes it what it is: "place=town", "amenity=cafe".'
    )
    osm: str | None = strawberry.field(description='Its OSM element: "node/123", "way/456".')
    score: float = strawberry.field(description="How well it answers the question, 0 to 1.")
    match: MatchKind = strawberry.field(description="How its name was matched.")
    explanation: str = strawberry.field(description="Why it matched, in words.")
    distance_meters: float | None = strawberry.field(
        description="From the point asked about (reverse) or `near` (geocode); null without."
    )

    @classmethod
    def of(cls, place: places.Place) -> Place:
        return cls(
            label=place.label,
            coordinates=Coordinates(latitude=place.lat, longitude=place.lon),
            kind=PlaceKind(place.kind.value),
            name=place.name,
            housenumber=place.housenumber,
            postcode=place.postcode,
            city=place.city,
            category=place.category,
            osm=place.osm,
            score=round(place.score, 3),
            match=MatchKind(place.match.value),
            explanation=place.explanation,
            distance_meters=None if place.distance_m is None else round(place.distance_m, 1),
        )


@strawberry.type(description="A point of interest of the map (charging stations: see stations).")
class PointOfInterest:
    poi_class: PoiClass = strawberry.field(name="class", description="Its class.")
    coordinates: Coordinates = strawberry.field(description="Where it is.")
    name: str | None = strawberry.field(description="Its name, where OSM has one.")
    category: str = strawberry.field(
        description='What exactly it is: "amenity=parking", "highway=bus_stop".'
    )
    osm: str = strawberry.field(description='Its OSM element: "node/123", "way/456".')
    capacity: int | None = strawberry.field(description="A car park's spaces, where known.")
    fee: str | None = strawberry.field(description="OSM's fee=* (yes, no, ...), where known.")
    operator: str | None = strawberry.field(description="Who runs it, where known.")
    routes: list[str] = strawberry.field(description="Public transport lines calling here.")
    tags: JSON = strawberry.field(
        description="Its other useful OSM tags as OSM has them (parking, access, shelter...)."
    )
    distance_meters: float | None = strawberry.field(
        description="From the middle of the box asked about."
    )

    @classmethod
    def of(cls, poi: places.Poi) -> PointOfInterest:
        return cls(
            poi_class=PoiClass(poi.poi_class.value),
            coordinates=Coordinates(latitude=poi.lat, longitude=poi.lon),
            name=poi.name,
            category=poi.category,
            osm=poi.osm,
            capacity=poi.capacity,
            fee=poi.fee,
            operator=poi.operator,
            routes=list(poi.routes),
            tags=cast(JSON, dict(poi.tags)),
            distance_meters=None if poi.distance_m is None else round(poi.distance_m, 1),
        )


@strawberry.input(description="A box on the map, in WGS 84 degrees.")
class BoundingBoxInput:
    west: float = strawberry.field(description="Its least longitude.")
    south: float = strawberry.field(description="Its least latitude.")
    east: float = strawberry.field(description="Its greatest longitude.")
    north: float = strawberry.field(description="Its greatest latitude.")

    def bbox(self) -> places.BBox:
        return (self.west, self.south, self.east, self.north)


def poi_classes(classes: Sequence[PoiClass] | None) -> list[places.PoiClass] | None:
    return None if classes is None else [places.PoiClass(c.name) for c in classes]


def _candidates(found: Sequence[places.Place]) -> list[dict[str, object]]:
    return [
        {
            "label": place.label,
            "kind": place.kind.value,
            "score": round(place.score, 3),
            "latitude": place.lat,
            "longitude": place.lon,
        }
        for place in found[:CANDIDATES]
    ]


def best(found: Sequence[places.Place], text: str, what: str) -> places.Place:
    """The one place ``text`` means: PLACE_NOT_FOUND without any, PLACE_AMBIGUOUS when a
    distinct place scores about as well; both carry the candidates in ``extensions``."""
    if not found:
        raise error(
            Code.PLACE_NOT_FOUND, f"{what}: no place of the map matches {text!r}", candidates=[]
        )
    first = found[0]
    rivals = [
        other
        for other in found[1:]
        if first.score - other.score <= AMBIGUOUS_MARGIN
        and distance_m((first.lat, first.lon), (other.lat, other.lon)) > AMBIGUOUS_APART_M
    ]
    if rivals:
        raise error(
            Code.PLACE_AMBIGUOUS,
            f"{what}: {text!r} may be {first.label!r} or {rivals[0].label!r}: say which "
            "(a house number, a postcode or a town)",
            candidates=_candidates(found),
        )
    return first


async def geocoded(settings: Settings, text: str, what: str) -> places.Place:
    """The place an address or place name given as a trip's end means."""
    with graph_errors(settings, what):
        found = await places_for(settings).geocode(text, limit=CANDIDATES)
    return best(found, text, what)
