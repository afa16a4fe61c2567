"""The live-speed store on its own: reports of one edge averaged by travel time, speeds kept
apart per map, and each report gone once its time to live has passed."""

from __future__ import annotations

from subgraphs.routing.traffic.matching import EdgeSpeed
from subgraphs.routing.traffic.store import LiveSpeeds


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def speed(kmh: float, at: float, edge: int = 7) -> EdgeSpeed:
    return EdgeSpeed(edge_id=edge, way_id=70, length_m=100.0, speed_kmh=kmh, observed_at=at)


def test_reports_of_an_edge_average_their_travel_times() -> None:
    clock = Clock()
    store = LiveSpeeds(ttl=600, clock=clock)
    assert store.report("li", [speed(10.0, clock.now), speed(40.0, clock.now)]) == 2
    live = store.current("li")[7]
    # 100 m at 10 km/h is 36 s, at 40 km/h 9 s: 200 m in 45 s is 16 km/h, not 25.
    assert round(live.speed_kmh, 6) == 16.0
    assert live.reports == 2
    assert store.current("porto") == {}


def test_a_report_expires_after_its_time_to_live() -> None:
    clock = Clock()
    store = LiveSpeeds(ttl=600, clock=clock)
    store.report("li", [speed(10.0, clock.now - 500), speed(40.0, clock.now)])
    clock.now += 200  # the first report is 700 s old now
    live = store.current("li")[7]
    assert round(live.speed_kmh, 6) == 40.0 and live.reports == 1
    clock.now += 400
    assert store.current("li") == {}


def test_a_stale_report_is_not_kept() -> None:
    clock = Clock()
    store = LiveSpeeds(ttl=600, clock=clock)
    assert store.report("li", [speed(10.0, clock.now - 601), speed(0.0, clock.now)]) == 0
    assert store.current("li") == {}
