"""Live speeds applied to a car route: its duration re-timed on the edges it uses.

Valhalla reads live speeds only from a traffic extract (``traffic.tar``) that its tile
builder's tools lay out and a traffic service fills; this platform keeps them in its own
store instead (docs/routing.md, "Traffic", says why), so the adjustment is ours: the
route's shape is walked back onto its edges (``trace_attributes`` with ``edge_walk``), and
every edge with a live speed takes ``length / live speed`` instead of the time the engine
gave it at its own speed. Turn and intersection costs stay the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.routing.traffic.matching import route_request
from subgraphs.routing.traffic.store import LiveSpeed


@dataclass(frozen=True, slots=True)
class Retimed:
    duration_s: float
    #: Seconds the live traffic adds (negative: the road is faster than the engine thought).
    delay_s: float
    live_edges: int


def retime(duration_s: float, edges: list[dict[str, float]], live: dict[int, LiveSpeed]) -> Retimed:
    delay = 0.0
    count = 0
    for edge in edges:
        found = live.get(int(edge["id"]))
        usual = float(edge.get("speed") or 0.0)
        if found is None or usual <= 0:
            continue
        length_km = float(edge["length"])
        delay += length_km / found.speed_kmh * 3600 - length_km / usual * 3600
        count += 1
    return Retimed(max(1.0, duration_s + delay), delay, count)


__all__ = ["Retimed", "retime", "route_request"]
