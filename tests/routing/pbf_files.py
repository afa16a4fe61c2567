"""PBF files for tests, made by hand or cut from a real extract at its block boundaries."""

from __future__ import annotations

import struct

#: The Liechtenstein extract's first block (its OSMHeader) ends at this byte.
LIECHTENSTEIN_HEADER_END = 138


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def with_header(*features: str) -> bytes:
    """A PBF of one OSMHeader block (raw, uncompressed) requiring ``features``."""
    blob = field(1, b"".join(field(4, feature.encode()) for feature in features))
    header = field(1, b"OSMHeader") + varint(3 << 3) + varint(len(blob))
    return struct.pack(">I", len(header)) + header + blob


def first_blocks(data: bytes, count: int) -> bytes:
    """The first ``count`` blocks of a PBF, whole: a valid, smaller extract."""
    at = 0
    for _ in range(count):
        (size,) = struct.unpack(">I", data[at : at + 4])
        at += 4 + size + _datasize(data[at + 4 : at + 4 + size])
    return data[:at]


def _datasize(header: bytes) -> int:
    at = 0
    while at < len(header):
        key, at = _read_varint(header, at)
        if key & 7 == 2:
            length, at = _read_varint(header, at)
            at += length
        else:
            value, at = _read_varint(header, at)
            if key >> 3 == 3:
                return value
    raise ValueError("a BlobHeader without datasize")


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, at
