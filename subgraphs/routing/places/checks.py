"""The checks every question to the index starts with: each failure is a ``PlaceError``."""

from __future__ import annotations

import math

from subgraphs.routing.places.types import BBox, PlaceError, PlaceErrorCode

#: Longer than any address; past it a query is refused before any work is done.
MAX_QUERY = 200
#: Words and numbers: an address has a handful; each more costs every candidate's scoring.
MAX_WORDS = 16
MAX_LIMIT = 50
MAX_POI_LIMIT = 1000


def coordinates(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise PlaceError(
            PlaceErrorCode.INVALID_COORDINATES, f"({lat}, {lon}) is not a latitude and longitude"
        )


def on_map(lat: float, lon: float, bbox: BBox) -> None:
    coordinates(lat, lon)
    min_lon, min_lat, max_lon, max_lat = bbox
    if not (min_lat <= lat <= max_lat and min_lon <= lon <= max_lon):
        raise PlaceError(
            PlaceErrorCode.OFF_MAP,
            f"({lat}, {lon}) is off the map (lat {min_lat} to {max_lat}, "
            f"lon {min_lon} to {max_lon})",
        )


def query(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise PlaceError(PlaceErrorCode.EMPTY_QUERY, "the place to look for is empty")
    if len(stripped) > MAX_QUERY:
        raise PlaceError(
            PlaceErrorCode.QUERY_TOO_LONG,
            f"the place to look for is {len(stripped)} characters long (at most {MAX_QUERY})",
        )
    return stripped


def word_count(count: int) -> None:
    if count > MAX_WORDS:
        raise PlaceError(
            PlaceErrorCode.QUERY_TOO_LONG,
            f"the place to look for has {count} words and numbers (at most {MAX_WORDS})",
        )


def limit(value: int, *, most: int) -> None:
    if not 1 <= value <= most:
        raise PlaceError(PlaceErrorCode.INVALID_LIMIT, f"limit {value} is not from 1 to {most}")


def box(bbox: BBox, map_bbox: BBox) -> None:
    min_lon, min_lat, max_lon, max_lat = bbox
    coordinates(min_lat, min_lon)
    coordinates(max_lat, max_lon)
    if min_lat >= max_lat or min_lon >= max_lon:
        raise PlaceError(
            PlaceErrorCode.INVALID_BBOX,
            f"bbox {list(bbox)} is not min_lon, min_lat, max_lon, max_lat with min < max",
        )
    map_min_lon, map_min_lat, map_max_lon, map_max_lat = map_bbox
    if (
        max_lat < map_min_lat
        or min_lat > map_max_lat
        or max_lon < map_min_lon
        or min_lon > map_max_lon
    ):
        raise PlaceError(PlaceErrorCode.OFF_MAP, f"bbox {list(bbox)} lies wholly off the map")
