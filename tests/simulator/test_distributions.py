"""Arrival, connection time and energy follow the ElaadNL-derived CSVs shipped in ev2gym."""

from __future__ import annotations

import csv
import importlib.resources
import random
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from simulator.distributions import SLOTS_PER_DAY, Distributions


def csv_column(name: str, column: str) -> list[float]:
    text = (importlib.resources.files("ev2gym") / "data" / name).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    return [float(row[column] or 0) for row in rows]


def test_the_tables_are_the_files_of_the_package(distributions: Distributions) -> None:
    assert list(distributions.arrival.weekday) == csv_column(
        "distribution-of-arrival.csv", "public"
    )
    assert list(distributions.arrival.weekend) == csv_column(
        "distribution-of-arrival-weekend.csv", "public"
    )
    assert len(distributions.arrival.weekday) == SLOTS_PER_DAY
    curve = csv_column("distribution-of-connection-time.csv", "public")
    assert list(distributions.connection_hours.values) == curve
    assert len(curve) == 101


def draws(distributions: Distributions, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [
        *(distributions.connection_time(rng).total_seconds() for _ in range(20)),
        *(distributions.energy_demand(rng) for _ in range(20)),
        *(float(distributions.arrival_slot(rng)) for _ in range(20)),
    ]


def test_a_seed_gives_the_same_draws(distributions: Distributions) -> None:
    assert draws(distributions, 7) == draws(distributions, 7)
    assert draws(distributions, 7) != draws(distributions, 8)


def test_arrival_slots_follow_the_weekday_profile(distributions: Distributions) -> None:
    rng = random.Random(1)
    n = 40_000
    counts = Counter(distributions.arrival_slot(rng) for _ in range(n))
    weights = distributions.arrival.weekday
    for slot in range(SLOTS_PER_DAY):
        assert abs(counts[slot] / n - weights[slot] / 100) < 0.006, slot
    peak = max(range(SLOTS_PER_DAY), key=counts.__getitem__)
    assert abs(peak - max(range(SLOTS_PER_DAY), key=weights.__getitem__)) <= 4


def test_connection_time_and_energy_match_the_duration_curves(
    distributions: Distributions,
) -> None:
    rng = random.Random(2)
    hours = [distributions.connection_time(rng).total_seconds() / 3600 for _ in range(20_000)]
    energy = [distributions.energy_demand(rng) for _ in range(20_000)]
    # The curves give the value exceeded by p% of events: the median is the 50% row.
    assert abs(statistics.median(hours) - distributions.connection_hours.percentile(50)) < 0.4
    assert abs(statistics.median(energy) - distributions.energy_kwh.percentile(50)) < 0.6
    share_over_10h = sum(h > distributions.connection_hours.percentile(10) for h in hours)
    assert abs(share_over_10h / len(hours) - 0.10) < 0.01
    assert min(hours) > 0 and max(hours) <= 72


def test_arrivals_are_busier_at_the_evening_peak_than_at_night(
    distributions: Distributions,
) -> None:
    rng = random.Random(3)
    moment = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
    end = moment + timedelta(days=5)
    local_hours: Counter[int] = Counter()
    while (moment := distributions.next_arrival(moment, 200, rng)) < end:
        local_hours[moment.astimezone(distributions.time_zone).hour] += 1
    total = sum(local_hours.values())
    assert 900 < total < 1100  # 200 a day for five days
    assert local_hours[18] > 5 * local_hours[3]
