"""The live speeds: what probe traces measured per edge, kept for a time to live, and
mirrored into the active map's traffic extract, where Valhalla routes on them.

A jam is news for minutes: a speed expires ``ttl`` seconds after the fix that measured it,
so a cleared road returns to its usual speed without anyone reporting it clear. Several
reports of one edge within the time to live are averaged (each vehicle's travel time
counts once: a harmonic mean). Speeds belong to one map: edge ids mean nothing on another,
so a store reads only the speeds of the map asked about, and writes only into the extract
of the map it is attached to. Expired speeds leave the extract on the next ``current``
(every route plan asks for it first), so no route sees a jam past its time to live. In
memory, per process (the route pool's): live traffic is short-lived by nature, and the
extract starts empty with the process's first use of the map.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from subgraphs.routing.traffic.extract import LiveExtract
from subgraphs.routing.traffic.matching import EdgeSpeed

#: How long a measured speed stands (seconds): a quarter of an hour, the horizon traffic
#: services commonly treat as "current".
TTL_S = 15 * 60.0
#: Reports kept per edge (the most recent): a busy road's edge does not grow without end.
MAX_REPORTS = 20


@dataclass(frozen=True, slots=True)
class LiveSpeed:
    edge_id: int
    way_id: int
    length_m: float
    speed_kmh: float
    reports: int
    expires_at: float


class LiveSpeeds:
    def __init__(self, *, ttl: float = TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, int], list[EdgeSpeed]] = {}
        self._extract: tuple[str, LiveExtract] | None = None

    def attach(self, map_id: str, extract: LiveExtract) -> None:
        """Mirrors the map's live speeds into its extract: what an earlier process left in
        it is cleared, then every speed the store holds for the map is written."""
        extract.clear()
        with self._lock:
            self._detach()
            self._extract = (map_id, extract)
        self._write(map_id, {edge: live.speed_kmh for edge, live in self.current(map_id).items()})

    def detach(self) -> None:
        with self._lock:
            self._detach()

    def _detach(self) -> None:
        if self._extract is not None:
            self._extract[1].close()
            self._extract = None

    def _write(self, map_id: str, speeds: dict[int, float]) -> None:
        with self._lock:
            if self._extract is not None and self._extract[0] == map_id and speeds:
                self._extract[1].write(speeds)

    def report(self, map_id: str, speeds: Iterable[EdgeSpeed]) -> int:
        """Adds measured speeds; returns how many were fresh enough to keep."""
        now = self.clock()
        kept = 0
        touched: set[int] = set()
        with self._lock:
            for speed in speeds:
                if speed.observed_at + self.ttl <= now or speed.speed_kmh <= 0:
                    continue
                found = self._reports.setdefault((map_id, speed.edge_id), [])
                found.append(speed)
                del found[:-MAX_REPORTS]
                touched.add(speed.edge_id)
                kept += 1
        if touched:
            live = self.current(map_id)  # the new averages (and the expired cleared)
            self._write(map_id, {edge: live[edge].speed_kmh for edge in touched if edge in live})
        return kept

    def current(self, map_id: str) -> dict[int, LiveSpeed]:
        """The map's live speeds by edge id (expired reports dropped on the way)."""
        now = self.clock()
        live: dict[int, LiveSpeed] = {}
        changed: dict[str, dict[int, float]] = {}  # what the extract must be told
        with self._lock:
            for key in list(self._reports):
                fresh = [s for s in self._reports[key] if s.observed_at + self.ttl > now]
                if not fresh:
                    del self._reports[key]
                    changed.setdefault(key[0], {})[key[1]] = 0.0
                    continue
                shrunk = len(fresh) < len(self._reports[key])
                self._reports[key] = fresh
                if key[0] != map_id:
                    continue
                hours = sum(s.length_m / s.speed_kmh for s in fresh)
                first = fresh[0]
                live[key[1]] = LiveSpeed(
                    edge_id=first.edge_id,
                    way_id=first.way_id,
                    length_m=first.length_m,
                    speed_kmh=sum(s.length_m for s in fresh) / hours,
                    reports=len(fresh),
                    expires_at=max(s.observed_at for s in fresh) + self.ttl,
                )
                if shrunk:
                    changed.setdefault(map_id, {})[key[1]] = live[key[1]].speed_kmh
        for other, speeds in changed.items():
            self._write(other, speeds)  # only what changed: a plan asks before each route
        return live
