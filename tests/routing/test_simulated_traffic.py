"""The simulator's probe cars against the real probe endpoint, over HTTP on the Liechtenstein
map: their traces are accepted and fill the live traffic store, cars crawling through a
simulated jam make the route through it slower, and a simulation without probe cars sends
nothing at all."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from incar.maps import MapManifest
from simulator.cli import DEMO_JAM, DEMO_PROBE_CARS, add_arguments, traffic_from
from simulator.clock import SimClock
from simulator.driving import Jam
from simulator.platform import SimParty
from simulator.simulation import Simulation
from simulator.traffic import Owner, ProbeFleet, TrafficOptions
from subgraphs.routing.engine.running import engine_for
from subgraphs.routing.traffic.store import LiveSpeeds
from tests.routing.graph import STATIONS, until_ready
from tests.routing.traffic_support import TOKEN, Served, served
from tests.support.hub import running_hub

#: Äulestrasse, town hall to the Rheinpark stadium (some 800 m), at walking pace.
JAM = Jam((47.1396, 9.5226), (47.1406, 9.5120), 6.0)
PLACES = [(lat, lon) for _, lat, lon, _ in STATIONS]
SPEED = 60.0


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        probe = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"  # noqa: E501
        await until_ready(running, probe)
        yield running


@pytest.fixture
def store(graph: Served) -> Iterator[LiveSpeeds]:
    """The served store, emptied of earlier tests' speeds; the test sets its clock."""
    live = engine_for(graph.runtime.settings).pool.traffic
    real = live.clock
    live.clock = lambda: real() + 100 * live.ttl
    live.current(map_id(graph))  # everything earlier has expired
    yield live
    live.clock = real


def map_id(graph: Served) -> str:
    return engine_for(graph.runtime.settings).pool.manifest.id


def options(graph: Served, **given: object) -> TrafficOptions:
    chosen: dict[str, object] = {
        "cars": 3,
        "routing_url": graph.routing,
        "probes_url": f"{graph.url}/routing/probes",
        "rate": 20.0,
        "authorization": TOKEN,
        **given,
    }
    return TrafficOptions(**chosen)  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], *, within: float = 120.0) -> None:
    async with asyncio.timeout(within):  # a guard against hanging, not a speed requirement
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_probe_cars_are_accepted_and_their_jam_slows_the_route(
    graph: Served, store: LiveSpeeds
) -> None:
    clock = SimClock(SPEED)
    store.clock = lambda: clock.peek().timestamp()  # as the demo's store keeps its time
    fleet = ProbeFleet(
        options(graph, jam=JAM),
        clock=clock,
        places=PLACES,
        owners=[Owner("LIFLT", "unused: the options name the token")],
        seed=3,
    )
    usual = await fleet.jam_eta()
    assert usual is not None and usual[0] == pytest.approx(usual[1], rel=0.05), usual
    fleet.start()
    try:
        # Until a car has crawled through the jam and another drove elsewhere.
        await until(lambda: fleet.stats["jam_trips"] >= 1 and fleet.stats["traces_accepted"] >= 8)
        eta = None
        async with asyncio.timeout(120):
            while eta is None or eta[0] < eta[1] + 60:
                await asyncio.sleep(0.5)
                eta = await fleet.jam_eta()
        live = store.current(map_id(graph))
    finally:
        await fleet.stop()
    stats = fleet.stats
    assert stats["traces_refused"] == 0 and stats["traces_failed"] == 0, stats
    assert stats["speeds_kept"] > 0 and stats["edges_measured"] >= stats["speeds_kept"], stats
    # The store holds what the cars measured: the jam's crawl and the usual roads' pace.
    speeds = sorted(speed.speed_kmh for speed in live.values())
    assert speeds[0] < 12, speeds
    assert speeds[-1] > 20, speeds
    # The route through the jam takes longer than its usual time (or goes round it).
    now, usual_s = eta
    assert now > usual_s + 60, eta


def _parties(emsp_token: str, cpo_token: str) -> list[SimParty]:
    return [
        SimParty("CPO", "LI", "CPA", "Simulated CPO A", cpo_token),
        SimParty("EMSP", "LI", "EMA", "Simulated eMSP A", emsp_token),
    ]


async def _simulated(
    graph: Served, store: LiveSpeeds, data_dir: Path, traffic: TrafficOptions | None
) -> Simulation:
    async with running_hub() as hub:
        parties = _parties(
            await hub.onboard("EMSP", "LI", "EMA"), await hub.onboard("CPO", "LI", "CPA")
        )
        simulation = Simulation(
            hub.versions_url,
            parties,
            seed=5,
            speed=SPEED,
            stations_per_cpo=2,
            data_dir=data_dir,
            tokens_per_emsp=3,
            traffic=traffic,
        )
        store.clock = lambda: simulation.clock.peek().timestamp()
        await simulation.start()
        try:
            started = time.monotonic()
            await until(
                lambda: (
                    (simulation.fleet is not None and simulation.fleet.stats["speeds_kept"] > 0)
                    or time.monotonic() - started > 6
                )
            )
        finally:
            await simulation.stop()
    return simulation


async def test_a_simulation_sends_traces_only_with_probe_cars(
    graph: Served, store: LiveSpeeds, liechtenstein: tuple[Path, MapManifest]
) -> None:
    data_dir = liechtenstein[0]
    quiet = await _simulated(graph, store, data_dir, None)
    assert quiet.fleet is None
    assert "probe cars" not in quiet.stats()
    assert store.current(map_id(graph)) == {}  # six real seconds, an hour simulated: none

    driving = await _simulated(graph, store, data_dir, options(graph, cars=2))
    assert driving.fleet is not None
    assert driving.stats()["probe cars"]["traces_accepted"] > 0, driving.stats()
    assert store.current(map_id(graph)) != {}


def test_probe_cars_are_off_by_default_and_on_in_the_demo() -> None:
    import argparse

    simulate, demo = argparse.ArgumentParser(), argparse.ArgumentParser()
    add_arguments(simulate)
    add_arguments(demo, demo=True)
    assert traffic_from(simulate.parse_args([]), "http://127.0.0.1:1") is None
    on = traffic_from(demo.parse_args([]), "http://127.0.0.1:1")
    assert on is not None and on.cars == DEMO_PROBE_CARS and on.jam == DEMO_JAM
    assert on.probes_url == "http://127.0.0.1:1/routing/probes"
    assert traffic_from(demo.parse_args(["--probe-cars", "0"]), "http://x") is None
    assert traffic_from(demo.parse_args(["--jam", "none"]), "http://x").jam is None  # type: ignore[union-attr]
    with pytest.raises(SystemExit):
        demo.parse_args(["--jam", "60.1,24.9,60.2"])


async def test_a_route_the_engine_cannot_find_is_logged_as_an_answer_not_a_fault(
    graph: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """Probe cars ask for routes between any of the map's places, and a few have none: the
    graph's NO_ROUTE is one INFO line, not Strawberry's ERROR with a traceback."""
    caplog.set_level(logging.INFO)
    nowhere = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.06, longitude: 9.56}}) { map } }"  # noqa: E501
    result = await graph.query(nowhere)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["NO_ROUTE"], result
    logged = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert ("incar.graph", logging.INFO) in {(name, level) for name, level, _ in logged}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], logged
    assert not [r for r in caplog.records if r.exc_info], logged
