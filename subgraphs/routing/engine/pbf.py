"""Checks an OpenStreetMap PBF extract before tiles are built from it.

Valhalla's tile builder aborts (SIGABRT, a C++ exception and a stack of log lines) on a file
that is not a PBF or that ends early, so the extract is read here first: its framing block by
block to its last byte (a truncated download ends inside a block), its first block, which must
be the ``OSMHeader``, and that header's required features and bounding box. The file's digest
is taken on the same pass. Format: https://wiki.openstreetmap.org/wiki/PBF_Format
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from incar.maps import BBox

#: The format's own limits: a BlobHeader under 64 KiB, a Blob under 32 MiB.
MAX_HEADER_BYTES = 64 * 1024
MAX_BLOB_BYTES = 32 * 1024 * 1024
#: What the tile builder reads; a history file (HistoricalInformation) or another schema is not.
SUPPORTED_FEATURES = frozenset({"OsmSchema-V0.6", "DenseNodes"})


class MapInputError(ValueError):
    """An extract the platform cannot build a map from; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class PbfSummary:
    sha256: str
    size: int
    data_blocks: int
    #: From the header; None when the writer left it out.
    bbox: BBox | None


def inspect(path: Path) -> PbfSummary:
    """The extract's digest, size, data block count and bounding box; MapInputError if bad."""
    if not path.exists():
        raise MapInputError(f"{path}: no such file")
    if not path.is_file():
        raise MapInputError(f"{path}: not a file")
    try:
        with path.open("rb") as file:
            return _scan(path, file)
    except OSError as error:
        raise MapInputError(f"{path}: cannot be read ({error.strerror})") from None


def _scan(path: Path, file: BinaryIO) -> PbfSummary:
    digest = hashlib.sha256()
    offset = blocks = 0
    bbox: BBox | None = None
    not_pbf = f"{path}: not an OpenStreetMap PBF file (it does not start with an OSMHeader block)"
    while prefix := file.read(4):
        digest.update(prefix)
        # Until the first block reads as an OSMHeader, a short file is not a PBF at all.
        if len(prefix) < 4:
            raise MapInputError(not_pbf if blocks == 0 else _truncated(path, "a block header"))
        (header_size,) = struct.unpack(">I", prefix)
        if header_size > MAX_HEADER_BYTES:
            raise MapInputError(not_pbf if blocks == 0 else _damaged(path, offset))
        header = file.read(header_size)
        digest.update(header)
        if len(header) < header_size:
            raise MapInputError(not_pbf if blocks == 0 else _truncated(path, "a block header"))
        try:
            kind, data_size = _blob_header(header)
        except ValueError:
            raise MapInputError(not_pbf if blocks == 0 else _damaged(path, offset)) from None
        if blocks == 0 and kind != "OSMHeader":
            raise MapInputError(not_pbf)
        if data_size > MAX_BLOB_BYTES:
            raise MapInputError(_damaged(path, offset))
        blob = _read(file, data_size, path, digest)
        if blocks == 0:
            bbox = _header_block(path, blob)
        offset += 4 + header_size + data_size
        blocks += 1
    if blocks == 0:
        raise MapInputError(f"{path}: empty, not an OpenStreetMap PBF file")
    return PbfSummary(digest.hexdigest(), offset, blocks - 1, bbox)


def _read(file: BinaryIO, size: int, path: Path, digest: hashlib._Hash) -> bytes:
    data = file.read(size)
    digest.update(data)
    if len(data) < size:
        raise MapInputError(_truncated(path, "a block"))
    return data


def _truncated(path: Path, where: str) -> str:
    return f"{path}: truncated (it ends inside {where})"


def _damaged(path: Path, offset: int) -> str:
    return f"{path}: damaged (the block at byte {offset} is not a PBF block)"


def _blob_header(data: bytes) -> tuple[str, int]:
    kind: str | None = None
    size: int | None = None
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            kind = value.decode("utf-8")
        elif number == 3 and isinstance(value, int):
            size = value
    if kind is None or size is None:
        raise ValueError("a BlobHeader needs a type and a datasize")
    return kind, size


def _header_block(path: Path, blob: bytes) -> BBox | None:
    """Checks the required features; returns the bounding box if the header has one."""
    bbox: BBox | None = None
    features: list[str] = []
    try:
        raw = _blob_payload(blob)
        if raw is None:  # compressed in a way zlib cannot read: leave the check to the builder
            return None
        for number, value in _fields(raw):
            if number == 1 and isinstance(value, bytes):
                bbox = _bbox(value)
            elif number == 4 and isinstance(value, bytes):
                features.append(value.decode("utf-8"))
    except (ValueError, zlib.error):
        raise MapInputError(f"{path}: damaged (its OSMHeader block cannot be read)") from None
    for feature in features:
        if feature not in SUPPORTED_FEATURES:
            raise MapInputError(
                f"{path}: needs the PBF feature {feature!r}, which the tile builder does not read"
            )
    return bbox


def _blob_payload(blob: bytes) -> bytes | None:
    for number, value in _fields(blob):
        if number == 1 and isinstance(value, bytes):
            return value
        if number == 3 and isinstance(value, bytes):
            return zlib.decompress(value)
    return None


def _bbox(data: bytes) -> BBox | None:
    sides: dict[int, float] = {}
    for number, value in _fields(data):
        if isinstance(value, int):
            sides[number] = round(_zigzag(value) * 1e-9, 7)  # nanodegrees
    if set(sides) != {1, 2, 3, 4}:
        return None
    left, right, top, bottom = sides[1], sides[2], sides[3], sides[4]
    return (left, bottom, right, top)


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """The fields of a protobuf message: (number, int) for varints, (number, bytes) else."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield number, value
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ValueError("a field runs past its message")
            yield number, data[at : at + size]
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire} is not protobuf's")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("a varint runs past its message")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, at
