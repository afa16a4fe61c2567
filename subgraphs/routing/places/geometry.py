"""Distances and centres on the scale of a city: an equirectangular projection around the
points compared, within a fraction of a percent of the great-circle distance at these lengths."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8
Point = tuple[float, float]  # (lat, lon)


def distance_m(a: Point, b: Point) -> float:
    x = math.radians(b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    y = math.radians(b[0] - a[0])
    return EARTH_RADIUS_M * math.hypot(x, y)


def nearest_on_segment(point: Point, start: Point, end: Point) -> tuple[float, Point]:
    """The distance from ``point`` to the segment ``start``-``end``, and the nearest point."""
    scale = math.cos(math.radians(point[0]))
    px, py = point[1] * scale, point[0]
    ax, ay = start[1] * scale, start[0]
    bx, by = end[1] * scale, end[0]
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    nearest = (ay + t * dy, (ax + t * dx) / scale)
    return distance_m(point, nearest), nearest


def degrees_around(lat: float, metres: float) -> tuple[float, float]:
    """How many degrees of latitude and of longitude ``metres`` make at ``lat``."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    return dlat, dlat / max(math.cos(math.radians(lat)), 1e-6)


def centre(points: Sequence[Point]) -> Point:
    """A closed ring's area centroid (a building's centre), else the middle of a line along
    its length (a street side's loading zone sits somewhere along it)."""
    if len(points) >= 4 and points[0] == points[-1]:
        ring = points[:-1]
        area = cx = cy = 0.0
        lat0, lon0 = ring[0]
        for (lat1, lon1), (lat2, lon2) in zip(ring, [*ring[1:], ring[0]], strict=True):
            x1, y1, x2, y2 = lon1 - lon0, lat1 - lat0, lon2 - lon0, lat2 - lat0
            cross = x1 * y2 - x2 * y1
            area += cross
            cx += (x1 + x2) * cross
            cy += (y1 + y2) * cross
        if abs(area) > 1e-18:
            return (lat0 + cy / (3 * area), lon0 + cx / (3 * area))
    return along(points, 0.5)


def along(points: Sequence[Point], fraction: float) -> Point:
    """The point ``fraction`` of the way along a line."""
    if len(points) == 1:
        return points[0]
    lengths = [distance_m(a, b) for a, b in itertools.pairwise(points)]
    target = sum(lengths) * fraction
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=True):
        if target <= length and length > 0:
            t = target / length
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        target -= length
    return points[-1]
