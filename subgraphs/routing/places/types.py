"""The values the places library hands out, and its one error type.

Nothing here imports the rest of the project: the routing subgraph's GraphQL types wrap these
values, and map ``PlaceError.code`` onto the graph's error codes (every code here is the
caller's doing, so BAD_USER_INPUT, except ``INDEX_UNAVAILABLE``, which is the platform's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: min_lon, min_lat, max_lon, max_lat in degrees, as ``incar.maps.BBox``.
BBox = tuple[float, float, float, float]


class PlaceErrorCode(StrEnum):
    EMPTY_QUERY = "EMPTY_QUERY"
    QUERY_TOO_LONG = "QUERY_TOO_LONG"
    #: Not a latitude/longitude pair (out of range, NaN, infinite).
    INVALID_COORDINATES = "INVALID_COORDINATES"
    #: A point (or a whole box) outside the active map's bounding box.
    OFF_MAP = "OFF_MAP"
    INVALID_BBOX = "INVALID_BBOX"
    INVALID_LIMIT = "INVALID_LIMIT"
    UNKNOWN_POI_CLASS = "UNKNOWN_POI_CLASS"
    #: No map yet, or its index cannot be read or built.
    INDEX_UNAVAILABLE = "INDEX_UNAVAILABLE"


class PlaceError(ValueError):
    """A question the index cannot answer as asked; ``code`` says why, the message is one line."""

    def __init__(self, code: PlaceErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PlaceKind(StrEnum):
    #: A house: street, number, postcode and city (a node or a building's centroid).
    ADDRESS = "ADDRESS"
    #: A named street (highway=* with a name, or a street only addresses name).
    STREET = "STREET"
    #: A settlement or area: place=city/town/village/suburb/...
    LOCALITY = "LOCALITY"
    #: A named amenity, shop, station or the like.
    POI = "POI"


class MatchKind(StrEnum):
    """How the query's name met the place's."""

    #: The same letters, case aside.
    EXACT = "EXACT"
    #: The same once accents are folded ("Toolo" for "Töölö").
    FOLDED = "FOLDED"
    #: Within one or two edits of the folded name.
    FUZZY = "FUZZY"
    #: Found by its position (reverse geocoding).
    NEAREST = "NEAREST"


@dataclass(frozen=True, slots=True)
class Place:
    kind: PlaceKind
    #: A one-line label: "Äulestrasse 12, 9490 Vaduz", "Vaduz", "Kamppi (shop=mall)".
    label: str
    lat: float
    lon: float
    #: The street's, locality's or POI's own name (for an address: its street).
    name: str
    housenumber: str | None = None
    postcode: str | None = None
    city: str | None = None
    #: The OSM tag that makes it what it is: "place=town", "amenity=cafe", "highway=primary".
    category: str | None = None
    #: The OSM element it comes from: "node/123", "way/456".
    osm: str | None = None
    #: From 0 to 1: how well it answers the query (1 for reverse geocoding's exact hits).
    score: float = 1.0
    match: MatchKind = MatchKind.EXACT
    #: Why it matched, in words: "street 'Äulestrasse' within 1 edit, house number 12".
    explanation: str = ""
    #: Metres from the ``near`` point (geocode) or the asked point (reverse); None without one.
    distance_m: float | None = None


class PoiClass(StrEnum):
    PARKING = "PARKING"
    TAXI = "TAXI"
    LOADING_ZONE = "LOADING_ZONE"
    PUBLIC_TRANSPORT = "PUBLIC_TRANSPORT"


@dataclass(frozen=True, slots=True)
class Poi:
    poi_class: PoiClass
    lat: float
    lon: float
    name: str | None
    #: What exactly it is: "amenity=parking", "highway=bus_stop", "parking:right:restriction".
    category: str
    osm: str
    capacity: int | None = None
    fee: str | None = None
    operator: str | None = None
    #: Public transport lines calling here (route relations' refs, else the stop's route_ref).
    routes: tuple[str, ...] = ()
    #: The other useful tags as OSM has them (parking=*, access, maxstay, shelter, ...).
    tags: dict[str, str] = field(default_factory=dict)
    distance_m: float | None = None
