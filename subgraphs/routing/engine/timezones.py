"""The time-zone database the tile builder reads (``mjolnir.timezone``), written for one map.

Valhalla reads a request's ``date_time`` as the local time of the zone its tiles give the
start's road, and measures "how far ahead" (its live-traffic fade over the first hour) from
the same clock. Tiles built without a time-zone database give every road no zone, and
Valhalla then reads the time as UTC: a local time from us is off by the zone's offset. The
builder takes the zones from a SpatiaLite file with Valhalla's ``tz_world`` table (its
``valhalla_build_timezones`` makes it from the world's zone polygons, a download we do not
make); this one holds one polygon, the whole Earth, in the map's zone, which is the rule
``regions`` follows for the map's local times already (a map is one city or one small
country, in the zone of its centre).

The file is written with the SpatiaLite and SQLite libraries inside the pyvalhalla wheel
(through ctypes: Python's own sqlite3 here cannot load extensions), the very ones the
builder reads it with, so the format is theirs. ``python -m subgraphs.routing.engine.timezones
FILE ZONE`` writes it in a process of its own, as the builder's phases run: a C library that
crashes takes that process down, not the one switching maps.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from functools import cache
from pathlib import Path

#: The table and column Valhalla's reader queries (mjolnir/admin.cc, GetTimeZones).
_TABLE = "tz_world"
_EARTH = "MULTIPOLYGON(((-180 -90, 180 -90, 180 90, -180 90, -180 -90)))"
_SQLITE_OPEN_READWRITE_CREATE = 0x2 | 0x4


class TimeZoneError(RuntimeError):
    """The database could not be written; one line saying why."""


def canonical(zone: str) -> str:
    """The zone's name as Valhalla knows it. Its list holds no links, and the builder stops at
    one ("Europe/Vaduz can't be resolved to a non-deprecated time zone": a link to
    Europe/Zurich in the tz database's ``backward`` file, though Debian's own database keeps
    Vaduz a zone). The list is the one compiled into the wheel: the tz database's source
    text, whose ``Zone`` and ``Link`` lines are read from the library itself."""
    zones, links = _valhalla_zones()
    seen = {zone}
    while zone in links and links[zone] not in seen:
        zone = links[zone]
        seen.add(zone)
    if zones and zone not in zones:
        raise TimeZoneError(f"{zone} is not a time zone Valhalla knows")
    return zone


_ZONE = re.compile(rb"(?m)^Zone\s+([A-Za-z0-9/_+-]+)\s")
_LINK = re.compile(rb"(?m)^Link\s+([A-Za-z0-9/_+-]+)\s+([A-Za-z0-9/_+-]+)\s")


@cache
def _valhalla_zones() -> tuple[frozenset[str], dict[str, str]]:
    """Valhalla's zones and its links (name to target); empty if the library is not found."""
    spec = importlib.util.find_spec("valhalla")
    if spec is None or not spec.submodule_search_locations:
        return frozenset(), {}
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_valhalla*.so"))
    if not found:
        return frozenset(), {}
    text = found[0].read_bytes()
    zones = frozenset(m.group(1).decode() for m in _ZONE.finditer(text))
    links = {m.group(2).decode(): m.group(1).decode() for m in _LINK.finditer(text)}
    return zones, links


def write(path: Path, zone: str) -> None:
    """Writes the database for ``zone`` (canonical) at ``path`` in a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", __name__, str(path), zone],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise TimeZoneError(lines[-1] if lines else f"exit status {done.returncode}")
    _check(path, zone)


def _check(path: Path, zone: str) -> None:
    """What the builder will read: the zone's row, its geometry column and spatial index
    (SpatiaLite's AddGeometryColumn and CreateSpatialIndex refuse by answering 0, which
    sqlite3_exec does not see as an error). Read with Python's own sqlite3: plain tables."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            zones = [row[0] for row in db.execute(f"SELECT TZID FROM {_TABLE}")]
            indexed = db.execute(
                "SELECT spatial_index_enabled FROM geometry_columns WHERE f_table_name = ?",
                (_TABLE,),
            ).fetchall()
            entries = db.execute(f"SELECT count(*) FROM idx_{_TABLE}_geom").fetchone()[0]
    except sqlite3.Error as problem:
        raise TimeZoneError(f"{path}: not a time-zone database ({problem})") from None
    if zones != [zone] or indexed != [(1,)] or entries != 1:
        raise TimeZoneError(f"{path}: not the one polygon of {zone} with its spatial index")


def _wheel_library(stem: str) -> ctypes.CDLL:
    spec = importlib.util.find_spec("valhalla")
    if spec is None or spec.origin is None:
        raise TimeZoneError("pyvalhalla is not installed")
    found = sorted((Path(spec.origin).parent.parent / "pyvalhalla.libs").glob(f"{stem}-*.so*"))
    if not found:
        raise TimeZoneError(f"the pyvalhalla wheel has no {stem}")
    return ctypes.CDLL(str(found[0]))


def _write_here(path: Path, zone: str) -> None:
    sqlite = _wheel_library("libsqlite3")
    spatialite = _wheel_library("libspatialite")
    spatialite.spatialite_alloc_connection.restype = ctypes.c_void_p
    path.unlink(missing_ok=True)
    db = ctypes.c_void_p()
    if sqlite.sqlite3_open_v2(
        str(path).encode(), ctypes.byref(db), _SQLITE_OPEN_READWRITE_CREATE, None
    ):
        raise TimeZoneError(f"{path}: cannot be created")
    connection = ctypes.c_void_p(spatialite.spatialite_alloc_connection())
    spatialite.spatialite_init_ex(db, connection, 0)
    try:
        quoted = zone.replace("'", "''")
        for sql in (
            "SELECT InitSpatialMetadata(1, 'WGS84')",  # only EPSG:4326, not every SRS
            f"CREATE TABLE {_TABLE} (pk INTEGER PRIMARY KEY, TZID TEXT NOT NULL)",
            f"SELECT AddGeometryColumn('{_TABLE}', 'geom', 4326, 'MULTIPOLYGON', 2)",
            f"INSERT INTO {_TABLE} (TZID, geom) VALUES ('{quoted}', "
            f"GeomFromText('{_EARTH}', 4326))",
            f"SELECT CreateSpatialIndex('{_TABLE}', 'geom')",
        ):
            message = ctypes.c_char_p()
            if sqlite.sqlite3_exec(db, sql.encode(), None, None, ctypes.byref(message)):
                reason = (message.value or b"").decode("utf-8", "replace")
                raise TimeZoneError(f"{path}: {sql.split('(')[0]} failed ({reason})")
    finally:
        sqlite.sqlite3_close(db)
        spatialite.spatialite_cleanup_ex(connection)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m subgraphs.routing.engine.timezones FILE ZONE", file=sys.stderr)
        return 2
    try:
        _write_here(Path(argv[0]), argv[1])
    except TimeZoneError as problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
