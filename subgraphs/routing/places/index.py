"""The places index of a map: one SQLite file beside its tiles, built from the same extract.

It is written when a map is imported (``engine.build`` calls ``build`` on the new tile set's
folder, so the index switches with the tiles), or on first use for a map imported before the
index existed. It is written beside and renamed into place: a reader sees a whole index or none.

Tables: ``names`` holds everything found by name (streets, localities, named POIs), folded, with
an FTS5 trigram index over the folded names (the typo-tolerant lookup starts there);
``addresses`` the house numbers by folded street; ``segments`` the named streets' lines for
reverse geocoding; ``pois`` the points of interest. Each has an R*Tree beside it.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from subgraphs.routing.places import extract
from subgraphs.routing.places.extract import Address, Extract, StreetWay
from subgraphs.routing.places.geometry import Point, degrees_around, distance_m
from subgraphs.routing.places.text import fold, housenumber_key
from subgraphs.routing.places.types import BBox

FILENAME = "places.sqlite"
#: Raised whenever the tables change: an index of another version is built again.
SCHEMA_VERSION = "2"
#: Pieces of one street closer than this are the same street (dual carriageways, a street cut
#: by a square); farther apart, a second street of that name (another village's "Landstrasse").
_SAME_STREET_M = 250.0
#: A street takes its city and postcode from the nearest address within this distance.
_STREET_CITY_M = 1500.0
_SAME_HOUSE_M = 100.0

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE names (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL,
    category TEXT, city TEXT, postcode TEXT, lat REAL NOT NULL, lon REAL NOT NULL, osm TEXT
);
CREATE INDEX names_folded ON names (folded);
CREATE VIRTUAL TABLE names_fts USING fts5 (
    folded, content='names', content_rowid='id', tokenize='trigram', detail='none'
);
CREATE VIRTUAL TABLE names_vocab USING fts5vocab (names_fts, 'row');
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY, street TEXT NOT NULL, street_key TEXT NOT NULL,
    housenumber TEXT NOT NULL, number_key TEXT NOT NULL, postcode TEXT, city TEXT,
    lat REAL NOT NULL, lon REAL NOT NULL, osm TEXT NOT NULL
);
CREATE INDEX addresses_street ON addresses (street_key, number_key);
CREATE VIRTUAL TABLE addresses_box USING rtree (id, min_lat, max_lat, min_lon, max_lon);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY, name_id INTEGER NOT NULL REFERENCES names (id),
    lat1 REAL NOT NULL, lon1 REAL NOT NULL, lat2 REAL NOT NULL, lon2 REAL NOT NULL
);
CREATE VIRTUAL TABLE segments_box USING rtree (id, min_lat, max_lat, min_lon, max_lon);
CREATE TABLE pois (
    id INTEGER PRIMARY KEY, class TEXT NOT NULL, category TEXT NOT NULL, name TEXT,
    lat REAL NOT NULL, lon REAL NOT NULL, osm TEXT NOT NULL, routes TEXT NOT NULL,
    tags TEXT NOT NULL
);
CREATE INDEX pois_class ON pois (class);
CREATE VIRTUAL TABLE pois_box USING rtree (id, min_lat, max_lat, min_lon, max_lon);
"""


def build(source: Path, target: Path, *, bbox: BBox) -> dict[str, int]:
    """Writes the index of ``source`` to ``target`` (replacing it whole); returns its counts."""
    started = time.perf_counter()
    data = extract.read(source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with sqlite3.connect(tmp) as db:
            db.executescript(_SCHEMA)
            counts = _fill(db, data)
            db.execute("INSERT INTO names_fts (names_fts) VALUES ('optimize')")
            meta = {
                "schema": SCHEMA_VERSION,
                "bbox": json.dumps(list(bbox)),
                "counts": json.dumps(counts),
                "build_seconds": f"{time.perf_counter() - started:.2f}",
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.close()
        with sqlite3.connect(tmp) as db:
            db.execute("VACUUM")
        db.close()
        os.chmod(tmp, 0o644)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return counts


def read_meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM meta").fetchall())


def _fill(db: sqlite3.Connection, data: Extract) -> dict[str, int]:
    address_rows = _addresses(db, data.addresses)
    streets = _streets(db, data.streets, data.addresses)
    named = 0
    for place in data.named:
        cursor = db.execute(
            "INSERT INTO names (kind, name, folded, category, city, postcode, lat, lon, osm)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (place.kind, place.name, fold(place.name), place.category, place.city,
             place.postcode, *place.point, place.osm),
        )  # fmt: skip
        named += cursor.rowcount
    db.execute("INSERT INTO names_fts (rowid, folded) SELECT id, folded FROM names")
    per_class: Counter[str] = Counter()
    for poi in data.pois:
        cursor = db.execute(
            "INSERT INTO pois (class, category, name, lat, lon, osm, routes, tags)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (poi.poi_class.value, poi.category, poi.tags.get("name"), *poi.point, poi.osm,
             json.dumps(sorted(poi.routes)), json.dumps(poi.tags, ensure_ascii=False)),
        )  # fmt: skip
        _box(db, "pois_box", cursor.lastrowid, [poi.point])
        per_class[poi.poi_class.value] += 1
    return {"addresses": address_rows, "streets": streets, "named": named, **per_class}


def _addresses(db: sqlite3.Connection, addresses: list[Address]) -> int:
    """The addresses, each once; one without a city or postcode takes those of the nearest
    address that has them (Liechtenstein's mostly have neither)."""
    known = _Grid([a for a in addresses if a.city or a.postcode])
    kept: dict[tuple[str, str], list[Point]] = defaultdict(list)
    # An entrance node and its building often both carry the address, one with less of it:
    # the fullest is kept, and a copy within _SAME_HOUSE_M of it dropped.
    fullest = sorted(addresses, key=lambda a: (a.postcode is None, a.city is None))
    for address in fullest:
        key = (fold(address.street), housenumber_key(address.housenumber))
        if any(distance_m(address.point, other) < _SAME_HOUSE_M for other in kept[key]):
            continue
        kept[key].append(address.point)
        city, postcode = address.city, address.postcode
        if city is None or postcode is None:
            nearest = known.nearest(address.point, within=_STREET_CITY_M)
            if nearest is not None:
                city, postcode = city or nearest.city, postcode or nearest.postcode
        cursor = db.execute(
            "INSERT INTO addresses (street, street_key, housenumber, number_key, postcode, city,"
            " lat, lon, osm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (address.street, key[0], address.housenumber, key[1], postcode, city,
             *address.point, address.osm),
        )  # fmt: skip
        _box(db, "addresses_box", cursor.lastrowid, [address.point])
    return sum(len(points) for points in kept.values())


class _Grid:
    """Addresses in cells of about a kilometre, for "the nearest one with a city"."""

    _CELL = 0.01

    def __init__(self, addresses: list[Address]) -> None:
        self._cells: dict[tuple[int, int], list[Address]] = defaultdict(list)
        for address in addresses:
            self._cells[self._cell(address.point)].append(address)

    def _cell(self, point: Point) -> tuple[int, int]:
        return int(point[0] // self._CELL), int(point[1] // self._CELL)

    def nearest(self, point: Point, *, within: float) -> Address | None:
        row, col = self._cell(point)
        reach = 1 + int(degrees_around(point[0], within)[1] // self._CELL)
        near = [
            address
            for r in range(row - reach, row + reach + 1)
            for c in range(col - reach, col + reach + 1)
            for address in self._cells.get((r, c), ())
        ]
        if not near:
            return None
        best = min(near, key=lambda address: distance_m(address.point, point))
        return best if distance_m(best.point, point) <= within else None


def _streets(db: sqlite3.Connection, ways: list[StreetWay], addresses: list[Address]) -> int:
    """One ``names`` row per street (ways of one name that touch or lie close), its segments,
    and a row for each street that only addresses name (a square, a path not in the extract)."""
    by_street: dict[str, list[Address]] = defaultdict(list)
    for address in addresses:
        by_street[fold(address.street)].append(address)
    every = _Grid([a for a in addresses if a.city or a.postcode])
    own = {
        key: _Grid([a for a in group if a.city or a.postcode]) for key, group in by_street.items()
    }
    nobody = _Grid([])
    count = 0
    named_keys: set[str] = set()
    for key, group in _clusters(ways):
        named_keys.add(key)
        line = [point for way in group for point in way.line]
        middle = _medoid(line)
        city, postcode = _city_of(middle, own.get(key, nobody), every)
        longest = max(group, key=lambda way: len(way.line))
        name = Counter(way.name for way in group).most_common(1)[0][0]
        name_id = _insert_name(
            db, kind="STREET", name=name, folded=key, category=longest.category, city=city,
            postcode=postcode, point=middle, osm=f"way/{longest.osm_id}",
        )  # fmt: skip
        for way in group:
            for start, end in itertools.pairwise(way.line):
                cursor = db.execute(
                    "INSERT INTO segments (name_id, lat1, lon1, lat2, lon2) VALUES (?, ?, ?, ?, ?)",
                    (name_id, *start, *end),
                )
                _box(db, "segments_box", cursor.lastrowid, [start, end])
        count += 1
    for key, houses in by_street.items():
        if key in named_keys:
            continue
        points = [address.point for address in houses]
        middle = _medoid(points)
        city, postcode = _city_of(middle, own[key], every)
        name = Counter(address.street for address in houses).most_common(1)[0][0]
        _insert_name(
            db, kind="STREET", name=name, folded=key, category="addr:street", city=city,
            postcode=postcode, point=middle, osm=None,
        )  # fmt: skip
        count += 1
    return count


def _clusters(ways: list[StreetWay]) -> Iterable[tuple[str, list[StreetWay]]]:
    """Ways of one name that share a node, or have vertices in the same or neighbouring cells
    of half ``_SAME_STREET_M``, are one street (union-find: linear in the ways, so a country's
    thousand "Hauptstrasse" cost no more than their vertices)."""
    by_name: dict[str, list[StreetWay]] = defaultdict(list)
    for way in ways:
        by_name[fold(way.name)].append(way)
    for key, group in by_name.items():
        parent = list(range(len(group)))
        first: dict[object, int] = {}
        for number, way in enumerate(group):
            dlat, dlon = degrees_around(way.line[0][0], _SAME_STREET_M / 2)
            marks: set[object] = set(way.refs)
            for lat, lon in way.line:
                row, col = int(lat // dlat), int(lon // dlon)
                marks.update((row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1))
            for mark in marks:
                other = first.setdefault(mark, number)
                parent[_root(parent, number)] = _root(parent, other)
        clusters: dict[int, list[StreetWay]] = defaultdict(list)
        for number, way in enumerate(group):
            clusters[_root(parent, number)].append(way)
        for cluster in clusters.values():
            yield key, cluster


def _root(parent: list[int], at: int) -> int:
    while parent[at] != at:
        parent[at] = parent[parent[at]]
        at = parent[at]
    return at


def _medoid(points: list[Point]) -> Point:
    """The point of ``points`` nearest their mean: on the street, not in a bend's inside."""
    lat = sum(point[0] for point in points) / len(points)
    lon = sum(point[1] for point in points) / len(points)
    return min(points, key=lambda point: distance_m(point, (lat, lon)))


def _city_of(point: Point, own: _Grid, every: _Grid) -> tuple[str | None, str | None]:
    for grid in (own, every):
        nearest = grid.nearest(point, within=_STREET_CITY_M)
        if nearest is not None:
            return nearest.city, nearest.postcode
    return None, None


def _insert_name(
    db: sqlite3.Connection,
    *,
    kind: str,
    name: str,
    folded: str,
    category: str | None,
    city: str | None,
    postcode: str | None,
    point: Point,
    osm: str | None,
) -> int:
    cursor = db.execute(
        "INSERT INTO names (kind, name, folded, category, city, postcode, lat, lon, osm)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, name, folded, category, city, postcode, *point, osm),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _box(db: sqlite3.Connection, table: str, row: int | None, points: list[Point]) -> None:
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    db.execute(
        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
        (row, min(lats), max(lats), min(lons), max(lons)),
    )
