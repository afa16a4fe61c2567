"""A simulated car's drive along a route as the routing engine returned it, and the GPS fixes
its telematics unit records on the way.

The engine gives a route's shape and, per turn-by-turn step, the step's travel time; the car
covers each step in that time, at an even pace along the step's points. Through a jam it
crawls at the jam's speed instead. Its fixes come every few seconds, each off the true
position by a few metres of GPS noise: what a probe trace from a real car looks like.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

#: Metres per degree of latitude (on a 6371 km sphere).
_DEGREE_M = 6_371_000 * math.pi / 180
#: A phone's GPS is within 4.9 m of the truth 95 % of the time under open sky (GPS.gov,
#: "GPS Accuracy"): a normal error of about 2.5 m per axis. Cars in a city's street canyons
#: fare worse; the default is a little above.
NOISE_M = 4.0
#: Seconds between fixes: floating car data is commonly sampled every 5 to 10 s.
SAMPLING_S = (5.0, 10.0)

LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Fix:
    lat: float
    lon: float
    t: float  # seconds from the start of the drive


@dataclass(frozen=True, slots=True)
class Jam:
    """A slow road: the usual route from ``start`` to ``end`` is driven at ``kmh``."""

    start: LatLon
    end: LatLon
    kmh: float

    @classmethod
    def parse(cls, text: str) -> Jam:
        """``LAT,LON,LAT,LON,KMH``: where the jam starts, where it ends, its speed."""
        parts = text.split(",")
        if len(parts) != 5:
            raise ValueError("a jam is LAT,LON,LAT,LON,KMH (its start, its end, its speed)")
        try:
            lat1, lon1, lat2, lon2, kmh = (float(part) for part in parts)
        except ValueError:
            raise ValueError(f"a jam is five numbers, not {text!r}") from None
        for lat, lon in ((lat1, lon1), (lat2, lon2)):
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("a jam's latitudes are -90..90 and longitudes -180..180")
        if not 1 <= kmh <= 100:
            raise ValueError("a jam's speed is 1 to 100 km/h")
        return cls((lat1, lon1), (lat2, lon2), kmh)

    def __str__(self) -> str:
        return f"{self.start[0]},{self.start[1]},{self.end[0]},{self.end[1]},{self.kmh:g}"


def metres(a: LatLon, b: LatLon) -> float:
    """Distance on a local flat projection: exact enough between points metres apart."""
    dy = (b[0] - a[0]) * _DEGREE_M
    dx = (b[1] - a[1]) * _DEGREE_M * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dx, dy)


def along_steps(shape: Sequence[LatLon], steps: Sequence[tuple[int, float]]) -> list[Fix]:
    """The shape's points with the time the car passes each: ``steps`` are the engine's
    (first shape index, travel time) per step, in order; within a step the pace is even."""
    if len(shape) < 2:
        return [Fix(p[0], p[1], 0.0) for p in shape]
    times = [0.0] * len(shape)
    starts = sorted({min(max(begin, 0), len(shape) - 1) for begin, _ in steps} | {0})
    durations = dict.fromkeys(starts, 0.0)
    for begin, seconds in steps:
        durations[min(max(begin, 0), len(shape) - 1)] += max(0.0, seconds)
    bounds = [*starts, len(shape) - 1]
    for first, last in itertools.pairwise(bounds):
        if last <= first:
            continue
        lengths = [metres(shape[i], shape[i + 1]) for i in range(first, last)]
        total = sum(lengths)
        spent = durations.get(first, 0.0)
        for offset, length in enumerate(lengths, start=1):
            share = length / total if total > 0 else 1 / len(lengths)
            times[first + offset] = times[first + offset - 1] + spent * share
    return [Fix(p[0], p[1], t) for p, t in zip(shape, times, strict=True)]


def at_speed(shape: Sequence[LatLon], kmh: float) -> list[Fix]:
    """The shape driven at a steady ``kmh``."""
    out = [Fix(shape[0][0], shape[0][1], 0.0)] if shape else []
    for a, b in itertools.pairwise(shape):
        out.append(Fix(b[0], b[1], out[-1].t + metres(a, b) / (kmh / 3.6)))
    return out


def then(first: Sequence[Fix], second: Sequence[Fix]) -> list[Fix]:
    """One drive after the other (the second's times shifted to follow on)."""
    if not first:
        return list(second)
    shift = first[-1].t
    return [*first, *(Fix(f.lat, f.lon, f.t + shift) for f in second[1:])]


def position(path: Sequence[Fix], t: float) -> LatLon:
    """Where the car is at ``t``, between the points it passes."""
    times = [f.t for f in path]
    at = bisect.bisect_right(times, t)
    if at <= 0:
        return path[0].lat, path[0].lon
    if at >= len(path):
        return path[-1].lat, path[-1].lon
    a, b = path[at - 1], path[at]
    share = (t - a.t) / (b.t - a.t) if b.t > a.t else 1.0
    return a.lat + share * (b.lat - a.lat), a.lon + share * (b.lon - a.lon)


def fixes(
    path: Sequence[Fix],
    rng: random.Random,
    *,
    sampling_s: tuple[float, float] = SAMPLING_S,
    noise_m: float = NOISE_M,
) -> list[Fix]:
    """The GPS fixes a car records along ``path``: one every few seconds, each with noise."""
    if not path:
        return []
    end = path[-1].t
    out: list[Fix] = []
    t = 0.0
    while True:
        lat, lon = position(path, t)
        north, east = rng.gauss(0, noise_m / math.sqrt(2)), rng.gauss(0, noise_m / math.sqrt(2))
        out.append(
            Fix(
                lat + north / _DEGREE_M,
                lon + east / (_DEGREE_M * math.cos(math.radians(lat))),
                round(t, 3),
            )
        )
        if t >= end:
            return out
        t = min(end, t + rng.uniform(*sampling_s))


def batches(recorded: Sequence[Fix], every_s: float) -> list[list[Fix]]:
    """The fixes as the car sends them: a batch per ``every_s`` seconds of driving, each
    beginning with the last fix of the one before (so no stretch of road falls between)."""
    out: list[list[Fix]] = []
    current: list[Fix] = []
    for fix in recorded:
        current.append(fix)
        if fix.t - current[0].t >= every_s:
            out.append(current)
            current = [fix]
    if len(current) >= 2:
        out.append(current)
    return out
