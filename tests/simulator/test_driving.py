"""A probe car's drive: the engine's step times spread over a route's points, a jam crawled at
its speed, GPS fixes every few seconds with metres of noise, and the batches it sends."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from simulator import driving
from simulator.driving import Fix, Jam

#: Due east along a parallel in Helsinki: five points 100 m apart.
LAT = 60.17
STEP_DEG = 100 / (driving._DEGREE_M * 0.4962)  # cos(60.17°) ≈ 0.4962
SHAPE = [(LAT, 24.94 + i * STEP_DEG) for i in range(5)]


def test_each_step_takes_the_engines_time_at_an_even_pace() -> None:
    # Two steps: 200 m in 20 s (36 km/h), then 200 m in 40 s (18 km/h).
    path = driving.along_steps(SHAPE, [(0, 20.0), (2, 40.0), (4, 0.0)])
    assert [round(f.t, 1) for f in path] == [0.0, 10.0, 20.0, 40.0, 60.0]
    assert driving.metres(SHAPE[0], SHAPE[4]) == pytest.approx(400, rel=0.01)


def test_a_jam_is_driven_at_its_speed_after_the_drive_before_it() -> None:
    crawl = driving.at_speed(SHAPE, 6.0)
    assert crawl[-1].t == pytest.approx(400 / (6 / 3.6), rel=0.01)
    joined = driving.then(driving.along_steps(SHAPE, [(0, 30.0)]), crawl)
    assert len(joined) == 2 * len(SHAPE) - 1  # the meeting point once
    assert joined[-1].t == pytest.approx(30 + 240, rel=0.01)
    assert all(b.t >= a.t for a, b in itertools.pairwise(joined))


def test_fixes_come_every_five_to_ten_seconds_with_metres_of_noise() -> None:
    path = driving.at_speed(SHAPE, 36.0)  # 40 s
    rng = random.Random(1)
    errors = []
    gaps = []
    for _ in range(200):
        fixes = driving.fixes(path, rng)
        assert fixes[0].t == 0 and fixes[-1].t == pytest.approx(path[-1].t)
        gaps += [b.t - a.t for a, b in itertools.pairwise(fixes)][:-1]  # the last is cut short
        for fix in fixes:
            truth = driving.position(path, fix.t)
            errors.append(driving.metres(truth, (fix.lat, fix.lon)))
    assert min(gaps) >= 5 and max(gaps) <= 10
    # Gaussian per axis: the error's root mean square is the noise figure.
    rms = statistics.fmean(e * e for e in errors) ** 0.5
    assert rms == pytest.approx(driving.NOISE_M, rel=0.1)
    assert driving.fixes(path, rng, noise_m=0.0)[1].lat == pytest.approx(LAT)


def test_batches_cover_the_drive_and_overlap_by_one_fix() -> None:
    fixes = [Fix(LAT, 24.94, float(t)) for t in range(0, 301, 10)]
    sent = driving.batches(fixes, 120.0)
    assert [(b[0].t, b[-1].t) for b in sent] == [(0, 120), (120, 240), (240, 300)]
    assert driving.batches(fixes[:1], 120.0) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("60.1,24.9,60.2,24.8", "LAT,LON,LAT,LON,KMH"),
        ("60.1,24.9,60.2,east,6", "five numbers"),
        ("95,24.9,60.2,24.8,6", "latitudes"),
        ("60.1,24.9,60.2,24.8,0", "1 to 100 km/h"),
    ],
)
def test_a_jam_is_refused_with_its_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Jam.parse(text)


def test_a_jam_reads_back_as_written() -> None:
    jam = Jam.parse("60.1679,24.952,60.1676,24.9425,6")
    assert jam == Jam((60.1679, 24.952), (60.1676, 24.9425), 6.0)
    assert Jam.parse(str(jam)) == jam
