"""Speeds per road edge from a map-matched probe trace.

Valhalla's ``trace_attributes`` snaps the fixes to the road graph and says, per fix, which of
the matched edges it lies on and how far along it (a fraction). That places each fix at a
distance along the matched path; between two consecutive fixes the vehicle covered that
distance in their time difference. Each edge gets the distance the vehicle covered on it
and the time that took, summed over the stretches touching it: its measured speed is one
over the other (a harmonic mean, what travel times add up from).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from typing import Any

from subgraphs.routing.traffic.probes import ProbeTrace

#: An edge counts only if the trace covered this share of it: a fix near an edge's end
#: says little about how fast the edge is driven.
MIN_COVERED = 0.5
_ATTRIBUTES = [
    "edge.id",
    "edge.way_id",
    "edge.length",
    "edge.speed",
    "matched.edge_index",
    "matched.distance_along_edge",
    "matched.type",
]


@dataclass(frozen=True, slots=True)
class EdgeSpeed:
    edge_id: int  # Valhalla's GraphId value: one direction of one stretch of a way
    way_id: int  # the OpenStreetMap way
    length_m: float
    speed_kmh: float  # measured
    observed_at: float  # Unix seconds of the trace's last fix on it


def request(trace: ProbeTrace) -> dict[str, Any]:
    """The trace_attributes request: the fixes with their times (map_snap uses them)."""
    return {
        "shape": [{"lat": p.lat, "lon": p.lon, "time": p.time} for p in trace.points],
        "costing": "auto",
        "shape_match": "map_snap",
        "filters": {"attributes": _ATTRIBUTES, "action": "include"},
    }


def speeds(trace: ProbeTrace, answer: dict[str, Any]) -> list[EdgeSpeed]:
    edges: list[dict[str, Any]] = answer.get("edges", [])
    matched: list[dict[str, Any]] = answer.get("matched_points", [])
    if not edges or len(matched) != len(trace.points):
        return []
    starts = [0.0]
    for edge in edges:
        starts.append(starts[-1] + float(edge["length"]) * 1000)
    placed: list[tuple[float, float]] = []  # (distance along the path, time)
    for point, fix in zip(trace.points, matched, strict=True):
        index = fix.get("edge_index")
        if fix.get("type") == "unmatched" or index is None or not 0 <= index < len(edges):
            continue
        along = float(fix.get("distance_along_edge", 0.0))
        placed.append((starts[index] + along * (starts[index + 1] - starts[index]), point.time))
    covered = [0.0] * len(edges)
    spent = [0.0] * len(edges)
    last_seen = [0.0] * len(edges)
    for (s0, t0), (s1, t1) in itertools.pairwise(placed):
        if s1 <= s0 or t1 <= t0:
            continue  # standing, or a fix matched behind the one before
        pace = (t1 - t0) / (s1 - s0)  # seconds per metre on this stretch
        # Only the edges under the stretch: a long trace has hundreds of both.
        index = max(0, bisect.bisect_right(starts, s0) - 1)
        while index < len(edges) and starts[index] < s1:
            overlap = min(s1, starts[index + 1]) - max(s0, starts[index])
            if overlap > 0:
                covered[index] += overlap
                spent[index] += overlap * pace
                last_seen[index] = t1
            index += 1
    found = []
    for index, edge in enumerate(edges):
        length = starts[index + 1] - starts[index]
        if length <= 0 or spent[index] <= 0 or covered[index] < MIN_COVERED * length:
            continue
        found.append(
            EdgeSpeed(
                edge_id=int(edge["id"]),
                way_id=int(edge.get("way_id", 0)),
                length_m=length,
                speed_kmh=covered[index] / spent[index] * 3.6,
                observed_at=last_seen[index],
            )
        )
    return found
