"""A route's shape: Valhalla's encoded polyline (precision 6) and the same as GeoJSON.

Valhalla encodes each leg's shape with Google's polyline algorithm at six decimals
(https://valhalla.github.io/valhalla/decoding/); clients that draw GeoJSON get the decoded
points as a LineString ([longitude, latitude] pairs, RFC 7946).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PRECISION = 1e6


def decode(encoded: str) -> list[tuple[float, float]]:
    """The (latitude, longitude) points of a polyline6 string."""
    points: list[tuple[float, float]] = []
    index = lat = lon = 0
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        points.append((lat / PRECISION, lon / PRECISION))
    return points


def encode(points: Iterable[tuple[float, float]]) -> str:
    """The polyline6 string of (latitude, longitude) points."""
    out: list[str] = []
    last = (0, 0)
    for lat, lon in points:
        current = (round(lat * PRECISION), round(lon * PRECISION))
        for delta in (current[0] - last[0], current[1] - last[1]):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        last = current
    return "".join(out)


def joined(shapes: Iterable[str]) -> list[tuple[float, float]]:
    """The points of consecutive legs' shapes, the point shared between two legs once."""
    points: list[tuple[float, float]] = []
    for shape in shapes:
        leg = decode(shape)
        points.extend(leg[1:] if points and leg and leg[0] == points[-1] else leg)
    return points


def line_string(points: Iterable[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]}
