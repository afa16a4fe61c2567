"""Valhalla's live-traffic extract, written from Python: the speeds Valhalla itself routes on.

Valhalla reads live speeds from a ``traffic.tar`` beside its tiles (``mjolnir.traffic_extract``),
which it maps into memory shared with whoever writes it: one member per road tile, named
like the tile (``2/000/789/878.gph``), holding a 32-byte header (the tile's id, the time of
the last update, its directed-edge count, the format's version) and one 64-bit speed record
per directed edge, in the tile's edge order. A record of zeros is "no live speed"; a record
with its first break point set carries the edge's current speed (in units of 2 km/h, 7 bits).
The layout is Valhalla's ``baldr/traffictile.h`` (format version 3, as the wheel's own
``valhalla_build_extract --with-traffic`` lays it out); the skeleton is written here from the
tile headers, so no tile archive is needed. Writes go through the same memory map the
Actors read, 8 bytes at a time, which is how Valhalla's traffic is meant to be updated live.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import tarfile
import threading
import time
from pathlib import Path

from incar.maps import TILES

NAME = "traffic.tar"
VERSION = 3
_HEADER = struct.Struct("<QQIIII")
_RECORD = 8
#: Valhalla's "speed unknown" in a 7-bit field, and "the first part covers the whole edge".
_UNKNOWN = 127
_WHOLE_EDGE = 255
MAX_KMH = 2 * (_UNKNOWN - 1)


def path_of(folder: Path) -> Path:
    return folder / NAME


def ensure(folder: Path) -> Path:
    """The tile set's traffic extract, laid out (all speeds unknown) if it is not yet."""
    from valhalla.baldr import GraphId, GraphTileHeader

    target = path_of(folder)
    if target.is_file():
        return target
    tiles = folder / TILES
    partial = target.with_suffix(".tar.partial")
    with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
        for tile in sorted(tiles.rglob("*.gph")):
            name = tile.relative_to(tiles).as_posix()
            edges = GraphTileHeader.from_file(tile).directededgecount
            header = _HEADER.pack(GraphId.from_tile_path(name).value, 0, edges, VERSION, 0, 0)
            data = header + bytes(_RECORD * edges)
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, target)
    return target


def _record(kmh: float) -> int:
    encoded = max(1, min(_UNKNOWN - 1, round(kmh / 2)))  # 0 would mean "closed"
    return encoded | encoded << 7 | _UNKNOWN << 14 | _UNKNOWN << 21 | _WHOLE_EDGE << 28


class LiveExtract:
    """Writes live speeds into one tile set's traffic extract, where its Actors read them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._offsets: dict[int, tuple[int, int]] = {}  # tile id -> (data offset, edges)
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".gph"):
                    with open(path, "rb") as raw:
                        raw.seek(member.offset_data)
                        tile_id, _, edges, _, _, _ = _HEADER.unpack(raw.read(_HEADER.size))
                    self._offsets[tile_id] = (member.offset_data, edges)
        self._file = open(path, "r+b")  # noqa: SIM115 (held open with the map for its life)
        self._map = mmap.mmap(self._file.fileno(), 0)

    def _where(self, edge_id: int) -> int | None:
        from valhalla.baldr import GraphId

        edge = GraphId(edge_id)
        found = self._offsets.get(edge.tile_base().value)
        if found is None or edge.id() >= found[1]:
            return None
        return int(found[0] + _HEADER.size + _RECORD * edge.id())

    def write(self, speeds: dict[int, float]) -> int:
        """Sets the edges' live speeds (km/h); 0 for an edge clears its live speed."""
        written = 0
        with self._lock:
            for edge_id, kmh in speeds.items():
                at = self._where(edge_id)
                if at is None:
                    continue
                record = 0 if kmh <= 0 else _record(kmh)
                self._map[at : at + _RECORD] = record.to_bytes(_RECORD, "little")
                written += 1
        return written

    def clear(self) -> None:
        """No live speed on any edge (the records only: the headers stay)."""
        with self._lock:
            for start, edges in self._offsets.values():
                at = start + _HEADER.size
                self._map[at : at + _RECORD * edges] = bytes(_RECORD * edges)

    def close(self) -> None:
        with self._lock:
            self._map.close()
            self._file.close()
