"""Places of the map: geocoding, reverse geocoding and points of interest, from the active
map's own OpenStreetMap extract.

``index`` builds one SQLite file per tile set from the extract (``extract`` reads it), at import
time or on first use; ``geocoder``, ``reverse`` and ``pois`` answer from it; ``service`` opens
the active map's index for async callers (``MapPlaces`` follows the active map). Values and
the one error type are in ``types``.
"""

from subgraphs.routing.places.service import MapPlaces, PlaceIndex, index_of, open_index
from subgraphs.routing.places.types import (
    MatchKind,
    Place,
    PlaceError,
    PlaceErrorCode,
    PlaceKind,
    Poi,
    PoiClass,
)

__all__ = [
    "MapPlaces",
    "MatchKind",
    "Place",
    "PlaceError",
    "PlaceErrorCode",
    "PlaceIndex",
    "PlaceKind",
    "Poi",
    "PoiClass",
    "index_of",
    "open_index",
]
