"""The places of the active map, for async callers: ``MapPlaces(data_dir)`` follows the active
map (as the route pool does); ``await open_index(data_dir)`` opens the index of the map active
now. Both answer ``geocode``, ``reverse`` and ``pois``.

Each question runs on a worker thread (``asyncio.to_thread``): a lookup reads SQLite and scores
candidates in Python for a millisecond or so, and the event loop serving the other subgraphs
should not wait on it. Each thread keeps its own read-only connection (a connection is not to
be shared across threads). An index follows its map: ``open_index`` opens the active map's, and
builds it first for a map imported before the index existed (once: other callers wait).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Collection
from pathlib import Path

from incar import maps
from subgraphs.routing.engine.pbf import MapInputError
from subgraphs.routing.places import geocoder, index, pois, reverse
from subgraphs.routing.places.geometry import Point
from subgraphs.routing.places.types import BBox, Place, PlaceError, PlaceErrorCode, Poi, PoiClass

_building = threading.Lock()


class PlaceIndex:
    """One map's index, read-only; safe to share between threads and tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        meta = index.read_meta(self._db())
        if meta.get("schema") != index.SCHEMA_VERSION:
            raise PlaceError(
                PlaceErrorCode.INDEX_UNAVAILABLE,
                f"{path}: index of schema {meta.get('schema')}, not {index.SCHEMA_VERSION}",
            )
        left, bottom, right, top = json.loads(meta["bbox"])
        self.bbox: BBox = (left, bottom, right, top)
        #: Rows per table and POIs per class, as built (``incar map show`` prints them).
        self.counts: dict[str, int] = json.loads(meta["counts"])

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
            self._local.db = db
        return db

    # The blocking forms, for a caller already on a worker thread (and the benchmark).
    def geocode_now(self, text: str, *, near: Point | None = None, limit: int = 5) -> list[Place]:
        return geocoder.geocode(self._db(), text, near=near, limit=limit)

    def reverse_now(self, lat: float, lon: float) -> Place | None:
        return reverse.reverse(self._db(), lat, lon, bbox=self.bbox)

    def pois_now(
        self, bbox: BBox, *, classes: Collection[PoiClass] | None = None, limit: int = 200
    ) -> list[Poi]:
        return pois.pois(self._db(), bbox, classes=classes, limit=limit, map_bbox=self.bbox)

    async def geocode(self, text: str, *, near: Point | None = None, limit: int = 5) -> list[Place]:
        """Places that ``text`` names (an address in any order, a street, a town, a named
        POI), best first with a score and an explanation; [] when the map has none."""
        return await asyncio.to_thread(self.geocode_now, text, near=near, limit=limit)

    async def reverse(self, lat: float, lon: float) -> Place | None:
        """The address at a point, else the nearest street (``reverse.ADDRESS_RADIUS_M``,
        ``reverse.STREET_RADIUS_M``), else None; PlaceError(OFF_MAP) off the map."""
        return await asyncio.to_thread(self.reverse_now, lat, lon)

    async def pois(
        self, bbox: BBox, *, classes: Collection[PoiClass] | None = None, limit: int = 200
    ) -> list[Poi]:
        """The map's POIs of ``classes`` (all when None) in ``bbox``, nearest its centre first."""
        return await asyncio.to_thread(self.pois_now, bbox, classes=classes, limit=limit)


def build_beside(folder: Path, *, bbox: BBox) -> dict[str, int]:
    """Builds the index of the tile set in ``folder`` from its own copy of the extract."""
    return index.build(folder / maps.SOURCE, folder / index.FILENAME, bbox=bbox)


def index_of(data_dir: Path) -> PlaceIndex:
    """The active map's index, built first if the map has none (blocking)."""
    try:
        manifest = maps.read_active(data_dir)
    except maps.ManifestError as error:
        raise PlaceError(PlaceErrorCode.INDEX_UNAVAILABLE, str(error)) from None
    if manifest is None:
        raise PlaceError(PlaceErrorCode.INDEX_UNAVAILABLE, "no map yet: import one first")
    folder = maps.tileset_dir(data_dir, manifest.id)
    path = folder / index.FILENAME
    with _building:
        try:
            return PlaceIndex(path)
        except (sqlite3.Error, PlaceError, KeyError, ValueError):
            pass  # missing (a map imported before the index), or of an older schema
        try:
            build_beside(folder, bbox=manifest.bbox)
            return PlaceIndex(path)
        except (OSError, MapInputError, sqlite3.Error) as error:
            raise PlaceError(
                PlaceErrorCode.INDEX_UNAVAILABLE, f"{path}: cannot be built ({error})"
            ) from None


async def open_index(data_dir: Path) -> PlaceIndex:
    """The active map's index (built on a worker thread when it is missing)."""
    return await asyncio.to_thread(index_of, data_dir)


class MapPlaces:
    """The active map's places, following it: at most once a ``recheck`` seconds the manifest
    is read again, and after a switch the next question goes to the new map's index (built
    then if the map has none)."""

    def __init__(self, data_dir: Path, *, recheck: float = 2.0) -> None:
        self.data_dir = data_dir
        self.recheck = recheck
        self._index: PlaceIndex | None = None
        self._map_id: str | None = None
        self._checked = -float("inf")
        self._lock = asyncio.Lock()

    async def current(self) -> PlaceIndex:
        """The index of the active map (PlaceError(INDEX_UNAVAILABLE) without a map)."""
        if self._index is not None and time.monotonic() - self._checked < self.recheck:
            return self._index
        async with self._lock:
            map_id = await asyncio.to_thread(self._active_id)
            if self._index is None or map_id != self._map_id:
                self._index = await open_index(self.data_dir)
                self._map_id = map_id
            self._checked = time.monotonic()
            return self._index

    def _active_id(self) -> str | None:
        try:
            manifest = maps.read_active(self.data_dir)
        except maps.ManifestError as error:
            raise PlaceError(PlaceErrorCode.INDEX_UNAVAILABLE, str(error)) from None
        return manifest.id if manifest else None

    async def geocode(self, text: str, *, near: Point | None = None, limit: int = 5) -> list[Place]:
        return await (await self.current()).geocode(text, near=near, limit=limit)

    async def reverse(self, lat: float, lon: float) -> Place | None:
        return await (await self.current()).reverse(lat, lon)

    async def pois(
        self, bbox: BBox, *, classes: Collection[PoiClass] | None = None, limit: int = 200
    ) -> list[Poi]:
        return await (await self.current()).pois(bbox, classes=classes, limit=limit)
