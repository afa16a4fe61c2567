"""Points of interest of the map in a box: car parks, taxi stands, loading zones, public
transport stops (which tags make each: ``poi_tags``). Charging stations are not here: the
locations subgraph owns them and the graph federates them beside these."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from subgraphs.routing.places import checks, poi_tags
from subgraphs.routing.places.geometry import distance_m
from subgraphs.routing.places.types import BBox, PlaceError, PlaceErrorCode, Poi, PoiClass


def pois(
    db: sqlite3.Connection,
    bbox: BBox,
    *,
    classes: Collection[PoiClass] | None,
    limit: int,
    map_bbox: BBox,
) -> list[Poi]:
    """The POIs of ``classes`` (all four when None) in ``bbox``, nearest its centre first."""
    checks.box(bbox, map_bbox)
    checks.limit(limit, most=checks.MAX_POI_LIMIT)
    wanted = sorted(_classes(classes))
    if not wanted:
        return []
    min_lon, min_lat, max_lon, max_lat = bbox
    marks = ", ".join("?" * len(wanted))
    rows = db.execute(
        "SELECT p.class, p.category, p.name, p.lat, p.lon, p.osm, p.routes, p.tags"
        " FROM pois_box b JOIN pois p ON p.id = b.id"
        " WHERE b.min_lat >= ? AND b.max_lat <= ? AND b.min_lon >= ? AND b.max_lon <= ?"
        f" AND p.class IN ({marks})",
        (min_lat, max_lat, min_lon, max_lon, *wanted),
    ).fetchall()
    middle = ((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
    found = [_poi(row, distance_m(middle, (row[3], row[4]))) for row in rows]
    found.sort(key=lambda poi: (poi.distance_m or 0.0, poi.osm))
    return found[:limit]


def _classes(classes: Collection[PoiClass] | None) -> set[str]:
    if classes is None:
        return {poi_class.value for poi_class in PoiClass}
    known = {poi_class.value for poi_class in PoiClass}
    for poi_class in classes:
        if poi_class not in known:
            raise PlaceError(
                PlaceErrorCode.UNKNOWN_POI_CLASS,
                f"no points of interest of class {poi_class!r} (known: {', '.join(sorted(known))})",
            )
    return {str(poi_class) for poi_class in classes}


def _poi(row: tuple[str, str, str | None, float, float, str, str, str], metres: float) -> Poi:
    poi_class, category, name, lat, lon, osm, routes, raw = row
    tags: dict[str, str] = json.loads(raw)
    own = category.split("=", 1)[0]  # the tag that made it a POI, e.g. a street's loading side
    return Poi(
        poi_class=PoiClass(poi_class), lat=lat, lon=lon, name=name, category=category, osm=osm,
        capacity=poi_tags.capacity(tags), fee=tags.get("fee"), operator=tags.get("operator"),
        routes=tuple(json.loads(routes)),
        tags={key: tags[key] for key in (*poi_tags.USEFUL_TAGS, own) if key in tags},
        distance_m=round(metres, 1),
    )  # fmt: skip
