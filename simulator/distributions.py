"""Charging behaviour drawn from the ElaadNL-derived distributions shipped in ``ev2gym/data``.

Only the CSV files are read (through importlib.resources); ev2gym's Python modules are never
imported, since they pull in heavy optimisation packages. All sampling goes through a
``random.Random`` the caller seeds, so a given seed gives the same draws.
"""

from __future__ import annotations

import bisect
import csv
import importlib.resources
import itertools
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Scenario = Literal["private", "public", "workplace"]

SLOT_SECONDS = 15 * 60
SLOTS_PER_DAY = 96
_MIN_CONNECTION_HOURS = 0.1  # the curves reach 0 h at their 100th percentile
_MIN_ENERGY_KWH = 0.5


def _read_csv(name: str) -> list[list[str]]:
    text = (importlib.resources.files("ev2gym") / "data" / name).read_text(encoding="utf-8-sig")
    return [row for row in csv.reader(text.splitlines()) if row]


def _column(rows: list[list[str]], scenario: str) -> list[float]:
    index = rows[0].index(scenario)
    return [float(row[index] or 0) for row in rows[1:]]


@dataclass(frozen=True, slots=True)
class ArrivalProfile:
    """Share of a day's arrivals (percent) in each 15-minute slot of local time."""

    weekday: tuple[float, ...]
    weekend: tuple[float, ...]

    def weights(self, weekend: bool) -> tuple[float, ...]:
        return self.weekend if weekend else self.weekday


@dataclass(frozen=True, slots=True)
class DurationCurve:
    """A duration curve: ``values[p]`` is exceeded by ``p`` percent of charging events.

    Sampling is the inverse-transform method: a uniform percentile, interpolated linearly
    between the 101 tabulated points.
    """

    values: tuple[float, ...]

    def sample(self, rng: random.Random) -> float:
        position = rng.random() * (len(self.values) - 1)
        low = int(position)
        high = min(low + 1, len(self.values) - 1)
        frac = position - low
        return self.values[low] + (self.values[high] - self.values[low]) * frac

    def percentile(self, exceeded_by: float) -> float:
        """The value exceeded by ``exceeded_by`` percent of events."""
        return self.values[round(exceeded_by)]


@dataclass(frozen=True, slots=True)
class Distributions:
    arrival: ArrivalProfile
    connection_hours: DurationCurve
    energy_kwh: DurationCurve
    scenario: Scenario
    time_zone: ZoneInfo

    @classmethod
    def load(
        cls, scenario: Scenario = "public", time_zone: str = "Europe/Helsinki"
    ) -> Distributions:
        weekday = _column(_read_csv("distribution-of-arrival.csv"), scenario)
        # The weekend file has no workplace column: workplaces see (almost) no weekend arrivals.
        weekend_rows = _read_csv("distribution-of-arrival-weekend.csv")
        weekend = (
            _column(weekend_rows, scenario)
            if scenario in weekend_rows[0]
            else [0.0] * SLOTS_PER_DAY
        )
        return cls(
            arrival=ArrivalProfile(tuple(weekday), tuple(weekend)),
            connection_hours=DurationCurve(
                tuple(_column(_read_csv("distribution-of-connection-time.csv"), scenario))
            ),
            energy_kwh=DurationCurve(
                tuple(_column(_read_csv("distribution-of-energy-demand.csv"), scenario))
            ),
            scenario=scenario,
            time_zone=ZoneInfo(time_zone),
        )

    def arrival_rate(self, moment: datetime, sessions_per_day: float) -> float:
        """Arrivals per second at ``moment`` for a fleet expecting ``sessions_per_day``."""
        local = moment.astimezone(self.time_zone)
        slot = (local.hour * 60 + local.minute) // 15
        share = self.arrival.weights(local.weekday() >= 5)[slot] / 100.0
        return sessions_per_day * share / SLOT_SECONDS

    def next_arrival(
        self, after: datetime, sessions_per_day: float, rng: random.Random
    ) -> datetime:
        """The next arrival of a non-homogeneous Poisson process, by thinning."""
        peak = max(*self.arrival.weekday, *self.arrival.weekend) / 100.0
        peak_rate = sessions_per_day * peak / SLOT_SECONDS
        if peak_rate <= 0:
            raise ValueError("sessions_per_day must be positive")
        moment = after
        while True:
            moment += timedelta(seconds=-math.log(1.0 - rng.random()) / peak_rate)
            if rng.random() * peak_rate <= self.arrival_rate(moment, sessions_per_day):
                return moment

    def arrival_slot(self, rng: random.Random, *, weekend: bool = False) -> int:
        """A 15-minute slot of the day (0..95), drawn with the profile's weights."""
        weights = self.arrival.weights(weekend)
        cumulative = list(itertools.accumulate(weights))
        return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])

    def connection_time(self, rng: random.Random) -> timedelta:
        hours = max(_MIN_CONNECTION_HOURS, self.connection_hours.sample(rng))
        return timedelta(hours=hours)

    def energy_demand(self, rng: random.Random) -> float:
        return max(_MIN_ENERGY_KWH, self.energy_kwh.sample(rng))
