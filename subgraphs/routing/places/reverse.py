"""Reverse geocoding: the address at a point, else the street it is on.

The nearest address within ``ADDRESS_RADIUS_M`` (a house's own point is its entrance or its
building's centroid, so a point in front of a house is a few tens of metres from it); failing
that, the nearest named street within ``STREET_RADIUS_M``, at the point of the street nearest
the asked one; failing that, nothing (a field, a lake: the caller keeps its coordinates).
"""

from __future__ import annotations

import sqlite3

from subgraphs.routing.places import checks
from subgraphs.routing.places.geometry import degrees_around, distance_m, nearest_on_segment
from subgraphs.routing.places.types import BBox, MatchKind, Place, PlaceKind

ADDRESS_RADIUS_M = 60.0
STREET_RADIUS_M = 250.0


def reverse(db: sqlite3.Connection, lat: float, lon: float, *, bbox: BBox) -> Place | None:
    checks.on_map(lat, lon, bbox)
    return _address(db, lat, lon) or _street(db, lat, lon)


def _around(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat, dlon = degrees_around(lat, metres)
    return (lat - dlat, lat + dlat, lon - dlon, lon + dlon)


def _address(db: sqlite3.Connection, lat: float, lon: float) -> Place | None:
    rows = db.execute(
        "SELECT a.street, a.housenumber, a.postcode, a.city, a.lat, a.lon, a.osm"
        " FROM addresses_box b JOIN addresses a ON a.id = b.id"
        " WHERE b.max_lat >= ? AND b.min_lat <= ? AND b.max_lon >= ? AND b.min_lon <= ?",
        _around(lat, lon, ADDRESS_RADIUS_M),
    ).fetchall()
    near = [(distance_m((lat, lon), (row[4], row[5])), row) for row in rows]
    near = [item for item in near if item[0] <= ADDRESS_RADIUS_M]
    if not near:
        return None
    metres, (street, number, postcode, city, at_lat, at_lon, osm) = min(near)
    tail = " ".join(part for part in (postcode, city) if part)
    return Place(
        kind=PlaceKind.ADDRESS, label=f"{street} {number}" + (f", {tail}" if tail else ""),
        lat=at_lat, lon=at_lon, name=street, housenumber=number, postcode=postcode, city=city,
        category="addr:housenumber", osm=osm, match=MatchKind.NEAREST,
        explanation=f"the nearest address, {metres:.0f} m away", distance_m=round(metres, 1),
    )  # fmt: skip


def _street(db: sqlite3.Connection, lat: float, lon: float) -> Place | None:
    rows = db.execute(
        "SELECT s.name_id, s.lat1, s.lon1, s.lat2, s.lon2 FROM segments_box b"
        " JOIN segments s ON s.id = b.id"
        " WHERE b.max_lat >= ? AND b.min_lat <= ? AND b.max_lon >= ? AND b.min_lon <= ?",
        _around(lat, lon, STREET_RADIUS_M),
    ).fetchall()
    best: tuple[float, tuple[float, float], int] | None = None
    for name_id, lat1, lon1, lat2, lon2 in rows:
        metres, point = nearest_on_segment((lat, lon), (lat1, lon1), (lat2, lon2))
        if metres <= STREET_RADIUS_M and (best is None or metres < best[0]):
            best = (metres, point, name_id)
    if best is None:
        return None
    metres, (at_lat, at_lon), name_id = best
    name, category, city, postcode, osm = db.execute(
        "SELECT name, category, city, postcode, osm FROM names WHERE id = ?", (name_id,)
    ).fetchone()
    tail = " ".join(part for part in (postcode, city) if part)
    return Place(
        kind=PlaceKind.STREET, label=name + (f", {tail}" if tail else ""), lat=at_lat,
        lon=at_lon, name=name, postcode=postcode, city=city, category=category, osm=osm,
        match=MatchKind.NEAREST,
        explanation=f"no address within {ADDRESS_RADIUS_M:.0f} m; the nearest street,"
        f" {metres:.0f} m away",
        distance_m=round(metres, 1),
    )  # fmt: skip
